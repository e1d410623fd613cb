-- Per-customer and per-circuit analytics at scale (issue 11 "Speed and scale", its last part): the
-- customer verdicts of the ride-through page, the most affected customers and the fragile circuits
-- read whole months from two summaries instead of joining a period's events to their millions of
-- impact rows per click.
--
-- public.analytics_customer_monthly: one row per (local month, customer, substation, swell or not)
-- over the *base* events that hit the customer (status not 'false'; type voltage_dip /
-- voltage_swell / interruption / NULL; with a substation): impact rows, severe ones, the sum of
-- duration_ms, the lowest residual r (remaining_voltage, or 0 for an interruption without one) and
-- the impact rows per curve verdict (within / outside; "not covered" = the rest).
-- public.analytics_circuit_monthly: one row per (local month, substation, circuit, swell) with the
-- base events on that circuit (events without impacts count) and their impact rows.
-- The rules are those of ctm/analytics.py (its _BASE_EVENT_SQL, _RESIDUAL_SQL and the curve
-- verdicts of ctm/curves.py, here the ctm_private.verdict_* functions of 20261205000400).
--
-- Why deferred, not kept row by row like public.analytics_monthly: a bulk load writes one impact
-- row per (event, customer); keeping a per-customer summary inside the load statement would write
-- as many summary changes as impacts, and the ingest goal has no room for that. Instead:
--   1. writes only append to a dirty log, ctm_private.analytics_customer_dirty: rows (from_at,
--      to_at, substation_id) = the first and last instant of changed events of one substation,
--      at most 28 days apart (so a row touches at most two local months); a statement of more
--      than 1,000 rows marks per 28-day bin for every substation (NULL). Instants, not local
--      months: the hooks need no time zone, and a zone changed meanwhile cannot misplace a mark.
--      The log is append-only and has no index: concurrent writers never wait for each other or
--      for a reader;
--   2. readers call public.analytics_customer_refresh(first month, last month) before reading whole
--      months: it recounts, wholesale and set-based, every (local month, substation) touched by a
--      dirty row that overlaps those months (the whole month for a NULL substation), then reads.
--      Per substation because a live monitor's one event would otherwise cost a recount of its
--      whole month (~20,000 events, ~100,000 impact rows at the design point: 0.4-0.7 s);
--   3. a new time zone or an emptied table: the refresher keeps the zone the summaries were counted
--      in (ctm_private.analytics_customer_state); TRUNCATE clears it. A different zone there means
--      "start again": both summaries are emptied and every month of the events is marked dirty.
-- Hooks (all statement-level): pq_events INSERT (events without impacts count for circuits),
-- UPDATE of time, place, type, status, residual or duration, DELETE; event_customer_impact INSERT,
-- UPDATE, DELETE (a customer deleted, a backfill, past-event impacts added or removed); TRUNCATE of
-- either. The impact rows that an event INSERT creates (trigger_auto_generate_customer_impacts)
-- need no mark of their own: their events' instants were just marked. A transaction-local setting
-- says so for the length of the INSERT's AFTER triggers (set by analytics_customer_events_insert,
-- which fires before the impact trigger by name order; cleared by
-- zz_analytics_customer_events_insert_done, which fires after it); the impact trigger's WHEN skips
-- its call while it is on. Without it, a bulk load's hook would join its 1,000,000 impact rows to
-- their events only to mark months already marked, and a one-row insert would pay a second mark.
-- If the impacts were ever written outside that window, the hook would mark them itself: slower,
-- never wrong.

