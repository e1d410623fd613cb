-- Undo of an import by batch (DESIGN.md "Import", issue 10): every row the import touched goes back
-- to its state before it, as a new batch. The service (ctm/imports/undo.py) restores updated rows
-- as the user, under row-level security; the rows the import *inserted* are removed by the function
-- below with definer rights, because an operator may import mappings (creating customers) but may
-- not delete mappings or customers — whoever may import a kind may undo that import.

-- An import is undone at most once, even when two users press Undo at the same moment.
CREATE UNIQUE INDEX import_runs_undone_once ON public.import_runs (undoes_batch)
  WHERE undoes_batch IS NOT NULL;

-- The rows a batch changed that changed again afterwards (any later history entry of the same row
-- that is not the batch's own): an undo would overwrite that later change, so it is refused.
-- Invoker rights: a user reads the history through its policy (every profile may).
CREATE FUNCTION public.import_batch_rows_changed_since(p_batch uuid)
  RETURNS TABLE (table_name text, row_id text, changed_at timestamptz, changed_by uuid)
  LANGUAGE sql STABLE
  SET search_path = ''
  AS $$
    WITH touched AS (
      SELECT a.table_name, a.row_id, max(a.id) AS last_id
      FROM public.audit_log AS a
      WHERE a.batch_id = p_batch
      GROUP BY a.table_name, a.row_id
    )
    SELECT t.table_name, t.row_id, later.changed_at, later.changed_by
    FROM touched AS t
    CROSS JOIN LATERAL (
      SELECT l.changed_at, l.changed_by
      FROM public.audit_log AS l
      WHERE l.row_id = t.row_id AND l.id > t.last_id AND l.batch_id IS DISTINCT FROM p_batch
      ORDER BY l.id DESC
      LIMIT 1
    ) AS later
    ORDER BY t.table_name, t.row_id
  $$;
REVOKE EXECUTE ON FUNCTION public.import_batch_rows_changed_since(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.import_batch_rows_changed_since(uuid) TO authenticated;

-- Removes the rows import p_batch inserted, for its undo: mappings and meters always; circuits,
-- customers and substations only when nothing refers to them now (those are kept and reported).
-- Refuses unless the caller may import that kind (operators: mappings; admins: every kind), the
-- batch is an import not undone yet, and no row of the batch changed since (the rows are locked
-- first). Returns every inserted row with whether it was removed.
CREATE FUNCTION public.undo_import_remove(p_batch uuid)
  RETURNS TABLE (table_name text, row_id text, removed boolean)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_role        text := public.current_user_role();
  v_kind        text;
  v_mappings    uuid[];
  v_meters      uuid[];
  v_circuits    text[];
  v_customers   uuid[];
  v_substations uuid[];
  v_stale       text;
BEGIN
  SELECT r.kind INTO v_kind FROM public.import_runs AS r WHERE r.batch_id = p_batch;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no import has the batch id %', p_batch USING ERRCODE = 'no_data_found';
  END IF;
  IF v_kind = 'undo' THEN
    RAISE EXCEPTION 'batch % is the undo of an import; it cannot be undone', p_batch
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_role IS NULL OR NOT (v_role = 'admin' OR (v_role = 'operator' AND v_kind = 'mappings')) THEN
    RAISE EXCEPTION 'your role (%) may not undo an import of %',
      coalesce(v_role, 'no profile'), v_kind
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF EXISTS (SELECT 1 FROM public.import_runs AS u WHERE u.undoes_batch = p_batch) THEN
    RAISE EXCEPTION 'import % has been undone already', p_batch
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- The rows whose first change in the batch is their INSERT.
  SELECT array_agg(f.row_id::uuid) FILTER (WHERE f.t = 'customer_transformer_matching'),
         array_agg(f.row_id::uuid) FILTER (WHERE f.t = 'pq_meters'),
         array_agg(f.row_id) FILTER (WHERE f.t = 'substation_circuits'),
         array_agg(f.row_id::uuid) FILTER (WHERE f.t = 'customers'),
         array_agg(f.row_id::uuid) FILTER (WHERE f.t = 'substations')
    INTO v_mappings, v_meters, v_circuits, v_customers, v_substations
  FROM (
    SELECT DISTINCT ON (a.row_id) regexp_replace(a.table_name, '^public\.', '') AS t, a.row_id,
           a.action
    FROM public.audit_log AS a
    WHERE a.batch_id = p_batch
    ORDER BY a.row_id, a.id
  ) AS f
  WHERE f.action = 'INSERT';

  PERFORM 1 FROM public.customer_transformer_matching AS m WHERE m.id = ANY (v_mappings) FOR UPDATE;
  PERFORM 1 FROM public.pq_meters AS p WHERE p.id = ANY (v_meters) FOR UPDATE;
  PERFORM 1 FROM public.substation_circuits AS c
  WHERE (c.substation_id::text || '/' || c.circuit_id) = ANY (v_circuits) FOR UPDATE;
  PERFORM 1 FROM public.customers AS c WHERE c.id = ANY (v_customers) FOR UPDATE;
  PERFORM 1 FROM public.substations AS s WHERE s.id = ANY (v_substations) FOR UPDATE;

  SELECT string_agg(DISTINCT s.row_id, ', ') INTO v_stale
  FROM public.import_batch_rows_changed_since(p_batch) AS s;
  IF v_stale IS NOT NULL THEN
    RAISE EXCEPTION 'rows of import % changed after it: %', p_batch, v_stale
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;

  DELETE FROM public.customer_transformer_matching AS m WHERE m.id = ANY (v_mappings);
  DELETE FROM public.pq_meters AS p WHERE p.id = ANY (v_meters);
  DELETE FROM public.substation_circuits AS c
  WHERE (c.substation_id::text || '/' || c.circuit_id) = ANY (v_circuits)
    AND NOT EXISTS (SELECT 1 FROM public.customer_transformer_matching AS m
                    WHERE m.substation_id = c.substation_id AND m.circuit_id = c.circuit_id)
    AND NOT EXISTS (SELECT 1 FROM public.pq_events AS e
                    WHERE e.substation_id = c.substation_id AND e.circuit_id = c.circuit_id)
    AND NOT EXISTS (SELECT 1 FROM public.pq_meters AS p
                    WHERE p.substation_id = c.substation_id AND p.circuit_id = c.circuit_id);
  DELETE FROM public.customers AS c
  WHERE c.id = ANY (v_customers)
    AND NOT EXISTS (SELECT 1 FROM public.customer_transformer_matching AS m
                    WHERE m.customer_id = c.id)
    AND NOT EXISTS (SELECT 1 FROM public.event_customer_impact AS i WHERE i.customer_id = c.id);
  DELETE FROM public.substations AS s
  WHERE s.id = ANY (v_substations)
    AND NOT EXISTS (SELECT 1 FROM public.customer_transformer_matching AS m
                    WHERE m.substation_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM public.customers AS c WHERE c.substation_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM public.pq_events AS e WHERE e.substation_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM public.substation_circuits AS r WHERE r.substation_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM public.pq_meters AS p WHERE p.substation_id = s.id);

  RETURN QUERY
    SELECT 'customer_transformer_matching'::text, x::text, true FROM unnest(v_mappings) AS x
    UNION ALL
    SELECT 'pq_meters', x::text, true FROM unnest(v_meters) AS x
    UNION ALL
    SELECT 'substation_circuits', x,
           NOT EXISTS (SELECT 1 FROM public.substation_circuits AS c
                       WHERE (c.substation_id::text || '/' || c.circuit_id) = x)
    FROM unnest(v_circuits) AS x
    UNION ALL
    SELECT 'customers', x::text, NOT EXISTS (SELECT 1 FROM public.customers AS c WHERE c.id = x)
    FROM unnest(v_customers) AS x
    UNION ALL
    SELECT 'substations', x::text, NOT EXISTS (SELECT 1 FROM public.substations AS s WHERE s.id = x)
    FROM unnest(v_substations) AS x;
END
$$;
REVOKE EXECUTE ON FUNCTION public.undo_import_remove(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.undo_import_remove(uuid) TO authenticated;
