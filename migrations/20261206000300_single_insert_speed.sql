-- One event inserted alone (a live monitor's feed) costs about as much as in round 1 again (issue 8
-- "Speed": single insert p50 within 1.25x of round 1). What it paid for since round 1, measured per
-- trigger with EXPLAIN ANALYZE on PostgreSQL 15 (milliseconds per insert of an event that hits 8
-- customers): the circuit registry insert ~0.15 (its ON CONFLICT DO NOTHING inserts nothing, but
-- the statement still fires substation_circuits' statement triggers: audit, customers_served),
-- the analytics summary's event trigger ~0.18 and its impact trigger ~0.11 (two upserts of the
-- same summary row, each reading the stored zone through a SQL function that PostgreSQL < 18
-- plans again in every transaction). Now, for a statement of one event:
--   * the circuit is registered only when it is not registered yet;
--   * the event and its impact rows are added to their month's summary row by one statement here,
--     after the impacts are made: the impact trigger is skipped while this function sets
--     ctm.impacts_summarised to 'on' around its own insert; an event that is not rated (false,
--     another type, no residual) can change only six measures and takes a six-column upsert;
--   * the stored zone is read as a plain statement (plan cached for the session).
-- Statements of many events (bulk loads): the impact insert and the summary's event and impact
-- measures are one statement (hits per event from the insert's RETURNING), so the impact trigger no
-- longer reads a load's impact rows back joined to their events; the summary's event trigger is
-- folded into this function (one trigger call per insert statement instead of two).
-- The marks of the customer and circuit summaries (20261206000200) are appended here as well, so
-- an insert statement calls one trigger instead of four.
--
-- ctm.impacts_summarised cannot be abused to keep impact rows out of the summaries: a session may
-- set it, but every function that writes impact rows runs with it 'off' (a function-level SET,
-- restored on exit), and only this function's one-event branch turns it on, for its own insert.
-- A test lists every function that inserts impact rows and requires that setting.

-- An event's base rules for the summary: a base event (not false; a dip, swell, interruption or no
-- type) and its residual r (remaining voltage, 0 for an interruption without one) — the rules of
-- ctm_private.analytics_monthly_apply_events. Inlined by the planner (plain SQL, set-returning).
CREATE FUNCTION ctm_private.event_base(p_status text, p_type text, p_residual numeric)
  RETURNS TABLE (base boolean, r numeric)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT coalesce(p_status <> 'false', false)
           AND (p_type IS NULL OR p_type IN ('voltage_dip', 'voltage_swell', 'interruption')),
         coalesce(p_residual, CASE WHEN p_type = 'interruption' THEN 0 END)
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.event_base(text, text, numeric) FROM PUBLIC;

