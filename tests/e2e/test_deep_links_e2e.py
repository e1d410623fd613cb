"""Deep links in a real Chromium: a logged-in user who opens /events or /statistics in a new tab
(or reloads it) stays on that page, and a logged-out user keeps the URL through the login.

Before the fix, the login cookie reader's first rerun reached the server before the browser knew
its page, so st.navigation fell back to the default page: /statistics → / → /mappings. The
server runs with the production login pause, which makes that race happen every time."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from ctm.settings import DEFAULT_LOGIN_SLEEP_SECONDS
from tests.e2e.conftest import log_in, settle, shot

pytestmark = pytest.mark.e2e

DEEP_LINKS = [("events", "Events"), ("statistics", "Statistics")]
WATCH_SECONDS = 3.0


@pytest.fixture(scope="module")
def app_env() -> dict[str, str]:
    # The production pause on each logged-out run: a new session's first run then lasts long
    # enough for the cookie reader's rerun to overtake it, as it does for real users.
    return {"CTM_LOGIN_SLEEP_SECONDS": str(DEFAULT_LOGIN_SLEEP_SECONDS)}


def assert_stays_on(tab, url: str, title: str) -> None:
    """The page's title is on screen, no login form, and the URL never leaves `url` meanwhile."""
    seen: set[str] = set()
    deadline = time.monotonic() + WATCH_SECONDS
    while time.monotonic() < deadline:
        seen.add(tab.url)
        tab.wait_for_timeout(150)
    settle(tab)
    seen.add(tab.url)
    assert seen == {url}, f"URL moved while opening {url}: {sorted(seen)}"
    expect(tab.get_by_role("heading", name=title, level=1, exact=True)).to_be_visible()
    expect(tab.get_by_role("textbox", name="Username")).to_have_count(0)


def test_logged_in_deep_link_in_new_tab_and_reload(page, app_url):
    log_in(page, app_url, "admin", "admin-demo")
    page.wait_for_url(f"{app_url}/mappings")
    settle(page)
    assert "ctm_login" in {cookie["name"] for cookie in page.context.cookies()}

    for path, title in DEEP_LINKS:
        url = f"{app_url}/{path}"
        tab = page.context.new_page()
        tab.set_default_timeout(20_000)
        tab.goto(url)
        settle(tab)
        assert_stays_on(tab, url, title)
        tab.reload()
        settle(tab)
        assert_stays_on(tab, url, title)
        shot(tab, f"deep-link-{path}")
        tab.close()


def test_logged_out_deep_link_keeps_url_through_login(page, app_url):
    url = f"{app_url}/statistics"
    page.goto(url)
    settle(page)
    page.wait_for_timeout(1_000)
    assert page.url == url
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()

    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill("admin-demo")
    page.get_by_role("button", name="Log in").click()
    settle(page)
    assert_stays_on(page, url, "Statistics")


def test_a_page_or_an_event_chosen_inside_a_page_part_is_a_link(page, app_url):
    """The pager of /mappings and the event list of /events rerun only their part of the page
    (st.fragment); the page number and the selected event still reach the URL, and that URL
    opens the same view in a new tab."""
    log_in(page, app_url, "viewer", "viewer-demo", path="mappings")
    main = page.get_by_test_id("stMain")
    main.get_by_test_id("stNumberInputStepUp").first.click()
    settle(page)
    expect(main.get_by_text("Page 2 of", exact=False)).to_be_visible()
    assert page.url.endswith("/mappings?page=2")

    page.goto(f"{app_url}/events")
    settle(page)
    box = main.get_by_test_id("stDataFrame").first.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selector
    settle(page)
    expect(main.get_by_role("tab", name="Customer Impact")).to_be_visible()
    assert "/events?event=" in page.url
    link = page.url
    subheading = main.get_by_role("heading", level=3).first.inner_text()

    tab = page.context.new_page()
    tab.set_default_timeout(20_000)
    for url, view in ((f"{app_url}/mappings?page=2", "Page 2 of"), (link, subheading)):
        tab.goto(url)
        settle(tab)
        expect(tab.get_by_test_id("stMain").get_by_text(view, exact=False).first).to_be_visible()
    tab.close()
