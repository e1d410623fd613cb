-- Bulk writes of mappings (an import of 50,000 rows is one INSERT and a few UPDATEs) spent most of
-- their time in per-row trigger work, not in the rows themselves. Same rules, same refusals and
-- messages, for every writer; less work per row:
--
-- 1. History (audit_log_changes): each changed row is turned into jsonb once. The sub-selects
--    were flattened by the planner, so to_jsonb ran again for every use of the value (the key,
--    the values, the substation and customer columns, the join and the "changed?" test).
-- 2. Periods (customer_transformer_matching_period): the other periods of the same customer and
--    circuit are read with one query per row instead of two (the "ended period exists" test and
--    the overlap test ran separate queries), and today's date in the stored zone is looked up only
--    when a rule needs it (a new row of a new pair needs none).
-- 3. max_mapped_customers: checked once per statement over its transition tables (each circuit
--    with a limit that gains a current mapping is locked and counted once) instead of a query per
--    row. A multi-row statement is still counted with all its rows in, refused whole.

-- 1. History --------------------------------------------------------------------------------------
-- OFFSET 0 keeps the planner from flattening the sub-select: one to_jsonb per row.
CREATE OR REPLACE FUNCTION public.audit_log_changes() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_user   uuid := auth.uid();
  v_source text := public.audit_change_source();
  v_batch  uuid := public.audit_change_batch();
  v_table  text := TG_TABLE_NAME;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.audit_log (table_name, row_id, action, old_values, new_values, changed_by,
                                  source, batch_id, substation_id, customer_id)
    SELECT v_table, public.audit_row_key(j), 'INSERT', NULL, j, v_user, v_source, v_batch,
           CASE WHEN v_table = 'substations' THEN j ->> 'id' ELSE j ->> 'substation_id' END::uuid,
           CASE WHEN v_table = 'customers' THEN j ->> 'id' ELSE j ->> 'customer_id' END::uuid
    FROM (SELECT to_jsonb(n) AS j FROM new_rows AS n OFFSET 0) AS x;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO public.audit_log (table_name, row_id, action, old_values, new_values, changed_by,
                                  source, batch_id, substation_id, customer_id)
    SELECT v_table, public.audit_row_key(j), 'DELETE', j, NULL, v_user, v_source, v_batch,
           CASE WHEN v_table = 'substations' THEN j ->> 'id' ELSE j ->> 'substation_id' END::uuid,
           CASE WHEN v_table = 'customers' THEN j ->> 'id' ELSE j ->> 'customer_id' END::uuid
    FROM (SELECT to_jsonb(o) AS j FROM old_rows AS o OFFSET 0) AS x;
  ELSE
    INSERT INTO public.audit_log (table_name, row_id, action, old_values, new_values, changed_by,
                                  source, batch_id, substation_id, customer_id)
    SELECT v_table, coalesce(n.k, o.k),
           CASE WHEN o.j IS NULL THEN 'INSERT' WHEN n.j IS NULL THEN 'DELETE' ELSE 'UPDATE' END,
           o.j, n.j, v_user, v_source, v_batch,
           CASE WHEN v_table = 'substations' THEN coalesce(n.j, o.j) ->> 'id'
                ELSE coalesce(n.j, o.j) ->> 'substation_id' END::uuid,
           CASE WHEN v_table = 'customers' THEN coalesce(n.j, o.j) ->> 'id'
                ELSE coalesce(n.j, o.j) ->> 'customer_id' END::uuid
    FROM (SELECT public.audit_row_key(x.j) AS k, x.j
          FROM (SELECT to_jsonb(t) AS j FROM old_rows AS t OFFSET 0) AS x) AS o
    FULL JOIN (SELECT public.audit_row_key(x.j) AS k, x.j
               FROM (SELECT to_jsonb(t) AS j FROM new_rows AS t OFFSET 0) AS x) AS n
      ON n.k = o.k
    WHERE o.j IS DISTINCT FROM n.j;
  END IF;
  RETURN NULL;
END
$$;

-- 2. Periods --------------------------------------------------------------------------------------
-- The rules of 20261126000200_mapping_validity.sql, unchanged; the other periods of the pair are
-- read once (usually none or one or two rows) and tested here.
CREATE OR REPLACE FUNCTION public.customer_transformer_matching_period() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_today  date;
  v_others public.customer_transformer_matching[];
  v_other  public.customer_transformer_matching;
