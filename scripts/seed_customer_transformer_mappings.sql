-- =====================================================================================
-- Sample customer → circuit mappings for testing (psql script)
-- =====================================================================================
-- For every circuit seen in pq_events, maps up to :per_circuit (default 3) customers of the same
-- substation that have no active mapping yet, spreading them so every circuit gets one customer
-- before any gets a second. Idempotent: a circuit that already has enough active mappings gets
-- none, a mapped customer is never used again, and ON CONFLICT guards the unique active mapping.
-- A second run inserts 0 rows. Existing mappings are never changed.
-- Afterwards, run scripts/backfill_customer_impacts.sql to give past events their impacts
-- (new mappings deliberately do not touch past events on their own).
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 [-v per_circuit=5] -f scripts/seed_customer_transformer_mappings.sql
-- =====================================================================================

\set ON_ERROR_STOP on
\pset footer off
\if :{?per_circuit}
\else
  \set per_circuit 3
\endif

BEGIN;

\echo 'Active mappings before:'
SELECT count(*) AS active_mappings FROM public.customer_transformer_matching WHERE active;

WITH circuits AS (
  SELECT e.substation_id, e.circuit_id,
         :per_circuit - (
           SELECT count(*) FROM public.customer_transformer_matching AS m
           WHERE m.active AND m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id
         ) AS missing
  FROM (
    SELECT DISTINCT substation_id, circuit_id
    FROM public.pq_events
    WHERE substation_id IS NOT NULL AND circuit_id IS NOT NULL
      AND btrim(circuit_id) <> '' AND circuit_id = btrim(circuit_id)
  ) AS e
),
slots AS (
  -- Round-robin over the circuits of one substation: first slot of each circuit, then the second...
  SELECT c.substation_id, c.circuit_id,
         row_number() OVER (PARTITION BY c.substation_id ORDER BY g.n, c.circuit_id) AS slot
  FROM circuits AS c
  CROSS JOIN LATERAL generate_series(1, c.missing) AS g (n)
  WHERE c.missing > 0
),
free_customers AS (
  SELECT cu.id, cu.substation_id,
         row_number() OVER (PARTITION BY cu.substation_id ORDER BY cu.account_number) AS slot
  FROM public.customers AS cu
  WHERE cu.substation_id IS NOT NULL
    AND NOT EXISTS (
      SELECT 1 FROM public.customer_transformer_matching AS m
      WHERE m.customer_id = cu.id AND m.active
    )
),
inserted AS (
  INSERT INTO public.customer_transformer_matching (customer_id, substation_id, circuit_id)
  SELECT f.id, s.substation_id, s.circuit_id
  FROM slots AS s
  JOIN free_customers AS f ON f.substation_id = s.substation_id AND f.slot = s.slot
  ON CONFLICT (customer_id, substation_id, circuit_id) WHERE active AND disconnected_on IS NULL
    DO NOTHING
  RETURNING substation_id, circuit_id
)
SELECT count(*) AS mappings_created,
       count(DISTINCT (substation_id, circuit_id)) AS circuits_given_customers
FROM inserted;

\echo 'Active mappings after, by substation:'
SELECT s.name AS substation,
       count(*) AS active_mappings,
       count(DISTINCT m.circuit_id) AS circuits_covered
FROM public.customer_transformer_matching AS m
JOIN public.substations AS s ON s.id = m.substation_id
WHERE m.active
GROUP BY s.name
ORDER BY s.name;

COMMIT;
