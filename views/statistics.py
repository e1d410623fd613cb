"""Statistics → mapping coverage and what it means for events: KPI tiles, Altair charts per
substation (coverage %, circuits known vs covered, mapped customers, blind-spot events, impacts by
level) and the table the charts are drawn from. Every number comes from ctm.stats."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st

from ctm import meters, stats
from ctm.db import Identity
from ui.empty_states import first_steps
from ui.feedback import service_errors
from ui.recent_changes import recent_changes_section
from ui.session import require_user

engine, identity = require_user()

CACHE_SECONDS = 300
LEVEL_COLORS = {"severe": "#c0392b", "moderate": "#e67e22", "minor": "#f1c40f"}
WINDOW_COLORS = ("#1f5fa8", "#9dbbe0")  # the recent window dark, all time light
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


# Counting every impact of a large database takes seconds; a five-minute-old figure is fine for an
# overview (the page says when it was counted; Refresh recounts). The charts are built here too:
# Altair's building and validating them cost ~0.5 s of every rerun. Keyed by the user (row-level
# security may show users different rows).
@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting coverage and impacts…")
def _figures(_engine, user: Identity, days: int) -> tuple[stats.Statistics, datetime, dict]:
    """The statistics, when they were counted, and the charts drawn from them (Vega-Lite specs);
    a plain tuple, as st.cache_data pickles it (a class of this page's module would not)."""
    result = stats.coverage_statistics(_engine, user, days=days)
    frame = result.by_substation
    charts: dict[str, dict] = {}
    if not frame.empty:
        covered = frame.dropna(subset=["coverage_pct"])
        built = {
            "coverage": _bar(
                covered, "coverage_pct", "Coverage % per substation", fmt=".1f"
            ).encode(x=alt.X("coverage_pct:Q", title=None, scale=alt.Scale(domain=[0, 100]))),
            "mapped": _bar(frame, "mapped_customers", "Mapped customers"),
            "impacts": _impacts_chart(result.impacts_by_level, days),
            "known": _known_vs_covered(frame),
            "blind": _bar(frame, "blind_spot_events", f"Blind-spot events, last {days} days"),
        }
        charts = {name: chart.to_dict() for name, chart in built.items()}
    return result, datetime.now().astimezone(), charts


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _place_issues(_engine, user: Identity) -> meters.PlaceIssues:
    return meters.place_issues(_engine, user)


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
    """Impacts per level, the recent window beside all time. One colour per window, and the
    legend shows exactly those colours (the level is the axis label, written horizontally)."""
    windows = [f"Last {days} days", "All time"]
    long = levels.melt(id_vars="impact_level", var_name="window", value_name="impacts")
    long["window"] = long["window"].map({"recent": windows[0], "all_time": windows[1]})
    long["level"] = long["impact_level"].str.capitalize()
    return (
        alt.Chart(long, title="Customer impacts by level")
        .mark_bar()
        .encode(
            x=alt.X(
                "level:N",
                sort=[level.capitalize() for level in LEVEL_COLORS],
                title=None,
                axis=alt.Axis(labelAngle=0),
            ),
            xOffset=alt.XOffset("window:N", sort=windows),
            y=alt.Y("impacts:Q", title=None),
            color=alt.Color(
                "window:N",
                sort=windows,
                scale=alt.Scale(domain=windows, range=list(WINDOW_COLORS)),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("level:N", title="Impact level"),
                alt.Tooltip("window:N", title="Window"),
                alt.Tooltip("impacts:Q", title="Impacts", format=",d"),
            ],
        )
    )


st.title("Statistics")
days = stats.RECENT_DAYS
st.caption(
    f"Coverage of the substation circuits by customer mappings, and the events of the last {days} "
    "days that hit circuits nobody is mapped to (blind spots): nobody can be told they were hit."
)
refresh = st.columns([5, 1], vertical_alignment="center")
if refresh[1].button("Refresh", icon=":material/refresh:", key="stats_refresh"):
    _figures.clear()
    _place_issues.clear()

with service_errors():
    result, counted_at, charts = _figures(engine, identity, days)
k = result.kpis
refresh[0].caption(f"Counted at {counted_at:%Y-%m-%d %H:%M}; Refresh counts again.")

# Two rows of three: six tiles in one row cut their values ("254 of …") at 1400 px.
tiles = [*st.columns(3), *st.columns(3)]
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

with service_errors():
    issues = _place_issues(engine, identity)
st.markdown("**Event places** (all time; such events are stored as they came)")
places = st.columns(3)
places[0].metric(
    "Events of an unknown meter",
    f"{issues.unknown_meters:,}",
    help="Events naming a meter that is not registered on the Meters page",
)
places[1].metric(
    "Events whose place disagrees with their meter",
    f"{issues.meter_disagreements:,}",
    help="Events whose substation or circuit differs from the one their meter is registered on",
)
places[2].metric(
    "Events on a retired circuit",
    f"{issues.on_retired_circuits:,}",
    help="Events dated on or after the retirement of their circuit",
)

frame = result.by_substation
if frame.empty:
    st.info(
        "No substations yet. Coverage is counted per substation circuit: add the substations "
        "and their circuits first, then map customers to them."
    )
    first_steps(identity, ("substations", "circuits", "import", "mappings"))
    st.stop()

columns = st.columns(2)
with columns[0]:
    for name in ("coverage", "mapped", "impacts"):
        st.vega_lite_chart(spec=charts[name], width="stretch", key=f"chart_{name}")
with columns[1]:
    for name in ("known", "blind"):
        st.vega_lite_chart(spec=charts[name], width="stretch", key=f"chart_{name}")

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
