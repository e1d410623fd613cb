-- Ingest speed (issue 8 "Speed": bulk ingest within 1.10 of round 1, cumulative): every row
-- trigger on pq_events that has nothing to do for an ingest carries a WHEN clause, so the rows of
-- a bulk load by the owner or an ingestion role call no function at all.
--
-- pq_events_keep_created_at (20261126000062) acts only for writers acting as a user; its WHEN
-- clause now says so. The function and its behaviour are unchanged.

DROP TRIGGER pq_events_keep_created_at ON public.pq_events;
CREATE TRIGGER pq_events_keep_created_at
  BEFORE INSERT OR UPDATE ON public.pq_events
  FOR EACH ROW
  WHEN (current_user IN ('authenticated', 'anon'))
  EXECUTE FUNCTION public.keep_created_at();
