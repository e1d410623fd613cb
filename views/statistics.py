"""Statistics → mapping coverage and what it means for events: KPI tiles, Altair charts per
substation (coverage %, circuits known vs covered, mapped customers, blind-spot events, impacts by
level) and the table the charts are drawn from. Every number comes from ctm.stats."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ctm import stats
from ctm.db import Identity
from ui.feedback import service_errors
from ui.recent_changes import recent_changes_section
from ui.session import require_user

engine, identity = require_user()

CACHE_SECONDS = 60
LEVEL_COLORS = {"severe": "#c0392b", "moderate": "#e67e22", "minor": "#f1c40f"}
TABLE_TITLES = {
    "substation_name": "Substation",
    "circuits_known": "Circuits known",
    "circuits_covered": "Circuits covered",
    "coverage_pct": "Coverage %",
    "mapped_customers": "Mapped customers",
    "active_mappings": "Active mappings",
    "events_recent": "Events (recent)",
    "blind_spot_events": "Blind-spot events (recent)",
    "severe_recent": "Severe impacts (recent)",
    "moderate_recent": "Moderate impacts (recent)",
    "minor_recent": "Minor impacts (recent)",
    "severe_all": "Severe impacts (all time)",
    "moderate_all": "Moderate impacts (all time)",
    "minor_all": "Minor impacts (all time)",
}


# Counting every impact of a large database takes a second or two; a minute-old figure is fine for
# an overview. Keyed by the user (row-level security may show users different rows).
@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting coverage and impacts…")
def _statistics(_engine, user: Identity, days: int) -> stats.Statistics:
    return stats.coverage_statistics(_engine, user, days=days)


def _bar(frame: pd.DataFrame, value: str, title: str, *, fmt: str = ",d") -> alt.Chart:
    """A horizontal bar per substation, largest first."""
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{value}:Q", title=None),
            y=alt.Y("substation_name:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("substation_name:N", title="Substation"),
                alt.Tooltip(f"{value}:Q", title=title, format=fmt),
            ],
        )
        .properties(height=alt.Step(22))
    )


def _known_vs_covered(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="substation_name",
        value_vars=["circuits_known", "circuits_covered"],
        var_name="measure",
        value_name="circuits",
    )
    long["measure"] = long["measure"].map(
        {"circuits_known": "Known", "circuits_covered": "Covered"}
    )
    order = frame.sort_values("circuits_known", ascending=False)["substation_name"].tolist()
    return (
        alt.Chart(long, title="Circuits known vs covered")
        .mark_bar()
        .encode(
            x=alt.X("circuits:Q", title=None),
            y=alt.Y("substation_name:N", sort=order, title=None),
            yOffset=alt.YOffset("measure:N", sort=["Known", "Covered"]),
            color=alt.Color("measure:N", title=None, sort=["Known", "Covered"]),
            tooltip=["substation_name:N", "measure:N", "circuits:Q"],
        )
        .properties(height=alt.Step(12))
    )


def _impacts_chart(levels: pd.DataFrame, days: int) -> alt.Chart:
    long = levels.melt(id_vars="impact_level", var_name="window", value_name="impacts")
    long["window"] = long["window"].map({"recent": f"Last {days} days", "all_time": "All time"})
    return (
        alt.Chart(long, title="Customer impacts by level")
        .mark_bar()
        .encode(
            x=alt.X("impact_level:N", sort=list(LEVEL_COLORS), title=None),
            xOffset=alt.XOffset("window:N", sort=[f"Last {days} days", "All time"]),
            y=alt.Y("impacts:Q", title=None),
            color=alt.Color(
                "impact_level:N",
                scale=alt.Scale(domain=list(LEVEL_COLORS), range=list(LEVEL_COLORS.values())),
                legend=None,
            ),
            opacity=alt.Opacity(
                "window:N",
                sort=[f"Last {days} days", "All time"],
                title=None,
                scale=alt.Scale(range=[1.0, 0.45]),
            ),
            tooltip=["impact_level:N", "window:N", alt.Tooltip("impacts:Q", format=",d")],
        )
    )


st.title("Statistics")
days = stats.RECENT_DAYS
st.caption(
    f"Coverage of the substation circuits by customer mappings, and the events of the last {days} "
    "days that hit circuits nobody is mapped to (blind spots): nobody can be told they were hit."
)
refresh = st.columns([5, 1])[1]
if refresh.button("Refresh", icon=":material/refresh:", key="stats_refresh"):
    _statistics.clear()

with service_errors():
    result = _statistics(engine, identity, days)
k = result.kpis

tiles = st.columns(6)
tiles[0].metric("Substations", f"{k.substations:,}")
tiles[1].metric(
    "Circuit coverage",
    "—" if k.coverage_pct is None else f"{k.coverage_pct:.1f} %",
    help="Circuits with at least one active mapping, of all circuits known from events and mappings",
)
tiles[2].metric("Circuits covered", f"{k.circuits_covered:,} of {k.circuits_known:,}")
tiles[3].metric(
    "Mapped customers", f"{k.mapped_customers:,}", help="Customers with an active mapping"
)
tiles[4].metric(
    f"Blind-spot events ({days} d)",
    f"{k.blind_spot_events:,}",
    help=f"Events of the last {days} days on circuits without any active mapping "
    f"(of {k.events_recent:,} events)",
)
tiles[5].metric(
    f"Impacts ({days} d)",
    f"{k.impacts_recent:,}",
    help=f"{k.impacts_all:,} impacts in all",
)

frame = result.by_substation
if frame.empty:
    st.info("No substations yet: load data or ask an administrator.")
    st.stop()

charts = st.columns(2)
with charts[0]:
    covered = frame.dropna(subset=["coverage_pct"])
    st.altair_chart(
        _bar(covered, "coverage_pct", "Coverage % per substation", fmt=".1f").encode(
            x=alt.X("coverage_pct:Q", title=None, scale=alt.Scale(domain=[0, 100]))
        ),
        width="stretch",
    )
    st.altair_chart(_bar(frame, "mapped_customers", "Mapped customers"), width="stretch")
    st.altair_chart(_impacts_chart(result.impacts_by_level, days), width="stretch")
with charts[1]:
    st.altair_chart(_known_vs_covered(frame), width="stretch")
    st.altair_chart(
        _bar(frame, "blind_spot_events", f"Blind-spot events, last {days} days"), width="stretch"
    )

st.subheader("Per substation")
st.dataframe(
    frame.drop(columns=["substation_id"]).rename(columns=TABLE_TITLES),
    hide_index=True,
    width="stretch",
    column_config={"Coverage %": st.column_config.NumberColumn(format="%.1f")},
    key="stats_table",
)

# History: who changed what lately (its own block; see ui/recent_changes.py).
recent_changes_section(engine, identity)
