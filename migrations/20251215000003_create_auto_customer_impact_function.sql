-- Automatic customer impacts: when an event arrives on (substation_id, circuit_id), every active
-- mapping on that pair yields one event_customer_impact row, in the same transaction, whichever
-- system inserts the event and however (single INSERT, multi-row INSERT, INSERT ... SELECT, COPY).
--
-- Corrected from the plan: statement-level triggers over transition tables (one set-based INSERT
-- per statement instead of one function call and one query per event); SECURITY DEFINER with a
-- pinned search_path (under RLS the plan's trigger silently inserted nothing for writers that cannot
-- read the mappings); downtime as numeric(10,2); a real unique key behind ON CONFLICT; impacts
-- follow corrections of an event; a set-based, idempotent backfill.

-- The two rules, written once --------------------------------------------------------------------
-- critical → severe, high → moderate, medium / low / anything else / NULL → minor.
CREATE FUNCTION public.impact_level_for_severity(severity text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE lower(btrim(severity))
           WHEN 'critical' THEN 'severe'
           WHEN 'high' THEN 'moderate'
           ELSE 'minor'
         END;

-- 90 000 ms → 1.50 minutes; NULL stays NULL.
CREATE FUNCTION public.estimated_downtime_min(duration_ms integer) RETURNS numeric(10, 2)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN round(duration_ms / 60000.0, 2)::numeric(10, 2);

-- One event on demand ----------------------------------------------------------------------------
CREATE FUNCTION public.generate_customer_impacts_for_event(event_id_param uuid) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_count integer;
BEGIN
  INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
  SELECT e.id, m.customer_id,
         public.impact_level_for_severity(e.severity),
         public.estimated_downtime_min(e.duration_ms)
  FROM public.pq_events AS e
  JOIN public.customer_transformer_matching AS m
    ON m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id AND m.active
  WHERE e.id = event_id_param
  ON CONFLICT (event_id, customer_id) DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION public.generate_customer_impacts_for_event(uuid) IS
  'Creates the missing event_customer_impact rows of one event from the active mappings of its circuit; returns rows inserted (0 on a second call)';
REVOKE EXECUTE ON FUNCTION public.generate_customer_impacts_for_event(uuid) FROM PUBLIC;

-- New events: one set-based INSERT per statement -------------------------------------------------
CREATE FUNCTION public.trigger_generate_customer_impacts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_events OFFSET 1) THEN
    -- One event (a live monitor): a static statement whose plan, made for one row, is cached for
    -- the session; re-planning it on every insert would double the trigger's cost.
    INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
    SELECT e.id, m.customer_id,
           public.impact_level_for_severity(e.severity),
           public.estimated_downtime_min(e.duration_ms)
    FROM new_events AS e
    JOIN public.customer_transformer_matching AS m
      ON m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id AND m.active;
  ELSE
    -- Many events: EXECUTE plans the statement for this call's row count; a plan cached for a
    -- handful of rows would be reused for a bulk load of 200,000 (and the other way round).
    EXECUTE $q$
      INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
      SELECT e.id, m.customer_id,
             public.impact_level_for_severity(e.severity),
             public.estimated_downtime_min(e.duration_ms)
      FROM new_events AS e
      JOIN public.customer_transformer_matching AS m
        ON m.substation_id = e.substation_id AND m.circuit_id = e.circuit_id AND m.active
    $q$;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.trigger_generate_customer_impacts() FROM PUBLIC;

CREATE TRIGGER trigger_auto_generate_customer_impacts
  AFTER INSERT ON public.pq_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION public.trigger_generate_customer_impacts();
COMMENT ON TRIGGER trigger_auto_generate_customer_impacts ON public.pq_events IS
  'Automatically generates customer impact records when new events are created';

-- Corrected events: impacts follow ---------------------------------------------------------------
-- A new place (substation or circuit) replaces the impacts with those of the new circuit's active
-- mappings. A new severity or duration on the same place re-rates the customers already recorded:
-- a customer mapped to the circuit after the event was not hit by it.
CREATE FUNCTION public.trigger_regenerate_customer_impacts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  -- Events of this statement whose place, severity or duration changed.
  changed constant text := $q$
    WITH changed AS (
      SELECT n.id, n.substation_id, n.circuit_id, n.severity, n.duration_ms,
             (n.substation_id, n.circuit_id) IS DISTINCT FROM (o.substation_id, o.circuit_id) AS moved
      FROM new_events AS n
      JOIN old_events AS o ON o.id = n.id
      WHERE (n.substation_id, n.circuit_id, n.severity, n.duration_ms)
            IS DISTINCT FROM (o.substation_id, o.circuit_id, o.severity, o.duration_ms)
    )
  $q$;
