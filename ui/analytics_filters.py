"""The sidebar every Analytics page shares: period (presets or custom dates), substations,
regions, voltage levels, "only voltage dips" and the nominal frequency — turned into one
ctm.analytics.Scope. Widget keys are shared, so the choice follows the user from page to page."""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from ctm import analytics
from ctm.db import Identity
from ui.dates import day_input
from ui.feedback import service_errors

PRESETS = ("Year to date", "Last 12 months", "Last 3 years", "Last 5 years", "Custom")
CACHE_SECONDS = 60
EARLIEST = date(1990, 1, 1)  # services refuse events dated earlier


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _places(_engine: Engine, user: Identity) -> analytics.Places:
    return analytics.places(_engine, user)


def _preset_range(preset: str, day: date) -> tuple[date, date]:
    """Year to date; the last 12 months (this month and the 11 before it); the last 3 or 5
    calendar years including this one. All end today."""
    if preset == "Last 12 months":
        months_back = day.year * 12 + day.month - 1 - 11
        return date(months_back // 12, months_back % 12 + 1, 1), day
    years = {"Last 3 years": 3, "Last 5 years": 5}.get(preset, 1)
    return date(day.year - years + 1, 1, 1), day


def scope_from_sidebar(engine: Engine, identity: Identity, *, default: str = "Year to date"):
    """Draw the shared filters and return the Scope they describe (stops the page on bad input)."""
    with service_errors():
        places = _places(engine, identity)
    sidebar = st.sidebar
    sidebar.subheader("Analytics filters")
    preset = sidebar.selectbox(
        "Period", PRESETS, index=PRESETS.index(default), key="analytics_preset"
    )
    day = places.today
    first, last = _preset_range(preset, day)
    if preset == "Custom":
        # Streamlit's default range is ten years around the value: events go back to 1990.
        bounds = {"min_value": EARLIEST, "max_value": date(day.year + 1, 12, 31)}
        first = day_input(sidebar, "From", value=first, key="analytics_from", **bounds)
        last = day_input(sidebar, "To (included)", value=last, key="analytics_to", **bounds)
    else:
        sidebar.caption(f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")
    names = dict(
        zip(places.substations["substation_id"], places.substations["substation_name"], strict=True)
    )
    chosen = sidebar.multiselect(
        "Substations",
        list(names),
        format_func=lambda s: names.get(s, str(s)),
        key="analytics_substations",
        placeholder="All substations",
    )
    regions = sidebar.multiselect(
        "Regions", places.regions, key="analytics_regions", placeholder="All regions"
    )
    levels = sidebar.multiselect(
        "Voltage levels", places.voltage_levels, key="analytics_levels", placeholder="All levels"
    )
    dips_only = sidebar.checkbox("Only voltage dips", key="analytics_dips_only")
    frequencies = [50.0, 60.0]
    frequency = sidebar.radio(
        "Nominal frequency",
        frequencies,
        index=frequencies.index(places.frequency_hz),
        format_func=lambda f: f"{f:.0f} Hz",
        horizontal=True,
        key="analytics_frequency",
        help="Converts the IEC 61000-4-34 test durations given in cycles to milliseconds.",
    )
    scope = analytics.Scope(
        date_from=first,
        date_to=last,
        substation_ids=tuple(chosen),
        regions=tuple(regions),
        voltage_levels=tuple(levels),
        dips_only=dips_only,
        frequency_hz=frequency,
    )
    with service_errors():
        scope.check()
    return scope


def file_part(scope: analytics.Scope) -> str:
    return f"{scope.date_from:%Y-%m-%d}_{scope.date_to:%Y-%m-%d}"
