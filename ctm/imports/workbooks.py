"""The files the import hands out: the template (.xlsx with drop-down lists of the registered
substations and circuits, and .csv), the preview with an Outcome column, and the mapping export
whose first sheet is an import file (current mappings) and whose second lists ended periods."""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.engine import Engine

from ctm import clock, db
from ctm.excel import frames_to_xlsx
from ctm.imports.service import ImportPreview, today_in
from ctm.mappings import MappingFilter, export_mappings, natural_key

# The import's columns with the header texts the template and the export use.
MAPPING_TITLES = {
    "account_number": "Account number",
    "customer_name": "Customer name",
    "substation": "Substation",
    "circuit": "Circuit",
    "customer_type": "Customer type",
    "critical_customer": "Critical customer",
    "address": "Address",
    "contract_demand_kva": "Contract demand kVA",
    "active": "Active",
    "connected_since": "Connected since",
    "disconnected_on": "Disconnected on",
}
EXPORT_EXTRA = {"updated_by_name": "Updated by", "updated_at": "Updated at"}
INSTRUCTIONS = [
    ("What", "One row per customer and circuit it is connected to (current mappings)."),
    ("Account number", "Required. The customer's account; keep leading zeros (format as Text)."),
    ("Customer name", "Required for an account ctm does not know yet: the customer is created."),
    ("Substation", "Required. Name or code, as in the drop-down list (any case)."),
    ("Circuit", "Required. A circuit of that substation (drop-down: every registered circuit)."),
    ("Customer type", "Optional: residential, commercial or industrial (new customers)."),
    ("Critical customer", "Optional yes/no (new customers; default yes)."),
    ("Address, Contract demand kVA", "Optional, for new customers; known ones are not changed."),
    ("Active", "Optional: yes (default) or no to end the mapping."),
    ("Connected since, Disconnected on", "Optional dates: yyyy-mm-dd or d/m/yyyy."),
    ("Headers", "Order free, any case; title rows above the header row are allowed."),
    ("Apply", "Every row or none: a file with any error changes nothing."),
]
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")


def _registered(engine: Engine, identity: db.Identity) -> tuple[list[str], list[str]]:
    with db.user_transaction(engine, identity) as conn:
        substations = conn.scalars(sa.text("SELECT name FROM public.substations")).all()
        circuits = conn.scalars(
            sa.text("SELECT DISTINCT circuit_id FROM public.substation_circuits WHERE active")
        ).all()
    return (
        sorted(set(substations), key=natural_key),
        sorted(set(circuits), key=natural_key),
    )


def template_xlsx(engine: Engine, identity: db.Identity) -> bytes:
    """The mapping template: the data sheet first (what the import reads), instructions second,
    drop-downs of the registered substations and circuits from a hidden list sheet."""
    substations, circuits = _registered(engine, identity)
    workbook = Workbook()
    data = workbook.active
    data.title = "Mappings"
    data.append(list(MAPPING_TITLES.values()))
    for index, title in enumerate(MAPPING_TITLES.values(), start=1):
        cell = data.cell(row=1, column=index)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        data.column_dimensions[get_column_letter(index)].width = max(14, len(title) + 4)
        if title == "Account number":
            # Text, so Excel keeps leading zeros of what people type or paste.
            for row in range(2, 1002):
                data.cell(row=row, column=index).number_format = "@"
    data.freeze_panes = "A2"
    lists = workbook.create_sheet("Lists")
    lists.append(["Substations", "Circuits"])
    for row in range(max(len(substations), len(circuits))):
        lists.append(
            [
                substations[row] if row < len(substations) else None,
                circuits[row] if row < len(circuits) else None,
            ]
        )
    lists.sheet_state = "hidden"
    columns = list(MAPPING_TITLES)
    for key, values, letter in (
        ("substation", substations, "A"),
        ("circuit", circuits, "B"),
    ):
        if not values:
            continue
        target = get_column_letter(columns.index(key) + 1)
        validation = DataValidation(
            type="list",
            formula1=f"=Lists!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",  # admins may name a circuit to register
            errorTitle=f"Unknown {key}",
            error=f"Not a registered {key}; the import will say whether it can use it.",
        )
        validation.add(f"{target}2:{target}5000")
        data.add_data_validation(validation)
    for column, choices in (
        ("customer_type", "residential,commercial,industrial"),
        ("critical_customer", "yes,no"),
        ("active", "yes,no"),
    ):
        target = get_column_letter(columns.index(column) + 1)
        validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        validation.add(f"{target}2:{target}5000")
        data.add_data_validation(validation)
    notes = workbook.create_sheet("Instructions")
    notes.append(["Column", "How to fill it"])
    for row in INSTRUCTIONS:
        notes.append(list(row))
    notes["A1"].font = notes["B1"].font = HEADER_FONT
    notes.column_dimensions["A"].width = 34
    notes.column_dimensions["B"].width = 90
    for row in notes.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_csv() -> bytes:
    """The header line of the mapping template, UTF-8 with BOM so Excel opens it right."""
    return ("\ufeff" + ",".join(MAPPING_TITLES.values()) + "\r\n").encode("utf-8")


def preview_xlsx(preview: ImportPreview) -> bytes:
    """Every row of the file with its Outcome and Reason first; the file's own columns follow, so
    the sheet can be fixed and imported again (Row, Outcome and Reason are ignored then)."""
    frame = preview.outcomes.rename(
        columns={"row": "Row", "outcome": "Outcome", "reason": "Reason"}
    )
    return frames_to_xlsx([("Preview", frame, None)])


_EXPORT_DETAILS = """
    SELECT m.id, c.customer_type, c.critical_customer, c.address, c.contract_demand_kva,
           m.connected_since, m.disconnected_on,
           (m.disconnected_on IS NULL OR m.disconnected_on > :today)
             AND (m.active OR m.disconnected_on IS NOT NULL) AS live
    FROM public.customer_transformer_matching AS m
    JOIN public.customers AS c ON c.id = m.customer_id
    WHERE m.id = ANY(CAST(:ids AS uuid[]))
"""


def mappings_export_xlsx(engine: Engine, identity: db.Identity, filters: MappingFilter) -> bytes:
    """The mapping export: sheet 1 the current mappings of the filters in the import's columns
    (export → edit → import works unchanged), sheet 2 the ended periods (the import ignores it)."""
    frame = export_mappings(engine, identity, replace(filters, include_inactive=True))
    with db.user_transaction(engine, identity) as conn:
        today = today_in(conn)
        zone = clock.time_zone(conn)
        details = pd.DataFrame(
            conn.execute(
                sa.text(_EXPORT_DETAILS), {"ids": [str(i) for i in frame["id"]], "today": today}
            ).all(),
            columns=[
                "id",
                "customer_type_",
                "critical_customer",
                "address",
                "contract_demand_kva",
                "connected_since",
                "disconnected_on",
                "live",
            ],
        )
    merged = frame.merge(details, on="id", how="left")
    merged = merged.rename(columns={"substation_name": "substation", "circuit_id": "circuit"})
    merged["contract_demand_kva"] = pd.to_numeric(merged["contract_demand_kva"], errors="coerce")
    live = merged["live"].fillna(False).astype(bool)
    current = merged.loc[live].copy()
    current["active"] = True
    ended = merged.loc[~live].copy()
    ended["active"] = False
    titles = {**MAPPING_TITLES, **EXPORT_EXTRA}
    return frames_to_xlsx(
        [("Mappings", current, titles), ("Ended periods", ended, titles)], time_zone=zone
    )