BEGIN
  -- Every row of the same customer and circuit, this one's old version included (the rules
  -- below skip it where they did before), earliest period first.
  IF TG_OP = 'UPDATE' OR NEW.active OR NEW.disconnected_on IS NOT NULL THEN
    SELECT array_agg(o ORDER BY o.connected_since NULLS FIRST) INTO v_others
    FROM public.customer_transformer_matching AS o
    WHERE o.customer_id = NEW.customer_id AND o.substation_id = NEW.substation_id
      AND o.circuit_id = NEW.circuit_id;
  END IF;
  -- Today in the stored zone (ctm_local_date(now()) as a plain expression), when a rule below
  -- needs it: not for a new row without an end date whose customer and circuit have no other row.
  IF TG_OP = 'UPDATE' OR NEW.disconnected_on IS NOT NULL OR v_others IS NOT NULL THEN
    v_today := (pg_catalog.now() AT TIME ZONE public.ctm_time_zone())::date;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- Deactivating ends the period today (or, for a period that has not begun, cancels it).
    IF OLD.active AND NOT NEW.active AND NEW.disconnected_on IS NULL THEN
      IF NEW.connected_since IS NULL OR NEW.connected_since < v_today THEN
        NEW.disconnected_on := v_today;
      END IF;
    END IF;
    -- An ended row is not re-activated: a new period is a new row.
    IF NEW.active AND NOT OLD.active
       AND NEW.disconnected_on IS NOT NULL AND NEW.disconnected_on <= v_today THEN
      RAISE EXCEPTION 'mapping % ended on %: it cannot be re-activated; add a new mapping for the new period',
        NEW.id, NEW.disconnected_on
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'customer_transformer_matching_no_reactivation',
              HINT = 'insert a new row with connected_since = the day it applies again';
    END IF;
  ELSIF NEW.active AND NEW.connected_since IS NULL AND v_others IS NOT NULL THEN
    -- A new active row after an ended period of the same customer and circuit starts today.
    FOREACH v_other IN ARRAY v_others LOOP
      IF v_other.disconnected_on IS NOT NULL AND v_other.disconnected_on <= v_today THEN
        NEW.connected_since := v_today;
        EXIT;
      END IF;
    END LOOP;
  END IF;
  -- A row whose end has come is not current: it is kept inactive (history), whoever sent it.
  IF NEW.active AND NEW.disconnected_on IS NOT NULL AND NEW.disconnected_on <= v_today THEN
    NEW.active := false;
  END IF;
  -- Overlap with another period of the same customer and circuit. Two open active rows are left
  -- to the unique index (SQLSTATE 23505 as always).
  -- (Periods in the wrong order are left to customer_transformer_matching_period_order.)
  IF (NEW.active OR NEW.disconnected_on IS NOT NULL)
     AND coalesce(NEW.connected_since < NEW.disconnected_on, true) AND v_others IS NOT NULL THEN
    FOREACH v_other IN ARRAY v_others LOOP
      IF v_other.id <> NEW.id
         AND (v_other.active OR v_other.disconnected_on IS NOT NULL)
         AND daterange(v_other.connected_since, v_other.disconnected_on, '[)')
             && daterange(NEW.connected_since, NEW.disconnected_on, '[)')
         AND NOT (NEW.active AND NEW.disconnected_on IS NULL
                  AND v_other.active AND v_other.disconnected_on IS NULL) THEN
        RAISE EXCEPTION 'the period % of this mapping overlaps mapping % of the same customer and circuit (%)',
          public.mapping_period_text(NEW.connected_since, NEW.disconnected_on),
          v_other.id, public.mapping_period_text(v_other.connected_since, v_other.disconnected_on)
          USING ERRCODE = 'exclusion_violation',
                CONSTRAINT = 'customer_transformer_matching_no_overlap',
                DETAIL = format('other mapping: %s', v_other.id);
      END IF;
    END LOOP;
  END IF;
  RETURN NEW;
END
$$;

