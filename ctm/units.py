"""How values read to a person: a duration in the unit that fits it (120 ms, 1.5 s, 2.3 min, 1.2 h),
an event type in words and a day as YYYY-MM-DD (empty when there is none). The database keeps milliseconds and minutes; only the display changes."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

EVENT_TYPE_WORDS = {
    "voltage_dip": "Voltage dip",
    "voltage_swell": "Voltage swell",
    "harmonic": "Harmonic",
    "interruption": "Interruption",
    "transient": "Transient",
    "flicker": "Flicker",
}


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # NaN, pd.NA-like floats
    except (TypeError, ValueError):
        return True


def duration_text(milliseconds: float | Decimal | None) -> str:
    """'120 ms', '1.5 s', '2.3 min', '1.2 h'; '' when unknown."""
    if _missing(milliseconds):
        return ""
    ms = float(milliseconds)  # type: ignore[arg-type]
    if ms < 1_000:
        return f"{ms:,.0f} ms"
    if ms < 60_000:
        return f"{ms / 1_000:,.3g} s" if ms < 10_000 else f"{ms / 1_000:,.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:,.1f} min"
    return f"{ms / 3_600_000:,.1f} h"


def minutes_text(minutes: float | Decimal | None) -> str:
    """A duration stored in minutes (e.g. estimated_downtime_min), read the same way."""
    if _missing(minutes):
        return ""
    return duration_text(float(minutes) * 60_000)  # type: ignore[arg-type]


def event_type_text(code: object) -> str:
    """'voltage_dip' → 'Voltage dip'; an unknown code in the same style; '' for none."""
    if not isinstance(code, str) or not code:  # None, or NaN from a frame with NULL types
        return ""
    return EVENT_TYPE_WORDS.get(code, code.replace("_", " ").capitalize())


def day_text(value: object) -> str:
    """A day as '2026-10-27'; '' for none (None, NaT, NaN). Tables show a missing date as the
    text "None" otherwise (Streamlit's grid has no setting for it)."""
    if not isinstance(value, datetime | date) or str(value) == "NaT":  # NaT is a datetime too
        return ""
    return value.strftime("%Y-%m-%d")
