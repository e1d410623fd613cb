"""dataframe_to_xlsx: what a user sees when opening the file in Excel."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import openpyxl
import pandas as pd

from ctm.excel import MAX_WIDTH, dataframe_to_xlsx


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [uuid4(), uuid4(), uuid4()],
            "name": ["Short\x01", "A <very> long & " + "x" * 80, None],
            "count": [1, 20, 300],
            "downtime": [Decimal("1.50"), None, Decimal("0.25")],
            "active": [True, False, True],
            "updated_at": pd.to_datetime(
                ["2025-01-02 03:04:00", "2025-06-30 23:59:00", None], utc=True
            ),
            "day": [date(2025, 1, 2), date(2025, 2, 3), None],
        }
    )


def read(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_header_is_bold_frozen_and_filtered_over_the_data():
    sheet = read(dataframe_to_xlsx(sample(), "Mappings"))
    assert sheet.title == "Mappings"
    assert [c.value for c in sheet[1]] == [
        "id",
        "name",
        "count",
        "downtime",
        "active",
        "updated_at (UTC)",  # instants name their zone (the stored one; UTC when not given)
        "day",
    ]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G4"


def test_cells_keep_their_types_dates_are_real_excel_dates():
    sheet = read(dataframe_to_xlsx(sample(), "Mappings"))
    row2 = [c.value for c in sheet[2]]
    assert isinstance(row2[0], str) and len(row2[0]) == 36
    assert row2[2] == 1 and row2[3] == 1.5 and row2[4] is True
    utc = datetime(2025, 1, 2, 3, 4, tzinfo=UTC).replace(tzinfo=None)
    assert isinstance(row2[5], datetime) and row2[5] == utc
    assert sheet["F2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["G2"].value == datetime(2025, 1, 2) and sheet["G2"].is_date
    assert sheet["B3"].value.startswith("A <very> long & x")
    assert sheet["B2"].value == "Short "  # a control character Excel cannot hold
    assert sheet["D3"].value is None and sheet["B4"].value is None and sheet["F4"].value is None
    assert sheet["E3"].value is False


def test_widths_follow_content_and_are_capped():
    sheet = read(dataframe_to_xlsx(sample(), "Mappings"))
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert widths["B"] == MAX_WIDTH
    assert 6 <= widths["C"] < 12
    assert widths["A"] >= 36


def test_column_titles_rename_select_and_order():
    data = dataframe_to_xlsx(
        sample(), "X", column_titles={"name": "Customer", "count": "Count", "missing": "Nope"}
    )
    sheet = read(data)
    assert [c.value for c in sheet[1]] == ["Customer", "Count"]
    assert sheet.max_column == 2 and sheet.max_row == 4


def test_an_empty_frame_gives_a_header_only_sheet():
    sheet = read(dataframe_to_xlsx(sample().iloc[0:0], "Empty"))
    assert sheet.max_row == 1 and sheet["A1"].value == "id"
