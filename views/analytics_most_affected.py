"""Analytics → Most affected: the top N critical customers by events, severe events or events outside
SEMI F47-0706 in the chosen period, and the most fragile circuits (customer hits per mapped
customer); both downloadable as Excel. Figures come from ctm.analytics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ctm import analytics, analytics_excel
from ctm.db import Identity
from ui import downloads
from ui.analytics_filters import CACHE_SECONDS, file_part, scope_from_sidebar
from ui.feedback import service_errors
from ui.session import require_user

engine, identity = require_user()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Ranking customers…")
def _customers(_engine, user: Identity, scope, rank_by: str, top: int) -> pd.DataFrame:
    return analytics.most_affected(_engine, user, scope, rank_by=rank_by, top=top)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Ranking circuits…")
def _circuits(_engine, user: Identity, scope, top: int) -> pd.DataFrame:
    return analytics.fragile_circuits(_engine, user, scope, top=top)


st.title("Most affected customers and fragile circuits")
scope = scope_from_sidebar(engine, identity)
left, right = st.columns([2, 1])
rank_by = left.radio(
    "Rank customers by",
    list(analytics.RANKINGS),
    format_func=analytics.RANKINGS.get,
    horizontal=True,
    key="affected_rank_by",
)
top = int(right.number_input("How many", 1, 1000, 20, step=5, key="affected_top"))

with service_errors():
    customers = _customers(engine, identity, scope, rank_by, top)
    circuits = _circuits(engine, identity, scope, top)

st.subheader(f"Top {top} critical customers by {analytics.RANKINGS[rank_by].lower()}")
if customers.empty:
    st.info("No event hit a critical customer in this period and selection.")
shown = customers.drop(columns=["customer_id"])
st.dataframe(
    # Totals run from milliseconds to hours: seconds read at a glance and still sort as numbers.
    shown.assign(total_duration_s=shown["total_duration_ms"] / 1000).drop(
        columns=["total_duration_ms"]
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "customer": "Customer",
        "account_number": "Account",
        "customer_type": "Type",
        "events": st.column_config.NumberColumn("Events", format="%d"),
        "severe_events": st.column_config.NumberColumn("Severe events", format="%d"),
        "outside_semi": st.column_config.NumberColumn("Outside SEMI F47", format="%d"),
        "total_duration_s": st.column_config.NumberColumn(
            "Total duration (s)", format="%.1f", help="Sum of the events' durations, in seconds"
        ),
        "lowest_residual_pct": st.column_config.NumberColumn("Lowest residual %", format="%.1f"),
    },
    column_order=[
        "customer",
        "account_number",
        "customer_type",
        "events",
        "severe_events",
        "outside_semi",
        "total_duration_s",
        "lowest_residual_pct",
    ],
)
downloads.excel_button(
    "Download customers (Excel)",
    lambda: analytics_excel.workbook_bytes([analytics_excel.SheetSpec("Customers", shown)]),
    f"most_affected_customers_{file_part(scope)}.xlsx",
    key="download_customers",
)

st.subheader(f"Top {top} fragile circuits")
st.caption(
    "Customer hits per mapped critical customer: how many events, on average, each critical"
    " customer of the circuit experienced in the period (events marked false excluded)."
)
if circuits.empty:
    st.info("No circuit with mapped critical customers had events in this period and selection.")
st.dataframe(
    circuits,
    hide_index=True,
    width="stretch",
    column_config={
        "substation": "Substation",
        "circuit_id": "Circuit",
        "events": st.column_config.NumberColumn("Events", format="%d"),
        "customer_hits": st.column_config.NumberColumn("Customer hits", format="%d"),
        "customers_mapped": st.column_config.NumberColumn("Customers mapped", format="%d"),
        "hits_per_customer": st.column_config.NumberColumn("Hits per customer", format="%.3f"),
    },
)
downloads.excel_button(
    "Download circuits (Excel)",
    lambda: analytics_excel.workbook_bytes([analytics_excel.SheetSpec("Circuits", circuits)]),
    f"fragile_circuits_{file_part(scope)}.xlsx",
    key="download_circuits",
)
