-- Impacts honour mapping validity, with "event → mappings that apply" written once:
-- public.mappings_applying(substation, circuit, day) is the join every impact writer uses (the
-- insert and update triggers, generate_customer_impacts_for_event, the backfills; analytics'
-- sarfi() too). The day of an event is its date in the product's time zone
-- (public.ctm_local_date); set-based code reads the zone once per statement
-- (public.ctm_time_zone()) and passes `("timestamp" AT TIME ZONE zone)::date`, the same date,
-- so the per-row work stays an expression and the rule is inlined.
-- Events also register their circuit in public.substation_circuits here, in the same statement
-- as their impacts (one trigger call per INSERT statement, however many rows).

-- Event → mappings that apply ---------------------------------------------------------------------
-- Plain SQL, no SECURITY DEFINER, no SET: inlined into the caller's query, so a lateral call per
-- event is planned as a join (hash join for bulk loads, index lookups for one event). Callers
-- that are definer functions see every mapping; a user calling it directly sees what RLS shows.
CREATE FUNCTION public.mappings_applying(p_substation_id uuid, p_circuit_id text, p_day date)
  RETURNS TABLE (mapping_id uuid, customer_id uuid)
  LANGUAGE sql STABLE PARALLEL SAFE
  ROWS 10
  AS $$
    SELECT m.id, m.customer_id
    FROM public.customer_transformer_matching AS m
    WHERE m.substation_id = p_substation_id
      AND m.circuit_id = p_circuit_id
      AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on, p_day)
  $$;
COMMENT ON FUNCTION public.mappings_applying(uuid, text, date) IS
  'The mappings (and their customers) of a circuit that apply on a day: the one join from an event to the customers it hits';