-- The summaries -----------------------------------------------------------------------------------
CREATE TABLE public.analytics_customer_monthly (
  month           date NOT NULL,
  customer_id     uuid NOT NULL,
  substation_id   uuid NOT NULL,
  swell           boolean NOT NULL,
  events          integer NOT NULL,   -- impact rows (= events that hit the customer)
  severe          integer NOT NULL,   -- of them with impact_level 'severe'
  duration_ms     bigint NOT NULL,    -- sum of the events' duration_ms (NULL counts 0)
  lowest_residual numeric,            -- lowest r, NULL when no event had one
  itic_within     integer NOT NULL,
  itic_outside    integer NOT NULL,
  semi_f47_within integer NOT NULL,
  semi_f47_outside integer NOT NULL,
  iec50_within    integer NOT NULL,
  iec50_outside   integer NOT NULL,
  iec60_within    integer NOT NULL,
  iec60_outside   integer NOT NULL,
  PRIMARY KEY (month, customer_id, substation_id, swell)
);
COMMENT ON TABLE public.analytics_customer_monthly IS
  'Impact rows of base events per local month, customer, substation and swell-or-not, for analytics (refreshed from a dirty log; see migration 20261206000200)';

CREATE TABLE public.analytics_circuit_monthly (
  month         date NOT NULL,
  substation_id uuid NOT NULL,
  circuit_id    text NOT NULL,
  swell         boolean NOT NULL,
  events        integer NOT NULL,     -- base events on the circuit
  hits          integer NOT NULL,     -- their impact rows
  PRIMARY KEY (month, substation_id, circuit_id, swell)
);
COMMENT ON TABLE public.analytics_circuit_monthly IS
  'Base events and their impact rows per local month, circuit and swell-or-not, for analytics (refreshed from a dirty log; see migration 20261206000200)';

REVOKE ALL ON public.analytics_customer_monthly, public.analytics_circuit_monthly FROM PUBLIC;
GRANT SELECT ON public.analytics_customer_monthly, public.analytics_circuit_monthly TO authenticated;
ALTER TABLE public.analytics_customer_monthly ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.analytics_circuit_monthly ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users with a profile can read the customer analytics summary"
  ON public.analytics_customer_monthly
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Users with a profile can read the circuit analytics summary"
  ON public.analytics_circuit_monthly
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);

-- Bookkeeping -------------------------------------------------------------------------------------
-- Instants whose local months need a recount (both ends included). No index, no key: appending is
-- all a writer does; the refresher reads the few rows there are.
CREATE TABLE ctm_private.analytics_customer_dirty (
  from_at       timestamptz NOT NULL,
  to_at         timestamptz NOT NULL,
  substation_id uuid  -- NULL: every substation
);
-- The zone the summaries were counted in; NULL = to be rebuilt (after a TRUNCATE).
CREATE TABLE ctm_private.analytics_customer_state (
  time_zone text
);
INSERT INTO ctm_private.analytics_customer_state VALUES (NULL);

-- One month, recounted ------------------------------------------------------------------------------
-- p_substations NULL: the whole month; else only the rows (and events) of those substations.
-- Planned for each call's values: a plan cached for "any substations" reads the whole month's
-- events (7 ms became 60 ms per substation at the design point after five calls of a session).
CREATE FUNCTION ctm_private.analytics_customer_recount(p_month date, p_tz text, p_substations uuid[])
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = ''
  SET plan_cache_mode = force_custom_plan
  AS $$
DECLARE
  v_from timestamptz := p_month::timestamp AT TIME ZONE p_tz;
  v_to   timestamptz := (p_month + interval '1 month')::timestamp AT TIME ZONE p_tz;
