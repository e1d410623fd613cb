-- Analytics at scale (issue 11 "Speed and scale"): a daily summary of events and impacts that the
-- SARFI, ride-through and statistics views read instead of scanning millions of events and impacts
-- per click, kept exact by statement-level triggers (transition tables, set-based).
--
-- public.analytics_monthly has one row per (local month, substation, swell or not): month = the
-- first day of the month of the event's date in the stored zone (public.ctm_time_zone()), so every
-- bucket is a whole set of local days; substation NULL = events without one, swell =
-- event_type 'voltage_swell' (the "dips only" filter). Its measures (all sums over the events of
-- that bucket):
--   impacts_severe/_moderate/_minor  impact rows by level, every event (statistics page);
-- over *base* events (status not 'false'; type voltage_dip / voltage_swell / interruption / NULL),
-- with residual r = remaining_voltage, or 0 for an interruption without one, and duration d:
--   no_residual, too_long        events without r; events with r and d > 60 s (not counted);
--   events_X, hits_X, served_X   counted events (r known, d NULL or <= 60 s) with r < X (X < 100)
--                                or r > X (X > 100), X in 10..90, 110..140; and counted events
--                                outside ITIC / SEMI F47-0706 (X = itic, semi_f47): how many, their
--                                impact rows, and the customers_served of their circuits (today's
--                                value: a change of customers_served moves it);
--   rt_<curve>_<verdict>          events with r and d, per curve (ITIC, SEMI F47, IEC 61000-4-34
--                                class 3 at 50 and at 60 Hz) and verdict; unplaced = the rest.
-- The rules are those of public.sarfi() and ctm/analytics.py, and the curve verdicts those of
-- ctm/curves.py (the CASE texts below are its classification_sql output; a test compares them).
-- Denominators (customers mapped, customers served) are not summarised: they are computed live.
--
-- How it stays exact: every change is turned into signed delta rows (ctm_private.analytics_delta:
-- an event's values, its sign, its customers_served, its impact rows by level) and added by one
-- statement: ctm_private.analytics_monthly_apply_events for the event measures (counts, served,
-- ride-through), ctm_private.analytics_monthly_apply_impacts for the impact rows (hits_X, levels),
-- so a bulk load's event and impact triggers each aggregate only their own columns:
--   pq_events INSERT       +1 per event;
--   pq_events UPDATE       of timestamp, place, type, status, residual or duration: the old values
--                          minus (with the event's impact rows), the new plus. This trigger is
--                          named to fire before trigger_regenerate_customer_impacts (triggers fire
--                          in name order), so the impacts it moves are the ones the event had; the
--                          regeneration then moves its own deletes and inserts under the new values;
--   pq_events DELETE       -1 per event (statement level), and its impact rows, taken off by a row
--                          trigger *before* the delete: the foreign key's cascade removes them
--                          after the event is gone, when nothing can join them to their month any
--                          more (deletes are rare; inserts and updates never call it);
--   event_customer_impact  INSERT / UPDATE / DELETE: impact rows joined to their event's values;
--   substation_circuits    a changed customers_served moves served_X of that circuit's events;
--   TRUNCATE, and a change of the stored time zone (every month's edges move): rebuilt from scratch.

-- Curve verdicts ----------------------------------------------------------------------------------
-- ctm.curves.classification_sql(curve, 'r', 'd', hz), inlined by the planner (plain SQL).
CREATE FUNCTION ctm_private.verdict_itic(r float8, d float8) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (CASE WHEN ((r)::float8) IS NULL OR ((d)::float8) IS NULL THEN 'not covered' WHEN ((r)::float8) <= 100.0::float8 THEN CASE WHEN ((d)::float8) >= 0.0::float8 AND ((d)::float8) <= 20.0::float8 THEN CASE WHEN ((r)::float8) >= 0.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 20.0::float8 AND ((d)::float8) <= 500.0::float8 THEN CASE WHEN ((r)::float8) >= 70.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 500.0::float8 AND ((d)::float8) <= 10000.0::float8 THEN CASE WHEN ((r)::float8) >= 80.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 10000.0::float8 THEN CASE WHEN ((r)::float8) >= 90.0::float8 THEN 'within' ELSE 'outside' END ELSE 'not covered' END ELSE CASE WHEN ((d)::float8) >= 1.0::float8 AND ((d)::float8) <= 3.0::float8 THEN CASE WHEN ((r)::float8) <= (200.0::float8 + (-60.0::float8) * ln((((d)::float8)) / 1.0::float8) / 1.0986122886681098::float8) THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 3.0::float8 AND ((d)::float8) <= 500.0::float8 THEN CASE WHEN ((r)::float8) <= 120.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 500.0::float8 THEN CASE WHEN ((r)::float8) <= 110.0::float8 THEN 'within' ELSE 'outside' END ELSE 'not covered' END END) $$;
CREATE FUNCTION ctm_private.verdict_semi_f47(r float8, d float8) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (CASE WHEN ((r)::float8) IS NULL OR ((d)::float8) IS NULL THEN 'not covered' WHEN ((r)::float8) <= 100.0::float8 THEN CASE WHEN ((d)::float8) >= 50.0::float8 AND ((d)::float8) <= 200.0::float8 THEN CASE WHEN ((r)::float8) >= 50.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 200.0::float8 AND ((d)::float8) <= 500.0::float8 THEN CASE WHEN ((r)::float8) >= 70.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 500.0::float8 AND ((d)::float8) <= 1000.0::float8 THEN CASE WHEN ((r)::float8) >= 80.0::float8 THEN 'within' ELSE 'outside' END ELSE 'not covered' END ELSE 'not covered' END) $$;
CREATE FUNCTION ctm_private.verdict_iec_61000_4_34(r float8, d float8, hz integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN hz = 60 THEN (CASE WHEN ((r)::float8) IS NULL OR ((d)::float8) IS NULL THEN 'not covered' WHEN ((r)::float8) <= 100.0::float8 THEN CASE WHEN ((d)::float8) >= 0.0::float8 AND ((d)::float8) <= 16.666666666666668::float8 THEN CASE WHEN ((r)::float8) >= 0.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 16.666666666666668::float8 AND ((d)::float8) <= 200.0::float8 THEN CASE WHEN ((r)::float8) >= 40.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 200.0::float8 AND ((d)::float8) <= 500.0::float8 THEN CASE WHEN ((r)::float8) >= 70.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 500.0::float8 AND ((d)::float8) <= 5000.0::float8 THEN CASE WHEN ((r)::float8) >= 80.0::float8 THEN 'within' ELSE 'outside' END ELSE 'not covered' END ELSE 'not covered' END)
                    ELSE (CASE WHEN ((r)::float8) IS NULL OR ((d)::float8) IS NULL THEN 'not covered' WHEN ((r)::float8) <= 100.0::float8 THEN CASE WHEN ((d)::float8) >= 0.0::float8 AND ((d)::float8) <= 20.0::float8 THEN CASE WHEN ((r)::float8) >= 0.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 20.0::float8 AND ((d)::float8) <= 200.0::float8 THEN CASE WHEN ((r)::float8) >= 40.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 200.0::float8 AND ((d)::float8) <= 500.0::float8 THEN CASE WHEN ((r)::float8) >= 70.0::float8 THEN 'within' ELSE 'outside' END WHEN ((d)::float8) > 500.0::float8 AND ((d)::float8) <= 5000.0::float8 THEN CASE WHEN ((r)::float8) >= 80.0::float8 THEN 'within' ELSE 'outside' END ELSE 'not covered' END ELSE 'not covered' END) END $$;

-- The summary -------------------------------------------------------------------------------------
CREATE TABLE public.analytics_monthly (
  month         date NOT NULL,
  substation_id uuid,
  swell         boolean NOT NULL,
  impacts_severe bigint NOT NULL DEFAULT 0,
  impacts_moderate bigint NOT NULL DEFAULT 0,
  impacts_minor bigint NOT NULL DEFAULT 0,
  unplaced bigint NOT NULL DEFAULT 0,
  no_residual bigint NOT NULL DEFAULT 0,
  too_long bigint NOT NULL DEFAULT 0,
  events_10 bigint NOT NULL DEFAULT 0,
  hits_10 bigint NOT NULL DEFAULT 0,
  served_10 bigint NOT NULL DEFAULT 0,
  events_20 bigint NOT NULL DEFAULT 0,
  hits_20 bigint NOT NULL DEFAULT 0,
  served_20 bigint NOT NULL DEFAULT 0,
  events_30 bigint NOT NULL DEFAULT 0,
  hits_30 bigint NOT NULL DEFAULT 0,
  served_30 bigint NOT NULL DEFAULT 0,
  events_40 bigint NOT NULL DEFAULT 0,
  hits_40 bigint NOT NULL DEFAULT 0,
  served_40 bigint NOT NULL DEFAULT 0,
  events_50 bigint NOT NULL DEFAULT 0,
  hits_50 bigint NOT NULL DEFAULT 0,
  served_50 bigint NOT NULL DEFAULT 0,
  events_60 bigint NOT NULL DEFAULT 0,
  hits_60 bigint NOT NULL DEFAULT 0,
  served_60 bigint NOT NULL DEFAULT 0,
  events_70 bigint NOT NULL DEFAULT 0,
  hits_70 bigint NOT NULL DEFAULT 0,
  served_70 bigint NOT NULL DEFAULT 0,
  events_80 bigint NOT NULL DEFAULT 0,
  hits_80 bigint NOT NULL DEFAULT 0,
  served_80 bigint NOT NULL DEFAULT 0,
  events_90 bigint NOT NULL DEFAULT 0,
  hits_90 bigint NOT NULL DEFAULT 0,
  served_90 bigint NOT NULL DEFAULT 0,
  events_110 bigint NOT NULL DEFAULT 0,
  hits_110 bigint NOT NULL DEFAULT 0,
  served_110 bigint NOT NULL DEFAULT 0,
  events_120 bigint NOT NULL DEFAULT 0,
  hits_120 bigint NOT NULL DEFAULT 0,
  served_120 bigint NOT NULL DEFAULT 0,
  events_130 bigint NOT NULL DEFAULT 0,
  hits_130 bigint NOT NULL DEFAULT 0,
  served_130 bigint NOT NULL DEFAULT 0,
  events_140 bigint NOT NULL DEFAULT 0,
  hits_140 bigint NOT NULL DEFAULT 0,
  served_140 bigint NOT NULL DEFAULT 0,
  events_itic bigint NOT NULL DEFAULT 0,
  hits_itic bigint NOT NULL DEFAULT 0,
  served_itic bigint NOT NULL DEFAULT 0,
  events_semi_f47 bigint NOT NULL DEFAULT 0,
  hits_semi_f47 bigint NOT NULL DEFAULT 0,
  served_semi_f47 bigint NOT NULL DEFAULT 0,
  rt_itic_within bigint NOT NULL DEFAULT 0,
  rt_itic_outside bigint NOT NULL DEFAULT 0,
  rt_itic_not_covered bigint NOT NULL DEFAULT 0,
  rt_semi_f47_within bigint NOT NULL DEFAULT 0,
  rt_semi_f47_outside bigint NOT NULL DEFAULT 0,
  rt_semi_f47_not_covered bigint NOT NULL DEFAULT 0,
  rt_iec50_within bigint NOT NULL DEFAULT 0,
  rt_iec50_outside bigint NOT NULL DEFAULT 0,
  rt_iec50_not_covered bigint NOT NULL DEFAULT 0,
  rt_iec60_within bigint NOT NULL DEFAULT 0,
  rt_iec60_outside bigint NOT NULL DEFAULT 0,
  rt_iec60_not_covered bigint NOT NULL DEFAULT 0,
  CONSTRAINT analytics_monthly_key UNIQUE NULLS NOT DISTINCT (month, substation_id, swell)
);
COMMENT ON TABLE public.analytics_monthly IS
  'Events and impacts per local month, substation and swell-or-not, for analytics (kept by triggers; see migration 20261205000400)';

ALTER TABLE public.analytics_monthly ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users with a profile can read the analytics summary" ON public.analytics_monthly
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
REVOKE ALL ON public.analytics_monthly FROM PUBLIC;
GRANT SELECT ON public.analytics_monthly TO authenticated;

-- One change, signed: what an event (its values) adds to or takes from its month.
CREATE TYPE ctm_private.analytics_delta AS (
  at                timestamptz,
  substation_id     uuid,
  event_type        text,
  status            text,
  remaining_voltage numeric,
  duration_ms       integer,
  -- integer, not bigint: sum(integer) adds in a plain int8, where sum(bigint) keeps a 128-bit
  -- state per group; that is most of the cost of a bulk load's summary.
  n_events          integer,  -- +1 / -1 / 0
  served            integer,  -- customers_served of its circuit, signed like n_events (or a change)
  n_impacts         integer,  -- impact rows, signed
  n_severe          integer,
  n_moderate        integer,
  n_minor           integer
);

-- Adds a batch of deltas to the event measures of the summary: one statement, grouped by (month,
-- substation, swell).
CREATE FUNCTION ctm_private.analytics_monthly_apply_events(p_deltas ctm_private.analytics_delta[], p_tz text)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  IF coalesce(cardinality(p_deltas), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
  unplaced, no_residual, too_long, events_10, served_10, events_20, served_20, events_30,
  served_30, events_40, served_40, events_50, served_50, events_60, served_60, events_70,
  served_70, events_80, served_80, events_90, served_90, events_110, served_110, events_120,
  served_120, events_130, served_130, events_140, served_140, events_itic, served_itic,
  events_semi_f47, served_semi_f47, rt_itic_within, rt_itic_outside, rt_itic_not_covered,
  rt_semi_f47_within, rt_semi_f47_outside, rt_semi_f47_not_covered, rt_iec50_within,
  rt_iec50_outside, rt_iec50_not_covered, rt_iec60_within, rt_iec60_outside,
  rt_iec60_not_covered)
  SELECT date_trunc('month', d.at AT TIME ZONE p_tz)::date, d.substation_id,
         coalesce(d.event_type = 'voltage_swell', false),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND (c.r IS NULL OR c.d IS NULL)), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND c.r IS NULL), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND c.r IS NOT NULL AND c.d > 60000), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 10), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 10), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 20), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 20), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 30), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 30), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 40), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 40), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 50), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 50), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 60), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 60), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 70), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 70), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 80), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 80), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 90), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 90), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 110), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 110), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 120), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 120), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 130), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 130), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 140), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 140), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'not covered'), 0)
  FROM unnest(p_deltas) AS d
  CROSS JOIN LATERAL (
    -- Each event's rules once (OFFSET 0 keeps the planner from copying them into every sum).
    SELECT v.base, v.r, v.d,
           v.base AND v.r IS NOT NULL AND (v.d IS NULL OR v.d <= 60000) AS counted,
           v.base AND v.r IS NOT NULL AND v.d IS NOT NULL AS placed,
           ctm_private.verdict_itic(v.r, v.d) AS v_itic,
           ctm_private.verdict_semi_f47(v.r, v.d) AS v_semi_f47,
           ctm_private.verdict_iec_61000_4_34(v.r, v.d, 50) AS v_iec50,
           ctm_private.verdict_iec_61000_4_34(v.r, v.d, 60) AS v_iec60
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
    unplaced = a.unplaced + EXCLUDED.unplaced,
    no_residual = a.no_residual + EXCLUDED.no_residual,
    too_long = a.too_long + EXCLUDED.too_long,
    events_10 = a.events_10 + EXCLUDED.events_10,
    served_10 = a.served_10 + EXCLUDED.served_10,
    events_20 = a.events_20 + EXCLUDED.events_20,
    served_20 = a.served_20 + EXCLUDED.served_20,
    events_30 = a.events_30 + EXCLUDED.events_30,
    served_30 = a.served_30 + EXCLUDED.served_30,
    events_40 = a.events_40 + EXCLUDED.events_40,
    served_40 = a.served_40 + EXCLUDED.served_40,
    events_50 = a.events_50 + EXCLUDED.events_50,
    served_50 = a.served_50 + EXCLUDED.served_50,
    events_60 = a.events_60 + EXCLUDED.events_60,
    served_60 = a.served_60 + EXCLUDED.served_60,
    events_70 = a.events_70 + EXCLUDED.events_70,
    served_70 = a.served_70 + EXCLUDED.served_70,
    events_80 = a.events_80 + EXCLUDED.events_80,
    served_80 = a.served_80 + EXCLUDED.served_80,
    events_90 = a.events_90 + EXCLUDED.events_90,
    served_90 = a.served_90 + EXCLUDED.served_90,
    events_110 = a.events_110 + EXCLUDED.events_110,
    served_110 = a.served_110 + EXCLUDED.served_110,
    events_120 = a.events_120 + EXCLUDED.events_120,
    served_120 = a.served_120 + EXCLUDED.served_120,
    events_130 = a.events_130 + EXCLUDED.events_130,
    served_130 = a.served_130 + EXCLUDED.served_130,
    events_140 = a.events_140 + EXCLUDED.events_140,
    served_140 = a.served_140 + EXCLUDED.served_140,
    events_itic = a.events_itic + EXCLUDED.events_itic,
    served_itic = a.served_itic + EXCLUDED.served_itic,
    events_semi_f47 = a.events_semi_f47 + EXCLUDED.events_semi_f47,
    served_semi_f47 = a.served_semi_f47 + EXCLUDED.served_semi_f47,
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
    rt_iec60_not_covered = a.rt_iec60_not_covered + EXCLUDED.rt_iec60_not_covered;
END
$$;

-- Adds a batch of deltas to the impact-row measures of the summary: one statement, grouped by (month,
-- substation, swell).
CREATE FUNCTION ctm_private.analytics_monthly_apply_impacts(p_deltas ctm_private.analytics_delta[], p_tz text)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  IF coalesce(cardinality(p_deltas), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
  impacts_severe, impacts_moderate, impacts_minor, hits_10, hits_20, hits_30, hits_40, hits_50,
  hits_60, hits_70, hits_80, hits_90, hits_110, hits_120, hits_130, hits_140, hits_itic,
  hits_semi_f47)
  SELECT date_trunc('month', d.at AT TIME ZONE p_tz)::date, d.substation_id,
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
  FROM unnest(p_deltas) AS d
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
END
$$;

-- Rebuild from the events and impacts (migration, TRUNCATE, a new time zone): month by month, so
-- no batch holds more than a month of events.
CREATE FUNCTION ctm_private.analytics_monthly_rebuild() RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  -- A bulk load's rows are grouped in memory (the default 4 MB spills them to disk).
  SET work_mem = '64MB'
  AS $$
DECLARE
  v_tz    text := public.ctm_time_zone();
  v_first timestamptz;
  v_last  timestamptz;
  v_from  timestamptz;
  v_batch ctm_private.analytics_delta[];
BEGIN
  DELETE FROM public.analytics_monthly;
  SELECT min(e."timestamp"), max(e."timestamp") INTO v_first, v_last FROM public.pq_events AS e;
  v_from := date_trunc('month', v_first);
  WHILE v_from <= v_last LOOP
    v_batch := ARRAY(
      SELECT ROW(e."timestamp", e.substation_id, e.event_type, e.status, e.remaining_voltage,
                 e.duration_ms, 1, coalesce(sc.customers_served, 0),
                 coalesce(i.n, 0), coalesce(i.severe, 0), coalesce(i.moderate, 0),
                 coalesce(i.minor, 0))::ctm_private.analytics_delta
      FROM public.pq_events AS e
      LEFT JOIN public.substation_circuits AS sc
        ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
      LEFT JOIN LATERAL (
        SELECT count(*) AS n,
               count(*) FILTER (WHERE x.impact_level = 'severe') AS severe,
               count(*) FILTER (WHERE x.impact_level = 'moderate') AS moderate,
               count(*) FILTER (WHERE x.impact_level = 'minor') AS minor
        FROM public.event_customer_impact AS x WHERE x.event_id = e.id
      ) AS i ON true
      WHERE e."timestamp" >= v_from AND e."timestamp" < v_from + interval '1 month'
    );
    PERFORM ctm_private.analytics_monthly_apply_events(v_batch, v_tz);
    PERFORM ctm_private.analytics_monthly_apply_impacts(v_batch, v_tz);
    v_from := v_from + interval '1 month';
  END LOOP;
  RETURN (SELECT count(*) FROM public.analytics_monthly);
END
$$;
COMMENT ON FUNCTION ctm_private.analytics_monthly_rebuild() IS
  'Recounts public.analytics_monthly from every event and impact (returns its rows)';

-- Events ------------------------------------------------------------------------------------------
CREATE FUNCTION ctm_private.analytics_monthly_events_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  -- A bulk load's rows are grouped in memory (the default 4 MB spills them to disk).
  SET work_mem = '64MB'
  AS $$
DECLARE
  v_tz text := public.ctm_time_zone();
BEGIN
  -- The statement of analytics_monthly_apply_events, reading the new rows directly (no array).
  INSERT INTO public.analytics_monthly AS a (month, substation_id, swell,
  unplaced, no_residual, too_long, events_10, served_10, events_20, served_20, events_30,
  served_30, events_40, served_40, events_50, served_50, events_60, served_60, events_70,
  served_70, events_80, served_80, events_90, served_90, events_110, served_110, events_120,
  served_120, events_130, served_130, events_140, served_140, events_itic, served_itic,
  events_semi_f47, served_semi_f47, rt_itic_within, rt_itic_outside, rt_itic_not_covered,
  rt_semi_f47_within, rt_semi_f47_outside, rt_semi_f47_not_covered, rt_iec50_within,
  rt_iec50_outside, rt_iec50_not_covered, rt_iec60_within, rt_iec60_outside,
  rt_iec60_not_covered)
  SELECT date_trunc('month', d.at AT TIME ZONE v_tz)::date, d.substation_id,
         coalesce(d.event_type = 'voltage_swell', false),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND (c.r IS NULL OR c.d IS NULL)), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND c.r IS NULL), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.base AND c.r IS NOT NULL AND c.d > 60000), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 10), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 10), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 20), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 20), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 30), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 30), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 40), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 40), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 50), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 50), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 60), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 60), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 70), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 70), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 80), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 80), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r < 90), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r < 90), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 110), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 110), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 120), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 120), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 130), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 130), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.r > 140), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.r > 140), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.served) FILTER (WHERE c.counted AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_itic = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_semi_f47 = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec50 = 'not covered'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'within'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'outside'), 0),
         coalesce(sum(d.n_events) FILTER (WHERE c.placed AND c.v_iec60 = 'not covered'), 0)
  FROM (
    SELECT e."timestamp" AS at, e.substation_id, e.event_type, e.status, e.remaining_voltage,
           e.duration_ms, 1 AS n_events, coalesce(sc.customers_served, 0) AS served,
           0 AS n_impacts, 0 AS n_severe, 0 AS n_moderate, 0 AS n_minor
    FROM new_events AS e
    LEFT JOIN public.substation_circuits AS sc
      ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
  ) AS d
  CROSS JOIN LATERAL (
    -- Each event's rules once (OFFSET 0 keeps the planner from copying them into every sum).
    SELECT v.base, v.r, v.d,
           v.base AND v.r IS NOT NULL AND (v.d IS NULL OR v.d <= 60000) AS counted,
           v.base AND v.r IS NOT NULL AND v.d IS NOT NULL AS placed,
           ctm_private.verdict_itic(v.r, v.d) AS v_itic,
           ctm_private.verdict_semi_f47(v.r, v.d) AS v_semi_f47,
           ctm_private.verdict_iec_61000_4_34(v.r, v.d, 50) AS v_iec50,
           ctm_private.verdict_iec_61000_4_34(v.r, v.d, 60) AS v_iec60
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
    unplaced = a.unplaced + EXCLUDED.unplaced,
    no_residual = a.no_residual + EXCLUDED.no_residual,
    too_long = a.too_long + EXCLUDED.too_long,
    events_10 = a.events_10 + EXCLUDED.events_10,
    served_10 = a.served_10 + EXCLUDED.served_10,
    events_20 = a.events_20 + EXCLUDED.events_20,
    served_20 = a.served_20 + EXCLUDED.served_20,
    events_30 = a.events_30 + EXCLUDED.events_30,
    served_30 = a.served_30 + EXCLUDED.served_30,
    events_40 = a.events_40 + EXCLUDED.events_40,
    served_40 = a.served_40 + EXCLUDED.served_40,
    events_50 = a.events_50 + EXCLUDED.events_50,
    served_50 = a.served_50 + EXCLUDED.served_50,
    events_60 = a.events_60 + EXCLUDED.events_60,
    served_60 = a.served_60 + EXCLUDED.served_60,
    events_70 = a.events_70 + EXCLUDED.events_70,
    served_70 = a.served_70 + EXCLUDED.served_70,
    events_80 = a.events_80 + EXCLUDED.events_80,
    served_80 = a.served_80 + EXCLUDED.served_80,
    events_90 = a.events_90 + EXCLUDED.events_90,
    served_90 = a.served_90 + EXCLUDED.served_90,
    events_110 = a.events_110 + EXCLUDED.events_110,
    served_110 = a.served_110 + EXCLUDED.served_110,
    events_120 = a.events_120 + EXCLUDED.events_120,
    served_120 = a.served_120 + EXCLUDED.served_120,
    events_130 = a.events_130 + EXCLUDED.events_130,
    served_130 = a.served_130 + EXCLUDED.served_130,
    events_140 = a.events_140 + EXCLUDED.events_140,
    served_140 = a.served_140 + EXCLUDED.served_140,
    events_itic = a.events_itic + EXCLUDED.events_itic,
    served_itic = a.served_itic + EXCLUDED.served_itic,
    events_semi_f47 = a.events_semi_f47 + EXCLUDED.events_semi_f47,
    served_semi_f47 = a.served_semi_f47 + EXCLUDED.served_semi_f47,
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
    rt_iec60_not_covered = a.rt_iec60_not_covered + EXCLUDED.rt_iec60_not_covered;
  RETURN NULL;
END
$$;

CREATE FUNCTION ctm_private.analytics_monthly_events_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  -- A bulk load's rows are grouped in memory (the default 4 MB spills them to disk).
  SET work_mem = '64MB'
  AS $$
DECLARE
  v_batch ctm_private.analytics_delta[];
  v_tz text := public.ctm_time_zone();
BEGIN
  v_batch := ARRAY(
    WITH changed AS MATERIALIZED (
      SELECT o.id,
             o."timestamp" AS o_at, o.substation_id AS o_sub, o.circuit_id AS o_circuit,
             o.event_type AS o_type, o.status AS o_status, o.remaining_voltage AS o_r,
             o.duration_ms AS o_d,
             n."timestamp" AS n_at, n.substation_id AS n_sub, n.circuit_id AS n_circuit,
             n.event_type AS n_type, n.status AS n_status, n.remaining_voltage AS n_r,
             n.duration_ms AS n_d
      FROM old_events AS o JOIN new_events AS n ON n.id = o.id
      WHERE (o."timestamp", o.substation_id, o.circuit_id, o.event_type, o.status,
             o.remaining_voltage, o.duration_ms)
            IS DISTINCT FROM
            (n."timestamp", n.substation_id, n.circuit_id, n.event_type, n.status,
             n.remaining_voltage, n.duration_ms)
    ),
    hits AS (
      SELECT c.id, count(x.event_id) AS n,
             count(*) FILTER (WHERE x.impact_level = 'severe') AS severe,
             count(*) FILTER (WHERE x.impact_level = 'moderate') AS moderate,
             count(*) FILTER (WHERE x.impact_level = 'minor') AS minor
      FROM changed AS c LEFT JOIN public.event_customer_impact AS x ON x.event_id = c.id
      GROUP BY c.id
    )
    SELECT ROW(c.o_at, c.o_sub, c.o_type, c.o_status, c.o_r, c.o_d,
               -1, -coalesce(sc.customers_served, 0), -h.n, -h.severe, -h.moderate, -h.minor)
             ::ctm_private.analytics_delta
    FROM changed AS c JOIN hits AS h ON h.id = c.id
    LEFT JOIN public.substation_circuits AS sc
      ON sc.substation_id = c.o_sub AND sc.circuit_id = c.o_circuit
    UNION ALL
    SELECT ROW(c.n_at, c.n_sub, c.n_type, c.n_status, c.n_r, c.n_d,
               1, coalesce(sc.customers_served, 0), h.n, h.severe, h.moderate, h.minor)
             ::ctm_private.analytics_delta
    FROM changed AS c JOIN hits AS h ON h.id = c.id
    LEFT JOIN public.substation_circuits AS sc
      ON sc.substation_id = c.n_sub AND sc.circuit_id = c.n_circuit
  );
  PERFORM ctm_private.analytics_monthly_apply_events(v_batch, v_tz);
  PERFORM ctm_private.analytics_monthly_apply_impacts(v_batch, v_tz);
  RETURN NULL;
END
$$;

CREATE FUNCTION ctm_private.analytics_monthly_events_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  PERFORM ctm_private.analytics_monthly_apply_events(ARRAY(
    SELECT ROW(e."timestamp", e.substation_id, e.event_type, e.status, e.remaining_voltage,
               e.duration_ms, -1, -coalesce(sc.customers_served, 0), 0, 0, 0, 0)
             ::ctm_private.analytics_delta
    FROM old_events AS e
    LEFT JOIN public.substation_circuits AS sc
      ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
  ), public.ctm_time_zone());
  RETURN NULL;
END
$$;

-- The impact rows of an event about to be deleted (see the header).
CREATE FUNCTION ctm_private.analytics_monthly_event_impacts_leaving() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  PERFORM ctm_private.analytics_monthly_apply_impacts(ARRAY(
    SELECT ROW(OLD."timestamp", OLD.substation_id, OLD.event_type, OLD.status,
               OLD.remaining_voltage, OLD.duration_ms, 0, 0, -count(*),
               -count(*) FILTER (WHERE x.impact_level = 'severe'),
               -count(*) FILTER (WHERE x.impact_level = 'moderate'),
               -count(*) FILTER (WHERE x.impact_level = 'minor'))::ctm_private.analytics_delta
    FROM public.event_customer_impact AS x
    WHERE x.event_id = OLD.id
    HAVING count(*) > 0
  ), public.ctm_time_zone());
  RETURN OLD;
END
$$;

-- Named to fire before trigger_regenerate_customer_impacts (see the header).
CREATE TRIGGER analytics_monthly_events_insert
  AFTER INSERT ON public.pq_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_events_insert();
CREATE TRIGGER analytics_monthly_events_update
  AFTER UPDATE ON public.pq_events
  REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_events_update();
CREATE TRIGGER analytics_monthly_events_delete
  AFTER DELETE ON public.pq_events
  REFERENCING OLD TABLE AS old_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_events_delete();
CREATE TRIGGER analytics_monthly_event_impacts_leaving
  BEFORE DELETE ON public.pq_events
  FOR EACH ROW EXECUTE FUNCTION ctm_private.analytics_monthly_event_impacts_leaving();

-- Impacts -----------------------------------------------------------------------------------------
-- Impact rows of a statement, counted per event with a sign, joined to the event's current values.
CREATE FUNCTION ctm_private.analytics_monthly_impacts_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  -- A bulk load's rows are grouped in memory (the default 4 MB spills them to disk).
  SET work_mem = '64MB'
  AS $$
DECLARE
  v_tz text := public.ctm_time_zone();
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

CREATE TRIGGER analytics_monthly_impacts_insert
  AFTER INSERT ON public.event_customer_impact
  REFERENCING NEW TABLE AS new_impacts
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_impacts_changed();
CREATE TRIGGER analytics_monthly_impacts_update
  AFTER UPDATE ON public.event_customer_impact
  REFERENCING OLD TABLE AS old_impacts NEW TABLE AS new_impacts
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_impacts_changed();
CREATE TRIGGER analytics_monthly_impacts_delete
  AFTER DELETE ON public.event_customer_impact
  REFERENCING OLD TABLE AS old_impacts
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_impacts_changed();

-- Emptied tables, a new time zone: recount ---------------------------------------------------------
CREATE FUNCTION ctm_private.analytics_monthly_recount() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  IF TG_TABLE_NAME = 'ctm_settings' THEN
    -- Only a change of the zone in effect (an unset zone is UTC) moves events between months.
    IF coalesce(CASE WHEN TG_OP <> 'DELETE' AND NEW.key = 'time_zone' THEN NEW.value END, 'UTC')
       IS NOT DISTINCT FROM
       coalesce(CASE WHEN TG_OP <> 'INSERT' AND OLD.key = 'time_zone' THEN OLD.value END, 'UTC')
    THEN
      RETURN NULL;
    END IF;
  END IF;
  PERFORM ctm_private.analytics_monthly_rebuild();
  RETURN NULL;
END
$$;

CREATE TRIGGER analytics_monthly_events_truncate
  AFTER TRUNCATE ON public.pq_events
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_recount();
CREATE TRIGGER analytics_monthly_impacts_truncate
  AFTER TRUNCATE ON public.event_customer_impact
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_recount();
CREATE TRIGGER analytics_monthly_time_zone_insert
  AFTER INSERT ON public.ctm_settings
  FOR EACH ROW WHEN (NEW.key = 'time_zone')
  EXECUTE FUNCTION ctm_private.analytics_monthly_recount();
CREATE TRIGGER analytics_monthly_time_zone_update
  AFTER UPDATE ON public.ctm_settings
  FOR EACH ROW WHEN (OLD.key = 'time_zone' OR NEW.key = 'time_zone')
  EXECUTE FUNCTION ctm_private.analytics_monthly_recount();
CREATE TRIGGER analytics_monthly_time_zone_delete
  AFTER DELETE ON public.ctm_settings
  FOR EACH ROW WHEN (OLD.key = 'time_zone')
  EXECUTE FUNCTION ctm_private.analytics_monthly_recount();

-- customers_served: served_X follows today's value --------------------------------------------------
CREATE FUNCTION ctm_private.analytics_monthly_served_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_substations uuid[] := '{}';
  v_circuits    text[] := '{}';
  v_served      bigint[] := '{}';
BEGIN
  -- (substation, circuit, +new value) and (substation, circuit, -old value) of this statement.
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT coalesce(array_agg(n.substation_id), v_substations),
           coalesce(array_agg(n.circuit_id), v_circuits),
           coalesce(array_agg(n.customers_served::bigint), v_served)
      INTO v_substations, v_circuits, v_served
      FROM new_circuits AS n WHERE coalesce(n.customers_served, 0) <> 0;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT coalesce(v_substations || array_agg(o.substation_id), v_substations),
           coalesce(v_circuits || array_agg(o.circuit_id), v_circuits),
           coalesce(v_served || array_agg(-o.customers_served::bigint), v_served)
      INTO v_substations, v_circuits, v_served
      FROM old_circuits AS o WHERE coalesce(o.customers_served, 0) <> 0;
  END IF;
  IF coalesce(cardinality(v_substations), 0) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM ctm_private.analytics_monthly_apply_events(ARRAY(
    WITH change AS (
      SELECT c.substation_id, c.circuit_id, sum(c.served) AS served
      FROM unnest(v_substations, v_circuits, v_served) AS c(substation_id, circuit_id, served)
      GROUP BY c.substation_id, c.circuit_id
      HAVING sum(c.served) <> 0
    )
    SELECT ROW(e."timestamp", e.substation_id, e.event_type, e.status, e.remaining_voltage,
               e.duration_ms, 0, ch.served, 0, 0, 0, 0)::ctm_private.analytics_delta
    FROM change AS ch
    JOIN public.pq_events AS e
      ON e.substation_id = ch.substation_id AND e.circuit_id = ch.circuit_id
  ), public.ctm_time_zone());
  RETURN NULL;
END
$$;

CREATE TRIGGER analytics_monthly_served_insert
  AFTER INSERT ON public.substation_circuits
  REFERENCING NEW TABLE AS new_circuits
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_served_changed();
CREATE TRIGGER analytics_monthly_served_update
  AFTER UPDATE ON public.substation_circuits
  REFERENCING OLD TABLE AS old_circuits NEW TABLE AS new_circuits
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_served_changed();
CREATE TRIGGER analytics_monthly_served_delete
  AFTER DELETE ON public.substation_circuits
  REFERENCING OLD TABLE AS old_circuits
  FOR EACH STATEMENT EXECUTE FUNCTION ctm_private.analytics_monthly_served_changed();

-- Fill it from what is there.
SELECT ctm_private.analytics_monthly_rebuild();