BEGIN
  -- Three statements in this order: a customer on both the old and the new circuit must be
  -- deleted before it is inserted again.
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
    INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
    SELECT c.id, m.customer_id,
           public.impact_level_for_severity(c.severity),
           public.estimated_downtime_min(c.duration_ms)
    FROM changed AS c
    JOIN public.customer_transformer_matching AS m
      ON m.substation_id = c.substation_id AND m.circuit_id = c.circuit_id AND m.active
    WHERE c.moved
  $q$;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.trigger_regenerate_customer_impacts() FROM PUBLIC;

CREATE TRIGGER trigger_regenerate_customer_impacts
  AFTER UPDATE ON public.pq_events
  REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION public.trigger_regenerate_customer_impacts();
COMMENT ON TRIGGER trigger_regenerate_customer_impacts ON public.pq_events IS
  'Keeps customer impacts in step when an event''s substation, circuit, severity or duration is corrected';

-- Backfill ---------------------------------------------------------------------------------------
-- Set-based over a time window (NULL = open end), idempotent: creates only the missing rows.
-- The anti-join is forced to hash: right after a bulk load the planner may still believe the
-- impact table empty and probe its index once per candidate row, which makes a re-run that finds
-- nothing to do cost almost as much as the first run.
CREATE FUNCTION public.backfill_customer_impacts_between(p_from timestamptz, p_to timestamptz)
  RETURNS TABLE (events_scanned bigint, severe bigint, moderate bigint, minor bigint)
  LANGUAGE sql SECURITY DEFINER
  SET search_path = ''
  SET enable_nestloop = off
  SET work_mem = '128MB'
  AS $$
    WITH ev AS MATERIALIZED (
      SELECT e.id, e.substation_id, e.circuit_id, e.severity, e.duration_ms
      FROM public.pq_events AS e
      WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
        AND e."timestamp" >= coalesce(p_from, '-infinity')
        AND e."timestamp" < coalesce(p_to, 'infinity')
    ),
    ins AS (
      INSERT INTO public.event_customer_impact (event_id, customer_id, impact_level, estimated_downtime_min)
      SELECT ev.id, m.customer_id,
             public.impact_level_for_severity(ev.severity),
             public.estimated_downtime_min(ev.duration_ms)
      FROM ev
      JOIN public.customer_transformer_matching AS m
        ON m.substation_id = ev.substation_id AND m.circuit_id = ev.circuit_id AND m.active
      WHERE NOT EXISTS (
        SELECT 1 FROM public.event_customer_impact AS i
        WHERE i.event_id = ev.id AND i.customer_id = m.customer_id
      )
      ON CONFLICT (event_id, customer_id) DO NOTHING
      RETURNING impact_level
    )
    SELECT (SELECT count(*) FROM ev),
           count(*) FILTER (WHERE ins.impact_level = 'severe'),
           count(*) FILTER (WHERE ins.impact_level = 'moderate'),
           count(*) FILTER (WHERE ins.impact_level = 'minor')
    FROM ins
  $$;
COMMENT ON FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz) IS
  'Creates the missing impacts of events in [p_from, p_to); returns events scanned and impacts created by level';
REVOKE EXECUTE ON FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION public.backfill_customer_impacts() RETURNS bigint
  LANGUAGE sql SECURITY DEFINER
  SET search_path = ''
  AS $$
    SELECT b.severe + b.moderate + b.minor
    FROM public.backfill_customer_impacts_between(NULL, NULL) AS b
  $$;
COMMENT ON FUNCTION public.backfill_customer_impacts() IS
  'Creates every missing customer impact of every event, set-based; returns rows inserted (0 on a re-run)';
REVOKE EXECUTE ON FUNCTION public.backfill_customer_impacts() FROM PUBLIC;