BEGIN
  DELETE FROM public.analytics_customer_monthly AS a
  WHERE a.month = p_month AND (p_substations IS NULL OR a.substation_id = ANY(p_substations));
  DELETE FROM public.analytics_circuit_monthly AS a
  WHERE a.month = p_month AND (p_substations IS NULL OR a.substation_id = ANY(p_substations));
  WITH ev AS MATERIALIZED (
    -- The month's base events with a substation, each classified once.
    SELECT e.id, e.substation_id, e.circuit_id, coalesce(e.event_type = 'voltage_swell', false) AS swell,
           e.duration_ms, v.r,
           ctm_private.verdict_itic(v.r, e.duration_ms) AS v_itic,
           ctm_private.verdict_semi_f47(v.r, e.duration_ms) AS v_semi_f47,
           ctm_private.verdict_iec_61000_4_34(v.r, e.duration_ms, 50) AS v_iec50,
           ctm_private.verdict_iec_61000_4_34(v.r, e.duration_ms, 60) AS v_iec60
    FROM public.pq_events AS e
    CROSS JOIN LATERAL (
      SELECT coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END) AS r
    ) AS v
    WHERE e."timestamp" >= v_from AND e."timestamp" < v_to
      AND e.substation_id IS NOT NULL
      AND (p_substations IS NULL OR e.substation_id = ANY(p_substations))
      AND e.status <> 'false'
      AND (e.event_type IS NULL OR e.event_type IN ('voltage_dip', 'voltage_swell', 'interruption'))
  ),
  hit AS MATERIALIZED (
    -- Each event's impact rows through the primary key (OFFSET 0: not pulled up into a hash
    -- join, which would read all 10,000,000 impact rows to find a month's 100,000).
    SELECT ev.*, i.customer_id, i.impact_level
    FROM ev CROSS JOIN LATERAL (
      SELECT x.customer_id, x.impact_level FROM public.event_customer_impact AS x
      WHERE x.event_id = ev.id OFFSET 0
    ) AS i
  ),
  circuits AS (
    INSERT INTO public.analytics_circuit_monthly (month, substation_id, circuit_id, swell, events, hits)
    SELECT p_month, c.substation_id, c.circuit_id, c.swell, sum(c.events), sum(c.hits)
    FROM (
      SELECT ev.substation_id, ev.circuit_id, ev.swell, count(*) AS events, 0 AS hits
      FROM ev WHERE ev.circuit_id IS NOT NULL GROUP BY 1, 2, 3
      UNION ALL
      SELECT hit.substation_id, hit.circuit_id, hit.swell, 0, count(*)
      FROM hit WHERE hit.circuit_id IS NOT NULL GROUP BY 1, 2, 3
    ) AS c
    GROUP BY 2, 3, 4
  )
  INSERT INTO public.analytics_customer_monthly (month, customer_id, substation_id, swell, events,
    severe, duration_ms, lowest_residual, itic_within, itic_outside, semi_f47_within,
    semi_f47_outside, iec50_within, iec50_outside, iec60_within, iec60_outside)
  SELECT p_month, h.customer_id, h.substation_id, h.swell, count(*),
         count(*) FILTER (WHERE h.impact_level = 'severe'),
         coalesce(sum(h.duration_ms), 0), min(h.r),
         count(*) FILTER (WHERE h.v_itic = 'within'),
         count(*) FILTER (WHERE h.v_itic = 'outside'),
         count(*) FILTER (WHERE h.v_semi_f47 = 'within'),
         count(*) FILTER (WHERE h.v_semi_f47 = 'outside'),
         count(*) FILTER (WHERE h.v_iec50 = 'within'),
         count(*) FILTER (WHERE h.v_iec50 = 'outside'),
         count(*) FILTER (WHERE h.v_iec60 = 'within'),
         count(*) FILTER (WHERE h.v_iec60 = 'outside')
  FROM hit AS h
  GROUP BY h.customer_id, h.substation_id, h.swell;
END
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.analytics_customer_recount(date, text, uuid[]) FROM PUBLIC;