-- 3. max_mapped_customers, once per statement -----------------------------------------------------
-- When rows become current on a circuit whose registry row has a limit (a row that was already
-- current on the same circuit before an UPDATE does not count as new), the circuit's registry row
-- is locked (two sessions adding the last place cannot both succeed) and its current mappings are
-- counted with the statement's rows in. Circuits are taken in key order, so two bulk statements
-- lock them in the same order. Refusal as before: SQLSTATE 23514, constraint
-- substation_circuits_max_mapped_customers, the first full circuit named.
CREATE OR REPLACE FUNCTION public.check_max_mapped_customers() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_today      date := public.ctm_local_date(pg_catalog.now());
  v_circuits   refcursor;
  v_circuit    record;
  v_count      bigint;
  v_substation text;
BEGIN
  -- The circuits with a limit that gain a current mapping (old_mappings exists for UPDATE only).
  IF TG_OP = 'INSERT' THEN
    OPEN v_circuits FOR
      SELECT r.substation_id, r.circuit_id, r.max_mapped_customers
      FROM public.substation_circuits AS r
      WHERE r.max_mapped_customers IS NOT NULL
        AND EXISTS (
          SELECT 1 FROM new_mappings AS n
          WHERE n.substation_id = r.substation_id AND n.circuit_id = r.circuit_id
            AND public.mapping_applies_on(n.active, n.connected_since, n.disconnected_on, v_today))
      ORDER BY r.substation_id, r.circuit_id;
  ELSE
    OPEN v_circuits FOR
      SELECT r.substation_id, r.circuit_id, r.max_mapped_customers
      FROM public.substation_circuits AS r
      WHERE r.max_mapped_customers IS NOT NULL
        AND EXISTS (
          SELECT 1 FROM new_mappings AS n
          WHERE n.substation_id = r.substation_id AND n.circuit_id = r.circuit_id
            AND public.mapping_applies_on(n.active, n.connected_since, n.disconnected_on, v_today)
            AND NOT EXISTS (
              SELECT 1 FROM old_mappings AS o
              WHERE o.id = n.id
                AND (o.substation_id, o.circuit_id) = (n.substation_id, n.circuit_id)
                AND public.mapping_applies_on(o.active, o.connected_since, o.disconnected_on,
                                              v_today)))
      ORDER BY r.substation_id, r.circuit_id;
  END IF;
  LOOP
    FETCH v_circuits INTO v_circuit;
    EXIT WHEN NOT FOUND;
    PERFORM 1 FROM public.substation_circuits AS r
    WHERE r.substation_id = v_circuit.substation_id AND r.circuit_id = v_circuit.circuit_id
    FOR UPDATE;
    SELECT count(*) INTO v_count
    FROM public.customer_transformer_matching AS m
    WHERE m.substation_id = v_circuit.substation_id AND m.circuit_id = v_circuit.circuit_id
      AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on, v_today);
    IF v_count > v_circuit.max_mapped_customers THEN
      SELECT s.name INTO v_substation
      FROM public.substations AS s WHERE s.id = v_circuit.substation_id;
      RAISE EXCEPTION 'circuit % of substation % is at its limit of % mapped customers (max_mapped_customers); no more current mappings can be added to it',
        v_circuit.circuit_id, v_substation, v_circuit.max_mapped_customers
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'substation_circuits_max_mapped_customers',
              DETAIL = format('limit %s, current mappings with this one %s',
                              v_circuit.max_mapped_customers, v_count),
              HINT = 'end another mapping of the circuit first, or raise max_mapped_customers';
    END IF;
  END LOOP;
  CLOSE v_circuits;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.check_max_mapped_customers() FROM PUBLIC;

DROP TRIGGER customer_transformer_matching_max_mapped_customers
  ON public.customer_transformer_matching;
-- A transition table belongs to one verb: one trigger for INSERT, one for UPDATE.
CREATE TRIGGER customer_transformer_matching_max_mapped_customers
  AFTER INSERT ON public.customer_transformer_matching
  REFERENCING NEW TABLE AS new_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION public.check_max_mapped_customers();
CREATE TRIGGER customer_transformer_matching_max_mapped_customers_update
  AFTER UPDATE ON public.customer_transformer_matching
  REFERENCING OLD TABLE AS old_mappings NEW TABLE AS new_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION public.check_max_mapped_customers();
