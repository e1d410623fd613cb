"""Power-quality analytics over events, impacts and mappings: SARFI per month and year-to-date in two
weightings, ride-through compliance against the curves of ctm.curves, most-affected customers and
most fragile circuits. Definitions: docs/ANALYTICS.md (the page shows the same text).

Every figure is computed in SQL as the acting user (row-level security applies). The critical-
customer SARFI follows public.sarfi() exactly (tests compare them); months and days are taken in
the stored time zone (public.ctm_time_zone())."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import analytics_customers, clock, curves, inputs
from ctm.analytics_summary import (
    BASE_EVENT_SQL,
    CURVE_INDICES,
    DIP_THRESHOLDS,
    RESIDUAL_SQL,
    SWELL_THRESHOLDS,
    period_rows_sql,
    ride_through_column,
)
from ctm.db import Identity, user_transaction
from ctm.errors import ValidationError

THRESHOLDS: tuple[int, ...] = DIP_THRESHOLDS + SWELL_THRESHOLDS
POINTS_LIMIT = 5_000
MAX_YEARS = 10
RESIDUAL_BIN_PCT = 5
DURATION_BINS_PER_DECADE = 4
FREQUENCY_SETTING_KEY = "nominal_frequency_hz"

_BASE_EVENT_SQL = BASE_EVENT_SQL
_RESIDUAL_SQL = RESIDUAL_SQL


# The definitions the page, the workbook and docs/ANALYTICS.md state (one text).
DEFINITIONS: tuple[str, ...] = (
    (
        "Counted event: not marked false; type voltage dip, voltage swell, interruption or not given;"
        " duration not given or at most 60 s; residual voltage = remaining_voltage (lowest phase for"
        " dips and interruptions, highest for swells, % of declared voltage), or 0 % for an"
        " interruption without one. Events without a residual are not counted."
    ),
    (
        "SARFI-X (X < 100): counted events with residual below X %. SARFI-X (X > 100): residual above"
        " X %. SARFI-ITIC / SARFI-SEMI: counted events outside the ITIC / SEMI F47-0706 curve."
    ),
    (
        "Critical-customer SARFI-X = Σ N_i / N_T with N_i = critical customers the event hit (its"
        " impact rows) and N_T = distinct critical customers whose mapping applies on at least one"
        " day of the period (public.sarfi(); not IEEE 1564's N_T)."
    ),
    (
        "System SARFI-X (IEEE 1564) = Σ N_i / N_T with N_i = customers_served of the event's circuit"
        " and N_T = customers served by all circuits of the selection; today's counts are used for"
        " past periods."
    ),
    (
        "Year-to-date: from 1 January (or the period's start) to the end of the month. Months and"
        " days are taken in the stored time zone."
    ),
)


@dataclass(frozen=True)
class Scope:
    """Which events and customers a figure covers: local dates, both ends included, and places.
    Empty tuples mean "all"."""

    date_from: date
    date_to: date
    substation_ids: tuple[UUID, ...] = ()
    regions: tuple[str, ...] = ()
    voltage_levels: tuple[str, ...] = ()
    dips_only: bool = False
    frequency_hz: float = curves.DEFAULT_FREQUENCY_HZ

    def check(self) -> None:
        """ValidationError naming the field and value for anything a figure cannot use."""
        for name in ("date_from", "date_to"):
            if inputs.day(name, getattr(self, name)) is None:
                raise inputs.invalid(name, None, "is required")
        for name, check in (
            ("substation_ids", inputs.uuid_value),
            ("regions", inputs.required_text),
            ("voltage_levels", inputs.required_text),
        ):
            values = getattr(self, name)
            if not isinstance(values, (tuple, list)):
                raise inputs.invalid(name, values, "must be a list")
            for value in values:
                check(name.removesuffix("s"), value)
        inputs.boolean("dips_only", self.dips_only)
        if self.date_to < self.date_from:
            raise ValidationError(
                f"Period {self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d}: the end is before"
                " the start"
            )
        if (self.date_to - self.date_from).days > 366 * MAX_YEARS:
            raise ValidationError(
                f"Period {self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d}: at most"
                f" {MAX_YEARS} years at a time"
            )
        if self.frequency_hz not in curves.FREQUENCIES_HZ:
            raise ValidationError(f"Nominal frequency {self.frequency_hz} Hz: use 50 or 60")


def _place_sql(scope: Scope, alias: str, params: dict) -> str:
    """Conditions on substations (alias) for the scope's places; fills params."""
    parts = []
    if scope.substation_ids:
        params["substation_ids"] = [str(s) for s in scope.substation_ids]
        parts.append(f"{alias}.id = ANY(CAST(:substation_ids AS uuid[]))")
    if scope.regions:
        params["regions"] = list(scope.regions)
        parts.append(f"{alias}.region = ANY(CAST(:regions AS text[]))")
    if scope.voltage_levels:
        params["voltage_levels"] = list(scope.voltage_levels)
        parts.append(f"{alias}.voltage_level = ANY(CAST(:voltage_levels AS text[]))")
    return " AND ".join(parts) if parts else "TRUE"


