"""public.analytics_monthly, the monthly summary the analytics views and the statistics page read
(migration 20261205000400): its measures, the same measures counted from the event rows, and a
"virtual summary" for any period of local days — whole months from the summary, the partial months
at either end counted from the rows, so every figure is exact for any dates.

One row per (local month, substation, swell or not); measures as the migration's header lists
them. The rules here are the migration's (public.sarfi()'s and ctm.curves'): the triggers keep the
table equal to `recount_sql()` (tests/db/test_db_analytics_summary.py compares them)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from ctm import curves

DIP_THRESHOLDS: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)
SWELL_THRESHOLDS: tuple[int, ...] = (110, 120, 130, 140)
CURVE_INDICES: tuple[str, ...] = ("itic", "semi_f47")  # SARFI-ITIC and SARFI-SEMI
SARFI_MAX_DURATION_MS = 60_000
# Ride-through verdict columns: rt_<name>_<verdict> for (name, curve, nominal frequency).
RIDE_THROUGH = (
    ("itic", "itic", 50.0),
    ("semi_f47", "semi_f47", 50.0),
    ("iec50", "iec_61000_4_34", 50.0),
    ("iec60", "iec_61000_4_34", 60.0),
)

# Base events: not marked false, of a kind SARFI counts (alias e).
BASE_EVENT_SQL = (
    "e.status <> 'false'"
    " AND (e.event_type IS NULL OR e.event_type IN ('voltage_dip', 'voltage_swell', 'interruption'))"
)
# DESIGN.md "Event values": the residual of the characteristic phase; an interruption without one
# has 0 % left.
RESIDUAL_SQL = "coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END)"


def ride_through_column(curve: str, verdict: curves.Verdict, frequency_hz: float) -> str:
    name = {"itic": "itic", "semi_f47": "semi_f47"}.get(curve)
    if name is None:
        name = "iec60" if frequency_hz == 60.0 else "iec50"
    return f"rt_{name}_{verdict.value.replace(' ', '_')}"


def event_measures() -> dict[str, str]:
    """Measure name → SQL of one event's contribution (alias e; per-event columns hits, severe,
    moderate, minor = its impact rows, served = its circuit's customers_served or 0)."""
    base = f"({BASE_EVENT_SQL})"
    r, d = RESIDUAL_SQL, "e.duration_ms"
    counted = f"({base} AND {r} IS NOT NULL AND ({d} IS NULL OR {d} <= {SARFI_MAX_DURATION_MS}))"
    placed = f"({base} AND {r} IS NOT NULL AND {d} IS NOT NULL)"

    def when(condition: str, value: str = "1") -> str:
        return f"CASE WHEN {condition} THEN {value} ELSE 0 END"

    measures = {
        "impacts_severe": "severe",
        "impacts_moderate": "moderate",
        "impacts_minor": "minor",
        "unplaced": when(f"{base} AND NOT {placed}"),
        "no_residual": when(f"{base} AND {r} IS NULL"),
        "too_long": when(f"{base} AND {r} IS NOT NULL AND {d} > {SARFI_MAX_DURATION_MS}"),
    }
    conditions = {str(x): f"{r} < {x}" for x in DIP_THRESHOLDS}
    conditions.update({str(x): f"{r} > {x}" for x in SWELL_THRESHOLDS})
    for curve in CURVE_INDICES:
        conditions[curve] = f"{curves.classification_sql(curve, r, d)} = 'outside'"
    for key, condition in conditions.items():
        measures[f"events_{key}"] = when(f"{counted} AND {condition}")
        measures[f"hits_{key}"] = when(f"{counted} AND {condition}", "hits")
        measures[f"served_{key}"] = when(f"{counted} AND {condition}", "served")
    for name, curve, hz in RIDE_THROUGH:
        verdict_sql = curves.classification_sql(curve, r, d, hz)
        for verdict in curves.Verdict:
            measures[f"rt_{name}_{verdict.value.replace(' ', '_')}"] = when(
                f"{placed} AND {verdict_sql} = '{verdict.value}'"
            )
    return measures


MEASURES: tuple[str, ...] = tuple(event_measures())


