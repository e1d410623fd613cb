-- created_at cannot be backdated on the tables added after 20261126000062 either (issue 7):
-- the circuit registry and the PQ meters are written by logged-in users (the Reference data
-- pages and imports), so the database sets their created_at exactly as it does for the original
-- tables. The function keep_created_at() is unchanged; like pq_events_keep_created_at
-- (20261126000220) the WHEN clause keeps owner and ingest-role loads free of the call.
-- tests/db/test_db_created_at.py reads information_schema: every table whose created_at the
-- role `authenticated` may write must carry this trigger.

CREATE TRIGGER substation_circuits_keep_created_at
  BEFORE INSERT OR UPDATE ON public.substation_circuits
  FOR EACH ROW
  WHEN (current_user IN ('authenticated', 'anon'))
  EXECUTE FUNCTION public.keep_created_at();

CREATE TRIGGER pq_meters_keep_created_at
  BEFORE INSERT OR UPDATE ON public.pq_meters
  FOR EACH ROW
  WHEN (current_user IN ('authenticated', 'anon'))
  EXECUTE FUNCTION public.keep_created_at();
