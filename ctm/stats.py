"""Mapping coverage per substation and what it means for events: circuits known vs covered, mapped
customers, blind-spot events (recent events on circuits nobody is mapped to), impacts by level."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import clock, inputs
from ctm.db import Identity, user_transaction

RECENT_DAYS = 90
MAX_DAYS = 36_500  # a century: anything longer is a typo, and make_interval would overflow

SUBSTATION_COLUMNS: list[str] = [
    "substation_id",
    "substation_name",
    "circuits_known",
    "circuits_covered",
    "coverage_pct",
    "mapped_customers",
    "active_mappings",
    "events_recent",
    "blind_spot_events",
    "severe_recent",
    "moderate_recent",
    "minor_recent",
    "severe_all",
    "moderate_all",
    "minor_all",
]

# Per substation, in one statement. Definitions:
# - a circuit is known when an event or a mapping (active or not) names it on that substation;
# - it is covered when at least one active mapping is on it;
# - a blind-spot event is a recent event of the substation whose (substation, circuit) has no active
#   mapping today (events without a circuit included: nobody can be told they were hit);
# - recent means timestamp >= now() - :days days; impacts count by their event's timestamp (read
#   from public.analytics_monthly, the month summary, plus the rows of the window's first, partial month).
# Events without a substation belong to no row and are not counted anywhere. The last column counts
# customers mapped anywhere (one customer on two substations counts once) for the KPI tile.
_BY_SUBSTATION_SQL = """
WITH RECURSIVE bounds AS (
  -- The window's start and the local month it falls in, read first as values (_window_bounds)
  -- so the planner sees the partial month's real size.
  SELECT CAST(:since AS timestamptz) AS since, CAST(:first_month AS date) AS first_month
),
event_circuits AS (
  -- Distinct (substation, circuit) pairs of the events by hopping along the index on
  -- (substation_id, circuit_id, timestamp): one probe per circuit, not a sort of every event.
  (SELECT e.substation_id, e.circuit_id FROM public.pq_events AS e
   WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
   ORDER BY e.substation_id, e.circuit_id LIMIT 1)
  UNION ALL
  SELECT nxt.substation_id, nxt.circuit_id
  FROM event_circuits AS ec
  CROSS JOIN LATERAL (
    SELECT e.substation_id, e.circuit_id FROM public.pq_events AS e
    WHERE (e.substation_id, e.circuit_id) > (ec.substation_id, ec.circuit_id)
      AND e.circuit_id IS NOT NULL
    ORDER BY e.substation_id, e.circuit_id LIMIT 1
  ) AS nxt
),
circuits AS (
  SELECT substation_id, circuit_id FROM event_circuits
  UNION
  SELECT substation_id, circuit_id FROM public.customer_transformer_matching
),
active AS (
  SELECT substation_id, circuit_id, customer_id
  FROM public.customer_transformer_matching
  WHERE active
),
circuit_counts AS (
  SELECT c.substation_id,
         count(*) AS circuits_known,
         count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM active AS a
           WHERE a.substation_id = c.substation_id AND a.circuit_id = c.circuit_id
         )) AS circuits_covered
  FROM circuits AS c
  GROUP BY c.substation_id
),
mapping_counts AS (
  SELECT substation_id, count(DISTINCT customer_id) AS mapped_customers,
         count(*) AS active_mappings
  FROM active
  GROUP BY substation_id
),
recent_events AS (
  SELECT e.substation_id, count(*) AS events_recent,
         count(*) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM active AS a
           WHERE a.substation_id = e.substation_id AND a.circuit_id = e.circuit_id
         )) AS blind_spot_events
  FROM public.pq_events AS e
  WHERE e.substation_id IS NOT NULL
    AND e."timestamp" >= now() - make_interval(days => :days)
  GROUP BY e.substation_id
),
impacts AS (
  -- Impact rows by level from public.analytics_monthly (per local month, kept exact by
  -- triggers): "recent" = the whole months after the one the window starts in, plus that first,
  -- partial month counted from the rows (events from the window's start to the next month).
  SELECT substation_id,
         sum(severe_recent) AS severe_recent, sum(moderate_recent) AS moderate_recent,
         sum(minor_recent) AS minor_recent, sum(severe_all) AS severe_all,
         sum(moderate_all) AS moderate_all, sum(minor_all) AS minor_all
  FROM (
    SELECT a.substation_id,
           sum(a.impacts_severe) FILTER (WHERE a.month > b.first_month) AS severe_recent,
           sum(a.impacts_moderate) FILTER (WHERE a.month > b.first_month) AS moderate_recent,
           sum(a.impacts_minor) FILTER (WHERE a.month > b.first_month) AS minor_recent,
           sum(a.impacts_severe) AS severe_all,
           sum(a.impacts_moderate) AS moderate_all,
           sum(a.impacts_minor) AS minor_all
    FROM public.analytics_monthly AS a CROSS JOIN bounds AS b
    WHERE a.substation_id IS NOT NULL
    GROUP BY a.substation_id
    UNION ALL
    -- Per event, a probe of its impact rows: a month of events is a few percent of them all, so
    -- the planner's hash join over every impact row would cost far more.
    SELECT e.substation_id, sum(i.severe), sum(i.moderate), sum(i.minor), 0, 0, 0
    FROM public.pq_events AS e
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE x.impact_level = 'severe') AS severe,
             count(*) FILTER (WHERE x.impact_level = 'moderate') AS moderate,
             count(*) FILTER (WHERE x.impact_level = 'minor') AS minor
      FROM public.event_customer_impact AS x
      WHERE x.event_id = e.id
    ) AS i
    WHERE e.substation_id IS NOT NULL
      AND e."timestamp" >= CAST(:since AS timestamptz)
      AND e."timestamp" < CAST(:month_after AS timestamptz)
    GROUP BY e.substation_id
  ) AS parts
  GROUP BY substation_id
)
SELECT s.id AS substation_id, s.name AS substation_name,
       coalesce(cc.circuits_known, 0) AS circuits_known,
       coalesce(cc.circuits_covered, 0) AS circuits_covered,
       CASE WHEN coalesce(cc.circuits_known, 0) = 0 THEN NULL
            ELSE round(100.0 * cc.circuits_covered / cc.circuits_known, 1) END AS coverage_pct,
       coalesce(mc.mapped_customers, 0) AS mapped_customers,
       coalesce(mc.active_mappings, 0) AS active_mappings,
       coalesce(re.events_recent, 0) AS events_recent,
       coalesce(re.blind_spot_events, 0) AS blind_spot_events,
       coalesce(im.severe_recent, 0) AS severe_recent,
       coalesce(im.moderate_recent, 0) AS moderate_recent,
       coalesce(im.minor_recent, 0) AS minor_recent,
       coalesce(im.severe_all, 0) AS severe_all,
       coalesce(im.moderate_all, 0) AS moderate_all,
       coalesce(im.minor_all, 0) AS minor_all,
       (SELECT count(DISTINCT customer_id) FROM active) AS customers_mapped_anywhere
