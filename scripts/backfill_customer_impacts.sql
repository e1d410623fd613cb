-- =====================================================================================
-- Backfill customer impacts for historical events (psql script for DBAs)
-- =====================================================================================
-- Creates the missing event_customer_impact rows of every event from the mappings of its circuit
-- that applied on the event's date (validity dates, stored time zone), set-based (one statement, not a loop per event), and prints what it did.
-- Idempotent: a second run creates nothing. Run with:
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/backfill_customer_impacts.sql
-- For very large tables prefer `ctm backfill --batch-days N` (one transaction per time batch).
-- Needs the ctm migrations (backfill_customer_impacts_between) and the table owner's rights.
-- =====================================================================================

\set ON_ERROR_STOP on
\pset footer off

BEGIN;

\echo '=== BACKFILL CUSTOMER IMPACTS - STARTED ==='
SELECT now() AS started_at,
       count(*) AS total_events,
       count(*) FILTER (WHERE substation_id IS NOT NULL AND circuit_id IS NOT NULL)
         AS events_with_substation_and_circuit,
       (SELECT count(*) FROM public.event_customer_impact) AS impacts_before
FROM public.pq_events;

\echo 'Creating the missing impacts (set-based) ...'
SELECT b.events_scanned,
       b.severe + b.moderate + b.minor AS impacts_created,
       b.severe AS created_severe,
       b.moderate AS created_moderate,
       b.minor AS created_minor
FROM public.backfill_customer_impacts_between(NULL, NULL) AS b;

\echo '=== BACKFILL COMPLETE: summary of all impacts now stored ==='
SELECT 'Backfill Summary' AS report,
       count(DISTINCT event_id) AS events_with_impacts,
       count(*) AS total_customer_impacts,
       count(DISTINCT customer_id) AS unique_customers_affected
FROM public.event_customer_impact;

\echo 'Impacts by level'
SELECT impact_level,
       count(*) AS count,
       round(count(*) * 100.0 / nullif(sum(count(*)) OVER (), 0), 2) AS percentage
FROM public.event_customer_impact
GROUP BY impact_level
ORDER BY array_position(ARRAY['severe', 'moderate', 'minor'], impact_level);

COMMIT;
