"""Analytics in a real Chromium on the demo data: the SARFI page shows both weightings and its
Excel download opens in openpyxl; on the ride-through page a substation's events are points, and
clicking one opens that event on the Events page."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, settle, shot

pytestmark = pytest.mark.e2e


def test_sarfi_page_and_download(page, app_url):
    log_in(page, app_url, "viewer", "viewer-demo", "sarfi")
    settle(page)
    expect(page.get_by_role("heading", name="SARFI", level=1, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Critical-customer SARFI-70")).to_be_visible()
    expect(page.get_by_role("heading", name="System SARFI-70 (IEEE 1564)")).to_be_visible()
    shot(page, "analytics_sarfi")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Excel").click()
    download = info.value
    assert download.suggested_filename.startswith("sarfi_70_")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert book.sheetnames[:2] == ["Summary", "Indices"]
    labels = [row[0] for row in book["Indices"].iter_rows(min_row=2, values_only=True)]
    assert labels[0] == "SARFI-10" and "SARFI-SEMI" in labels


def test_clicking_a_point_opens_the_event(page, app_url):
    log_in(page, app_url, "viewer", "viewer-demo", "ride-through")
    settle(page)
    expect(page.get_by_text("equipment-terminal requirements")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("combobox", name="Substation").first.click()
    page.get_by_role("option").nth(1).click()  # the first substation (0 is "All")
    page.keyboard.press("Escape")
    settle(page)
    expect(page.get_by_text("Click a point to open the event.")).to_be_visible()
    points = page.locator(
        "[data-testid=stVegaLiteChart] svg path[role=graphics-symbol][aria-roledescription=circle]"
    )
    expect(points.first).to_be_attached()
    shot(page, "analytics_ride_through")
    points.first.dispatch_event("click")
    page.wait_for_url("**/events?event=*", timeout=20_000)
    settle(page)
    assert "event=" in page.url