def recount_sql(where: str = "TRUE", measures: tuple[str, ...] = MEASURES) -> str:
    """The summary's rows counted from events and impacts (alias e for `where`; :time_zone bound
    by the caller): month, substation_id, swell, then `measures`."""
    expressions = event_measures()
    hit_columns = {
        "hits": "count(*)",
        "severe": "count(*) FILTER (WHERE i.impact_level = 'severe')",
        "moderate": "count(*) FILTER (WHERE i.impact_level = 'moderate')",
        "minor": "count(*) FILTER (WHERE i.impact_level = 'minor')",
    }
    needed = " ".join(expressions[m] for m in measures)
    lateral = ", ".join(f"{sql} AS {name}" for name, sql in hit_columns.items() if name in needed)
    sums = ", ".join(f"sum({expressions[m]}) AS {m}" for m in measures)
    return f"""
    SELECT CAST(date_trunc('month', e."timestamp" AT TIME ZONE CAST(:time_zone AS text)) AS date)
             AS month,
           e.substation_id, coalesce(e.event_type = 'voltage_swell', false) AS swell, {sums}
    FROM (
      SELECT e.*, coalesce(sc.customers_served, 0) AS served{", i.*" if lateral else ""}
      FROM public.pq_events AS e
      LEFT JOIN public.substations AS s ON s.id = e.substation_id
      LEFT JOIN public.substation_circuits AS sc
        ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
      {f"CROSS JOIN LATERAL (SELECT {lateral} FROM public.event_customer_impact AS i WHERE i.event_id = e.id) AS i" if lateral else ""}
      WHERE {where}
    ) AS e
    GROUP BY 1, 2, 3
    """


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class Split:
    """A period of local days as whole months (first and last month, both their 1st day; None when
    there is none) and the day ranges outside them (first, last day, both included)."""

    first_month: date | None
    last_month: date | None
    edges: tuple[tuple[date, date], ...]


def split(first: date, last: date) -> Split:
    start = first if first.day == 1 else _month_end(first) + timedelta(days=1)
    end_month = date(last.year, last.month, 1)
    end = end_month if last == _month_end(last) else end_month - timedelta(days=1)
    end = date(end.year, end.month, 1)  # first day of the last whole month
    if start > last or end < start:
        return Split(None, None, ((first, last),))
    edges = []
    if first < start:
        edges.append((first, start - timedelta(days=1)))
    if _month_end(end) < last:
        edges.append((_month_end(end) + timedelta(days=1), last))
    return Split(start, end, tuple(edges))


def edges_sql(parts: Split, params: dict) -> str | None:
    """The condition on events (alias e) "in one of the edge day ranges of `parts`" in the stored
    zone (:time_zone is the caller's), or None when there are none. Fills params."""
    ranges = []
    for n, (from_day, to_day) in enumerate(parts.edges):
        params[f"edge_from_{n}"], params[f"edge_after_{n}"] = from_day, to_day + timedelta(days=1)
        ranges.append(
            f'(e."timestamp" >= (CAST(:edge_from_{n} AS timestamp) AT TIME ZONE'
            f' CAST(:time_zone AS text)) AND e."timestamp" < (CAST(:edge_after_{n} AS timestamp)'
            f" AT TIME ZONE CAST(:time_zone AS text)))"
        )
    return f"({' OR '.join(ranges)})" if ranges else None


def period_rows_sql(
    first: date,
    last: date,
    params: dict,
    *,
    place: str,
    dips_only: bool,
    measures: tuple[str, ...],
    substation_join: str = "LEFT JOIN",
) -> str:
    """Rows shaped like the summary (month, substation_id, swell, measures) covering exactly the
    local days first..last for the places `place` (SQL on alias s, params already in `params`):
    summary rows for whole months, counted rows for the rest. Fills params (:time_zone is the
    caller's)."""
    parts = split(first, last)
    dips = " AND NOT a.swell" if dips_only else ""
    branches = []
    if parts.first_month is not None:
        params["summary_first"], params["summary_last"] = parts.first_month, parts.last_month
        branches.append(
            f"SELECT a.month, a.substation_id, a.swell, {', '.join(f'a.{m}' for m in measures)}"
            f" FROM public.analytics_monthly AS a {substation_join} public.substations AS s"
            f" ON s.id = a.substation_id"
            f" WHERE a.month BETWEEN CAST(:summary_first AS date) AND CAST(:summary_last AS date)"
            f" AND {place}{dips}"
        )
    edges = edges_sql(parts, params)
    if edges:
        where = f"{edges} AND {place}"
        if dips_only:
            where += " AND e.event_type IS DISTINCT FROM 'voltage_swell'"
        if substation_join == "JOIN":
            where += " AND s.id IS NOT NULL"
        branches.append(recount_sql(where, measures))
    return "\nUNION ALL\n".join(branches)
