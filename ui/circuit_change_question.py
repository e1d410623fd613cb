"""The one question every circuit change asks: was the old circuit a mistake (a correction, the
row changes in place) or did the customer move on a date (the old row ends, a new one starts)?
Asked the same way in the mapping grid and when a past state is restored from the history."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import streamlit as st

from ui.dates import day_input

CircuitChange = Literal["correction", "moved"]

_TEXTS = {"correction": "Correction (it was always this circuit)", "moved": "Moved on a date"}


def ask(
    label: str, key: str, *, radio_slot: Any = None, date_slot: Any = None
) -> tuple[CircuitChange, date | None]:
    """The answer and, for a move, its date (today unless chosen). Widgets go in the slots given
    (columns or containers; the page by default) under `key` and `key`_on."""
    how = (radio_slot or st).radio(
        label, list(_TEXTS), format_func=_TEXTS.__getitem__, horizontal=True, key=key
    )
    if how != "moved":
        return "correction", None
    return "moved", day_input(date_slot or st, "Moved on", value=date.today(), key=f"{key}_on")