-- The readers' call ---------------------------------------------------------------------------------
-- Why it is exact, with writers running:
-- * A writer's mark commits with its change (same transaction). The refresher *claims* marks by
--   deleting them (DELETE ... RETURNING) and only then recounts, in later statements of the same
--   transaction (READ COMMITTED: each statement sees what was committed when it started). So every
--   claimed mark's change is visible to the recount. A mark not yet committed when the claim ran
--   is not deleted: its month stays dirty and the next refresh recounts it (never silently stale).
--   (Deleting "marks up to the highest id seen" instead would be wrong: a mark with a lower id whose
--   transaction commits between the claim and the delete would go without being counted.)
-- * A claimed mark's months are all recounted, also those outside the asked range (at most one
--   more month per mark), so a mark is never dropped for months nobody recounted.
-- * Refreshers are serialised by one transaction-level advisory lock, taken only when there is
--   something to do. A second reader waits for the first one's transaction to end, then finds the
--   marks gone (deleted and committed) and reads what the first one wrote. Waiting is the choice
--   over counting live: the wait is one month's recount (a fraction of a second at the design
--   point), a live count of a long period is seconds.
-- * The zone: the summaries are counted in the zone stored in analytics_customer_state; a reader
--   finding another zone there (a new zone, or NULL after a TRUNCATE) empties both summaries and
--   marks every month of the events dirty, under the lock.
CREATE FUNCTION public.analytics_customer_refresh(p_first_month date, p_last_month date)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  SET work_mem = '64MB'
  AS $$
DECLARE
  v_tz     text := public.ctm_time_zone();
  v_from   timestamptz := date_trunc('month', p_first_month::timestamp) AT TIME ZONE v_tz;
  v_to     timestamptz := (date_trunc('month', p_last_month::timestamp) + interval '1 month')
                            AT TIME ZONE v_tz;
  v_months integer := 0;
  v_work   record;
BEGIN
  -- The usual case: nothing dirty in the range, the zone unchanged. No lock, no write.
  IF (SELECT s.time_zone FROM ctm_private.analytics_customer_state AS s) IS NOT DISTINCT FROM v_tz
     AND NOT EXISTS (SELECT 1 FROM ctm_private.analytics_customer_dirty AS d
                     WHERE d.to_at >= v_from AND d.from_at < v_to) THEN
    RETURN 0;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('ctm.analytics_customer_refresh', 0));
  IF (SELECT s.time_zone FROM ctm_private.analytics_customer_state AS s) IS DISTINCT FROM v_tz THEN
    DELETE FROM public.analytics_customer_monthly;
    DELETE FROM public.analytics_circuit_monthly;
    INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at, substation_id)
    SELECT m AT TIME ZONE v_tz, (m + interval '1 month') AT TIME ZONE v_tz - interval '1 microsecond',
           NULL
    FROM (SELECT min(e."timestamp") AS first_at, max(e."timestamp") AS last_at
          FROM public.pq_events AS e) AS b
    CROSS JOIN LATERAL generate_series(date_trunc('month', b.first_at AT TIME ZONE v_tz),
                                       date_trunc('month', b.last_at AT TIME ZONE v_tz),
                                       interval '1 month') AS m
    WHERE b.first_at IS NOT NULL;
    UPDATE ctm_private.analytics_customer_state SET time_zone = v_tz;
  END IF;
  -- Per month: the substations to recount, NULL when a mark says "every substation".
  FOR v_work IN
    WITH claimed AS (
      DELETE FROM ctm_private.analytics_customer_dirty AS d
      WHERE d.to_at >= v_from AND d.from_at < v_to
      RETURNING d.from_at, d.to_at, d.substation_id
    )
    SELECT CAST(m.month AS date) AS month,
           CASE WHEN bool_or(c.substation_id IS NULL) THEN NULL
                ELSE array_agg(DISTINCT c.substation_id) END AS substations
    FROM claimed AS c
    CROSS JOIN LATERAL generate_series(date_trunc('month', c.from_at AT TIME ZONE v_tz),
                                       date_trunc('month', c.to_at AT TIME ZONE v_tz),
                                       interval '1 month') AS m(month)
    GROUP BY 1
    ORDER BY 1
  LOOP
    PERFORM ctm_private.analytics_customer_recount(v_work.month, v_tz, v_work.substations);
    v_months := v_months + 1;
  END LOOP;
  RETURN v_months;
