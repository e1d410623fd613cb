"""A new utility's first hour, in a real Chromium against `streamlit run app.py` on an EMPTY
database (migrated, one admin, no demo data): create a substation, a circuit, a customer and a
mapping through the browser, record an event on that circuit and find the customer in the event's
Customer Impact tab."""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from ctm import db, users
from tests.e2e.conftest import log_in, settle, shot
from tests.e2e.test_mappings_e2e import choose, open_select

pytestmark = pytest.mark.e2e

ADMIN, PASSWORD = "firstadmin", "first admin password"


@pytest.fixture(scope="module")
def demo_db_url(server_url, template_url):
    """Overrides the demo database: migrated, one admin login, nothing else."""
    name = f"ctm_e2e_empty_{os.getpid()}_{int(time.time())}"
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    template = sa.engine.make_url(db._sqlalchemy_url(template_url)).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = (
        sa.engine.make_url(db._sqlalchemy_url(server_url))
        .set(database=name)
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg2://", "postgresql://")
    )
    users.add_user(db.get_engine(url), ADMIN, "admin", PASSWORD, full_name="First Admin")
    yield url
    db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def rows(url: str, sql: str, **params):
    with db.owner_transaction(db.get_engine(url)) as conn:
        return conn.execute(sa.text(sql), params).all()


def expander(page, label: str):
    box = page.locator("[data-testid=stExpander]").filter(has_text=label).first
    box.locator("summary").click()
    page.wait_for_timeout(300)
    return box


def submit(page, box, db_url: str, table: str) -> None:
    """Click the form's button and wait for the app. Twice in CI (once per ~2,300 runs of this
    test) the first click on a freshly loaded page reached no script run: the page stayed idle,
    the form still filled, no error, nothing written. A person clicks again, and so does this,
    but only when the database shows nothing was written, so a slow submit is never sent twice
    (a real refusal shows its error box and fails in no_error)."""
    count = f"SELECT count(*) FROM {table}"
    before = rows(db_url, count)
    button = box.locator("[data-testid=stFormSubmitButton] button")
    button.click()
    settle(page)
    if (
        rows(db_url, count) == before
        and not page.locator("[data-testid=stAlertContentError]").count()
    ):
        button.click()
        settle(page)


def no_error(page) -> None:
    """A refused form says why in an error box: fail with its words, not with a timeout."""
    errors = page.locator("[data-testid=stAlertContentError]")
    assert errors.count() == 0, errors.all_inner_texts()


def test_empty_database_to_a_customer_hit_by_an_event(page, app_url, demo_db_url):
    # Twelve steps in one test on a fresh server: a slow CI machine once took over 20 s for one.
    page.set_default_timeout(60_000)
    assert rows(demo_db_url, "SELECT count(*) FROM substations") == [(0,)]
    log_in(page, app_url, ADMIN, PASSWORD, path="substations")
    page.get_by_role("button", name="Log out").wait_for()

    # A substation ...
    page.goto(f"{app_url}/substations")
    settle(page)
    box = expander(page, "Add substation")
    box.get_by_role("textbox", name="Name").fill("Harbour Road")
    box.get_by_role("textbox", name="Code").fill("hbr")
    box.get_by_role("textbox", name="Latitude").fill("22.28")
    box.get_by_role("textbox", name="Longitude").fill("114.17")
    submit(page, box, demo_db_url, "substations")
    no_error(page)
    page.get_by_role("heading", name="Harbour Road").wait_for()
    assert rows(demo_db_url, "SELECT code FROM substations") == [("HBR",)]

    # ... a circuit on it ...
    box = expander(page, "Add circuit")
    box.get_by_role("textbox", name="Circuit name").fill("h1")
    box.get_by_role("textbox", name="Customers served").fill("120")
    submit(page, box, demo_db_url, "substation_circuits")
    no_error(page)
    page.get_by_text("Added circuit H1").first.wait_for()
    assert rows(demo_db_url, "SELECT circuit_id, customers_served FROM substation_circuits") == [
        ("H1", 120)
    ]
    shot(page, "20_reference_substation_and_circuit")

    # ... a customer ...
    page.goto(f"{app_url}/customers")
    settle(page)
    box = expander(page, "Add customer")
    box.get_by_role("textbox", name="Account number").fill("HK-0001")
    box.get_by_role("textbox", name="Name").fill("Harbour Data Centre")
    submit(page, box, demo_db_url, "customers")
    no_error(page)
    page.get_by_role("heading", name="Harbour Data Centre (HK-0001)").wait_for()
    shot(page, "21_reference_customer")

    # ... and the mapping, through Add mapping.
    page.goto(f"{app_url}/mappings")
    settle(page)
    page.get_by_role("button", name="Add mapping").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox", name="Find customer").fill("HK-0001")
    dialog.get_by_role("textbox", name="Find customer").press("Enter")
    settle(page)
    open_select(page, "Customer", dialog)
    page.get_by_role("option").filter(has_text="HK-0001").first.click()
    settle(page)
    choose(page, "Substation", "Harbour Road", dialog)
    choose(page, "Circuit", "H1", dialog)
    dialog.get_by_role("button", name="Add mapping").click()
    settle(page)
    assert rows(
        demo_db_url,
        "SELECT c.account_number, m.circuit_id FROM customer_transformer_matching m"
        " JOIN customers c ON c.id = m.customer_id",
    ) == [("HK-0001", "H1")]

    # An event on that circuit hits the customer.
    page.goto(f"{app_url}/events")
    settle(page)
    page.get_by_role("button", name="Record event").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    choose(page, "Substation", "Harbour Road", dialog)
    choose(page, "Circuit", "H1", dialog)
    dialog.get_by_role("button", name="Record").click()
    settle(page)
    page.get_by_role("tab", name="Customer Impact").click()
    settle(page)
    page.get_by_text("1 affected customer(s), severe first.").first.wait_for()
    impact = page.locator("[data-testid=stDataFrame]").last
    cells = impact.locator("[id^=glide-cell-]").filter(has_text="Harbour Data Centre")
    assert cells.count() >= 1
    shot(page, "22_reference_event_customer_impact")
    assert rows(
        demo_db_url,
        "SELECT c.account_number FROM event_customer_impact i JOIN customers c"
        " ON c.id = i.customer_id",
    ) == [("HK-0001",)]
