"""Day pickers as the rest of the product writes days: 2026-10-27 (ISO), not Streamlit's default
2026/10/27."""

from __future__ import annotations

from typing import Any

DATE_FORMAT = "YYYY-MM-DD"


def day_input(slot: Any, label: str, **options: Any) -> Any:
    """`slot.date_input(label, **options)` (slot: st, a column, the sidebar) showing ISO days."""
    return slot.date_input(label, format=DATE_FORMAT, **options)