END
$$;
COMMENT ON FUNCTION public.analytics_customer_refresh(date, date) IS
  'Recounts the dirty local months (or their dirty substations) of analytics_customer_monthly and analytics_circuit_monthly that overlap first..last month (returns months recounted); readers call it before reading whole months';
REVOKE EXECUTE ON FUNCTION public.analytics_customer_refresh(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.analytics_customer_refresh(date, date) TO authenticated;

-- Hooks: append marks -----------------------------------------------------------------------------
-- The hot path (a live monitor's one-row INSERT, a bulk load's COPY): as few statements as can be.
-- Up to 1,000 rows: one mark per event, no grouping (a grouped INSERT costs a one-row statement
-- three times as much); more: one mark per 28-day bin for every substation.
CREATE FUNCTION ctm_private.analytics_customer_events_inserted() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_events OFFSET 1000) THEN
    INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at)
    SELECT min(e."timestamp"), max(e."timestamp") FROM new_events AS e
    GROUP BY date_bin('28 days', e."timestamp", timestamptz '2000-01-01 00:00+00');
  ELSE
    INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at, substation_id)
    SELECT e."timestamp", e."timestamp", e.substation_id FROM new_events AS e
    WHERE e.substation_id IS NOT NULL;  -- an event without one is in no summary
  END IF;
  -- The impact rows the insert trigger is about to write belong to these events (see the header).
  PERFORM set_config('ctm.analytics_customer_events_marked', 'on', true);
  RETURN NULL;
END
$$;

-- Invoker, no settings of its own: it only clears the transaction-local setting.
CREATE FUNCTION ctm_private.analytics_customer_events_insert_done() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM pg_catalog.set_config('ctm.analytics_customer_events_marked', '', true);
  RETURN NULL;
END
$$;

-- Marks for a set of changed (instant, substation): per 28-day bin, and per substation when the set
-- is small (events without a substation are in no summary: skipped then). Used by the hooks below
-- through a temporary array, as they are not on the ingest path.
CREATE FUNCTION ctm_private.analytics_customer_mark(p_at timestamptz[], p_substations uuid[])
  RETURNS void
  LANGUAGE sql
  SET search_path = ''
  AS $$
  INSERT INTO ctm_private.analytics_customer_dirty (from_at, to_at, substation_id)
  SELECT min(c.at), max(c.at), CASE WHEN cardinality(p_at) <= 1000 THEN c.substation_id END
  FROM unnest(p_at, p_substations) AS c(at, substation_id)
  WHERE cardinality(p_at) > 1000 OR c.substation_id IS NOT NULL
  GROUP BY date_bin('28 days', c.at, timestamptz '2000-01-01 00:00+00'),
           CASE WHEN cardinality(p_at) <= 1000 THEN c.substation_id END
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.analytics_customer_mark(timestamptz[], uuid[]) FROM PUBLIC;

