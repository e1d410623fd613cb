"""The product's one shape of an Excel download: the workbook is built only when the button is
clicked (`data` is a callable), the click does not rerun the page, and every button carries the
same icon and file type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def excel_button(
    label: str,
    build: Callable[[], bytes],
    file_name: str,
    *,
    slot: Any = None,
    **options: Any,
) -> None:
    """A download button for the workbook `build()` returns, in `slot` (a column or container;
    the page by default). `options` are download_button's own (key, help, disabled)."""
    (slot or st).download_button(
        label,
        data=build,
        file_name=file_name,
        mime=XLSX,
        icon=":material/download:",
        on_click="ignore",
        **options,
    )
