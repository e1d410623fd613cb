-- History of the circuit registry and the meters: the same statement-level triggers as the other
-- audited tables (20261126000300_audit_log.sql), attached once those tables exist. A circuit has
-- no id column: its history rows are keyed "substation_id/circuit_id".
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['substation_circuits', 'pq_meters'] LOOP
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
