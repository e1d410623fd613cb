"""Formatted .xlsx workbooks of the analytics figures: several sheets of tables (bold frozen
header, autofilter, widths from the content, real numbers and dates), an optional notes sheet and
native Excel charts, built with openpyxl. Tables here are small (summaries, top-N lists); the
event-list exports of 100,000 rows use ctm.excel."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
TITLE_FONT = Font(bold=True, size=14)
MAX_WIDTH = 60


@dataclass
class ChartSpec:
    """A native Excel chart over columns of a sheet's table (1-based column numbers)."""

    title: str
    category_column: int
    value_columns: Sequence[int]
    kind: str = "bar"  # bar | line
    y_title: str = ""
    anchor: str = "H2"


@dataclass
class SheetSpec:
    title: str
    frame: pd.DataFrame
    headers: dict[str, str] = field(default_factory=dict)  # column → header text
    charts: list[ChartSpec] = field(default_factory=list)
    number_formats: dict[str, str] = field(default_factory=dict)  # column → Excel format


def _cell_value(value):
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if hasattr(value, "item") and not isinstance(value, str | bytes | date):
        return value.item()
    if not isinstance(value, str | int | float | bool | date | datetime):
        return str(value)
    return value


def _write_table(sheet: Worksheet, spec: SheetSpec, first_row: int) -> None:
    columns = list(spec.frame.columns)
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=first_row, column=index, value=spec.headers.get(column, column))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r, record in enumerate(spec.frame.itertuples(index=False), start=first_row + 1):
        for c, value in enumerate(record, start=1):
            cell = sheet.cell(row=r, column=c, value=_cell_value(value))
            column = columns[c - 1]
            if column in spec.number_formats:
                cell.number_format = spec.number_formats[column]
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    last_row = first_row + len(spec.frame)
    if columns:
        sheet.freeze_panes = sheet.cell(row=first_row + 1, column=1)
        sheet.auto_filter.ref = (
            f"A{first_row}:{get_column_letter(len(columns))}{max(last_row, first_row)}"
        )
    for index, column in enumerate(columns, start=1):
        header = str(spec.headers.get(column, column))
        sample = spec.frame[column].head(500).map(lambda v: len(str(v)) if v is not None else 0)
        width = max([len(header) * 0.9, *(sample.tolist() or [0])]) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, max(8, width))
    for chart_spec in spec.charts:
        chart = BarChart() if chart_spec.kind == "bar" else LineChart()
        chart.title = chart_spec.title
        chart.y_axis.title = chart_spec.y_title
        chart.height, chart.width = 8, 18
        for value_column in chart_spec.value_columns:
            data = Reference(
                sheet, min_col=value_column, min_row=first_row, max_row=max(last_row, first_row + 1)
            )
            chart.add_data(data, titles_from_data=True)
        categories = Reference(
            sheet,
            min_col=chart_spec.category_column,
            min_row=first_row + 1,
            max_row=max(last_row, first_row + 1),
        )
        chart.set_categories(categories)
        sheet.add_chart(chart, chart_spec.anchor)


def workbook_bytes(
    sheets: Sequence[SheetSpec],
    *,
    summary_title: str | None = None,
    summary: Sequence[tuple[str, object]] = (),
    notes: Sequence[str] = (),
) -> bytes:
    """The workbook: a 'Summary' sheet first when a title is given (label/value pairs, then notes),
    then one sheet per SheetSpec."""
    workbook = Workbook()
    first = workbook.active
    if summary_title is not None:
        first.title = "Summary"
        first.cell(row=1, column=1, value=summary_title).font = TITLE_FONT
        row = 3
        for label, value in summary:
            first.cell(row=row, column=1, value=label).font = HEADER_FONT
            first.cell(row=row, column=2, value=_cell_value(value))
            row += 1
        row += 1
        for note in notes:
            first.cell(row=row, column=1, value=note).alignment = Alignment(wrap_text=False)
            row += 1
        first.column_dimensions["A"].width = 42
        first.column_dimensions["B"].width = 40
        pending = list(sheets)
    else:
        pending = list(sheets)
        if pending:
            first.title = pending[0].title[:31]
            _write_table(first, pending[0], 1)
            pending = pending[1:]
    for spec in pending:
        sheet = workbook.create_sheet(spec.title[:31])
        _write_table(sheet, spec, 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sarfi_workbook(result, index: str) -> bytes:
    """The SARFI page's download: summary with the scope and definitions, every index over the
    period, the chosen index per month (with a chart) and per substation with totals."""
    from ctm import analytics

    scope = result.scope
    monthly = analytics.monthly_indices(result, index)
    monthly = monthly.assign(month=monthly["month"].map(lambda m: f"{m:%Y-%m}")).drop(
        columns=["year", "month_number"]
    )
    label = analytics.index_label(index)
    headers = {
        "index": "Index",
        "month": "Month",
        "substation": "Substation",
        "region": "Region",
        "voltage_level": "Voltage level",
        "events": "Counted events",
        "customer_hits": "Critical customers hit (Σ impact rows)",
        "customers_mapped": "Critical customers mapped (N_T)",
        "critical_sarfi": "Critical-customer SARFI",
        "served_hits": "Customers served hit (Σ N_i)",
        "customers_served": "Customers served (N_T, today)",
        "system_sarfi": "System SARFI (IEEE 1564)",
        "ytd_events": "YTD events",
        "ytd_critical_sarfi": "YTD critical-customer SARFI",
        "ytd_system_sarfi": "YTD system SARFI",
    }
    ratio = {k: "0.0000" for k in headers if "sarfi" in k}
    sheets = [
        SheetSpec("Indices", analytics.all_indices(result), headers, number_formats=ratio),
        SheetSpec(
            f"{label} by month",
            monthly,
            headers,
            charts=[ChartSpec(f"{label} per month", 1, [5, 8], y_title="SARFI", anchor="O2")],
            number_formats=ratio,
        ),
        SheetSpec(
            f"{label} by substation",
            analytics.per_substation(result, index),
            headers,
            number_formats=ratio,
        ),
    ]
    summary = [
        ("Period", f"{scope.date_from:%Y-%m-%d} to {scope.date_to:%Y-%m-%d}"),
        ("Substations", ", ".join(result.substations["substation_name"]) or "none"),
        ("Only voltage dips", "yes" if scope.dips_only else "no"),
        ("Nominal frequency (Hz)", scope.frequency_hz),
        ("Events without a residual voltage (not counted)", result.events_without_residual),
        ("Events longer than 60 s (not counted)", result.events_too_long),
    ]
    return workbook_bytes(
        sheets,
        summary_title="SARFI report",
        summary=summary,
        notes=analytics.DEFINITIONS,
    )
