"""Login cookies in a real Chromium: a cookie replayed after Log out, a forged cookie and one of a
removed user all end on the login form (never on "Username or password is incorrect" without a
form); the cookie is SameSite=Strict; a cookie logs a deep link in on its first run."""

from __future__ import annotations

import base64
import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, settle, shot

pytestmark = pytest.mark.e2e


def login_cookie(context) -> dict:
    [cookie] = [c for c in context.cookies() if c["name"] == "ctm_login"]
    return cookie


def open_with_cookie(browser, app_url: str, value: str, path: str = "mappings"):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    host = app_url.split("//", 1)[1].split(":")[0]
    context.add_cookies([{"name": "ctm_login", "value": value, "domain": host, "path": "/"}])
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(f"{app_url}/{path}")
    settle(tab)
    return context, tab


def assert_login_form(tab) -> None:
    expect(tab.get_by_role("textbox", name="Username")).to_be_visible()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()
    expect(tab.get_by_text("Username or password is incorrect")).to_have_count(0)
    expect(
        tab.get_by_role("heading", name="Customer Transformer Matching", level=1)
    ).to_be_visible()
    expect(tab.get_by_test_id("stDataFrame")).to_have_count(0)


def test_a_cookie_logs_a_deep_link_in_and_is_same_site_strict(page, browser, app_url):
    log_in(page, app_url, "viewer", "viewer-demo")
    cookie = login_cookie(page.context)
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"].startswith("v1.")
    context, tab = open_with_cookie(browser, app_url, cookie["value"], "events")
    try:
        expect(tab.get_by_role("heading", name="Events", level=1, exact=True)).to_be_visible()
        expect(tab.get_by_role("textbox", name="Username")).to_have_count(0)
        assert tab.url.endswith("/events")
    finally:
        context.close()


def test_logout_then_replaying_the_old_cookie_shows_the_login_form(page, browser, app_url):
    log_in(page, app_url, "operator", "operator-demo")
    old = login_cookie(page.context)["value"]
    page.get_by_role("button", name="Log out").click()
    settle(page)
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    assert_login_form(page)
    shot(page, "logged-out")
    page.wait_for_timeout(500)
    assert "ctm_login" not in {c["name"] for c in page.context.cookies() if c["value"]}

    context, tab = open_with_cookie(browser, app_url, old)
    try:
        assert_login_form(tab)
        tab.reload()
        settle(tab)
        assert_login_form(tab)
        # The dead cookie is dropped from the browser, and a real login still works.
        tab.get_by_role("textbox", name="Username").fill("operator")
        tab.get_by_role("textbox", name="Password").fill("operator-demo")
        tab.get_by_role("button", name="Log in").click()
        settle(tab)
        expect(tab.get_by_role("textbox", name="Username")).to_have_count(0)
        assert login_cookie(context)["value"] != old
    finally:
        context.close()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        # streamlit-authenticator's old format, unsigned ("alg: none")
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'username': 'admin', 'exp_date': 4e12})}.",
        "v1." + "A" * 43 + "." + "B" * 43,
    ],
    ids=["alg-none-jwt", "bad-signature"],
)
def test_a_forged_cookie_shows_the_login_form(browser, app_url, forged):
    context, tab = open_with_cookie(browser, app_url, forged)
    try:
        assert_login_form(tab)
        shot(tab, "forged-cookie")
    finally:
        context.close()


@pytest.mark.parametrize("where", ["mappings pager", "events selection"])
def test_a_logout_elsewhere_ends_the_next_click_inside_a_page_part(page, browser, app_url, where):
    """The grid and pager of /mappings and the list and details of /events rerun on their own
    (st.fragment, not through app.py's login gate): a click there after the session was ended
    in another tab still ends on the login form, never on more data."""
    log_in(page, app_url, "operator", "operator-demo")
    token = login_cookie(page.context)["value"]
    path = "mappings" if where == "mappings pager" else "events"
    context, tab = open_with_cookie(browser, app_url, token, path)
    try:
        main = tab.get_by_test_id("stMain")
        if where == "mappings pager":
            step_up = main.get_by_test_id("stNumberInputStepUp").first
            step_up.click()  # the session is alive: page 2 of the mappings
            settle(tab)
            expect(main.get_by_text("Page 2 of", exact=False)).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        settle(page)
        if where == "mappings pager":
            step_up.click()
        else:
            box = main.get_by_test_id("stDataFrame").first.bounding_box()
            tab.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selector
        settle(tab)
        expect(tab.get_by_text("Your session has ended. Please log in again.")).to_be_visible()
        assert_login_form(tab)
    finally:
        context.close()
