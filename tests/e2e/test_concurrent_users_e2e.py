"""Ten people at once in one Chromium: ten logged-in browser contexts (separate cookies, separate
Streamlit sessions) open the main pages at the same moment, and every one of them gets its own
page with its own data — no error box, no login form, no other user's session.

Each step starts the navigation in all ten tabs before waiting on any, so the server runs the ten
scripts concurrently (the connection pool, the engine cache and the session store are shared)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settle

pytestmark = pytest.mark.e2e

USERS = [("admin", "admin-demo"), ("operator", "operator-demo"), ("viewer", "viewer-demo")]
CONTEXTS = 10
# The main paths a PQ team walks: the grid, events, statistics and an analytics view.
PATHS = [
    ("mappings", "Customer Transformer Matching"),
    ("events", "Events"),
    ("statistics", "Statistics"),
    ("sarfi", "SARFI"),
]


@pytest.fixture
def tabs(browser):
    contexts = [
        browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(CONTEXTS)
    ]
    pages = [context.new_page() for context in contexts]
    for tab in pages:
        tab.set_default_timeout(60_000)
    yield pages
    for context in contexts:
        context.close()


def _no_error_on(tab, where: str) -> None:
    assert tab.locator("[data-testid=stException]").count() == 0, f"a traceback on {where}"
    errors = tab.locator("[data-testid=stAlertContentError]")
    assert errors.count() == 0, f"an error on {where}: {errors.all_inner_texts()}"


def test_ten_logged_in_users_walk_the_main_pages_at_once(tabs, app_url):
    who = [USERS[n % len(USERS)] for n in range(CONTEXTS)]
    for tab in tabs:
        tab.goto(app_url, wait_until="commit")
    for tab, (username, password) in zip(tabs, who, strict=True):
        settle(tab)
        tab.get_by_role("textbox", name="Username").fill(username)
        tab.get_by_role("textbox", name="Password").fill(password)
    for tab in tabs:
        tab.get_by_role("button", name="Log in").click(no_wait_after=True)
    for tab in tabs:
        settle(tab)
        expect(tab.get_by_role("textbox", name="Username")).to_have_count(0)

    for path, title in PATHS:
        for tab in tabs:
            tab.goto(f"{app_url}/{path}", wait_until="commit")
        for tab, (username, _) in zip(tabs, who, strict=True):
            settle(tab)
            where = f"/{path} as {username}"
            expect(tab.get_by_role("heading", name=title, level=1, exact=True)).to_be_visible()
            expect(tab.get_by_role("textbox", name="Username")).to_have_count(0)
            _no_error_on(tab, where)
            # Each context is its own session: the sidebar names this tab's user, nobody else's.
            expect(tab.get_by_test_id("stSidebar")).to_contain_text(f"· {username}")

    # Every context kept its own login cookie: ten sessions, none shared.
    cookies = {
        cookie["value"]
        for tab in tabs
        for cookie in tab.context.cookies()
        if cookie["name"] == "ctm_login"
    }
    assert len(cookies) == CONTEXTS
