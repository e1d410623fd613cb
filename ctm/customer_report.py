"""One customer's power-quality report for a period — the sheet a key-account manager sends: the
events that hit the customer with their classification against each ride-through curve, the
customer's own SARFI-70/80/90, the total disturbance duration and a month-by-month count; as data
and as a formatted .xlsx (Summary, Events and Monthly sheets with a chart)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import analytics, analytics_excel, curves, inputs
from ctm.db import Identity, user_transaction
from ctm.errors import NotFound, ValidationError

REPORT_THRESHOLDS = (70, 80, 90)
EVENT_COLUMNS = [
    "event_id",
    "timestamp",
    "substation",
    "circuit_id",
    "event_type",
    "severity",
    "status",
    "residual_pct",
    "duration_ms",
    "impact_level",
    *curves.CURVE_KEYS,
]


@dataclass(frozen=True)
class CustomerReport:
    customer_id: UUID
    account_number: str
    name: str
    date_from: date
    date_to: date
    time_zone: str
    frequency_hz: float
    events: pd.DataFrame  # EVENT_COLUMNS, oldest first; timestamps naive in time_zone
    false_events: int  # events marked false that hit the customer (left out)
    mapped: bool  # a mapping applied on at least one day of the period
    sarfi: dict[int, float | None]  # customer's own SARFI-X: counted events below X % / 1
    sarfi_events: dict[int, int]
    total_duration_ms: int
    monthly: pd.DataFrame  # month, events, dips, swells, interruptions, duration_ms


def _check_period(date_from: date, date_to: date) -> None:
    inputs.day("date_from", date_from)
    inputs.day("date_to", date_to)
    if date_from is None or date_to is None:
        raise ValidationError("Choose both the first and the last day of the period")
    if date_to < date_from:
        raise ValidationError(
            f"The period {date_from:%Y-%m-%d} – {date_to:%Y-%m-%d} ends before it starts"
        )


def customer_report_in(
    conn: Connection,
    customer_id: UUID,
    date_from: date,
    date_to: date,
    *,
    frequency_hz: float = curves.DEFAULT_FREQUENCY_HZ,
) -> CustomerReport:
    """The report of one customer over [date_from, date_to] (days in the stored time zone)."""
    customer_id = inputs.uuid_value("customer_id", customer_id)
    _check_period(date_from, date_to)
    if frequency_hz not in curves.FREQUENCIES_HZ:
        raise ValidationError(f"Nominal frequency {frequency_hz} Hz: use 50 or 60")
    customer = conn.execute(
        sa.text("SELECT id, account_number, name FROM public.customers WHERE id = :id"),
        {"id": customer_id},
    ).one_or_none()
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist (any more)")
    zone = conn.execute(sa.text("SELECT public.ctm_time_zone()")).scalar() or "UTC"
    residual = "coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END)"
    verdicts = ", ".join(
        f"{curves.classification_sql(k, residual, 'e.duration_ms', frequency_hz)} AS {k}"
        for k in curves.CURVE_KEYS
    )
    params = {
        "customer_id": customer_id,
        "date_from": date_from,
        "date_after": date_to + timedelta(days=1),
        "zone": zone,
    }
    rows = conn.execute(
        sa.text(
            f"""
            SELECT e.id AS event_id, (e."timestamp" AT TIME ZONE :zone) AS "timestamp",
                   s.name AS substation, e.circuit_id, e.event_type, e.severity, e.status,
                   {residual} AS residual_pct, e.duration_ms, i.impact_level, {verdicts}
            FROM public.event_customer_impact AS i
            JOIN public.pq_events AS e ON e.id = i.event_id
            LEFT JOIN public.substations AS s ON s.id = e.substation_id
            WHERE i.customer_id = :customer_id
              AND e."timestamp" >= (CAST(:date_from AS timestamp) AT TIME ZONE :zone)
              AND e."timestamp" < (CAST(:date_after AS timestamp) AT TIME ZONE :zone)
            ORDER BY e."timestamp", e.id
            """
        ),
        params,
    ).fetchall()
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    false_events = int((frame["status"] == "false").sum())
    frame = frame[frame["status"] != "false"].reset_index(drop=True)
    frame["residual_pct"] = pd.to_numeric(frame["residual_pct"]).astype("float64")
    frame["duration_ms"] = pd.to_numeric(frame["duration_ms"]).astype("Int64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    # The same mapping rule as public.sarfi(): the customer counts as mapped when one of its
    # mappings applies on at least one day of the period.
    mapped = bool(
        conn.execute(
            sa.text(
                """
                SELECT EXISTS (
                  SELECT 1 FROM public.customer_transformer_matching AS m
                  WHERE m.customer_id = :customer_id
                    AND greatest(CAST(:first AS date), coalesce(m.connected_since,
                                 CAST(:first AS date))) <= CAST(:last AS date)
                    AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on,
                          greatest(CAST(:first AS date),
                                   coalesce(m.connected_since, CAST(:first AS date)))))
                """
            ),
            {"customer_id": customer_id, "first": date_from, "last": date_to},
        ).scalar()
    )
    sarfi_kinds = frame["event_type"].isna() | frame["event_type"].isin(
        ["voltage_dip", "voltage_swell", "interruption"]
    )
    short = frame["duration_ms"].isna() | (frame["duration_ms"].fillna(0) <= 60_000)
    sarfi_events = {
        x: int((sarfi_kinds & short & (frame["residual_pct"] < x)).sum()) for x in REPORT_THRESHOLDS
    }
    sarfi = {x: (float(n) if mapped else None) for x, n in sarfi_events.items()}
    months = analytics._months(date_from, date_to)
    by_month = frame.assign(month=frame["timestamp"].dt.to_period("M"))
    monthly = pd.DataFrame(
        [
            {
                "month": f"{m:%Y-%m}",
                "events": int((by_month["month"] == pd.Period(m, "M")).sum()),
                "dips": int(
                    (
                        (by_month["month"] == pd.Period(m, "M"))
                        & (by_month["event_type"] == "voltage_dip")
                    ).sum()
                ),
                "swells": int(
                    (
                        (by_month["month"] == pd.Period(m, "M"))
                        & (by_month["event_type"] == "voltage_swell")
                    ).sum()
                ),
                "interruptions": int(
                    (
                        (by_month["month"] == pd.Period(m, "M"))
                        & (by_month["event_type"] == "interruption")
                    ).sum()
                ),
                "duration_ms": int(
                    by_month.loc[by_month["month"] == pd.Period(m, "M"), "duration_ms"]
                    .fillna(0)
                    .sum()
                ),
            }
            for m in months
        ],
        columns=["month", "events", "dips", "swells", "interruptions", "duration_ms"],
    )
    return CustomerReport(
        customer_id=customer.id,
        account_number=customer.account_number,
        name=customer.name,
        date_from=date_from,
        date_to=date_to,
        time_zone=zone,
        frequency_hz=frequency_hz,
        events=frame,
        false_events=false_events,
        mapped=mapped,
        sarfi=sarfi,
        sarfi_events=sarfi_events,
        total_duration_ms=int(frame["duration_ms"].fillna(0).sum()),
        monthly=monthly,
    )


def customer_report(
    engine: Engine,
    identity: Identity,
    customer_id: UUID,
    date_from: date,
    date_to: date,
    *,
    frequency_hz: float = curves.DEFAULT_FREQUENCY_HZ,
) -> CustomerReport:
    with user_transaction(engine, identity) as conn:
        return customer_report_in(conn, customer_id, date_from, date_to, frequency_hz=frequency_hz)


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "customer"


def report_file_name(report: CustomerReport) -> str:
    """Named after the customer (account and name) and the period."""
    return (
        f"ctm_pq_report_{_file_part(report.account_number)}_{_file_part(report.name)}_"
        f"{report.date_from:%Y-%m-%d}_to_{report.date_to:%Y-%m-%d}.xlsx"
    )


def verdict_counts(report: CustomerReport) -> pd.DataFrame:
    """Events per curve and verdict."""
    return pd.DataFrame(
        [
            {
                "curve": curves.CURVE_LABELS[key],
                **{v.value: int((report.events[key] == v.value).sum()) for v in curves.Verdict},
            }
            for key in curves.CURVE_KEYS
        ]
    )


def report_xlsx(report: CustomerReport) -> bytes:
    """The formatted workbook: Summary (customer, period, SARFI-70/80/90, total duration, counts
    per curve), Events (one row per event with its verdicts) and Monthly (with a bar chart)."""
    zone = report.time_zone
    events = report.events.rename(columns={"timestamp": f"timestamp ({zone})"}).drop(
        columns=["event_id"]
    )
    headers = {
        f"timestamp ({zone})": f"Time ({zone})",
        "substation": "Substation",
        "circuit_id": "Circuit",
        "event_type": "Type",
        "severity": "Severity",
        "status": "Status",
        "residual_pct": "Residual voltage (%)",
        "duration_ms": "Duration (ms)",
        "impact_level": "Impact level",
        **{k: curves.CURVE_LABELS[k] for k in curves.CURVE_KEYS},
        "month": "Month",
        "events": "Events",
        "dips": "Voltage dips",
        "swells": "Voltage swells",
        "interruptions": "Interruptions",
        "duration_ms_total": "Duration (ms)",
    }
    summary: list[tuple[str, object]] = [
        ("Customer", report.name),
        ("Account number", report.account_number),
        ("Period", f"{report.date_from:%Y-%m-%d} to {report.date_to:%Y-%m-%d} ({zone})"),
        ("Events that hit the customer", len(report.events)),
        ("Events marked false (left out)", report.false_events),
        ("Total disturbance duration (ms)", report.total_duration_ms),
        ("Total disturbance duration (s)", round(report.total_duration_ms / 1000, 3)),
    ]
    for x in REPORT_THRESHOLDS:
        value = report.sarfi[x]
        summary.append((f"SARFI-{x} (events below {x} % per customer)", value))
    for row in verdict_counts(report).to_dict("records"):
        summary.append(
            (
                f"{row['curve']}: within / outside / not covered",
                f"{row['within']} / {row['outside']} / {row['not covered']}",
            )
        )
    notes = [
        (
            "SARFI-X of one customer: counted events (not false; dip, swell, interruption or type not"
            " given; at most 60 s) with residual voltage below X %, divided by 1 when the customer was"
            " mapped in the period (blank otherwise)."
        ),
        (
            "Curves: ITIC, SEMI F47-0706 and IEC 61000-4-34 class 3 at"
            f" {report.frequency_hz:.0f} Hz are equipment-terminal requirements; applied to feeder"
            " measurements the classification is indicative."
        ),
    ]
    monthly = report.monthly.rename(columns={"duration_ms": "duration_ms_total"})
    return analytics_excel.workbook_bytes(
        [
            analytics_excel.SheetSpec("Events", events, headers),
            analytics_excel.SheetSpec(
                "Monthly",
                monthly,
                headers,
                charts=[
                    analytics_excel.ChartSpec(
                        "Events per month", 1, [2], y_title="Events", anchor="H2"
                    )
                ],
            ),
        ],
        summary_title=f"Power-quality report — {report.name}",
        summary=summary,
        notes=notes,
    )
