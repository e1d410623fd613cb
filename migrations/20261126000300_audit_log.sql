-- History: who changed what, when, from where. One append-only row per changed row of the
-- reference tables, written by the database itself (statement-level triggers over transition
-- tables: a bulk import of 100,000 rows is one INSERT ... SELECT into the log, not 100,000 calls),
-- so raw SQL by a logged-in role is recorded and attributed exactly like the app's own writes.
-- Nobody edits history: `authenticated` may only read it, and a trigger refuses UPDATE, DELETE and
-- TRUNCATE for every role (an owner who really must prune it drops that trigger on purpose).

CREATE TABLE public.audit_log (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name    text NOT NULL,
  row_id        text NOT NULL,
  action        text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
  old_values    jsonb,
  new_values    jsonb,
  changed_by    uuid,
  changed_at    timestamptz NOT NULL DEFAULT now(),
  source        text NOT NULL DEFAULT 'sql' CHECK (source IN ('app', 'import', 'cli', 'sql')),
  batch_id      uuid,
  substation_id uuid,
  customer_id   uuid
);
COMMENT ON TABLE public.audit_log IS
  'Append-only change history of mappings, customers, substations, circuits and meters (written by triggers)';
COMMENT ON COLUMN public.audit_log.row_id IS
  'The changed row''s id (substation_id/circuit_id for a circuit without an id column)';
COMMENT ON COLUMN public.audit_log.changed_by IS
  'auth.uid() of the writer; NULL for the owner, imports without --as and other systems';

-- The History page: newest first, filtered by one of these and paged.
CREATE INDEX audit_log_changed_at_idx ON public.audit_log (changed_at DESC, id DESC);
CREATE INDEX audit_log_row_idx ON public.audit_log (row_id, changed_at DESC, id DESC);
CREATE INDEX audit_log_customer_idx ON public.audit_log (customer_id, changed_at DESC, id DESC)
  WHERE customer_id IS NOT NULL;
CREATE INDEX audit_log_substation_idx ON public.audit_log (substation_id, changed_at DESC, id DESC)
  WHERE substation_id IS NOT NULL;
CREATE INDEX audit_log_changed_by_idx ON public.audit_log (changed_by, changed_at DESC, id DESC)
  WHERE changed_by IS NOT NULL;
CREATE INDEX audit_log_table_idx ON public.audit_log (table_name, changed_at DESC, id DESC);
CREATE INDEX audit_log_batch_idx ON public.audit_log (batch_id) WHERE batch_id IS NOT NULL;

-- Grants: read only. Supabase's default privileges grant ALL to authenticated on new tables.
REVOKE ALL ON public.audit_log FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    EXECUTE 'REVOKE ALL ON public.audit_log FROM anon';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.audit_log FROM service_role';
  END IF;
END
$$;
REVOKE ALL ON public.audit_log FROM authenticated;
GRANT SELECT ON public.audit_log TO authenticated;

ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;

-- Triggers ---------------------------------------------------------------------------------------
-- History is never rewritten, whoever asks (the grants already stop `authenticated`).
CREATE FUNCTION public.audit_log_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE EXECUTE ON FUNCTION public.audit_log_refuse_change() FROM PUBLIC;

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON public.audit_log
  FOR EACH ROW EXECUTE FUNCTION public.audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON public.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_refuse_change();

-- Where the transaction's changes come from: ctm.change_source (app / import / cli / sql; anything
-- else, empty or unset reads as sql) and ctm.change_batch (a uuid, else NULL).
CREATE FUNCTION public.audit_change_source() RETURNS text
  LANGUAGE sql STABLE
  SET search_path = ''
  AS $$
    SELECT CASE WHEN s IN ('app', 'import', 'cli', 'sql') THEN s ELSE 'sql' END
    FROM (SELECT lower(btrim(coalesce(current_setting('ctm.change_source', true), ''))) AS s) AS x
  $$;

