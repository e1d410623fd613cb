"""A real Chromium: an admin adds a mapping, the page offers the past events of that circuit that do
not list the customer, one click adds exactly those impacts, and the History page (opened by its
link, as from a customer) shows the mapping and the applied impacts."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ctm import db
from tests.e2e.conftest import log_in, settle, shot
from tests.e2e.test_mappings_e2e import choose, open_select

pytestmark = pytest.mark.e2e

SUBSTATION = "Diamond Hill"


def owner_rows(url: str, sql: str, **params):
    with db.owner_transaction(db.get_engine(url)) as conn:
        return conn.execute(sa.text(sql), params).all()


def test_add_mapping_then_apply_the_past_events_preview(page, app_url, demo_db_url):
    [(account, customer_id)] = owner_rows(
        demo_db_url,
        "SELECT account_number, id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM"
        " customer_transformer_matching m WHERE m.customer_id = c.id) ORDER BY account_number"
        " DESC LIMIT 1",
    )
    [(circuit, events)] = owner_rows(
        demo_db_url,
        "SELECT e.circuit_id, count(*) FROM pq_events e JOIN substations s"
        " ON s.id = e.substation_id WHERE s.name = :s AND e.circuit_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
        s=SUBSTATION,
    )
    assert events > 0
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
    choose(page, "Circuit", circuit, scope=dialog)
    dialog.get_by_role("button", name="Add mapping").click()
    settle(page)

    # Nothing happened to past events yet; the page says how many and offers one button.
    assert owner_rows(
        demo_db_url,
        "SELECT count(*) FROM event_customer_impact WHERE customer_id = :c",
        c=customer_id,
    ) == [(0,)]
    notice = page.get_by_text(re.compile(rf"{events} past events on {SUBSTATION} / {circuit}"))
    notice.wait_for()
    assert "do not list" in notice.inner_text()
    shot(page, "past_events_01_preview")
    page.get_by_role("button", name=f"Add these {events:,} impact(s)").click()
    settle(page)
    page.get_by_text(re.compile(rf"{events:,} past event\(s\) added")).wait_for()
    shot(page, "past_events_02_applied")
    assert owner_rows(
        demo_db_url,
        "SELECT count(*) FROM event_customer_impact WHERE customer_id = :c",
        c=customer_id,
    ) == [(events,)]

    # The customer's history, by link.
    page.goto(f"{app_url}/history?account={account}")
    settle(page)
    page.get_by_role("heading", name="History").wait_for()
    table = page.locator("[data-testid=stDataFrame]").first
    table.wait_for()
    text = page.inner_text("body")
    # The mapping's insert and the past impacts applied (plus what else the add recorded).
    listed = re.search(r"changes 1–\d+ of (\d+)", text)
    assert listed and int(listed.group(1)) >= 2, text
    shot(page, "past_events_03_history")
