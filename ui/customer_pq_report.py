"""The PQ report part of a customer's detail: for the period the history shows, the customer's
own SARFI-70/80/90, total disturbance duration, counts per curve verdict, a month-by-month chart,
and the formatted .xlsx (Summary, Events, Monthly with chart) named after customer and dates."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import altair as alt
import streamlit as st
from sqlalchemy.engine import Engine

from ctm import analytics, customer_report
from ctm.db import Identity
from ui import downloads
from ui.feedback import service_errors


@st.cache_data(ttl=60, show_spinner="Preparing the PQ report…")
def _report(
    _engine: Engine, user: Identity, customer_id: UUID, first: date, last: date, hz: float
) -> customer_report.CustomerReport:
    return customer_report.customer_report(_engine, user, customer_id, first, last, frequency_hz=hz)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def show(engine: Engine, identity: Identity, customer_id: UUID, first: date, last: date) -> None:
    """Draw the report of `customer_id` over [first, last] and its download button."""
    with service_errors():
        hz = analytics.places(engine, identity).frequency_hz
        report = _report(engine, identity, customer_id, first, last, hz)
    tiles = st.columns(5)
    for tile, x in zip(tiles, customer_report.REPORT_THRESHOLDS, strict=False):
        tile.metric(f"SARFI-{x}", _fmt(report.sarfi[x]))
    tiles[3].metric("Total disturbance duration", f"{report.total_duration_ms / 1000:,.3f} s")
    tiles[4].metric("Events that hit it", f"{len(report.events):,}")
    st.caption(
        f"{report.total_duration_ms:,} ms in all. SARFI-X of one customer: counted events below"
        " X % residual voltage (not false; at most 60 s), per customer mapped in the period."
        f" {report.false_events:,} events marked false are left out."
    )
    st.dataframe(customer_report.verdict_counts(report), hide_index=True, width="stretch")
    if len(report.monthly):
        chart = (
            alt.Chart(report.monthly, title="Events per month")
            .mark_bar()
            .encode(
                x=alt.X("month:N", title=None),
                y=alt.Y("events:Q", title="Events"),
                tooltip=["month", "events", "dips", "swells", "interruptions", "duration_ms"],
            )
        )
        st.altair_chart(chart, width="stretch")
    downloads.excel_button(
        "Download PQ report (Excel)",
        lambda: customer_report.report_xlsx(report),
        customer_report.report_file_name(report),
        key=f"pq_report_{customer_id}",
    )