def _period_params(conn: Connection, scope: Scope, params: dict) -> None:
    # The zone goes in as a value, so the planner sees constant bounds and picks the timestamp
    # index on every PostgreSQL (a sub-select is an InitPlan it cannot estimate on 15).
    params["time_zone"] = clock.time_zone_name(conn)
    params["date_from"] = scope.date_from
    params["date_after"] = scope.date_to + timedelta(days=1)


# Instants of the scope's first day and the day after its last, in the stored zone.
_PERIOD_SQL = (
    'e."timestamp" >= (CAST(:date_from AS timestamp) AT TIME ZONE CAST(:time_zone AS text))'
    ' AND e."timestamp" < (CAST(:date_after AS timestamp) AT TIME ZONE CAST(:time_zone AS text))'
)


def _tuned(conn: Connection) -> None:
    # Aggregating millions of rows: JIT compilation costs more than it saves (as in ctm.stats).
    conn.execute(
        sa.text("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
    )


# ---------------------------------------------------------------------------------------------
# SARFI
# ---------------------------------------------------------------------------------------------


def _indices(scope: Scope) -> tuple[str, ...]:
    """The indices a scope reports: every threshold (dips only: no swell thresholds), then
    SARFI-ITIC and SARFI-SEMI. Each is a column family of public.analytics_monthly."""
    dips = tuple(str(x) for x in THRESHOLDS if not (scope.dips_only and x > 100))
    return dips + CURVE_INDICES


@dataclass(frozen=True)
class SarfiResult:
    """SARFI figures of a scope.

    `by_month`: one row per month and substation (substation_id NULL = all substations), with for
    every index name k (thresholds '10'…'140', 'itic', 'semi_f47'): `events_k`, `hits_k`
    (critical-customer impact rows), `served_k` (customers_served of the events' circuits).
    `mapped` and `served` are the two denominators per (period label, substation_id NULL = all).
    """

    scope: Scope
    by_month: pd.DataFrame
    mapped: dict[tuple[str, UUID | None], int]
    served: dict[UUID | None, int]
    substations: pd.DataFrame
    events_without_residual: int
    events_too_long: int
    indices: tuple[str, ...] = field(default_factory=tuple)


def _months(first: date, last: date) -> list[date]:
    months = []
    current = date(first.year, first.month, 1)
    while current <= last:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def _month_end(month: date) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def period_labels(scope: Scope) -> list[tuple[str, date, date]]:
    """The periods a SARFI result has denominators for: each month ('2026-03'), each month's
    year-to-date ('YTD 2026-03': from 1 January, or the scope's start, to the month's end) and the
    whole scope ('period'); all clipped to the scope."""
    periods: list[tuple[str, date, date]] = []
    for month in _months(scope.date_from, scope.date_to):
        first = max(month, scope.date_from)
        last = min(_month_end(month), scope.date_to)
        periods.append((f"{month:%Y-%m}", first, last))
        periods.append((f"YTD {month:%Y-%m}", max(date(month.year, 1, 1), scope.date_from), last))
    periods.append(("period", scope.date_from, scope.date_to))
    return periods


def sarfi_in(conn: Connection, scope: Scope) -> SarfiResult:
    """Counts and denominators of SARFI-X (X in THRESHOLDS), SARFI-ITIC and SARFI-SEMI.

    The counts are sums over public.analytics_monthly (kept exact by triggers; the rules of
    public.sarfi()) for whole months and counted from the events for the days around them; the
    denominators are computed live."""
    scope.check()
    _tuned(conn)
    params: dict = {}
    _period_params(conn, scope, params)
    place = _place_sql(scope, "s", params)
    indices = _indices(scope)
    columns = [f"{p}_{key}" for key in indices for p in ("events", "hits", "served")]
    rows = period_rows_sql(
        scope.date_from,
        scope.date_to,
        params,
        place=place,
        dips_only=scope.dips_only,
        measures=(*columns, "no_residual", "too_long"),
    )
    # bigint, not sum()'s numeric: thousands of rows of Decimals cost more to read than the query.
    sums = ", ".join(
        f"CAST(coalesce(sum(a.{c}), 0) AS bigint) AS {c}"
        for c in (*columns, "no_residual", "too_long")
    )
    sql = f"""
    SELECT a.month, a.substation_id, GROUPING(a.substation_id) AS is_total, {sums}
    FROM ({rows}) AS a
    GROUP BY GROUPING SETS ((a.month, a.substation_id), (a.month))
    """
    frame = pd.DataFrame.from_records(
        [tuple(row) for row in conn.execute(sa.text(sql), params)],
        columns=["month", "substation_id", "is_total", *columns, "no_residual", "too_long"],
    )
    totals = frame[frame["is_total"] == 1]
    no_residual, too_long = int(totals["no_residual"].sum()), int(totals["too_long"].sum())
    frame = frame.drop(columns=["no_residual", "too_long"])
    for column in frame.columns[2:]:
        frame[column] = frame[column].astype("int64")
    substations = _substations_in(conn, scope)
    return SarfiResult(
        scope=scope,
        by_month=frame,
        mapped=_mapped_in(conn, scope),
        served=_served_in(conn, scope),
        substations=substations,
        events_without_residual=no_residual,
        events_too_long=too_long,
        indices=indices,
    )


def sarfi(engine: Engine, identity: Identity, scope: Scope) -> SarfiResult:
    with user_transaction(engine, identity) as conn:
        return sarfi_in(conn, scope)


def _substations_in(conn: Connection, scope: Scope) -> pd.DataFrame:
    params: dict = {}
    place = _place_sql(scope, "s", params)
    rows = conn.execute(
        sa.text(
            f"SELECT s.id AS substation_id, s.name AS substation_name, s.region, s.voltage_level"
            f" FROM public.substations AS s WHERE {place} ORDER BY s.name, s.id"
        ),
        params,
    ).mappings()
    return pd.DataFrame(
        rows.all(), columns=["substation_id", "substation_name", "region", "voltage_level"]
    )


def _mapped_in(conn: Connection, scope: Scope) -> dict[tuple[str, UUID | None], int]:
    """Critical customers mapped (sarfi()'s N_T) per period label, per substation and in all.

    Most mappings are active without dates: they apply on every day, so they are counted once;
    only the dated (or ended) ones are checked per period, and a customer already counted through
    a plain mapping is not counted again."""
    periods = period_labels(scope)
    params: dict = {
        "labels": [p[0] for p in periods],
        "firsts": [p[1] for p in periods],
        "lasts": [p[2] for p in periods],
    }
    place = _place_sql(scope, "s", params)
    plain_sql = "m.active AND m.connected_since IS NULL AND m.disconnected_on IS NULL"
    # Same condition as public.sarfi(): the mapping applies on the earliest day of the period on
    # which it is connected (public.mapping_applies_on, the one validity rule).
    sql = f"""
    WITH plain AS MATERIALIZED (
      SELECT DISTINCT m.customer_id, m.substation_id
      FROM public.customer_transformer_matching AS m
      JOIN public.substations AS s ON s.id = m.substation_id
      WHERE {place} AND {plain_sql}
    ),
    dated AS MATERIALIZED (
      SELECT p.label, m.customer_id, m.substation_id
      FROM unnest(CAST(:labels AS text[]), CAST(:firsts AS date[]), CAST(:lasts AS date[]))
           AS p(label, first_day, last_day)
      JOIN public.customer_transformer_matching AS m
        ON greatest(p.first_day, coalesce(m.connected_since, p.first_day)) <= p.last_day
       AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on,
             greatest(p.first_day, coalesce(m.connected_since, p.first_day)))
      JOIN public.substations AS s ON s.id = m.substation_id
      WHERE {place} AND NOT ({plain_sql})
    )
    SELECT NULL AS label, substation_id, count(*) AS n, 0 AS everywhere
    FROM plain GROUP BY substation_id
    UNION ALL
    SELECT NULL, NULL, count(DISTINCT customer_id), 1 FROM plain
    UNION ALL
    SELECT d.label, d.substation_id, count(DISTINCT d.customer_id), 0
    FROM dated AS d
    WHERE NOT EXISTS (SELECT 1 FROM plain AS pl
                      WHERE pl.customer_id = d.customer_id AND pl.substation_id = d.substation_id)
    GROUP BY d.label, d.substation_id
    UNION ALL
    SELECT d.label, NULL, count(DISTINCT d.customer_id), 1
    FROM dated AS d
    WHERE NOT EXISTS (SELECT 1 FROM plain AS pl WHERE pl.customer_id = d.customer_id)
    GROUP BY d.label
    """
    plain_by_substation: dict[UUID, int] = {}
    plain_everywhere = 0
    extra: dict[tuple[str, UUID | None], int] = {}
    for row in conn.execute(sa.text(sql), params):
        if row.label is None:
            if row.everywhere:
                plain_everywhere = int(row.n)
            else:
                plain_by_substation[row.substation_id] = int(row.n)
        else:
            key = None if row.everywhere else row.substation_id
            extra[(row.label, key)] = int(row.n)
    result: dict[tuple[str, UUID | None], int] = {}
    substations = set(plain_by_substation) | {k for (_, k) in extra if k is not None}
    for label, _first, _last in periods:
        result[(label, None)] = plain_everywhere + extra.get((label, None), 0)
        for substation in substations:
            n = plain_by_substation.get(substation, 0) + extra.get((label, substation), 0)
            if n:
                result[(label, substation)] = n
    return result


def _served_in(conn: Connection, scope: Scope) -> dict[UUID | None, int]:
    """IEEE 1564's N_T: customers served by the circuits of the scope, today's counts."""
    params: dict = {}
    place = _place_sql(scope, "s", params)
    sql = f"""
    SELECT sc.substation_id, sum(sc.customers_served) AS n, GROUPING(sc.substation_id) AS total
    FROM public.substation_circuits AS sc JOIN public.substations AS s ON s.id = sc.substation_id
    WHERE {place} AND sc.customers_served IS NOT NULL
    GROUP BY GROUPING SETS ((sc.substation_id), ())
    """
    result: dict[UUID | None, int] = {}
    for row in conn.execute(sa.text(sql), params):
        result[None if row.total else row.substation_id] = int(row.n or 0)
    return result


def _ratio(numerator: float, denominator: int | None) -> float | None:
    return None if not denominator else numerator / denominator


def monthly_indices(result: SarfiResult, index: str) -> pd.DataFrame:
    """One row per month of the scope (all substations of the scope): events, customer hits and
    both SARFI weightings for that month and year-to-date."""
    totals = result.by_month[result.by_month["is_total"] == 1].set_index("month")
    rows = []
    ytd_events = ytd_hits = ytd_served = 0
    year = None
    n_served = result.served.get(None, 0)
    for label, first, _last in period_labels(result.scope):
        if label.startswith("YTD") or label == "period":
            continue
        month = date(first.year, first.month, 1)
        if month.year != year:
            year, ytd_events, ytd_hits, ytd_served = month.year, 0, 0, 0
        row = totals.loc[month] if month in totals.index else None
        events = int(row[f"events_{index}"]) if row is not None else 0
        hits = int(row[f"hits_{index}"]) if row is not None else 0
        served = int(row[f"served_{index}"]) if row is not None else 0
        ytd_events, ytd_hits, ytd_served = ytd_events + events, ytd_hits + hits, ytd_served + served
        mapped = result.mapped.get((label, None), 0)
        ytd_mapped = result.mapped.get((f"YTD {label}", None), 0)
        rows.append(
            {
                "month": month,
                "year": month.year,
                "month_number": month.month,
                "events": events,
                "customer_hits": hits,
                "customers_mapped": mapped,
                "critical_sarfi": _ratio(hits, mapped),
                "served_hits": served,
                "customers_served": n_served,
                "system_sarfi": _ratio(served, n_served),
                "ytd_events": ytd_events,
                "ytd_critical_sarfi": _ratio(ytd_hits, ytd_mapped),
                "ytd_system_sarfi": _ratio(ytd_served, n_served),
            }
        )
    return pd.DataFrame(rows)


def per_substation(result: SarfiResult, index: str) -> pd.DataFrame:
    """One row per substation of the scope over the whole period, then a 'Total' row."""
    frame = result.by_month[result.by_month["is_total"] == 0]
    sums = frame.groupby("substation_id")[
        [f"events_{index}", f"hits_{index}", f"served_{index}"]
    ].sum()
    rows = []
    for sub in result.substations.itertuples():
        got = sums.loc[sub.substation_id] if sub.substation_id in sums.index else None
        events = int(got[f"events_{index}"]) if got is not None else 0
        hits = int(got[f"hits_{index}"]) if got is not None else 0
        served = int(got[f"served_{index}"]) if got is not None else 0
        mapped = result.mapped.get(("period", sub.substation_id), 0)
        n_served = result.served.get(sub.substation_id, 0)
        rows.append(
            {
                "substation": sub.substation_name,
                "region": sub.region,
                "voltage_level": sub.voltage_level,
                "events": events,
                "customer_hits": hits,
                "customers_mapped": mapped,
                "critical_sarfi": _ratio(hits, mapped),
                "served_hits": served,
                "customers_served": n_served,
                "system_sarfi": _ratio(served, n_served),
            }
        )
    totals = result.by_month[result.by_month["is_total"] == 1]
    events = int(totals[f"events_{index}"].sum())
    hits = int(totals[f"hits_{index}"].sum())
    served = int(totals[f"served_{index}"].sum())
    mapped = result.mapped.get(("period", None), 0)
    n_served = result.served.get(None, 0)
    rows.append(
        {
            "substation": "Total",
            "region": None,
            "voltage_level": None,
            "events": events,
            "customer_hits": hits,
            "customers_mapped": mapped,
            "critical_sarfi": _ratio(hits, mapped),
            "served_hits": served,
            "customers_served": n_served,
            "system_sarfi": _ratio(served, n_served),
        }
    )
    return pd.DataFrame(rows)


def all_indices(result: SarfiResult) -> pd.DataFrame:
    """Every index over the whole period (all substations of the scope): one row per index."""
    totals = result.by_month[result.by_month["is_total"] == 1]
    mapped = result.mapped.get(("period", None), 0)
    n_served = result.served.get(None, 0)
    rows = []
    for index in result.indices:
        events = int(totals[f"events_{index}"].sum())
        hits = int(totals[f"hits_{index}"].sum())
        served = int(totals[f"served_{index}"].sum())
        rows.append(
            {
                "index": index_label(index),
                "events": events,
                "customer_hits": hits,
                "customers_mapped": mapped,
                "critical_sarfi": _ratio(hits, mapped),
                "served_hits": served,
                "customers_served": n_served,
                "system_sarfi": _ratio(served, n_served),
            }
        )
    return pd.DataFrame(rows)


def index_label(index: str) -> str:
    if index == "itic":
        return "SARFI-ITIC"
    if index == "semi_f47":
        return "SARFI-SEMI"
    return f"SARFI-{index}"


# ---------------------------------------------------------------------------------------------
# Ride-through compliance
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RideThrough:
    """Events of the scope against the curves: `points` (one row per event, with a column per
    curve) when at most POINTS_LIMIT events match, else `density` (log duration × residual bins);
    `counts`: events per curve and verdict; `by_substation`: the same per substation."""

    total: int
    points: pd.DataFrame | None
    density: pd.DataFrame | None
    counts: pd.DataFrame
    by_substation: pd.DataFrame
    without_values: int


def _verdict_columns(frequency_hz: float, residual: str, duration: str) -> str:
    return ", ".join(
        f"{curves.classification_sql(key, residual, duration, frequency_hz)} AS {key}"
        for key in curves.CURVE_KEYS
    )


def ride_through_in(conn: Connection, scope: Scope) -> RideThrough:
    scope.check()
    _tuned(conn)
    params: dict = {}
    _period_params(conn, scope, params)
    place = _place_sql(scope, "s", params)
    dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if scope.dips_only else ""
    base = f"""
      FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
      WHERE {_PERIOD_SQL} AND {_BASE_EVENT_SQL} AND {place}{dips}
    """
    classified = f"""
      SELECT e.id, e."timestamp", s.name AS substation_name, e.substation_id, e.circuit_id,
             e.event_type, {_RESIDUAL_SQL} AS residual_pct, e.duration_ms,
             {_verdict_columns(scope.frequency_hz, _RESIDUAL_SQL, "e.duration_ms")}
      {base}
    """
    # Counts per curve and verdict (IEC 61000-4-34 at the scope's frequency) of the events with a
    # residual and a duration, and the rest (unplaced): public.analytics_monthly and edge days.
    columns = {
        f"{key}|{verdict.value}": ride_through_column(key, verdict, scope.frequency_hz)
        for key in curves.CURVE_KEYS
        for verdict in curves.Verdict
    }
    rows = period_rows_sql(
        scope.date_from,
        scope.date_to,
        params,
        place=place,
        dips_only=scope.dips_only,
        measures=(*columns.values(), "unplaced"),
        substation_join="JOIN",
    )
    count_parts = [
        f'coalesce(sum(a.{column}), 0) AS "{label}"' for label, column in columns.items()
    ]
    grouped = pd.DataFrame(
        conn.execute(
            sa.text(
                f"SELECT s.name AS substation_name, GROUPING(s.name) AS is_total,"
                f" coalesce(sum(a.unplaced), 0) AS unplaced, {', '.join(count_parts)}"
                f" FROM ({rows}) AS a JOIN public.substations AS s ON s.id = a.substation_id"
                f" GROUP BY GROUPING SETS ((s.name), ())"
                f" ORDER BY s.name NULLS LAST"
            ),
            params,
        )
        .mappings()
        .all()
    )
    unplaced = 0
    placed_by_name: dict[str | None, int] = {}
    records = grouped.to_dict("records") if not grouped.empty else []
    for record in records:
        is_total = bool(record["is_total"])
        placed = sum(int(record[f"itic|{v.value}"]) for v in curves.Verdict)
        placed_by_name[None if is_total else record["substation_name"]] = placed
        if is_total:
            unplaced = int(record["unplaced"])
    total = placed_by_name.get(None, 0)
    # A substation with only unplaced events has no row of placed ones (as counted per event).
    records = [r for r in records if r["is_total"] or placed_by_name[r["substation_name"]]]
    counts_rows = []
    by_substation_rows = []
    for record in records:
        name = record.pop("substation_name")
        is_total = bool(record.pop("is_total"))
        record.pop("unplaced")
        flat = {"substation": "Total" if is_total else name}
        for column, value in record.items():
            key, verdict = column.split("|")
            flat[f"{curves.CURVE_LABELS[key]}: {verdict}"] = int(value)
            if is_total:
                counts_rows.append(
                    {"curve": curves.CURVE_LABELS[key], "verdict": verdict, "events": int(value)}
                )
        by_substation_rows.append(flat)
    if not counts_rows:
        counts_rows = [
            {"curve": curves.CURVE_LABELS[k], "verdict": v.value, "events": 0}
            for k in curves.CURVE_KEYS
            for v in curves.Verdict
        ]
    points = density = None
    if total <= POINTS_LIMIT:
        points = pd.DataFrame(
            conn.execute(
                sa.text(
                    f"SELECT * FROM ({classified}) AS c WHERE residual_pct IS NOT NULL"
                    ' AND duration_ms IS NOT NULL ORDER BY "timestamp"'
                ),
                params,
            )
            .mappings()
            .all(),
            columns=[
                "id",
                "timestamp",
                "substation_name",
                "substation_id",
                "circuit_id",
                "event_type",
                "residual_pct",
                "duration_ms",
                *curves.CURVE_KEYS,
            ],
        )
        points["residual_pct"] = pd.to_numeric(points["residual_pct"]).astype("float64")
        points["duration_ms"] = pd.to_numeric(points["duration_ms"]).astype("float64")
    else:
        density = density_in(conn, scope)
    return RideThrough(
        total=total,
        points=points,
        density=density,
        counts=pd.DataFrame(counts_rows),
        by_substation=pd.DataFrame(by_substation_rows),
        without_values=unplaced,
    )


def ride_through(engine: Engine, identity: Identity, scope: Scope) -> RideThrough:
    with user_transaction(engine, identity) as conn:
        return ride_through_in(conn, scope)


def density_in(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Events per (log10 duration bin of 1/DURATION_BINS_PER_DECADE decade, 5 % residual bin),
    counted in SQL; bin edges in ms and % for drawing."""
    params: dict = {}
    _period_params(conn, scope, params)
    place = _place_sql(scope, "s", params)
    dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if scope.dips_only else ""
    per = DURATION_BINS_PER_DECADE
    sql = f"""
    SELECT floor(log(greatest(e.duration_ms, 0.1)::float8) * {per}) AS dbin,
           floor(({_RESIDUAL_SQL})::float8 / {RESIDUAL_BIN_PCT}) AS rbin, count(*) AS events
    FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
    WHERE {_PERIOD_SQL} AND {_BASE_EVENT_SQL} AND {place}{dips}
      AND {_RESIDUAL_SQL} IS NOT NULL AND e.duration_ms IS NOT NULL
    GROUP BY 1, 2
    """
    frame = pd.DataFrame(
        conn.execute(sa.text(sql), params).fetchall(), columns=["dbin", "rbin", "events"]
    )
    frame["dbin"] = frame["dbin"].astype("float64")
    frame["rbin"] = frame["rbin"].astype("float64")
    frame["duration_from_ms"] = 10 ** (frame["dbin"] / per)
    frame["duration_to_ms"] = 10 ** ((frame["dbin"] + 1) / per)
    frame["residual_from_pct"] = frame["rbin"] * RESIDUAL_BIN_PCT
    frame["residual_to_pct"] = (frame["rbin"] + 1) * RESIDUAL_BIN_PCT
    frame["events"] = frame["events"].astype("int64")
    return frame.drop(columns=["dbin", "rbin"])


def _summarised_rows(conn: Connection, scope: Scope, params: dict, *, per: str) -> str:
    """What the three customer views share: the per-customer and per-circuit summaries brought up
    to date for the period (analytics_customers.refresh), then the SQL of the period's rows per
    `per` ("customer" or "circuit"): whole months from the summary, the days around them from
    the events. Adds the period's and place's parameters to `params`."""
    _tuned(conn)
    analytics_customers.refresh(conn, scope.date_from, scope.date_to)
    _period_params(conn, scope, params)
    place = _place_sql(scope, "s", params)
    if per == "circuit":
        return analytics_customers.circuit_rows_sql(
            scope.date_from, scope.date_to, params, place=place, dips_only=scope.dips_only
        )
    return analytics_customers.customer_rows_sql(
        scope.date_from,
        scope.date_to,
        params,
        place=place,
        dips_only=scope.dips_only,
        frequency_hz=scope.frequency_hz,
    )


def customer_verdicts_in(conn: Connection, scope: Scope, limit: int = 100) -> pd.DataFrame:
    """Per critical customer hit in the scope: events per curve verdict (most outside first).
    Whole months from public.analytics_customer_monthly (refreshed first), the days around them
    from the events."""
    scope.check()
    params: dict = {"limit": limit}
    rows = _summarised_rows(conn, scope, params, per="customer")
    parts = []
    for key in curves.CURVE_KEYS:
        within, outside = f"a.{key}_within", f"a.{key}_outside"
        counts = {
            curves.Verdict.WITHIN: within,
            curves.Verdict.OUTSIDE: outside,
            curves.Verdict.NOT_COVERED: f"a.events - {within} - {outside}",
        }
        for verdict in curves.Verdict:
            parts.append(
                f'CAST(sum({counts[verdict]}) AS bigint) AS "{curves.CURVE_LABELS[key]}:'
                f' {verdict.value}"'
            )
    sql = f"""
    SELECT cu.name AS customer, cu.account_number, CAST(sum(a.events) AS bigint) AS events,
           {", ".join(parts)}
    FROM ({rows}) AS a
    JOIN public.customers AS cu ON cu.id = a.customer_id
    GROUP BY cu.id, cu.name, cu.account_number
    ORDER BY sum(a.semi_f47_outside) DESC, sum(a.events) DESC, cu.name
    LIMIT :limit
    """
    return pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())


# ---------------------------------------------------------------------------------------------
# Most affected customers and fragile circuits
# ---------------------------------------------------------------------------------------------

RANKINGS = {
    "events": "Events",
    "severe": "Severe events",
    "outside_semi": "Events outside SEMI F47",
}


def most_affected_in(
    conn: Connection, scope: Scope, *, rank_by: str = "events", top: int = 20
) -> pd.DataFrame:
    """Top `top` critical customers by events that hit them in the scope (impact rows of base
    events), by severe impacts, or by events outside SEMI F47-0706."""
    scope.check()
    if rank_by not in RANKINGS:
        raise ValidationError(f"Ranking {rank_by!r}: choose one of {', '.join(RANKINGS)}")
    if isinstance(top, bool) or not isinstance(top, int):
        raise inputs.invalid("top", top, "must be a whole number")
    if not 1 <= top <= 1000:
        raise ValidationError(f"Top {top}: choose between 1 and 1000 customers")
    params: dict = {"top": top}
    rows = _summarised_rows(conn, scope, params, per="customer")
    order = {"events": "events", "severe": "severe_events", "outside_semi": "outside_semi"}[rank_by]
    # Rank on customer ids and read names for the top rows only.
    sql = f"""
    WITH ranked AS (
      SELECT a.customer_id, CAST(sum(a.events) AS bigint) AS events,
             CAST(sum(a.severe) AS bigint) AS severe_events,
             CAST(sum(a.semi_f47_outside) AS bigint) AS outside_semi,
             CAST(sum(a.duration_ms) AS bigint) AS total_duration_ms,
             min(a.lowest_residual) AS lowest_residual_pct
      FROM ({rows}) AS a
      GROUP BY a.customer_id
    )
    SELECT cu.id AS customer_id, cu.name AS customer, cu.account_number, cu.customer_type,
           r.events, r.severe_events, r.outside_semi, r.total_duration_ms, r.lowest_residual_pct
    FROM ranked AS r JOIN public.customers AS cu ON cu.id = r.customer_id
    ORDER BY r.{order} DESC, r.events DESC, cu.name
    LIMIT :top
    """
    frame = pd.DataFrame(
        conn.execute(sa.text(sql), params).mappings().all(),
        columns=[
            "customer_id",
            "customer",
            "account_number",
            "customer_type",
            "events",
            "severe_events",
            "outside_semi",
            "total_duration_ms",
            "lowest_residual_pct",
        ],
    )
    for column in ("events", "severe_events", "outside_semi", "total_duration_ms"):
        frame[column] = frame[column].astype("int64")
    frame["lowest_residual_pct"] = pd.to_numeric(frame["lowest_residual_pct"]).astype("float64")
    return frame


def most_affected(engine: Engine, identity: Identity, scope: Scope, **kwargs) -> pd.DataFrame:
    with user_transaction(engine, identity) as conn:
        return most_affected_in(conn, scope, **kwargs)


def fragile_circuits_in(conn: Connection, scope: Scope, *, top: int = 20) -> pd.DataFrame:
    """Circuits ranked by customer hits per mapped customer in the scope (the average number of
    events each of the circuit's critical customers experienced); ties by events."""
    scope.check()
    if isinstance(top, bool) or not isinstance(top, int):
        raise inputs.invalid("top", top, "must be a whole number")
    if not 1 <= top <= 1000:
        raise ValidationError(f"Top {top}: choose between 1 and 1000 circuits")
    params: dict = {"top": top}
    rows = _summarised_rows(conn, scope, params, per="circuit")
    params["first_day"], params["last_day"] = scope.date_from, scope.date_to
    sql = f"""
    WITH ev AS (
      SELECT a.substation_id, a.circuit_id, CAST(sum(a.events) AS bigint) AS events,
             sum(a.hits) AS hits
      FROM ({rows}) AS a
      GROUP BY a.substation_id, a.circuit_id
    ),
    mapped AS (
      SELECT m.substation_id, m.circuit_id, count(DISTINCT m.customer_id) AS customers
      FROM public.customer_transformer_matching AS m
      WHERE greatest(CAST(:first_day AS date), coalesce(m.connected_since, CAST(:first_day AS date)))
              <= CAST(:last_day AS date)
        AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on,
              greatest(CAST(:first_day AS date),
                       coalesce(m.connected_since, CAST(:first_day AS date))))
      GROUP BY m.substation_id, m.circuit_id
    )
    SELECT s.name AS substation, ev.circuit_id, ev.events, ev.hits AS customer_hits,
           mapped.customers AS customers_mapped,
           round(ev.hits::numeric / mapped.customers, 3) AS hits_per_customer
    FROM ev JOIN mapped USING (substation_id, circuit_id)
    JOIN public.substations AS s ON s.id = ev.substation_id
    ORDER BY hits_per_customer DESC, ev.events DESC, s.name, ev.circuit_id
    LIMIT :top
    """
    frame = pd.DataFrame(
        conn.execute(sa.text(sql), params).mappings().all(),
        columns=[
            "substation",
            "circuit_id",
            "events",
            "customer_hits",
            "customers_mapped",
            "hits_per_customer",
        ],
    )
    for column in ("events", "customer_hits", "customers_mapped"):
        frame[column] = frame[column].astype("int64")
    frame["hits_per_customer"] = pd.to_numeric(frame["hits_per_customer"]).astype("float64")
    return frame


def fragile_circuits(engine: Engine, identity: Identity, scope: Scope, **kwargs) -> pd.DataFrame:
    with user_transaction(engine, identity) as conn:
        return fragile_circuits_in(conn, scope, **kwargs)


# ---------------------------------------------------------------------------------------------
# Filters and settings the pages offer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    substations: pd.DataFrame  # substation_id, substation_name, region, voltage_level
    regions: list[str]
    voltage_levels: list[str]
    frequency_hz: float
    today: date  # in the stored time zone


def places(engine: Engine, identity: Identity) -> Places:
    """The substations, regions and voltage levels to filter by, and the nominal frequency
    (ctm_settings 'nominal_frequency_hz', default 50 Hz)."""
    with user_transaction(engine, identity) as conn:
        frame = _substations_in(conn, Scope(date.today(), date.today()))
        stored = conn.execute(
            sa.text("SELECT value FROM public.ctm_settings WHERE key = :k"),
            {"k": FREQUENCY_SETTING_KEY},
        ).scalar()
        today = conn.execute(sa.text("SELECT public.ctm_local_date(now())")).scalar()
    try:
        frequency = float(stored) if stored else curves.DEFAULT_FREQUENCY_HZ
    except ValueError:
        frequency = curves.DEFAULT_FREQUENCY_HZ
    if frequency not in curves.FREQUENCIES_HZ:
        frequency = curves.DEFAULT_FREQUENCY_HZ
    return Places(
        substations=frame,
        regions=sorted({r for r in frame["region"].dropna()}),
        voltage_levels=sorted({v for v in frame["voltage_level"].dropna()}),
        frequency_hz=frequency,
        today=today,
    )
