"""Screenshots of every page for every role at 1400×900 (test-artifacts/screenshots/pages/), the
way a new user first sees them, plus the checks a person would make on them: the date range reads
YYYY-MM-DD, "All substations" has no clear (×) button, an event's details show all their fields.

Look at the files after a change to a page: they are how rough edges get noticed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SHOTS, settle
from ui import session

pytestmark = pytest.mark.e2e

ROLES = {"admin": "admin-demo", "operator": "operator-demo", "viewer": "viewer-demo"}
VIEWPORT = {"width": 1400, "height": 900}
# Base Web's select draws its clear (×) control with one of these labels.
CLEAR_BUTTON = '[title="Clear value"], [aria-label="Clear value"], [aria-label="Clear all"]'


def log_in_at(browser, url: str, username: str, password: str):
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(180_000)  # a loaded 2-CPU machine
    tab.goto(url)
    settle(tab)
    tab.get_by_role("textbox", name="Username").fill(username)
    tab.get_by_role("textbox", name="Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    settle(tab)
    return context, tab


def save(tab, name: str) -> None:
    folder = SHOTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(folder / f"{name}.png"))  # the 1400×900 a person sees first


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_per_role_at_1400_by_900(browser, app_url, role):
    context, tab = log_in_at(browser, app_url, role, ROLES[role])
    try:
        for key in session.ROLE_PAGES[role]:
            spec = session.PAGES[key]
            tab.goto(f"{app_url}/{spec.url_path}")
            settle(tab)
            expect(tab.get_by_role("heading", level=1).first).to_be_visible()
            save(tab, f"{role}-{key}")
            # "All substations" is a choice, not a value to clear.
            sidebar = tab.get_by_test_id("stSidebar")
            if key in ("mappings", "events"):
                box = sidebar.get_by_test_id("stSelectbox").filter(has_text="Substation")
                expect(box.get_by_role("combobox")).to_have_value("All substations")
                expect(
                    box.get_by_role("button", name=re.compile("clear", re.IGNORECASE))
                ).to_have_count(0)
            # Every date box on every page reads YYYY-MM-DD, an empty one yyyy-mm-dd (the box
            # shows year, month and day as separate parts: read its text without the breaks).
            for text in tab.get_by_test_id("stDateInput").all_inner_texts():
                shown = "".join(text.split())
                assert not re.search(r"(\d{4}|yyyy)/", shown, re.IGNORECASE), (
                    f"/{spec.url_path}: {shown}"
                )
    finally:
        context.close()


def test_event_details_show_every_field_without_a_scroll_box(browser, app_url):
    context, tab = log_in_at(browser, app_url, "viewer", ROLES["viewer"])
    try:
        tab.goto(f"{app_url}/events")
        settle(tab)
        grid = tab.get_by_test_id("stDataFrame").first
        # Every column of the list, "Customers" last, is on screen at 1400 px: no sideways scroll.
        scroller = grid.locator(".dvn-scroller").first
        widths = scroller.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert widths[0] <= widths[1] + 1, f"the event list scrolls sideways: {widths}"
        box = grid.bounding_box()
        tab.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's marker
        settle(tab)
        expect(tab.get_by_role("tab", name="Overview")).to_be_visible()
        details = tab.get_by_test_id("stTable")
        details.scroll_into_view_if_needed()
        for field in ("Type", "Duration", "Magnitude", "Remaining voltage (%)", "Recorded at"):
            expect(details.get_by_text(field, exact=True)).to_be_visible()
        expect(details).not_to_contain_text("None")
        expect(details).not_to_contain_text("voltage_dip")
        save(tab, "viewer-event-details")
        tab.get_by_role("tab", name="Customer Impact").click()
        settle(tab)
        save(tab, "viewer-event-impacts")
    finally:
        context.close()