REVOKE EXECUTE ON FUNCTION public.mappings_applying(uuid, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mappings_applying(uuid, text, date) TO authenticated;

-- One event on demand -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.generate_customer_impacts_for_event(event_id_param uuid)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_day date;
  v_count integer;
BEGIN
  SELECT public.ctm_local_date(e."timestamp") INTO v_day
  FROM public.pq_events AS e WHERE e.id = event_id_param;
  INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
  SELECT e.id, m.customer_id,
         public.impact_level_for_severity(e.severity),
         public.estimated_downtime_min(e.duration_ms)
  FROM public.pq_events AS e
  CROSS JOIN LATERAL public.mappings_applying(e.substation_id, e.circuit_id, v_day) AS m
  WHERE e.id = event_id_param
  ON CONFLICT (event_id, customer_id) DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION public.generate_customer_impacts_for_event(uuid) IS
  'Creates the missing event_customer_impact rows of one event from the mappings that apply on its date; returns rows inserted (0 on a second call)';

-- New events: one set-based statement per INSERT statement ----------------------------------------
CREATE OR REPLACE FUNCTION public.trigger_generate_customer_impacts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  -- The body of public.ctm_time_zone(), read here as a plain statement: its plan is cached for
  -- the session, where a call of the SQL function would be planned again in every transaction
  -- (PostgreSQL < 18) — a single-row insert would pay that on every event.
  v_tz text := coalesce(
    (SELECT s.value FROM public.ctm_settings AS s WHERE s.key = 'time_zone'), 'UTC');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_events OFFSET 1) THEN
    -- One event (a live monitor): a static statement whose plan, made for one row, is cached for
    -- the session; re-planning it on every insert would double the trigger's cost.
    WITH registered AS (
      INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
      SELECT e.substation_id, e.circuit_id, 'event'
      FROM new_events AS e
      WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
    SELECT e.id, m.customer_id,
           public.impact_level_for_severity(e.severity),
           public.estimated_downtime_min(e.duration_ms)
    FROM new_events AS e
    CROSS JOIN LATERAL public.mappings_applying(
      e.substation_id, e.circuit_id, (e."timestamp" AT TIME ZONE v_tz)::date) AS m;
  ELSE
    -- Many events: EXECUTE plans the statement for this call's row count; a plan cached for a
    -- handful of rows would be reused for a bulk load of 200,000 (and the other way round).
    EXECUTE $q$
      WITH registered AS (
        INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
        SELECT DISTINCT e.substation_id, e.circuit_id, 'event'
        FROM new_events AS e
        WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
        ON CONFLICT DO NOTHING
      )
      INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
      SELECT e.id, m.customer_id,
             public.impact_level_for_severity(e.severity),
             public.estimated_downtime_min(e.duration_ms)
      FROM new_events AS e
      CROSS JOIN LATERAL public.mappings_applying(
        e.substation_id, e.circuit_id, (e."timestamp" AT TIME ZONE $1)::date) AS m
    $q$ USING v_tz;
  END IF;
  RETURN NULL;
END
$$;

-- Corrected events: impacts follow ----------------------------------------------------------------
-- A new place (substation or circuit) or a corrected timestamp replaces the impacts with the
-- customers of the mappings that apply at the new place on the new date (and registers a new
-- circuit). A new severity or duration alone re-rates the customers already recorded: impacts
-- added or removed on purpose (apply_mapping_impacts) stay as they are.
CREATE OR REPLACE FUNCTION public.trigger_regenerate_customer_impacts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  -- Events of this statement whose place, time, severity or duration changed.
  changed constant text := $q$
    WITH changed AS (
      SELECT n.id, n.substation_id, n.circuit_id, n."timestamp", n.severity, n.duration_ms,
             (n.substation_id, n.circuit_id, n."timestamp")
               IS DISTINCT FROM (o.substation_id, o.circuit_id, o."timestamp") AS moved
      FROM new_events AS n
      JOIN old_events AS o ON o.id = n.id
      WHERE (n.substation_id, n.circuit_id, n."timestamp", n.severity, n.duration_ms)
            IS DISTINCT FROM (o.substation_id, o.circuit_id, o."timestamp", o.severity, o.duration_ms)
    )
  $q$;
  v_tz text := public.ctm_time_zone();
BEGIN
  -- In this order: a customer on both the old and the new circuit must be deleted before it is
  -- inserted again.
  EXECUTE changed || $q$
    DELETE FROM public.event_customer_impact AS i
    USING changed AS c
    WHERE i.event_id = c.id AND c.moved
  $q$;
  EXECUTE changed || $q$
    UPDATE public.event_customer_impact AS i
    SET impact_level = public.impact_level_for_severity(c.severity),
        estimated_downtime_min = public.estimated_downtime_min(c.duration_ms)
    FROM changed AS c
    WHERE i.event_id = c.id AND NOT c.moved
  $q$;
  EXECUTE changed || $q$
    , registered AS (
      INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
      SELECT DISTINCT c.substation_id, c.circuit_id, 'event'
      FROM changed AS c
      WHERE c.moved AND c.substation_id IS NOT NULL AND c.circuit_id IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
    SELECT c.id, m.customer_id,
           public.impact_level_for_severity(c.severity),
           public.estimated_downtime_min(c.duration_ms)
    FROM changed AS c
    CROSS JOIN LATERAL public.mappings_applying(
      c.substation_id, c.circuit_id, (c."timestamp" AT TIME ZONE $1)::date) AS m
    WHERE c.moved
  $q$ USING v_tz;
  RETURN NULL;
END
$$;
COMMENT ON TRIGGER trigger_regenerate_customer_impacts ON public.pq_events IS
  'Keeps customer impacts in step when an event''s substation, circuit, timestamp, severity or duration is corrected';

-- Backfill ----------------------------------------------------------------------------------------
-- Set-based over a time window (NULL = open end) and an optional scope (one customer, substation,
-- circuit), idempotent: creates only the missing impacts of the mappings that apply on each
-- event's date. p_dry_run counts what it would create and writes nothing. The 2-argument call
-- keeps working (the scope parameters default to NULL).
-- The anti-join is forced to hash: right after a bulk load the planner may still believe the
-- impact table empty and probe its index once per candidate row, which makes a re-run that finds
-- nothing to do cost almost as much as the first run.
DROP FUNCTION public.backfill_customer_impacts();
DROP FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz);

CREATE FUNCTION public.backfill_customer_impacts_between(
  p_from timestamptz,
  p_to timestamptz,
  p_customer_id uuid DEFAULT NULL,
  p_substation_id uuid DEFAULT NULL,
  p_circuit_id text DEFAULT NULL,
  p_dry_run boolean DEFAULT false
)
  RETURNS TABLE (events_scanned bigint, severe bigint, moderate bigint, minor bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  SET enable_nestloop = off
  SET work_mem = '128MB'
  AS $$
DECLARE
  -- Events of the window and scope that have a place; with a customer, only the circuits that
  -- customer was ever mapped to.
  events_sql constant text := $q$
    WITH ev AS MATERIALIZED (
      SELECT e.id, e.substation_id, e.circuit_id, e.severity, e.duration_ms,
             (e."timestamp" AT TIME ZONE $1)::date AS day
      FROM public.pq_events AS e
      WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
        AND e."timestamp" >= coalesce($2, '-infinity')
        AND e."timestamp" < coalesce($3, 'infinity')
        AND ($5::uuid IS NULL OR e.substation_id = $5)
        AND ($6::text IS NULL OR e.circuit_id = $6)
        AND ($4::uuid IS NULL OR EXISTS (
              SELECT 1 FROM public.customer_transformer_matching AS mc
              WHERE mc.customer_id = $4
                AND mc.substation_id = e.substation_id AND mc.circuit_id = e.circuit_id))
    ),
    missing AS (
      SELECT ev.id, m.customer_id,
             public.impact_level_for_severity(ev.severity) AS impact_level,
             public.estimated_downtime_min(ev.duration_ms) AS estimated_downtime_min
      FROM ev
      CROSS JOIN LATERAL public.mappings_applying(ev.substation_id, ev.circuit_id, ev.day) AS m
      WHERE ($4::uuid IS NULL OR m.customer_id = $4)
        AND NOT EXISTS (
          SELECT 1 FROM public.event_customer_impact AS i
          WHERE i.event_id = ev.id AND i.customer_id = m.customer_id)
    )
  $q$;
  v_tz text := public.ctm_time_zone();
  v_circuit text := public.canonical_circuit_id(p_circuit_id);
BEGIN
  IF p_dry_run THEN
    RETURN QUERY EXECUTE events_sql || $q$
      SELECT (SELECT count(*) FROM ev),
             count(*) FILTER (WHERE missing.impact_level = 'severe'),
             count(*) FILTER (WHERE missing.impact_level = 'moderate'),
             count(*) FILTER (WHERE missing.impact_level = 'minor')
      FROM missing
    $q$ USING v_tz, p_from, p_to, p_customer_id, p_substation_id, v_circuit;
  ELSE
    RETURN QUERY EXECUTE events_sql || $q$
      , ins AS (
        INSERT INTO public.event_customer_impact
          (event_id, customer_id, impact_level, estimated_downtime_min)
        SELECT id, customer_id, impact_level, estimated_downtime_min FROM missing
        ON CONFLICT (event_id, customer_id) DO NOTHING
        RETURNING impact_level
      )
      SELECT (SELECT count(*) FROM ev),
             count(*) FILTER (WHERE ins.impact_level = 'severe'),
             count(*) FILTER (WHERE ins.impact_level = 'moderate'),
             count(*) FILTER (WHERE ins.impact_level = 'minor')
      FROM ins
    $q$ USING v_tz, p_from, p_to, p_customer_id, p_substation_id, v_circuit;
  END IF;
END
$$;
COMMENT ON FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz, uuid, uuid, text, boolean) IS
  'Creates (or with p_dry_run counts) the missing impacts of events in [p_from, p_to), optionally of one customer / substation / circuit, from the mappings that apply on each event''s date; returns events scanned and impacts by level';
REVOKE EXECUTE ON FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz, uuid, uuid, text, boolean) FROM PUBLIC;

