"""A real Chromium against `streamlit run app.py` on demo data: an operator downloads the import
template, fills it with openpyxl, uploads it, sees the preview with an error, fixes the file,
uploads it again, applies, and the rows are in the database (with the import's record); then
follows the result's link to the History filtered to the import, undoes it, and the rows are gone."""

from __future__ import annotations

import openpyxl
import pytest
import sqlalchemy as sa

from ctm import db
from ctm.demo import DEMO_USERS
from tests.e2e.conftest import log_in, settle, shot

pytestmark = pytest.mark.e2e


def owner_rows(url: str, sql: str, **params):
    with db.owner_transaction(db.get_engine(url)) as conn:
        return conn.execute(sa.text(sql), params).all()


def metric(page, label: str) -> str:
    tile = page.locator("[data-testid=stMetric]").filter(has_text=label).first
    return tile.locator("[data-testid=stMetricValue]").inner_text().strip()


def upload(page, path) -> None:
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
    settle(page)
    page.get_by_text(f"{path.name}: ").first.wait_for()  # this file's preview, not the last
    settle(page)


@pytest.mark.timeout(900)
def test_template_fill_upload_preview_fix_apply(page, app_url, demo_db_url, tmp_path):
    page.set_default_timeout(60_000)  # a loaded machine: the login run can take long
    password = next(u[1] for u in DEMO_USERS if u[0] == "operator")
    log_in(page, app_url, "operator", password, "mappings")
    page.get_by_role("button", name="Bulk import").click()
    settle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Template (.xlsx)").click()
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)

    substation, circuit = owner_rows(
        demo_db_url,
        "SELECT s.name, c.circuit_id FROM substation_circuits c JOIN substations s"
        " ON s.id = c.substation_id ORDER BY s.name, c.circuit_id LIMIT 1",
    )[0]
    workbook = openpyxl.load_workbook(template)
    assert workbook.sheetnames[0] == "Mappings" and "Instructions" in workbook.sheetnames
    sheet = workbook["Mappings"]
    sheet.append(["E2E-0001", "E2E First Customer", substation, circuit])
    sheet.append(["E2E-0002", "E2E Second Customer", substation, "NO-SUCH-CIRCUIT"])
    filled = tmp_path / "filled.xlsx"
    workbook.save(filled)

    upload(page, filled)
    assert metric(page, "New") == "1" and metric(page, "Errors") == "1"
    assert page.get_by_role("button", name="Apply import").is_disabled()
    shot(page, "import_preview_with_error")

    assert sheet.max_row == 3  # the rows sit right under the header
    sheet.cell(row=3, column=4).value = circuit.lower()  # the fix, as a person types it
    fixed = tmp_path / "fixed.xlsx"
    workbook.save(fixed)
    upload(page, fixed)
    assert metric(page, "New") == "2" and metric(page, "Errors") == "0"
    assert (
        owner_rows(demo_db_url, "SELECT count(*) FROM customers WHERE account_number LIKE 'E2E-%'")[
            0
        ][0]
        == 0
    )
    page.get_by_role("button", name="Apply import").click()
    settle(page)
    page.get_by_text("Imported fixed.xlsx: 2 rows: 2 new").wait_for()
    shot(page, "import_applied")

    rows = owner_rows(
        demo_db_url,
        "SELECT c.account_number, s.name, m.circuit_id, m.active, p.full_name"
        " FROM customer_transformer_matching m JOIN customers c ON c.id = m.customer_id"
        " JOIN substations s ON s.id = m.substation_id LEFT JOIN profiles p ON p.id = m.updated_by"
        " WHERE c.account_number LIKE 'E2E-%' ORDER BY 1",
    )
    assert [tuple(r[:4]) for r in rows] == [
        ("E2E-0001", substation, circuit, True),
        ("E2E-0002", substation, circuit, True),
    ]
    assert all(r[4] for r in rows)  # written as the operator, not as the owner
    record = owner_rows(demo_db_url, "SELECT file_name, rows_new FROM import_runs")
    assert [tuple(r) for r in record] == [("fixed.xlsx", 2)]

    # The result links to the History filtered to this import; undo it from there.
    page.get_by_role("link", name="See this import in the History").click()
    settle(page)
    page.get_by_text("Import of mappings from fixed.xlsx").wait_for()
    batch = owner_rows(demo_db_url, "SELECT batch_id FROM import_runs")[0][0]
    assert f"batch={batch}" in page.url
    page.get_by_role("button", name="Undo this import").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Rows removed").wait_for()
    assert metric(dialog, "Rows removed") == "4"  # two mappings, two customers
    shot(page, "import_undo_dialog")
    dialog.get_by_role("button", name="Undo import").click()
    settle(page)
    page.get_by_text("Undid the import of fixed.xlsx: removed 2 mappings, 2 customers").wait_for()
    assert (
        owner_rows(demo_db_url, "SELECT count(*) FROM customers WHERE account_number LIKE 'E2E-%'")[
            0
        ][0]
        == 0
    )
    undo = owner_rows(demo_db_url, "SELECT kind, undoes_batch FROM import_runs WHERE kind = 'undo'")
    assert [tuple(r) for r in undo] == [("undo", batch)]