CREATE FUNCTION ctm_private.analytics_customer_events_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_at          timestamptz[];
  v_substations uuid[];
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- Rows whose summarised values changed, on both sides (a changed id too): set difference.
    SELECT array_agg(c.at), array_agg(c.substation_id) INTO v_at, v_substations
    FROM (
      (SELECT o.id, o."timestamp" AS at, o.substation_id, o.circuit_id, o.event_type, o.status,
              o.remaining_voltage, o.duration_ms FROM old_events AS o
       EXCEPT
       SELECT n.id, n."timestamp", n.substation_id, n.circuit_id, n.event_type, n.status,
              n.remaining_voltage, n.duration_ms FROM new_events AS n)
      UNION ALL
      (SELECT n.id, n."timestamp", n.substation_id, n.circuit_id, n.event_type, n.status,
              n.remaining_voltage, n.duration_ms FROM new_events AS n
       EXCEPT
       SELECT o.id, o."timestamp", o.substation_id, o.circuit_id, o.event_type, o.status,
              o.remaining_voltage, o.duration_ms FROM old_events AS o)
    ) AS c;
  ELSE  -- DELETE (their impact rows go by cascade, after the events: nothing joins them then)
    SELECT array_agg(o."timestamp"), array_agg(o.substation_id) INTO v_at, v_substations
    FROM old_events AS o;
  END IF;
  IF v_at IS NOT NULL THEN
    PERFORM ctm_private.analytics_customer_mark(v_at, v_substations);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION ctm_private.analytics_customer_impacts_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_at          timestamptz[];
  v_substations uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- (Not called for the impacts of the events an INSERT just marked: see the trigger's WHEN.)
    SELECT array_agg(e."timestamp"), array_agg(e.substation_id) INTO v_at, v_substations
    FROM public.pq_events AS e
    WHERE e.id IN (SELECT n.event_id FROM new_impacts AS n);
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(e."timestamp"), array_agg(e.substation_id) INTO v_at, v_substations
    FROM public.pq_events AS e
    WHERE e.id IN (SELECT n.event_id FROM new_impacts AS n
                   UNION SELECT o.event_id FROM old_impacts AS o);
  ELSE
    -- Rows whose event is gone (an event DELETE's cascade) find nothing here: the event's
    -- delete marked it.
    SELECT array_agg(e."timestamp"), array_agg(e.substation_id) INTO v_at, v_substations
    FROM public.pq_events AS e
    WHERE e.id IN (SELECT o.event_id FROM old_impacts AS o);
  END IF;
  IF v_at IS NOT NULL THEN
    PERFORM ctm_private.analytics_customer_mark(v_at, v_substations);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION ctm_private.analytics_customer_emptied() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  UPDATE ctm_private.analytics_customer_state SET time_zone = NULL;
  RETURN NULL;
END
$$;

-- Named to fire before trigger_auto_generate_customer_impacts (AFTER triggers fire in name order).
CREATE TRIGGER analytics_customer_events_insert
  AFTER INSERT ON public.pq_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_events_inserted();
-- Named to fire after it.
CREATE TRIGGER zz_analytics_customer_events_insert_done
  AFTER INSERT ON public.pq_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_events_insert_done();
CREATE TRIGGER analytics_customer_events_update
  AFTER UPDATE ON public.pq_events
  REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_events_changed();
CREATE TRIGGER analytics_customer_events_delete
  AFTER DELETE ON public.pq_events
  REFERENCING OLD TABLE AS old_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_events_changed();
-- Not even called for the impacts of the events an INSERT just marked (see the header).
CREATE TRIGGER analytics_customer_impacts_insert
  AFTER INSERT ON public.event_customer_impact
  REFERENCING NEW TABLE AS new_impacts
  FOR EACH STATEMENT
  WHEN (current_setting('ctm.analytics_customer_events_marked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION ctm_private.analytics_customer_impacts_changed();
CREATE TRIGGER analytics_customer_impacts_update
  AFTER UPDATE ON public.event_customer_impact
  REFERENCING OLD TABLE AS old_impacts NEW TABLE AS new_impacts
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_impacts_changed();
CREATE TRIGGER analytics_customer_impacts_delete
  AFTER DELETE ON public.event_customer_impact
  REFERENCING OLD TABLE AS old_impacts
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_impacts_changed();
CREATE TRIGGER analytics_customer_events_truncate
  AFTER TRUNCATE ON public.pq_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_emptied();
CREATE TRIGGER analytics_customer_impacts_truncate
  AFTER TRUNCATE ON public.event_customer_impact
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_customer_emptied();

-- Fill both summaries from what is there (state NULL: the refresh starts from scratch, every month).
SELECT public.analytics_customer_refresh('-infinity'::date, 'infinity'::date);
