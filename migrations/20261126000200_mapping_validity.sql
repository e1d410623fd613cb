-- Mapping validity (DESIGN.md "Mapping validity"): which customers were on a circuit *when* an
-- event happened. A mapping has an optional period [connected_since, disconnected_on) in the
-- product's time zone (public.ctm_local_date); the one rule public.mapping_applies_on decides
-- whether it applies on a day. The database keeps the periods honest whoever writes:
-- deactivating ends the period today, a new active row after an ended period starts today,
-- overlapping periods of the same customer and circuit are refused (naming the other mapping),
-- an ended row is not re-activated (a new period is a new row), and a circuit's
-- max_mapped_customers is a real limit on its current mappings.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The rule, written once --------------------------------------------------------------------------
-- Plain SQL, IMMUTABLE, no SET: the planner inlines it into the queries that use it (triggers,
-- generate, backfills, sarfi), so it costs what the three conditions cost.
CREATE FUNCTION public.mapping_applies_on(
  p_active boolean, p_connected_since date, p_disconnected_on date, p_day date
) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT (p_connected_since IS NULL OR p_day >= p_connected_since)
       AND (p_disconnected_on IS NULL OR p_day < p_disconnected_on)
       AND (p_active OR p_disconnected_on IS NOT NULL)
  $$;
COMMENT ON FUNCTION public.mapping_applies_on(boolean, date, date, date) IS
  'The validity rule: a mapping (active, connected_since, disconnected_on) applies on p_day; an inactive row without an end date applies to nothing';