FROM public.substations AS s
LEFT JOIN circuit_counts AS cc ON cc.substation_id = s.id
LEFT JOIN mapping_counts AS mc ON mc.substation_id = s.id
LEFT JOIN recent_events AS re ON re.substation_id = s.id
LEFT JOIN impacts AS im ON im.substation_id = s.id
ORDER BY s.name, s.id
"""


@dataclass(frozen=True)
class Kpis:
    """Totals over all substations the user can see."""

    substations: int
    circuits_known: int
    circuits_covered: int
    coverage_pct: float | None
    mapped_customers: int
    active_mappings: int
    events_recent: int
    blind_spot_events: int
    impacts_recent: int
    impacts_all: int


@dataclass(frozen=True)
class Statistics:
    """Everything the statistics page shows, read in one transaction (one consistent snapshot)."""

    days: int
    by_substation: pd.DataFrame
    impacts_by_level: pd.DataFrame
    kpis: Kpis


def coverage_statistics(
    engine: Engine, identity: Identity, *, days: int = RECENT_DAYS
) -> Statistics:
    """Coverage and impact figures per substation, impacts by level and KPI totals, where
    "recent" means the last `days` days."""
    with user_transaction(engine, identity) as conn:
        return coverage_statistics_in(conn, days=days)


def coverage_statistics_in(conn: Connection, *, days: int = RECENT_DAYS) -> Statistics:
    """Coverage and impact figures per substation, impacts by level and KPI totals, where
    "recent" means the last `days` days, in the caller's unit of work."""
    days = inputs.integer("days", days, minimum=1, maximum=MAX_DAYS)
    # One statement, so one snapshot: the tiles and the table always agree.
    # Counting millions of impacts: JIT compilation costs more than it saves here (~0.5 s on
    # PostgreSQL 15), and a larger work_mem keeps the hash join of impacts to events in memory.
    conn.execute(
        sa.text("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
    )
    result = conn.execute(sa.text(_BY_SUBSTATION_SQL), _window_bounds(conn, days))
    frame = pd.DataFrame(result.fetchall(), columns=[*SUBSTATION_COLUMNS, "anywhere"])
    distinct_customers = int(frame["anywhere"].iloc[0]) if len(frame) else 0
    frame = _typed(frame.drop(columns="anywhere"))
    return Statistics(
        days=days,
        by_substation=frame,
        impacts_by_level=_impacts_by_level(frame),
        kpis=_kpis(frame, distinct_customers),
    )


def _window_bounds(conn: Connection, days: int) -> dict:
    """The recent window's start (now() of this transaction minus `days` days), the first day of
    the local month it falls in and the start of the next local month, as values."""
    row = conn.execute(
        sa.text(
            "SELECT w.since, w.first_month,"
            " CAST(w.first_month + interval '1 month' AS timestamp) AT TIME ZONE w.zone"
            " AS month_after"
            " FROM (SELECT now() - make_interval(days => :days) AS since, z.zone,"
            "  CAST(date_trunc('month', (now() - make_interval(days => :days)) AT TIME ZONE z.zone)"
            "   AS date) AS first_month"
            "  FROM (SELECT CAST(:time_zone AS text) AS zone) AS z) AS w"
        ),
        {"days": days, "time_zone": clock.time_zone_name(conn)},
    ).one()
    return {
        "days": days,
        "since": row.since,
        "first_month": row.first_month,
        "month_after": row.month_after,
    }


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in SUBSTATION_COLUMNS[2:]:
        if column == "coverage_pct":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        else:
            frame[column] = frame[column].astype("int64")
    return frame


def _impacts_by_level(frame: pd.DataFrame) -> pd.DataFrame:
    levels = ("severe", "moderate", "minor")
    return pd.DataFrame(
        {
            "impact_level": list(levels),
            "recent": [int(frame[f"{level}_recent"].sum()) for level in levels],
            "all_time": [int(frame[f"{level}_all"].sum()) for level in levels],
        }
    )


def _kpis(frame: pd.DataFrame, distinct_customers: int) -> Kpis:
    known = int(frame["circuits_known"].sum())
    covered = int(frame["circuits_covered"].sum())
    levels = ("severe", "moderate", "minor")
    return Kpis(
        substations=len(frame),
        circuits_known=known,
        circuits_covered=covered,
        coverage_pct=round(100.0 * covered / known, 1) if known else None,
        mapped_customers=distinct_customers,
        active_mappings=int(frame["active_mappings"].sum()),
        events_recent=int(frame["events_recent"].sum()),
        blind_spot_events=int(frame["blind_spot_events"].sum()),
        impacts_recent=int(sum(frame[f"{level}_recent"].sum() for level in levels)),
        impacts_all=int(sum(frame[f"{level}_all"].sum() for level in levels)),
    )