CREATE FUNCTION public.backfill_customer_impacts() RETURNS bigint
  LANGUAGE sql SECURITY DEFINER
  SET search_path = ''
  AS $$
    SELECT b.severe + b.moderate + b.minor
    FROM public.backfill_customer_impacts_between(NULL, NULL) AS b
  $$;
COMMENT ON FUNCTION public.backfill_customer_impacts() IS
  'Creates every missing customer impact of every event (mappings that apply on each event''s date), set-based; returns rows inserted (0 on a re-run)';
REVOKE EXECUTE ON FUNCTION public.backfill_customer_impacts() FROM PUBLIC;

-- Events whose place the Statistics page reports -------------------------------------------------
-- Stored as they came, counted here: events on a retired circuit (event date on or after
-- retired_on), events naming a meter that is not registered, events whose place disagrees with
-- their meter's (substation or circuit differs where both are known). Invoker rights: the
-- policies decide what the caller counts. Optional window [p_from, p_to).
CREATE FUNCTION public.event_place_issues(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL)
  RETURNS TABLE (on_retired_circuits bigint, unknown_meters bigint, meter_disagreements bigint)
  LANGUAGE sql STABLE
  AS $$
    WITH zone AS MATERIALIZED (SELECT public.ctm_time_zone() AS tz)
    SELECT
      (SELECT count(*)
       FROM public.substation_circuits AS r
       CROSS JOIN zone
       JOIN public.pq_events AS e
         ON e.substation_id = r.substation_id AND e.circuit_id = r.circuit_id
        AND e."timestamp" >= (r.retired_on::timestamp AT TIME ZONE zone.tz)
       WHERE r.retired_on IS NOT NULL
         AND e."timestamp" >= coalesce(p_from, '-infinity')
         AND e."timestamp" < coalesce(p_to, 'infinity')),
      (SELECT count(*)
       FROM public.pq_events AS e
       WHERE e.meter_id IS NOT NULL
         AND e."timestamp" >= coalesce(p_from, '-infinity')
         AND e."timestamp" < coalesce(p_to, 'infinity')
         AND NOT EXISTS (SELECT 1 FROM public.pq_meters AS pm WHERE pm.meter_id = e.meter_id)),
      (SELECT count(*)
       FROM public.pq_meters AS pm
       JOIN public.pq_events AS e ON e.meter_id = pm.meter_id
       WHERE e."timestamp" >= coalesce(p_from, '-infinity')
         AND e."timestamp" < coalesce(p_to, 'infinity')
         AND ((e.substation_id <> pm.substation_id)
              OR (e.substation_id = pm.substation_id AND e.circuit_id <> pm.circuit_id)))
  $$;
COMMENT ON FUNCTION public.event_place_issues(timestamptz, timestamptz) IS
  'Counts of stored events the Statistics page reports: on a retired circuit, of an unknown meter, disagreeing with their meter''s place';
REVOKE EXECUTE ON FUNCTION public.event_place_issues(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.event_place_issues(timestamptz, timestamptz) TO authenticated;