REVOKE EXECUTE ON FUNCTION public.mapping_applies_on(boolean, date, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mapping_applies_on(boolean, date, date, date) TO authenticated;

-- Columns -----------------------------------------------------------------------------------------
ALTER TABLE public.customer_transformer_matching
  ADD COLUMN connected_since date,
  ADD COLUMN disconnected_on date,
  ADD CONSTRAINT customer_transformer_matching_period_order
    CHECK (connected_since < disconnected_on);
COMMENT ON COLUMN public.customer_transformer_matching.connected_since IS
  'First day (product time zone) the mapping applies; NULL: as far back as the event history goes';
COMMENT ON COLUMN public.customer_transformer_matching.disconnected_on IS
  'First day it no longer applies; NULL: open (an inactive row without it applies to nothing)';
COMMENT ON COLUMN public.customer_transformer_matching.active IS
  'false: ended (with disconnected_on) or never in force (without); current = mapping_applies_on today';

-- Existing rows: an inactive row ended on the day it was last changed (its updated_at date).
-- Rows of the same customer and circuit are chained in that order so their periods do not overlap:
-- each starts where the previous one ended; an active row after ended ones starts where the last
-- ended. A row whose period would be empty (two deactivations of the same mapping on one day) is
-- left without dates: it is the same period as its neighbour and applies to nothing on its own.
ALTER TABLE public.customer_transformer_matching
  DISABLE TRIGGER trigger_customer_transformer_matching_stamp;
WITH ordered AS (
  SELECT m.id, m.active,
         CASE WHEN NOT m.active THEN public.ctm_local_date(m.updated_at) END AS ends,
         max(CASE WHEN NOT m.active THEN public.ctm_local_date(m.updated_at) END) OVER (
           PARTITION BY m.customer_id, m.substation_id, m.circuit_id
           ORDER BY m.active, m.updated_at, m.id
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS starts
  FROM public.customer_transformer_matching AS m
)
UPDATE public.customer_transformer_matching AS m
SET disconnected_on = CASE WHEN o.starts IS NULL OR o.starts < o.ends THEN o.ends END,
    connected_since = CASE WHEN o.active OR o.starts < o.ends THEN o.starts END
FROM ordered AS o
WHERE o.id = m.id AND (NOT o.active OR o.starts IS NOT NULL);
ALTER TABLE public.customer_transformer_matching
  ENABLE TRIGGER trigger_customer_transformer_matching_stamp;

-- Indexes -----------------------------------------------------------------------------------------
-- Two plain active rows of a customer and circuit stay a unique violation (23505) as before; the
-- index now covers open rows only, so an active row with a scheduled end and its successor can
-- both be active.
DROP INDEX public.idx_customer_transformer_unique;
CREATE UNIQUE INDEX idx_customer_transformer_unique
  ON public.customer_transformer_matching (customer_id, substation_id, circuit_id)
  WHERE active AND disconnected_on IS NULL;
-- The backstop of the overlap rule (the trigger below refuses first, naming the other mapping;
-- this catches two sessions racing). Rows without a period (inactive, no end) are left out.
ALTER TABLE public.customer_transformer_matching
  ADD CONSTRAINT customer_transformer_matching_no_overlap
  EXCLUDE USING gist (
    customer_id WITH =, substation_id WITH =, circuit_id WITH =,
    daterange(connected_since, disconnected_on, '[)') WITH &&
  ) WHERE (active OR disconnected_on IS NOT NULL);
-- The impact lookup: every row that may apply on some day (mapping_applies_on's third condition).
CREATE INDEX idx_customer_transformer_applicable
  ON public.customer_transformer_matching (substation_id, circuit_id)
  INCLUDE (customer_id, active, connected_since, disconnected_on)
  WHERE active OR disconnected_on IS NOT NULL;

-- Periods kept honest ------------------------------------------------------------------------------
CREATE FUNCTION public.customer_transformer_matching_period() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_today date := public.ctm_local_date(pg_catalog.now());
  v_other record;
BEGIN
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
  ELSIF NEW.active AND NEW.connected_since IS NULL THEN
    -- A new active row after an ended period of the same customer and circuit starts today.
    IF EXISTS (
      SELECT 1 FROM public.customer_transformer_matching AS o
      WHERE o.customer_id = NEW.customer_id AND o.substation_id = NEW.substation_id
        AND o.circuit_id = NEW.circuit_id
        AND o.disconnected_on IS NOT NULL AND o.disconnected_on <= v_today
    ) THEN
      NEW.connected_since := v_today;
    END IF;
  END IF;
  -- A row whose end has come is not current: it is kept inactive (history), whoever sent it.
  IF NEW.active AND NEW.disconnected_on IS NOT NULL AND NEW.disconnected_on <= v_today THEN
    NEW.active := false;
  END IF;
  -- Overlap with another period of the same customer and circuit. Two open active rows are left
  -- to the unique index (SQLSTATE 23505 as always).
  -- (Periods in the wrong order are left to customer_transformer_matching_period_order.)
  IF (NEW.active OR NEW.disconnected_on IS NOT NULL)
     AND coalesce(NEW.connected_since < NEW.disconnected_on, true) THEN
    SELECT o.id, o.connected_since, o.disconnected_on INTO v_other
    FROM public.customer_transformer_matching AS o
    WHERE o.customer_id = NEW.customer_id AND o.substation_id = NEW.substation_id
      AND o.circuit_id = NEW.circuit_id AND o.id <> NEW.id
      AND (o.active OR o.disconnected_on IS NOT NULL)
      AND daterange(o.connected_since, o.disconnected_on, '[)')
          && daterange(NEW.connected_since, NEW.disconnected_on, '[)')
      AND NOT (NEW.active AND NEW.disconnected_on IS NULL AND o.active AND o.disconnected_on IS NULL)
    ORDER BY o.connected_since NULLS FIRST
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'the period % of this mapping overlaps mapping % of the same customer and circuit (%)',
        public.mapping_period_text(NEW.connected_since, NEW.disconnected_on),
        v_other.id, public.mapping_period_text(v_other.connected_since, v_other.disconnected_on)
        USING ERRCODE = 'exclusion_violation',
              CONSTRAINT = 'customer_transformer_matching_no_overlap',
              DETAIL = format('other mapping: %s', v_other.id);
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.customer_transformer_matching_period() FROM PUBLIC;

-- "since 2025-03-01 until 2026-01-15 (exclusive)" — for messages.
CREATE FUNCTION public.mapping_period_text(p_connected_since date, p_disconnected_on date)
  RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT CASE
      WHEN p_connected_since IS NULL AND p_disconnected_on IS NULL THEN 'without dates (open)'
      WHEN p_disconnected_on IS NULL THEN 'from ' || p_connected_since::text || ' (open)'
      WHEN p_connected_since IS NULL THEN 'until ' || p_disconnected_on::text || ' (exclusive)'
      ELSE 'from ' || p_connected_since::text || ' until ' || p_disconnected_on::text
           || ' (exclusive)'
    END
  $$;
REVOKE EXECUTE ON FUNCTION public.mapping_period_text(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mapping_period_text(date, date) TO authenticated;

-- BEFORE triggers fire in name order: after customer_transformer_matching_canonical_circuit, so
-- periods are compared on canonical names.
CREATE TRIGGER trigger_customer_transformer_matching_period
  BEFORE INSERT OR UPDATE ON public.customer_transformer_matching
  FOR EACH ROW EXECUTE FUNCTION public.customer_transformer_matching_period();

-- max_mapped_customers: a real limit ---------------------------------------------------------------
-- After the row is in (so a multi-row statement counts all its rows): when a row becomes current
-- on a circuit whose registry row has a limit, the current mappings of that circuit are counted
-- under a lock of the registry row (two sessions adding the last place cannot both succeed).
-- Refusal: SQLSTATE 23514 (check_violation), constraint substation_circuits_max_mapped_customers.
CREATE FUNCTION public.check_max_mapped_customers() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_today date;
  v_max integer;
  v_count bigint;
  v_substation text;
BEGIN
  SELECT r.max_mapped_customers INTO v_max
  FROM public.substation_circuits AS r
  WHERE r.substation_id = NEW.substation_id AND r.circuit_id = NEW.circuit_id;
  IF v_max IS NULL THEN
    RETURN NULL;
  END IF;
  v_today := public.ctm_local_date(pg_catalog.now());
  IF NOT public.mapping_applies_on(NEW.active, NEW.connected_since, NEW.disconnected_on, v_today) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE'
     AND (OLD.substation_id, OLD.circuit_id) = (NEW.substation_id, NEW.circuit_id)
     AND public.mapping_applies_on(OLD.active, OLD.connected_since, OLD.disconnected_on, v_today) THEN
    RETURN NULL;  -- it was current on this circuit already
  END IF;
  PERFORM 1 FROM public.substation_circuits AS r
  WHERE r.substation_id = NEW.substation_id AND r.circuit_id = NEW.circuit_id
  FOR UPDATE;
  SELECT count(*) INTO v_count
  FROM public.customer_transformer_matching AS m
  WHERE m.substation_id = NEW.substation_id AND m.circuit_id = NEW.circuit_id
    AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on, v_today);
  IF v_count > v_max THEN
    SELECT s.name INTO v_substation FROM public.substations AS s WHERE s.id = NEW.substation_id;
    RAISE EXCEPTION 'circuit % of substation % is at its limit of % mapped customers (max_mapped_customers); no more current mappings can be added to it',
      NEW.circuit_id, v_substation, v_max
      USING ERRCODE = 'check_violation',
            CONSTRAINT = 'substation_circuits_max_mapped_customers',
            DETAIL = format('limit %s, current mappings with this one %s', v_max, v_count),
            HINT = 'end another mapping of the circuit first, or raise max_mapped_customers';
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.check_max_mapped_customers() FROM PUBLIC;

CREATE TRIGGER customer_transformer_matching_max_mapped_customers
  AFTER INSERT OR UPDATE ON public.customer_transformer_matching
  FOR EACH ROW EXECUTE FUNCTION public.check_max_mapped_customers();
