"""Analytics → SARFI: SARFI-10…90, 110…140, -ITIC and -SEMI per month and year-to-date, in two
weightings side by side (critical customers = public.sarfi(); system = IEEE 1564 with
customers_served), monthly bars compared across years, the accumulating YTD line, the table per
substation with totals, an Excel download and the definitions. Figures come from ctm.analytics."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ctm import analytics, analytics_excel
from ctm.db import Identity
from ui import downloads
from ui.analytics_filters import CACHE_SECONDS, file_part, scope_from_sidebar
from ui.feedback import service_errors
from ui.session import require_user

engine, identity = require_user()

MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting events and customers…")
def _sarfi(_engine, user: Identity, scope: analytics.Scope) -> analytics.SarfiResult:
    return analytics.sarfi(_engine, user, scope)


def _fmt(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3f}"


st.title("SARFI")
st.caption(
    "System Average RMS Variation Frequency Index: how often, on average, a customer saw the"
    " voltage fall below (or rise above) X % of nominal. Two weightings side by side."
)
scope = scope_from_sidebar(engine, identity)
with service_errors():
    result = _sarfi(engine, identity, scope)

choices = list(result.indices)
default = choices.index("70") if "70" in choices else 0
index = st.selectbox(
    "Index", choices, index=default, format_func=analytics.index_label, key="sarfi_index"
)
label = analytics.index_label(index)
table = analytics.per_substation(result, index)
total = table.iloc[-1]

left, right = st.columns(2)
with left:
    st.subheader(f"Critical-customer {label}")
    st.metric(f"Critical-customer {label}", _fmt(total["critical_sarfi"]))
    st.caption(
        f"{int(total['customer_hits']):,} critical-customer hits / {int(total['customers_mapped']):,}"
        " critical customers mapped (N_T) — from the impact rows, as `sarfi()` computes it."
    )
with right:
    st.subheader(f"System {label} (IEEE 1564)")
    st.metric(f"System {label} (IEEE 1564)", _fmt(total["system_sarfi"]))
    st.caption(
        f"{int(total['served_hits']):,} customers served on hit circuits (Σ N_i) /"
        f" {int(total['customers_served']):,} customers served (N_T). Today's customers_served"
        " counts are used for past periods."
    )
st.caption(
    f"{int(total['events']):,} counted events. Not counted: {result.events_without_residual:,}"
    f" events without a residual voltage, {result.events_too_long:,} events longer than 60 s;"
    " events marked false are excluded."
)

monthly = analytics.monthly_indices(result, index)
if monthly.empty:
    st.info("No month in the chosen period.")
else:
    monthly = monthly.assign(
        month_name=monthly["month_number"].map(lambda m: MONTH_NAMES[m - 1]),
        year=monthly["year"].astype(str),
    )
    chart_left, chart_right = st.columns(2)
    for column, weighting, title in (
        (chart_left, "critical_sarfi", "Critical-customer"),
        (chart_right, "system_sarfi", "System (IEEE 1564)"),
    ):
        bars = (
            alt.Chart(monthly, title=f"{title} {label} per month, years compared")
            .mark_bar()
            .encode(
                x=alt.X("month_name:N", sort=MONTH_NAMES, title=None),
                xOffset="year:N",
                y=alt.Y(f"{weighting}:Q", title=label),
                color=alt.Color("year:N", title="Year"),
                tooltip=[
                    "year:N",
                    "month_name:N",
                    alt.Tooltip(f"{weighting}:Q", format=".3f"),
                    "events:Q",
                ],
            )
        )
        column.altair_chart(bars, width="stretch")
    line_left, line_right = st.columns(2)
    for column, weighting, title in (
        (line_left, "ytd_critical_sarfi", "Critical-customer"),
        (line_right, "ytd_system_sarfi", "System (IEEE 1564)"),
    ):
        line = (
            alt.Chart(monthly, title=f"{title} {label}, accumulating year to date")
            .mark_line(point=True)
            .encode(
                x=alt.X("month_name:N", sort=MONTH_NAMES, title=None),
                y=alt.Y(f"{weighting}:Q", title=f"YTD {label}"),
                color=alt.Color("year:N", title="Year"),
                tooltip=["year:N", "month_name:N", alt.Tooltip(f"{weighting}:Q", format=".3f")],
            )
        )
        column.altair_chart(line, width="stretch")

st.subheader(f"{label} per substation")
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "substation": "Substation",
        "region": "Region",
        "voltage_level": "Voltage level",
        "events": st.column_config.NumberColumn("Counted events", format="%d"),
        "customer_hits": st.column_config.NumberColumn("Critical customers hit", format="%d"),
        "customers_mapped": st.column_config.NumberColumn("Critical customers (N_T)", format="%d"),
        "critical_sarfi": st.column_config.NumberColumn("Critical-customer SARFI", format="%.3f"),
        "served_hits": st.column_config.NumberColumn("Customers served hit", format="%d"),
        "customers_served": st.column_config.NumberColumn("Customers served (N_T)", format="%d"),
        "system_sarfi": st.column_config.NumberColumn("System SARFI", format="%.3f"),
    },
)

st.subheader("Every index over the period")
st.dataframe(analytics.all_indices(result), hide_index=True, width="stretch")

downloads.excel_button(
    "Download Excel",
    lambda: analytics_excel.sarfi_workbook(result, index),
    f"sarfi_{index}_{file_part(scope)}.xlsx",
)

with st.expander("Definitions and formulas", expanded=False):
    for text in analytics.DEFINITIONS:
        st.markdown(f"- {text}")
    st.latex(r"\mathrm{SARFI}_X = \frac{\sum_i N_i}{N_T}")
