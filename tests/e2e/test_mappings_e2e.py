"""A real Chromium against `streamlit run app.py` on demo data: the login guard on a fresh server,
then an admin filtering, editing in the grid, adding, deactivating and exporting, then a viewer.
The tests share one server and run in file order (the first must meet the fresh server)."""

from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from ctm import db
from ctm.mappings import natural_key
from tests.e2e.conftest import log_in, settle, shot

pytestmark = pytest.mark.e2e

SUBSTATION = "Diamond Hill"


def owner_rows(url: str, sql: str, **params):
    with db.owner_transaction(db.get_engine(url)) as conn:
        return conn.execute(sa.text(sql), params).all()


def only_login_form(page) -> bool:
    return (
        page.get_by_role("textbox", name="Username").is_visible()
        and page.get_by_role("textbox", name="Password").is_visible()
        and page.locator("[data-testid=stDataFrame]").count() == 0
        and page.locator("[data-testid=stMetric]").count() == 0
        and page.get_by_role("button", name="Log out").count() == 0
    )


def choose(page, label: str, option: str, scope=None) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`."""
    open_select(page, label, scope)
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def open_select(page, label: str, scope=None) -> None:
    """Open a selectbox's list (a click focuses it; the arrow key opens it where the click
    alone does not, e.g. below the grid)."""
    box = (scope or page).locator("[data-testid=stSelectbox]").filter(has_text=label).first
    box.locator("input").click()
    page.wait_for_timeout(200)
    if page.get_by_role("option").count() == 0:
        page.keyboard.press("ArrowDown")
    page.get_by_role("option").first.wait_for()


def grid_cell_click(page, row: int) -> None:
    """Focus the first cell of a grid row (the canvas: 35 px header, 35 px rows)."""
    box = page.locator("[data-testid=stDataFrame]").first.bounding_box()
    page.mouse.click(box["x"] + 40, box["y"] + 35 + 35 * row + 17)
    page.wait_for_timeout(200)


def test_fresh_server_page_urls_show_only_the_login_form(browser, app_url):
    for path in ("mappings", "events", "statistics"):
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        tab = context.new_page()
        tab.goto(f"{app_url}/{path}")
        settle(tab)
        tab.get_by_role("textbox", name="Username").wait_for()
        assert only_login_form(tab), path
        shot(tab, f"01_fresh_server_{path}")
        context.close()


def test_wrong_password_is_refused_plainly(page, app_url):
    log_in(page, app_url, "admin", "not-the-password")
    page.get_by_text("Username or password is incorrect").wait_for()
    assert only_login_form(page)
    shot(page, "02_login_wrong_password")


def test_admin_filters_edits_a_circuit_in_the_grid_and_saves(page, app_url, demo_db_url):
    log_in(page, app_url, "admin", "admin-demo")
    page.get_by_role("button", name="Log out").wait_for()
    page.locator("[data-testid=stDataFrame]").first.wait_for()
    shot(page, "03_mappings_admin")
    choose(page, "Substation", SUBSTATION)
    assert "substation=Diamond+Hill" in page.url
    assert "rows 1–" in page.get_by_text("Page 1 of").inner_text()

    customer = page.locator("#glide-cell-0-0").inner_text()
    account = customer.rsplit("(", 1)[1].rstrip(")")
    [(before,)] = owner_rows(
        demo_db_url,
        "SELECT m.circuit_id FROM customer_transformer_matching m JOIN customers c"
        " ON c.id = m.customer_id JOIN substations s ON s.id = m.substation_id"
        " WHERE c.account_number = :a AND s.name = :s AND m.active",
        a=account,
        s=SUBSTATION,
    )
    target = "H2" if before != "H2" else "H3"

    grid_cell_click(page, 0)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.get_by_test_id("portal").get_by_text(target, exact=True).click()
    page.wait_for_timeout(300)
    shot(page, "04_grid_edited")
    page.get_by_role("button", name="Save changes").click()
    settle(page)
    shot(page, "05_grid_saved")

    page.get_by_text("Saved 1 change(s)").first.wait_for()
    [(after, editor)] = owner_rows(
        demo_db_url,
        "SELECT m.circuit_id, p.full_name FROM customer_transformer_matching m"
        " JOIN customers c ON c.id = m.customer_id"
        " JOIN substations s ON s.id = m.substation_id"
        " JOIN profiles p ON p.id = m.updated_by"
        " WHERE c.account_number = :a AND s.name = :s AND m.active",
        a=account,
        s=SUBSTATION,
    )
    assert (after, editor) == (target, "Ada Admin")

    # Save again: nothing is written twice.
    page.get_by_role("button", name="Save changes").click()
    settle(page)
    page.get_by_text("Nothing to save").wait_for()


def test_admin_adds_a_mapping_through_the_dialog(page, app_url, demo_db_url):
    [(account, name)] = owner_rows(
        demo_db_url,
        "SELECT account_number, name FROM customers c WHERE NOT EXISTS (SELECT 1 FROM"
        " customer_transformer_matching m WHERE m.customer_id = c.id) ORDER BY account_number"
        " LIMIT 1",
    )
    log_in(page, app_url, "admin", "admin-demo")
    page.goto(f"{app_url}/mappings?substation=Diamond+Hill")
    settle(page)
    page.get_by_role("button", name="Add mapping").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox", name="Find customer").fill(account)
    dialog.get_by_role("textbox", name="Find customer").press("Enter")
    settle(page)
    open_select(page, "Customer", dialog)
    page.get_by_role("option").filter(has_text=account).first.click()
    settle(page)
    choose(page, "Circuit", "H4", scope=dialog)
    shot(page, "06_add_mapping_dialog")
    dialog.get_by_role("button", name="Add mapping").click()
    settle(page)
    rows = owner_rows(
        demo_db_url,
        "SELECT s.name, m.circuit_id, m.active FROM customer_transformer_matching m"
        " JOIN customers c ON c.id = m.customer_id JOIN substations s ON s.id = m.substation_id"
        " WHERE c.account_number = :a",
        a=account,
    )
    assert rows == [(SUBSTATION, "H4", True)], name
    shot(page, "07_after_add")


def test_admin_deactivates_a_mapping_after_confirming(page, app_url, demo_db_url):
    log_in(page, app_url, "admin", "admin-demo")
    page.goto(f"{app_url}/mappings?substation=Diamond+Hill")
    settle(page)
    open_select(page, "Mapping on this page")
    option = page.get_by_role("option").first
    label = option.inner_text()
    option.click()
    settle(page)
    page.get_by_role("button", name="Deactivate…").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    customer = label.split(" — ")[0]
    assert customer in dialog.inner_text() and SUBSTATION in dialog.inner_text()
    shot(page, "08_deactivate_dialog")
    dialog.get_by_role("button", name="Deactivate").click()
    settle(page)
    account = customer.rsplit("(", 1)[1].rstrip(")")
    circuit = label.split(" / ")[-1]
    [(active,)] = owner_rows(
        demo_db_url,
        "SELECT m.active FROM customer_transformer_matching m JOIN customers c"
        " ON c.id = m.customer_id JOIN substations s ON s.id = m.substation_id"
        " WHERE c.account_number = :a AND s.name = :s AND m.circuit_id = :c",
        a=account,
        s=SUBSTATION,
        c=circuit,
    )
    assert active is False

    # The permanent delete asks for the account number (shown, then cancelled).
    open_select(page, "Mapping on this page")
    page.get_by_role("option").first.click()
    settle(page)
    page.get_by_role("button", name="Delete permanently…").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("button", name="Delete permanently").is_disabled()
    shot(page, "09_delete_dialog")
    dialog.get_by_role("button", name="Cancel").click()
    settle(page)


def test_excel_export_matches_the_database_row_by_row(page, app_url, demo_db_url):
    log_in(page, app_url, "admin", "admin-demo")
    page.goto(f"{app_url}/mappings?substation=Diamond+Hill&inactive=true")
    settle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export to Excel").click()
    assert download.value.suggested_filename.startswith("ctm_mappings_")
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as handle:
        book = openpyxl.load_workbook(io.BytesIO(handle.read()))
    # Sheet 1 is an import file of the current mappings; sheet 2 holds the ended periods.
    assert book.sheetnames == ["Mappings", "Ended periods"]
    sheet = book["Mappings"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == [
        "Account number",
        "Customer name",
        "Substation",
        "Circuit",
        "Customer type",
    ]
    exported = [tuple(r[:5]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    current = (
        "mapping_applies_on(m.active, m.connected_since, m.disconnected_on, ctm_local_date(now()))"
    )
    expected = owner_rows(
        demo_db_url,
        "SELECT c.account_number, c.name, s.name, m.circuit_id, c.customer_type"
        " FROM customer_transformer_matching m JOIN customers c ON c.id = m.customer_id"
        f" JOIN substations s ON s.id = m.substation_id WHERE s.name = :s AND {current}",
        s=SUBSTATION,
    )
    # The page's order: substation, circuit naturally (H2 before H10), customer name, account.
    expected = sorted(
        (tuple(r) for r in expected),
        key=lambda r: (natural_key(r[2]), natural_key(r[3]), r[1], r[0]),
    )
    assert len(exported) == len(expected) > 0
    assert exported == expected
    ended = owner_rows(
        demo_db_url,
        "SELECT count(*) FROM customer_transformer_matching m JOIN substations s"
        f" ON s.id = m.substation_id WHERE s.name = :s AND NOT {current}",
        s=SUBSTATION,
    )[0][0]
    assert book["Ended periods"].max_row - 1 == ended > 0
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")


def test_events_and_statistics_pages_open_for_the_admin(page, app_url):
    log_in(page, app_url, "admin", "admin-demo")
    for path in ("events", "statistics"):
        page.goto(f"{app_url}/{path}")
        settle(page)
        page.wait_for_timeout(1500)
        assert page.get_by_role("button", name="Log out").is_visible()
        shot(page, f"10_{path}_admin")


def test_viewer_finds_no_way_to_change_anything(page, app_url):
    log_in(page, app_url, "viewer", "viewer-demo")
    page.goto(f"{app_url}/mappings?substation=Diamond+Hill")
    settle(page)
    shot(page, "11_mappings_viewer")
    assert page.locator("[data-testid=stDataFrame]").count() >= 1
    for name in (
        "Save changes",
        "Add mapping",
        "Bulk import",
        "Deactivate…",
        "Delete permanently…",
        "Discard edits",
    ):
        assert page.get_by_role("button", name=name).count() == 0, name
    assert page.get_by_text("Read-only").is_visible()
    # Typing over a circuit cell of the read-only grid changes nothing, and nothing could be sent.
    before = page.locator("#glide-cell-3-0").inner_text()
    grid_cell_click(page, 0)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.type("H9")
    page.keyboard.press("Enter")
    page.wait_for_timeout(400)
    page.keyboard.press("Escape")
    assert page.get_by_test_id("portal").get_by_role("option").count() == 0
    assert page.locator("#glide-cell-3-0").inner_text() == before
