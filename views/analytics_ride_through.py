"""Analytics → Ride-through compliance: counted events as residual voltage against duration (log)
with the ITIC, SEMI F47-0706 and IEC 61000-4-34 class 3 curves drawn; each event classified per
curve (within / outside / not covered) with counts per substation and per customer; clicking a
point opens the event; above 5,000 events a density computed in SQL replaces the points."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ctm import analytics, analytics_excel, curves
from ctm.db import Identity, user_transaction
from ui import downloads
from ui.analytics_filters import CACHE_SECONDS, file_part, scope_from_sidebar
from ui.feedback import service_errors
from ui.session import require_user

engine, identity = require_user()

CURVE_COLORS = {"ITIC": "#1f77b4", "SEMI F47-0706": "#d62728", "IEC 61000-4-34 class 3": "#2ca02c"}
EVENTS_PAGE = "views/events.py"


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Classifying events…")
def _ride_through(_engine, user: Identity, scope: analytics.Scope) -> analytics.RideThrough:
    return analytics.ride_through(_engine, user, scope)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting per customer…")
def _per_customer(_engine, user: Identity, scope: analytics.Scope) -> pd.DataFrame:
    with user_transaction(_engine, user) as conn:
        return analytics.customer_verdicts_in(conn, scope)


def _curve_lines(frequency_hz: float) -> pd.DataFrame:
    rows = []
    for curve in curves.curves(frequency_hz).values():
        label = curves.CURVE_LABELS[curve.key]
        for point in curves.outline(curve, max_duration_ms=100_000):
            rows.append({**point, "curve": label, "segment": f"{label} {point['side']}"})
    return pd.DataFrame(rows)


st.title("Ride-through compliance")
st.warning(
    "These curves are equipment-terminal requirements (ITIC for IT equipment, SEMI F47-0706 for"
    " semiconductor tools, IEC 61000-4-34 class 3 test levels). Applied to measurements on the"
    " feeder, the result is indicative, not a compliance statement for any customer's equipment.",
    icon=":material/info:",
)
scope = scope_from_sidebar(engine, identity)
with service_errors():
    ride = _ride_through(engine, identity, scope)

st.caption(
    f"{ride.total:,} events with a residual voltage and a duration (events marked false"
    f" excluded); {ride.without_values:,} more lack one of the two and cannot be placed."
)
counts = ride.counts.pivot(index="curve", columns="verdict", values="events").reindex(
    columns=[v.value for v in curves.Verdict]
)
# Headers as words ("Not covered"), like every other table's.
st.dataframe(
    counts.rename(columns=str.capitalize).rename_axis(index="Curve", columns=None),
    width="stretch",
)

lines = _curve_lines(scope.frequency_hz)
line_layer = (
    alt.Chart(lines)
    .mark_line(strokeWidth=2)
    .encode(
        x=alt.X("duration_ms:Q", scale=alt.Scale(type="log"), title="Duration (ms, log scale)"),
        y=alt.Y("residual_pct:Q", title="Residual voltage (% of nominal)"),
        color=alt.Color(
            "curve:N",
            scale=alt.Scale(domain=list(CURVE_COLORS), range=list(CURVE_COLORS.values())),
            title="Curve",
        ),
        detail="segment:N",
    )
)
if ride.points is not None:
    st.caption("Click a point to open the event.")
    points = ride.points.assign(
        id=ride.points["id"].astype(str),
        duration_plot=ride.points["duration_ms"].clip(lower=0.1),
    )
    selection = alt.selection_point(fields=["id"], name="event")
    point_layer = (
        alt.Chart(points)
        .mark_circle(size=40, opacity=0.7, color="#444")
        .encode(
            x=alt.X("duration_plot:Q", scale=alt.Scale(type="log")),
            y="residual_pct:Q",
            tooltip=[
                alt.Tooltip("timestamp:T", format="%Y-%m-%d %H:%M:%S"),
                "substation_name:N",
                "circuit_id:N",
                "event_type:N",
                alt.Tooltip("residual_pct:Q", title="Residual %"),
                alt.Tooltip("duration_ms:Q", title="Duration ms"),
                alt.Tooltip("itic:N", title="ITIC"),
                alt.Tooltip("semi_f47:N", title="SEMI F47"),
                alt.Tooltip("iec_61000_4_34:N", title="IEC 61000-4-34"),
            ],
        )
        .add_params(selection)
    )
    # SVG marks (not canvas): each point is an element a browser test and assistive tech can find.
    chart = (line_layer + point_layer).properties(usermeta={"embedOptions": {"renderer": "svg"}})
    state = st.altair_chart(
        chart,
        width="stretch",
        on_select="rerun",
        selection_mode="event",
        key="ride_through_chart",
    )
    chosen = (state or {}).get("selection", {}).get("event") if state else None
    if chosen:
        event_id = chosen[0].get("id")
        if event_id:
            st.switch_page(EVENTS_PAGE, query_params={"event": event_id})
else:
    st.caption(
        f"More than {analytics.POINTS_LIMIT:,} events match: the chart shows how many fall in each"
        f" cell of {analytics.RESIDUAL_BIN_PCT} % residual × ¼ decade of duration."
    )
    density = ride.density
    cells = (
        alt.Chart(density)
        .mark_rect(opacity=0.85)
        .encode(
            x=alt.X("duration_from_ms:Q", scale=alt.Scale(type="log")),
            x2="duration_to_ms:Q",
            y="residual_from_pct:Q",
            y2="residual_to_pct:Q",
            color=alt.Color(
                "events:Q", scale=alt.Scale(type="log", scheme="greys"), title="Events"
            ),
            tooltip=["duration_from_ms:Q", "duration_to_ms:Q", "residual_from_pct:Q", "events:Q"],
        )
    )
    st.altair_chart(cells + line_layer, width="stretch")

st.subheader("Per substation")
st.dataframe(ride.by_substation, hide_index=True, width="stretch")
st.subheader("Per customer (critical customers hit, most events outside SEMI F47 first)")
with service_errors():
    per_customer = _per_customer(engine, identity, scope)
st.dataframe(per_customer, hide_index=True, width="stretch")

downloads.excel_button(
    "Download Excel",
    lambda: analytics_excel.workbook_bytes(
        [
            analytics_excel.SheetSpec("Counts", ride.counts),
            analytics_excel.SheetSpec("Per substation", ride.by_substation),
            analytics_excel.SheetSpec("Per customer", per_customer),
        ]
    ),
    f"ride_through_{file_part(scope)}.xlsx",
)

with st.expander("The curves (residual voltage in % of nominal; boundaries inclusive)"):
    st.markdown(
        "- **ITIC**: lower boundary 0 % up to 20 ms, 70 % up to 0.5 s, 80 % up to 10 s, then 90 %;"
        " upper 200 % at 1 ms falling to 140 % at 3 ms, 120 % up to 0.5 s, then 110 %. Swells"
        " shorter than 1 ms are not covered.\n"
        "- **SEMI F47-0706** (sags only): 50 % from 50 ms up to 200 ms, 70 % up to 0.5 s, 80 % up"
        " to 1 s; shorter than 50 ms, longer than 1 s and swells are not covered.\n"
        "- **IEC 61000-4-34 class 3** test levels (residual): 0 % for ½ and 1 cycle, 40 % for"
        " 10/12 cycles, 70 % for 25/30 cycles, 80 % for 250/300 cycles (50/60 Hz); an event no"
        " deeper and no longer than a tested level is within; longer than 250/300 cycles and swells"
        " are not covered.\n"
        "- Cycles are converted with the nominal frequency chosen in the sidebar."
    )
