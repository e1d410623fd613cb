"""The per-customer and per-circuit analytics summaries (migration 20261206000200) as readers use
them: refresh the dirty months of a period, then rows of whole months from the summary and the
partial months at either end counted from events and impacts, so every figure is exact for any
dates.

public.analytics_customer_monthly: per (local month, customer, substation, swell) the impact rows
of base events (events, severe, duration_ms, lowest_residual, <curve>_within / _outside);
public.analytics_circuit_monthly: per (local month, substation, circuit, swell) base events and
their impact rows. Both are kept by public.analytics_customer_refresh() from a dirty log the write
triggers append to (tests/db/test_db_analytics_customers.py compares them with a recount)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ctm import curves
from ctm.analytics_summary import BASE_EVENT_SQL, RESIDUAL_SQL, edges_sql, split

# Per curve key: the summary's column prefix (IEC 61000-4-34 at the scope's frequency).
_CURVE_COLUMNS = {"itic": "itic", "semi_f47": "semi_f47"}


def refresh(conn: Connection, first: date, last: date) -> int:
    """Recounts the dirty months among the whole months of first..last (local days, both
    included); returns how many months were recounted."""
    parts = split(first, last)
    if parts.first_month is None:
        return 0
    return conn.execute(
        sa.text("SELECT public.analytics_customer_refresh(:f, :l)"),
        {"f": parts.first_month, "l": parts.last_month},
    ).scalar_one()


def _summary_column(curve: str, verdict: str, frequency_hz: float) -> str:
    prefix = _CURVE_COLUMNS.get(curve) or ("iec60" if frequency_hz == 60.0 else "iec50")
    return f"{prefix}_{verdict}"


def _dips(dips_only: bool, column: str) -> str:
    return f" AND NOT {column}" if dips_only else ""


def customer_rows_sql(
    first: date, last: date, params: dict, *, place: str, dips_only: bool, frequency_hz: float
) -> str:
    """Rows (customer_id, events, severe, duration_ms, lowest_residual, <curve key>_within,
    <curve key>_outside for each of curves.CURVE_KEYS) whose sums (min for lowest_residual) per
    customer are the impact rows of the base events of local days first..last at the places
    `place` (SQL on alias s, params already in `params`). :time_zone is the caller's; call
    refresh() first."""
    parts = split(first, last)
    branches = []
    if parts.first_month is not None:
        params["summary_first"], params["summary_last"] = parts.first_month, parts.last_month
        columns = ["a.events", "a.severe", "a.duration_ms", "a.lowest_residual"]
        for curve in curves.CURVE_KEYS:
            for verdict in ("within", "outside"):
                column = _summary_column(curve, verdict, frequency_hz)
                columns.append(f"a.{column} AS {curve}_{verdict}")
        branches.append(
            f"SELECT a.customer_id, {', '.join(columns)}"
            f" FROM public.analytics_customer_monthly AS a"
            f" JOIN public.substations AS s ON s.id = a.substation_id"
            f" WHERE a.month BETWEEN CAST(:summary_first AS date) AND CAST(:summary_last AS date)"
            f" AND {place}{_dips(dips_only, 'a.swell')}"
        )
    edges = edges_sql(parts, params)
    if edges:
        dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if dips_only else ""
        verdicts = ", ".join(
            f"{curves.classification_sql(curve, RESIDUAL_SQL, 'e.duration_ms', frequency_hz)}"
            f" AS v_{curve}"
            for curve in curves.CURVE_KEYS
        )
        counts = ", ".join(
            f"count(*) FILTER (WHERE e.v_{curve} = '{verdict}') AS {curve}_{verdict}"
            for curve in curves.CURVE_KEYS
            for verdict in ("within", "outside")
        )
        branches.append(
            f"""
            SELECT i.customer_id, count(*) AS events,
                   count(*) FILTER (WHERE i.impact_level = 'severe') AS severe,
                   coalesce(sum(e.duration_ms), 0) AS duration_ms, min(e.r) AS lowest_residual,
                   {counts}
            FROM (
              SELECT e.id, e.duration_ms, {RESIDUAL_SQL} AS r, {verdicts}
              FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
              WHERE {edges} AND {BASE_EVENT_SQL} AND {place}{dips}
              OFFSET 0  -- classify each event once, not once per impact row
            ) AS e
            -- Each event's impact rows through the primary key (OFFSET 0 keeps this from becoming
            -- a hash join that reads all the impact rows: 1.1 s at 10,000,000 of them, where a
            -- month of edge days is ~25,000 events).
            CROSS JOIN LATERAL (
              SELECT x.customer_id, x.impact_level FROM public.event_customer_impact AS x
              WHERE x.event_id = e.id OFFSET 0
            ) AS i
            GROUP BY i.customer_id
            """
        )
    return "\nUNION ALL\n".join(branches)


def circuit_rows_sql(first: date, last: date, params: dict, *, place: str, dips_only: bool) -> str:
    """Rows (substation_id, circuit_id, events, hits) whose sums per circuit are the base events
    with a circuit of local days first..last at the places `place`, and their impact rows."""
    parts = split(first, last)
    branches = []
    if parts.first_month is not None:
        params["summary_first"], params["summary_last"] = parts.first_month, parts.last_month
        branches.append(
            "SELECT a.substation_id, a.circuit_id, a.events, a.hits"
            " FROM public.analytics_circuit_monthly AS a"
            " JOIN public.substations AS s ON s.id = a.substation_id"
            " WHERE a.month BETWEEN CAST(:summary_first AS date) AND CAST(:summary_last AS date)"
            f" AND {place}{_dips(dips_only, 'a.swell')}"
        )
    edges = edges_sql(parts, params)
    if edges:
        dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if dips_only else ""
        branches.append(
            f"""
            SELECT e.substation_id, e.circuit_id, count(*) AS events,
                   sum((SELECT count(*) FROM public.event_customer_impact AS i
                        WHERE i.event_id = e.id)) AS hits
            FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
            WHERE {edges} AND {BASE_EVENT_SQL} AND {place}{dips} AND e.circuit_id IS NOT NULL
            GROUP BY e.substation_id, e.circuit_id
            """
        )
    return "\nUNION ALL\n".join(branches)
