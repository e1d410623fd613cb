"""Excel timestamps are wall-clock times in the product's stored zone and their headers name it
(Excel cells have no zone); without a zone given they are UTC — never the server's own zone."""

from __future__ import annotations

import io
import time
from datetime import datetime

import openpyxl
import pandas as pd
import pytest

from ctm.excel import dataframe_to_xlsx


def _sheet(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


FRAME = pd.DataFrame(
    {
        "name": ["a", "b"],
        "updated_at": pd.to_datetime(["2026-03-01 20:30:00", "2026-07-01 00:00:00"], utc=True),
    }
)


def test_times_are_in_the_given_zone_and_the_header_names_it():
    sheet = _sheet(
        dataframe_to_xlsx(
            FRAME,
            "Mappings",
            column_titles={"name": "Name", "updated_at": "Updated at"},
            time_zone="Asia/Hong_Kong",
        )
    )
    assert [c.value for c in sheet[1]] == ["Name", "Updated at (Asia/Hong_Kong)"]
    assert sheet["B2"].value == datetime(2026, 3, 2, 4, 30)  # next day in Hong Kong
    assert sheet["B3"].value == datetime(2026, 7, 1, 8, 0)


@pytest.fixture
def server_in_new_york(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_without_a_zone_times_are_utc_and_say_so(server_in_new_york):
    """The server's own zone must not leak into the file."""
    sheet = _sheet(dataframe_to_xlsx(FRAME, "Mappings"))
    assert sheet["B1"].value == "updated_at (UTC)"
    assert sheet["B2"].value == datetime(2026, 3, 1, 20, 30)


def test_naive_times_and_dates_are_written_as_they_are():
    frame = pd.DataFrame({"t": pd.to_datetime(["2026-03-01 20:30:00"])})
    sheet = _sheet(dataframe_to_xlsx(frame, "x", time_zone="Asia/Hong_Kong"))
    assert sheet["A1"].value == "t"
    assert sheet["A2"].value == datetime(2026, 3, 1, 20, 30)