-- All of an event's rules: base, r, duration d, counted (SARFI) and placed (ride-through) flags,
-- and its verdict per curve.
CREATE FUNCTION ctm_private.event_rules(p_status text, p_type text, p_residual numeric,
                                        p_duration integer)
  RETURNS TABLE (base boolean, r numeric, d integer, counted boolean, placed boolean,
                 v_itic text, v_semi_f47 text, v_iec50 text, v_iec60 text)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT v.base, v.r, v.d,
         v.base AND v.r IS NOT NULL AND (v.d IS NULL OR v.d <= 60000),
         v.base AND v.r IS NOT NULL AND v.d IS NOT NULL,
         ctm_private.verdict_itic(v.rf, v.df),
         ctm_private.verdict_semi_f47(v.rf, v.df),
         ctm_private.verdict_iec_61000_4_34(v.rf, v.df, 50),
         ctm_private.verdict_iec_61000_4_34(v.rf, v.df, 60)
  FROM (SELECT u.base, u.r, p_duration AS d, u.r::float8 AS rf, p_duration::float8 AS df
        FROM ctm_private.event_base(p_status, p_type, p_residual) AS u
        -- The verdicts read float8 values converted once, not once per mention in their CASE.
        OFFSET 0) AS v
  -- Each rule once, however many measures use it (without the fence the planner copies the
  -- verdict expressions into every measure).
  OFFSET 0
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.event_rules(text, text, numeric, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.trigger_generate_customer_impacts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  SET ctm.impacts_summarised = 'off'
  AS $$
DECLARE
  -- The body of public.ctm_time_zone(), read here as a plain statement: its plan is cached for
  -- the session, where a call of the SQL function would be planned again in every transaction
  -- (PostgreSQL < 18) — a single-row insert would pay that on every event.
  v_tz text := coalesce(
    (SELECT s.value FROM public.ctm_settings AS s WHERE s.key = 'time_zone'), 'UTC');
  v_hits integer;
  v_work_mem text;
  v_new_circuit boolean;
  v_rated boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_events OFFSET 1) THEN
    -- One event (a live monitor): static statements whose plans, made for one row, are cached for
    -- the session; re-planning them on every insert would double the trigger's cost.
    -- Is its circuit new; is it rated (a base event with a residual: the only kind that adds to
    -- SARFI, ride-through or "too long" measures)?
    SELECT e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM public.substation_circuits AS sc
                             WHERE sc.substation_id = e.substation_id
                               AND sc.circuit_id = e.circuit_id),
           coalesce(b.base AND b.r IS NOT NULL, false)
    INTO v_new_circuit, v_rated
    FROM new_events AS e
    CROSS JOIN LATERAL ctm_private.event_base(e.status, e.event_type, e.remaining_voltage) AS b;
    IF v_new_circuit THEN
      INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
      SELECT e.substation_id, e.circuit_id, 'event'
      FROM new_events AS e
      ON CONFLICT DO NOTHING;
    END IF;
    -- Its mark for the customer and circuit summaries (20261206000200): its instant and substation.
    INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at, substation_id)
    SELECT e."timestamp", e."timestamp", e.substation_id FROM new_events AS e
    WHERE e.substation_id IS NOT NULL;  -- an event without one is in no summary
    PERFORM set_config('ctm.impacts_summarised', 'on', true);
    INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
    SELECT e.id, m.customer_id,
           public.impact_level_for_severity(e.severity),
           public.estimated_downtime_min(e.duration_ms)
    FROM new_events AS e
    CROSS JOIN LATERAL public.mappings_applying(
      e.substation_id, e.circuit_id, (e."timestamp" AT TIME ZONE v_tz)::date) AS m;
    GET DIAGNOSTICS v_hits = ROW_COUNT;
    PERFORM set_config('ctm.impacts_summarised', 'off', true);
    -- The event and its impact rows (one level: its severity's) in its month's summary row; the
    -- rules are those of ctm_private.analytics_monthly_apply_events / _apply_impacts.
    IF v_rated THEN
        INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
        unplaced, no_residual, too_long, events_10, served_10, hits_10, events_20, served_20,
        hits_20, events_30, served_30, hits_30, events_40, served_40, hits_40, events_50,
        served_50, hits_50, events_60, served_60, hits_60, events_70, served_70, hits_70,
        events_80, served_80, hits_80, events_90, served_90, hits_90, events_110, served_110,
        hits_110, events_120, served_120, hits_120, events_130, served_130, hits_130, events_140,
        served_140, hits_140, events_itic, served_itic, hits_itic, events_semi_f47,
        served_semi_f47, hits_semi_f47, rt_itic_within, rt_itic_outside, rt_itic_not_covered,
        rt_semi_f47_within, rt_semi_f47_outside, rt_semi_f47_not_covered, rt_iec50_within,
        rt_iec50_outside, rt_iec50_not_covered, rt_iec60_within, rt_iec60_outside,
        rt_iec60_not_covered, impacts_severe, impacts_moderate, impacts_minor)
        SELECT date_trunc('month', e."timestamp" AT TIME ZONE v_tz)::date, e.substation_id,
               coalesce(e.event_type = 'voltage_swell', false),
               CASE WHEN c.base AND (c.r IS NULL OR c.d IS NULL) THEN 1 ELSE 0 END,
               CASE WHEN c.base AND c.r IS NULL THEN 1 ELSE 0 END,
               CASE WHEN c.base AND c.r IS NOT NULL AND c.d > 60000 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 10 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 10 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 10 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 20 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 20 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 20 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 30 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 30 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 30 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 40 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 40 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 40 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 50 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 50 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 50 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 60 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 60 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 60 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 70 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 70 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 70 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 80 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 80 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 80 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r < 90 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r < 90 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r < 90 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r > 110 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r > 110 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r > 110 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r > 120 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r > 120 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r > 120 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r > 130 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r > 130 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r > 130 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.r > 140 THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.r > 140 THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.r > 140 THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.v_itic = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.v_itic = 'outside' THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.v_itic = 'outside' THEN v_hits ELSE 0 END,
               CASE WHEN c.counted AND c.v_semi_f47 = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.counted AND c.v_semi_f47 = 'outside' THEN coalesce(sc.customers_served, 0) ELSE 0 END,
               CASE WHEN c.counted AND c.v_semi_f47 = 'outside' THEN v_hits ELSE 0 END,
               CASE WHEN c.placed AND c.v_itic = 'within' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_itic = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_itic = 'not covered' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_semi_f47 = 'within' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_semi_f47 = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_semi_f47 = 'not covered' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec50 = 'within' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec50 = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec50 = 'not covered' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec60 = 'within' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec60 = 'outside' THEN 1 ELSE 0 END,
               CASE WHEN c.placed AND c.v_iec60 = 'not covered' THEN 1 ELSE 0 END,
               CASE WHEN public.impact_level_for_severity(e.severity) = 'severe' THEN v_hits ELSE 0 END,
               CASE WHEN public.impact_level_for_severity(e.severity) = 'moderate' THEN v_hits ELSE 0 END,
               CASE WHEN public.impact_level_for_severity(e.severity) = 'minor' THEN v_hits ELSE 0 END
        FROM new_events AS e
        LEFT JOIN public.substation_circuits AS sc
          ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
        CROSS JOIN LATERAL ctm_private.event_rules(e.status, e.event_type, e.remaining_voltage, e.duration_ms) AS c
        ON CONFLICT ON CONSTRAINT analytics_monthly_key DO UPDATE SET
          unplaced = a.unplaced + EXCLUDED.unplaced,
          no_residual = a.no_residual + EXCLUDED.no_residual,
          too_long = a.too_long + EXCLUDED.too_long,
          events_10 = a.events_10 + EXCLUDED.events_10,
          served_10 = a.served_10 + EXCLUDED.served_10,
          hits_10 = a.hits_10 + EXCLUDED.hits_10,
          events_20 = a.events_20 + EXCLUDED.events_20,
          served_20 = a.served_20 + EXCLUDED.served_20,
          hits_20 = a.hits_20 + EXCLUDED.hits_20,
          events_30 = a.events_30 + EXCLUDED.events_30,
          served_30 = a.served_30 + EXCLUDED.served_30,
          hits_30 = a.hits_30 + EXCLUDED.hits_30,
          events_40 = a.events_40 + EXCLUDED.events_40,
          served_40 = a.served_40 + EXCLUDED.served_40,
          hits_40 = a.hits_40 + EXCLUDED.hits_40,
          events_50 = a.events_50 + EXCLUDED.events_50,
          served_50 = a.served_50 + EXCLUDED.served_50,
          hits_50 = a.hits_50 + EXCLUDED.hits_50,
          events_60 = a.events_60 + EXCLUDED.events_60,
          served_60 = a.served_60 + EXCLUDED.served_60,
          hits_60 = a.hits_60 + EXCLUDED.hits_60,
          events_70 = a.events_70 + EXCLUDED.events_70,
          served_70 = a.served_70 + EXCLUDED.served_70,
          hits_70 = a.hits_70 + EXCLUDED.hits_70,
          events_80 = a.events_80 + EXCLUDED.events_80,
          served_80 = a.served_80 + EXCLUDED.served_80,
          hits_80 = a.hits_80 + EXCLUDED.hits_80,
          events_90 = a.events_90 + EXCLUDED.events_90,
          served_90 = a.served_90 + EXCLUDED.served_90,
          hits_90 = a.hits_90 + EXCLUDED.hits_90,
          events_110 = a.events_110 + EXCLUDED.events_110,
          served_110 = a.served_110 + EXCLUDED.served_110,
          hits_110 = a.hits_110 + EXCLUDED.hits_110,
          events_120 = a.events_120 + EXCLUDED.events_120,
          served_120 = a.served_120 + EXCLUDED.served_120,
          hits_120 = a.hits_120 + EXCLUDED.hits_120,
          events_130 = a.events_130 + EXCLUDED.events_130,
          served_130 = a.served_130 + EXCLUDED.served_130,
          hits_130 = a.hits_130 + EXCLUDED.hits_130,
          events_140 = a.events_140 + EXCLUDED.events_140,
          served_140 = a.served_140 + EXCLUDED.served_140,
          hits_140 = a.hits_140 + EXCLUDED.hits_140,
          events_itic = a.events_itic + EXCLUDED.events_itic,
          served_itic = a.served_itic + EXCLUDED.served_itic,
          hits_itic = a.hits_itic + EXCLUDED.hits_itic,
          events_semi_f47 = a.events_semi_f47 + EXCLUDED.events_semi_f47,
          served_semi_f47 = a.served_semi_f47 + EXCLUDED.served_semi_f47,
          hits_semi_f47 = a.hits_semi_f47 + EXCLUDED.hits_semi_f47,
          rt_itic_within = a.rt_itic_within + EXCLUDED.rt_itic_within,
          rt_itic_outside = a.rt_itic_outside + EXCLUDED.rt_itic_outside,
          rt_itic_not_covered = a.rt_itic_not_covered + EXCLUDED.rt_itic_not_covered,
          rt_semi_f47_within = a.rt_semi_f47_within + EXCLUDED.rt_semi_f47_within,
          rt_semi_f47_outside = a.rt_semi_f47_outside + EXCLUDED.rt_semi_f47_outside,
          rt_semi_f47_not_covered = a.rt_semi_f47_not_covered + EXCLUDED.rt_semi_f47_not_covered,
          rt_iec50_within = a.rt_iec50_within + EXCLUDED.rt_iec50_within,
          rt_iec50_outside = a.rt_iec50_outside + EXCLUDED.rt_iec50_outside,
          rt_iec50_not_covered = a.rt_iec50_not_covered + EXCLUDED.rt_iec50_not_covered,
          rt_iec60_within = a.rt_iec60_within + EXCLUDED.rt_iec60_within,
          rt_iec60_outside = a.rt_iec60_outside + EXCLUDED.rt_iec60_outside,
          rt_iec60_not_covered = a.rt_iec60_not_covered + EXCLUDED.rt_iec60_not_covered,
          impacts_severe = a.impacts_severe + EXCLUDED.impacts_severe,
          impacts_moderate = a.impacts_moderate + EXCLUDED.impacts_moderate,
          impacts_minor = a.impacts_minor + EXCLUDED.impacts_minor;
    ELSE
      -- Not rated (false, another type, or no residual): only these measures can change; an
      -- upsert of six columns costs half the one of all (its expressions are set up per call).
      INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
        unplaced, no_residual, impacts_severe, impacts_moderate, impacts_minor)
      SELECT date_trunc('month', e."timestamp" AT TIME ZONE v_tz)::date, e.substation_id,
             coalesce(e.event_type = 'voltage_swell', false),
             CASE WHEN b.base THEN 1 ELSE 0 END,
             CASE WHEN b.base AND b.r IS NULL THEN 1 ELSE 0 END,
             CASE WHEN l.level = 'severe' THEN v_hits ELSE 0 END,
             CASE WHEN l.level = 'moderate' THEN v_hits ELSE 0 END,
             CASE WHEN l.level = 'minor' THEN v_hits ELSE 0 END
      FROM new_events AS e
      CROSS JOIN LATERAL ctm_private.event_base(e.status, e.event_type, e.remaining_voltage) AS b
      CROSS JOIN LATERAL (SELECT public.impact_level_for_severity(e.severity) AS level) AS l
      ON CONFLICT ON CONSTRAINT analytics_monthly_key DO UPDATE SET
        unplaced = a.unplaced + EXCLUDED.unplaced,
        no_residual = a.no_residual + EXCLUDED.no_residual,
        impacts_severe = a.impacts_severe + EXCLUDED.impacts_severe,
        impacts_moderate = a.impacts_moderate + EXCLUDED.impacts_moderate,
        impacts_minor = a.impacts_minor + EXCLUDED.impacts_minor;
    END IF;
  ELSE
    -- Many events (a bulk load).
    -- Their marks for the customer and circuit summaries: one per event (with a substation), or,
    -- for more than 1,000 events, one per 28-day bin for every substation.
    IF EXISTS (SELECT 1 FROM new_events OFFSET 1000) THEN
      INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at)
      SELECT min(e."timestamp"), max(e."timestamp") FROM new_events AS e
      GROUP BY date_bin('28 days', e."timestamp", timestamptz '2000-01-01 00:00+00');
    ELSE
      INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at, substation_id)
      SELECT e."timestamp", e."timestamp", e.substation_id FROM new_events AS e
      WHERE e.substation_id IS NOT NULL;
    END IF;
    -- Their impact rows, and the events with them in their months' summary rows, by one statement:
    -- the hits per event come from the rows just written (RETURNING), not from reading them back
    -- in the summary's impact trigger (which, like the customer summaries' one, is skipped while
    -- the setting is 'on'). Grouped in memory (the default 4 MB spills a load's groups to disk).
    -- EXECUTE plans it for this call's row count; a plan cached for a handful of rows would be
    -- reused for a bulk load of 200,000 (and the other way round).
    v_work_mem := current_setting('work_mem');
    PERFORM set_config('work_mem', '64MB', true);
    PERFORM set_config('ctm.impacts_summarised', 'on', true);
    EXECUTE $q$
      WITH registered AS (
        INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
        SELECT DISTINCT e.substation_id, e.circuit_id, 'event'
        FROM new_events AS e
        WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
        ON CONFLICT DO NOTHING
      ),
      hit AS (
        INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
        SELECT e.id, m.customer_id,
               public.impact_level_for_severity(e.severity),
               public.estimated_downtime_min(e.duration_ms)
        FROM new_events AS e
        CROSS JOIN LATERAL public.mappings_applying(
          e.substation_id, e.circuit_id, (e."timestamp" AT TIME ZONE $1)::date) AS m
        RETURNING event_id
      ),
      hits AS (
        SELECT h.event_id, count(*)::integer AS n FROM hit AS h GROUP BY h.event_id
      )
        INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
          unplaced, no_residual, too_long, events_10, served_10, hits_10, events_20,
          served_20, hits_20, events_30, served_30, hits_30, events_40, served_40, hits_40,
          events_50, served_50, hits_50, events_60, served_60, hits_60, events_70,
          served_70, hits_70, events_80, served_80, hits_80, events_90, served_90, hits_90,
          events_110, served_110, hits_110, events_120, served_120, hits_120, events_130,
          served_130, hits_130, events_140, served_140, hits_140, events_itic, served_itic,
          hits_itic, events_semi_f47, served_semi_f47, hits_semi_f47, rt_itic_within,
          rt_itic_outside, rt_itic_not_covered, rt_semi_f47_within, rt_semi_f47_outside,
          rt_semi_f47_not_covered, rt_iec50_within, rt_iec50_outside, rt_iec50_not_covered,
          rt_iec60_within, rt_iec60_outside, rt_iec60_not_covered, impacts_severe,
          impacts_moderate, impacts_minor)
        SELECT date_trunc('month', d."timestamp" AT TIME ZONE $1)::date, d.substation_id,
               coalesce(d.event_type = 'voltage_swell', false),
               count(*) FILTER (WHERE c.base AND (c.r IS NULL OR c.d IS NULL)),
               count(*) FILTER (WHERE c.base AND c.r IS NULL),
               count(*) FILTER (WHERE c.base AND c.r IS NOT NULL AND c.d > 60000),
               count(*) FILTER (WHERE c.counted AND c.r < 10),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 10), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 10), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 20),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 20), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 20), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 30),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 30), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 30), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 40),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 40), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 40), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 50),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 50), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 50), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 60),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 60), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 60), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 70),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 70), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 70), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 80),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 80), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 80), 0),
               count(*) FILTER (WHERE c.counted AND c.r < 90),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 90), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r < 90), 0),
               count(*) FILTER (WHERE c.counted AND c.r > 110),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 110), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r > 110), 0),
               count(*) FILTER (WHERE c.counted AND c.r > 120),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 120), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r > 120), 0),
               count(*) FILTER (WHERE c.counted AND c.r > 130),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 130), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r > 130), 0),
               count(*) FILTER (WHERE c.counted AND c.r > 140),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 140), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.r > 140), 0),
               count(*) FILTER (WHERE c.counted AND c.v_itic = 'outside'),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
               count(*) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'),
               coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
               coalesce(sum(d.hits) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
               count(*) FILTER (WHERE c.placed AND c.v_itic = 'within'),
               count(*) FILTER (WHERE c.placed AND c.v_itic = 'outside'),
               count(*) FILTER (WHERE c.placed AND c.v_itic = 'not covered'),
               count(*) FILTER (WHERE c.placed AND c.v_semi_f47 = 'within'),
               count(*) FILTER (WHERE c.placed AND c.v_semi_f47 = 'outside'),
               count(*) FILTER (WHERE c.placed AND c.v_semi_f47 = 'not covered'),
               count(*) FILTER (WHERE c.placed AND c.v_iec50 = 'within'),
               count(*) FILTER (WHERE c.placed AND c.v_iec50 = 'outside'),
               count(*) FILTER (WHERE c.placed AND c.v_iec50 = 'not covered'),
               count(*) FILTER (WHERE c.placed AND c.v_iec60 = 'within'),
               count(*) FILTER (WHERE c.placed AND c.v_iec60 = 'outside'),
               count(*) FILTER (WHERE c.placed AND c.v_iec60 = 'not covered'),
               coalesce(sum(d.hits) FILTER (WHERE d.level = 'severe'), 0),
               coalesce(sum(d.hits) FILTER (WHERE d.level = 'moderate'), 0),
               coalesce(sum(d.hits) FILTER (WHERE d.level = 'minor'), 0)
        FROM (
          SELECT e."timestamp", e.substation_id, e.event_type, e.status, e.remaining_voltage,
                 e.duration_ms, coalesce(sc.customers_served, 0) AS served,
                 coalesce(h.n, 0) AS hits, public.impact_level_for_severity(e.severity) AS level
          FROM new_events AS e
          LEFT JOIN hits AS h ON h.event_id = e.id
          LEFT JOIN public.substation_circuits AS sc
            ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
        ) AS d
        CROSS JOIN LATERAL ctm_private.event_rules(d.status, d.event_type, d.remaining_voltage,
                                                   d.duration_ms) AS c
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT analytics_monthly_key DO UPDATE SET
          unplaced = a.unplaced + EXCLUDED.unplaced,
          no_residual = a.no_residual + EXCLUDED.no_residual,
          too_long = a.too_long + EXCLUDED.too_long,
          events_10 = a.events_10 + EXCLUDED.events_10,
          served_10 = a.served_10 + EXCLUDED.served_10,
          hits_10 = a.hits_10 + EXCLUDED.hits_10,
          events_20 = a.events_20 + EXCLUDED.events_20,
          served_20 = a.served_20 + EXCLUDED.served_20,
          hits_20 = a.hits_20 + EXCLUDED.hits_20,
          events_30 = a.events_30 + EXCLUDED.events_30,
          served_30 = a.served_30 + EXCLUDED.served_30,
          hits_30 = a.hits_30 + EXCLUDED.hits_30,
          events_40 = a.events_40 + EXCLUDED.events_40,
          served_40 = a.served_40 + EXCLUDED.served_40,
          hits_40 = a.hits_40 + EXCLUDED.hits_40,
          events_50 = a.events_50 + EXCLUDED.events_50,
          served_50 = a.served_50 + EXCLUDED.served_50,
          hits_50 = a.hits_50 + EXCLUDED.hits_50,
          events_60 = a.events_60 + EXCLUDED.events_60,
          served_60 = a.served_60 + EXCLUDED.served_60,
          hits_60 = a.hits_60 + EXCLUDED.hits_60,
          events_70 = a.events_70 + EXCLUDED.events_70,
          served_70 = a.served_70 + EXCLUDED.served_70,
          hits_70 = a.hits_70 + EXCLUDED.hits_70,
          events_80 = a.events_80 + EXCLUDED.events_80,
          served_80 = a.served_80 + EXCLUDED.served_80,
          hits_80 = a.hits_80 + EXCLUDED.hits_80,
          events_90 = a.events_90 + EXCLUDED.events_90,
          served_90 = a.served_90 + EXCLUDED.served_90,
          hits_90 = a.hits_90 + EXCLUDED.hits_90,
          events_110 = a.events_110 + EXCLUDED.events_110,
          served_110 = a.served_110 + EXCLUDED.served_110,
          hits_110 = a.hits_110 + EXCLUDED.hits_110,
          events_120 = a.events_120 + EXCLUDED.events_120,
          served_120 = a.served_120 + EXCLUDED.served_120,
          hits_120 = a.hits_120 + EXCLUDED.hits_120,
          events_130 = a.events_130 + EXCLUDED.events_130,
          served_130 = a.served_130 + EXCLUDED.served_130,
          hits_130 = a.hits_130 + EXCLUDED.hits_130,
          events_140 = a.events_140 + EXCLUDED.events_140,
          served_140 = a.served_140 + EXCLUDED.served_140,
          hits_140 = a.hits_140 + EXCLUDED.hits_140,
          events_itic = a.events_itic + EXCLUDED.events_itic,
          served_itic = a.served_itic + EXCLUDED.served_itic,
          hits_itic = a.hits_itic + EXCLUDED.hits_itic,
          events_semi_f47 = a.events_semi_f47 + EXCLUDED.events_semi_f47,
          served_semi_f47 = a.served_semi_f47 + EXCLUDED.served_semi_f47,
          hits_semi_f47 = a.hits_semi_f47 + EXCLUDED.hits_semi_f47,
          rt_itic_within = a.rt_itic_within + EXCLUDED.rt_itic_within,
          rt_itic_outside = a.rt_itic_outside + EXCLUDED.rt_itic_outside,
          rt_itic_not_covered = a.rt_itic_not_covered + EXCLUDED.rt_itic_not_covered,
          rt_semi_f47_within = a.rt_semi_f47_within + EXCLUDED.rt_semi_f47_within,
          rt_semi_f47_outside = a.rt_semi_f47_outside + EXCLUDED.rt_semi_f47_outside,
          rt_semi_f47_not_covered = a.rt_semi_f47_not_covered + EXCLUDED.rt_semi_f47_not_covered,
          rt_iec50_within = a.rt_iec50_within + EXCLUDED.rt_iec50_within,
          rt_iec50_outside = a.rt_iec50_outside + EXCLUDED.rt_iec50_outside,
          rt_iec50_not_covered = a.rt_iec50_not_covered + EXCLUDED.rt_iec50_not_covered,
          rt_iec60_within = a.rt_iec60_within + EXCLUDED.rt_iec60_within,
          rt_iec60_outside = a.rt_iec60_outside + EXCLUDED.rt_iec60_outside,
          rt_iec60_not_covered = a.rt_iec60_not_covered + EXCLUDED.rt_iec60_not_covered,
          impacts_severe = a.impacts_severe + EXCLUDED.impacts_severe,
          impacts_moderate = a.impacts_moderate + EXCLUDED.impacts_moderate,
          impacts_minor = a.impacts_minor + EXCLUDED.impacts_minor
    $q$ USING v_tz;
    PERFORM set_config('ctm.impacts_summarised', 'off', true);
    PERFORM set_config('work_mem', v_work_mem, true);
  END IF;
  RETURN NULL;
END
$$;

-- The summary's event measures of inserted events are added by the function above: one trigger call
-- per statement instead of two.
DROP TRIGGER analytics_monthly_events_insert ON public.pq_events;
DROP FUNCTION ctm_private.analytics_monthly_events_insert();

-- The summary's impact trigger: the stored zone read as a plain statement.
CREATE OR REPLACE FUNCTION ctm_private.analytics_monthly_impacts_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  -- A bulk load's rows are grouped in memory (the default 4 MB spills them to disk).
  SET work_mem = '64MB'
  AS $$
DECLARE
  -- The body of public.ctm_time_zone(), read as a plain statement (see
  -- public.trigger_generate_customer_impacts): the SQL function is planned again in every
  -- transaction before PostgreSQL 18.
  v_tz text := coalesce(
    (SELECT s.value FROM public.ctm_settings AS s WHERE s.key = 'time_zone'), 'UTC');
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- Rows removed (or the old side of an update): taken off their event's month. Rows whose event
    -- is gone were taken off by analytics_monthly_event_impacts_leaving.
    PERFORM ctm_private.analytics_monthly_apply_impacts(ARRAY(
      SELECT ROW(e."timestamp", e.substation_id, e.event_type, e.status, e.remaining_voltage,
                 e.duration_ms, 0, 0, -x.n, -x.severe, -x.moderate, -x.minor)
               ::ctm_private.analytics_delta
      FROM (SELECT o.event_id, count(*) AS n,
                   CASE WHEN o.impact_level = 'severe' THEN count(*) ELSE 0 END AS severe,
                   CASE WHEN o.impact_level = 'moderate' THEN count(*) ELSE 0 END AS moderate,
                   CASE WHEN o.impact_level = 'minor' THEN count(*) ELSE 0 END AS minor
            FROM old_impacts AS o GROUP BY o.event_id, o.impact_level) AS x
      JOIN public.pq_events AS e ON e.id = x.event_id
    ), v_tz);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    -- The statement of analytics_monthly_apply_impacts, reading the new rows directly.
    INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
    impacts_severe, impacts_moderate, impacts_minor, hits_10, hits_20, hits_30, hits_40, hits_50,
    hits_60, hits_70, hits_80, hits_90, hits_110, hits_120, hits_130, hits_140, hits_itic,
    hits_semi_f47)
    SELECT date_trunc('month', d.at AT TIME ZONE v_tz)::date, d.substation_id,
           coalesce(d.event_type = 'voltage_swell', false),
           coalesce(sum(d.n_severe), 0),
           coalesce(sum(d.n_moderate), 0),
           coalesce(sum(d.n_minor), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 10), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 20), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 30), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 40), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 50), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 60), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 70), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 80), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r < 90), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r > 110), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r > 120), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r > 130), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.r > 140), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
           coalesce(sum(d.n_impacts) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0)
    FROM (
      SELECT e."timestamp" AS at, e.substation_id, e.event_type, e.status, e.remaining_voltage,
             e.duration_ms, 0 AS n_events, 0 AS served, x.n AS n_impacts, x.severe AS n_severe,
             x.moderate AS n_moderate, x.minor AS n_minor
      -- Per event and level: one count (an event's rows share their level, from its severity).
      FROM (SELECT n.event_id, count(*) AS n,
                   CASE WHEN n.impact_level = 'severe' THEN count(*) ELSE 0 END AS severe,
                   CASE WHEN n.impact_level = 'moderate' THEN count(*) ELSE 0 END AS moderate,
                   CASE WHEN n.impact_level = 'minor' THEN count(*) ELSE 0 END AS minor
            FROM new_impacts AS n GROUP BY n.event_id, n.impact_level) AS x
      JOIN public.pq_events AS e ON e.id = x.event_id
    ) AS d
    CROSS JOIN LATERAL (
      -- Each event's rules once (OFFSET 0 keeps the planner from copying them into every sum).
      SELECT v.base, v.r, v.d,
             v.base AND v.r IS NOT NULL AND (v.d IS NULL OR v.d <= 60000) AS counted,
             v.base AND v.r IS NOT NULL AND v.d IS NOT NULL AS placed,
             ctm_private.verdict_itic(v.r, v.d) AS v_itic,
             ctm_private.verdict_semi_f47(v.r, v.d) AS v_semi_f47
      FROM (SELECT coalesce(d.status <> 'false', false)
                     AND (d.event_type IS NULL
                          OR d.event_type IN ('voltage_dip', 'voltage_swell', 'interruption')) AS base,
                   coalesce(d.remaining_voltage,
                            CASE WHEN d.event_type = 'interruption' THEN 0 END) AS r,
                   d.duration_ms AS d) AS v
      OFFSET 0
    ) AS c
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT analytics_monthly_key DO UPDATE SET
      impacts_severe = a.impacts_severe + EXCLUDED.impacts_severe,
      impacts_moderate = a.impacts_moderate + EXCLUDED.impacts_moderate,
      impacts_minor = a.impacts_minor + EXCLUDED.impacts_minor,
      hits_10 = a.hits_10 + EXCLUDED.hits_10,
      hits_20 = a.hits_20 + EXCLUDED.hits_20,
      hits_30 = a.hits_30 + EXCLUDED.hits_30,
      hits_40 = a.hits_40 + EXCLUDED.hits_40,
      hits_50 = a.hits_50 + EXCLUDED.hits_50,
      hits_60 = a.hits_60 + EXCLUDED.hits_60,
      hits_70 = a.hits_70 + EXCLUDED.hits_70,
      hits_80 = a.hits_80 + EXCLUDED.hits_80,
      hits_90 = a.hits_90 + EXCLUDED.hits_90,
      hits_110 = a.hits_110 + EXCLUDED.hits_110,
      hits_120 = a.hits_120 + EXCLUDED.hits_120,
      hits_130 = a.hits_130 + EXCLUDED.hits_130,
      hits_140 = a.hits_140 + EXCLUDED.hits_140,
      hits_itic = a.hits_itic + EXCLUDED.hits_itic,
      hits_semi_f47 = a.hits_semi_f47 + EXCLUDED.hits_semi_f47;
  END IF;
  RETURN NULL;
END
$$;

-- Skipped while public.trigger_generate_customer_impacts counts its own one-event insert.
DROP TRIGGER analytics_monthly_impacts_insert ON public.event_customer_impact;
CREATE TRIGGER analytics_monthly_impacts_insert
  AFTER INSERT ON public.event_customer_impact
  REFERENCING NEW TABLE AS new_impacts
  FOR EACH STATEMENT
  WHEN (current_setting('ctm.impacts_summarised', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION ctm_private.analytics_monthly_impacts_changed();

-- The customer and circuit summaries' marks of inserted events are appended by the insert trigger
-- above (one trigger call per statement instead of three); their impact trigger is skipped while
-- it writes the impact rows of events it has just marked ('on' or 'marked').
DROP TRIGGER analytics_customer_events_insert ON public.pq_events;
DROP TRIGGER zz_analytics_customer_events_insert_done ON public.pq_events;
DROP FUNCTION ctm_private.analytics_customer_events_inserted();
DROP FUNCTION ctm_private.analytics_customer_events_insert_done();
DROP TRIGGER analytics_customer_impacts_insert ON public.event_customer_impact;
CREATE TRIGGER analytics_customer_impacts_insert
  AFTER INSERT ON public.event_customer_impact
  REFERENCING NEW TABLE AS new_impacts
  FOR EACH STATEMENT
  WHEN (coalesce(current_setting('ctm.impacts_summarised', true), 'off') NOT IN ('on', 'marked'))
  EXECUTE FUNCTION ctm_private.analytics_customer_impacts_changed();

-- Every other writer of impact rows counts and marks them through the impact triggers, whatever the
-- session set.
ALTER FUNCTION public.generate_customer_impacts_for_event(uuid) SET ctm.impacts_summarised = 'off';
ALTER FUNCTION public.trigger_regenerate_customer_impacts() SET ctm.impacts_summarised = 'off';
ALTER FUNCTION public.apply_mapping_impacts(uuid, uuid[], text) SET ctm.impacts_summarised = 'off';
ALTER FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz, uuid, uuid, text, boolean)
  SET ctm.impacts_summarised = 'off';