CREATE FUNCTION public.audit_change_batch() RETURNS uuid
  LANGUAGE sql STABLE
  SET search_path = ''
  AS $$
    SELECT CASE WHEN b ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$'
                THEN b::uuid END
    FROM (SELECT btrim(coalesce(current_setting('ctm.change_batch', true), '')) AS b) AS x
  $$;
REVOKE EXECUTE ON FUNCTION public.audit_change_source() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.audit_change_batch() FROM PUBLIC;

-- The row's key as text: its id, else "substation_id/circuit_id" (the circuit registry's key).
CREATE FUNCTION public.audit_row_key(j jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN coalesce(j ->> 'id', (j ->> 'substation_id') || '/' || (j ->> 'circuit_id'));
REVOKE EXECUTE ON FUNCTION public.audit_row_key(jsonb) FROM PUBLIC;

-- One function for every audited table and verb; definer rights because `authenticated` may not
-- insert into the log. Rows are matched old-to-new by their key; an UPDATE that changed nothing
-- leaves no row, one that changed a key (a circuit renamed in the registry) is a DELETE + INSERT.
CREATE FUNCTION public.audit_log_changes() RETURNS trigger
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
    FROM (SELECT to_jsonb(n) AS j FROM new_rows AS n) AS x;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO public.audit_log (table_name, row_id, action, old_values, new_values, changed_by,
                                  source, batch_id, substation_id, customer_id)
    SELECT v_table, public.audit_row_key(j), 'DELETE', j, NULL, v_user, v_source, v_batch,
           CASE WHEN v_table = 'substations' THEN j ->> 'id' ELSE j ->> 'substation_id' END::uuid,
           CASE WHEN v_table = 'customers' THEN j ->> 'id' ELSE j ->> 'customer_id' END::uuid
    FROM (SELECT to_jsonb(o) AS j FROM old_rows AS o) AS x;
  ELSE
    INSERT INTO public.audit_log (table_name, row_id, action, old_values, new_values, changed_by,
                                  source, batch_id, substation_id, customer_id)
    SELECT v_table, public.audit_row_key(coalesce(n.j, o.j)),
           CASE WHEN o.j IS NULL THEN 'INSERT' WHEN n.j IS NULL THEN 'DELETE' ELSE 'UPDATE' END,
           o.j, n.j, v_user, v_source, v_batch,
           CASE WHEN v_table = 'substations' THEN coalesce(n.j, o.j) ->> 'id'
                ELSE coalesce(n.j, o.j) ->> 'substation_id' END::uuid,
           CASE WHEN v_table = 'customers' THEN coalesce(n.j, o.j) ->> 'id'
                ELSE coalesce(n.j, o.j) ->> 'customer_id' END::uuid
    FROM (SELECT public.audit_row_key(to_jsonb(t)) AS k, to_jsonb(t) AS j FROM old_rows AS t) AS o
    FULL JOIN (SELECT public.audit_row_key(to_jsonb(t)) AS k, to_jsonb(t) AS j FROM new_rows AS t) AS n
      ON n.k = o.k
    WHERE o.j IS DISTINCT FROM n.j;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.audit_log_changes() FROM PUBLIC;

-- Attach to the audited tables (the circuit registry and meters follow in their own file, once
-- they exist). Three triggers per table: a transition table belongs to one verb.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customer_transformer_matching', 'customers', 'substations'] LOOP
    EXECUTE format(
      'CREATE TRIGGER audit_%1$s_insert AFTER INSERT ON public.%1$I'
      ' REFERENCING NEW TABLE AS new_rows'
      ' FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_changes()', t);
    EXECUTE format(
      'CREATE TRIGGER audit_%1$s_update AFTER UPDATE ON public.%1$I'
      ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
      ' FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_changes()', t);
    EXECUTE format(
      'CREATE TRIGGER audit_%1$s_delete AFTER DELETE ON public.%1$I'
      ' REFERENCING OLD TABLE AS old_rows'
      ' FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_changes()', t);
  END LOOP;
END
$$;

-- Policies
CREATE POLICY "Users with a profile can read history" ON public.audit_log
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
