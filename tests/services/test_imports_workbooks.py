"""The files the import hands out: export → edit → import round trip, formula-looking text stays
text, the template's drop-down lists, the preview download with its Outcome column."""

from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa
from importfiles import make_grid

from ctm import db
from ctm.imports import kinds
from ctm.imports.reading import read_import_file
from ctm.imports.service import apply_import, preview_import
from ctm.imports.workbooks import mappings_export_xlsx, preview_xlsx, template_csv, template_xlsx
from ctm.mappings import MappingFilter


def test_export_edit_import_round_trip(engine, make_user, tmp_path):
    grid = make_grid(engine)
    operator = make_user("operator")
    with db.owner_transaction(engine) as conn:  # an ended period goes to the second sheet
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
                " active, connected_since, disconnected_on)"
                " VALUES (:c, :s, 'H1', false, '2020-01-01', '2021-01-01')"
            ),
            {"c": grid.zeros, "s": grid.south},
        )
    exported = mappings_export_xlsx(engine, operator, MappingFilter())
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    assert workbook.sheetnames == ["Mappings", "Ended periods"]
    first = [[c.value for c in row] for row in workbook["Mappings"].iter_rows()]
    assert first[0][:4] == ["Account number", "Customer name", "Substation", "Circuit"]
    assert sorted(r[0] for r in first[1:]) == ["ACC-1", "ACC-2"]
    ended = [[c.value for c in row] for row in workbook["Ended periods"].iter_rows()]
    assert [r[0] for r in ended[1:]] == ["00123"]

    # Unchanged, it imports as "nothing to do".
    path = tmp_path / "export.xlsx"
    path.write_bytes(exported)
    same = preview_import(engine, operator, read_import_file(path, kinds.MAPPINGS))
    assert (same.total, same.unchanged, same.error_rows) == (2, 2, 0)

    # Edited in Excel: one mapping moved to another circuit, one customer added.
    sheet = workbook["Mappings"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "ACC-2":
            row[8].value = False  # Active: end it
    sheet.append(["00777", "Seven Ltd", "South", "H1"])
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    result = apply_import(engine, operator, read_import_file(edited, kinds.MAPPINGS))
    assert (result.new, result.changed, result.unchanged, result.error_rows) == (1, 1, 1, 0)
    with engine.connect() as conn:
        assert (
            conn.scalar(sa.text("SELECT count(*) FROM customers WHERE account_number = '00777'"))
            == 1
        )


def test_exported_text_starting_with_formula_signs_stays_text(engine, make_user):
    grid = make_grid(engine)
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customers SET name = CASE account_number WHEN 'ACC-1' THEN '=HYPERLINK(\"x\")'"
                " ELSE '+1-2' END, address = '@SUM(A1)' WHERE id IN (:a, :b)"
            ),
            {"a": grid.acme, "b": grid.bolt},
        )
        conn.execute(
            sa.text("UPDATE customers SET address = '-3+4' WHERE id = :a"), {"a": grid.acme}
        )
    exported = mappings_export_xlsx(engine, make_user("viewer"), MappingFilter())
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert {'=HYPERLINK("x")', "+1-2", "-3+4", "@SUM(A1)"} <= values


def test_template_offers_registered_substations_and_circuits(engine, make_user):
    make_grid(engine)
    data = template_xlsx(engine, make_user("operator"))
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames[0] == "Mappings" and "Instructions" in workbook.sheetnames
    sheet = workbook["Mappings"]
    formulas = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    lists = workbook["Lists"]
    substations = [c.value for c in lists["A"][1:] if c.value]
    circuits = [c.value for c in lists["B"][1:] if c.value]
    assert substations == ["North", "South"] and circuits == ["H1", "H2", "H10"]
    assert formulas["C2:C5000"] == "=Lists!$A$2:$A$3"
    assert formulas["D2:D5000"] == "=Lists!$B$2:$B$4"
    assert template_csv().decode("utf-8-sig").startswith("Account number,Customer name,Substation")


def test_preview_download_has_outcome_and_reason(engine, make_user, tmp_path):
    make_grid(engine)
    path = tmp_path / "p.csv"
    path.write_text("account_number,substation,circuit\nACC-1,North,H1\nACC-1,Nowhere,H1\n")
    preview = preview_import(engine, make_user("operator"), read_import_file(path, kinds.MAPPINGS))
    workbook = openpyxl.load_workbook(io.BytesIO(preview_xlsx(preview)))
    rows = [[c.value for c in r] for r in workbook.active.iter_rows()]
    assert rows[0][:3] == ["Row", "Outcome", "Reason"]
    assert [r[1] for r in rows[1:]] == ["unchanged", "error"]
    assert "Nowhere" in rows[2][2]
