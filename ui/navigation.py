"""Which pages exist, which each role may open, and how st.navigation gets them.

A page not registered for a role cannot be opened by URL at all (st.navigation only knows the
pages it was given); `visibility="hidden"` would only hide it from the menu. Page files live in
views/, never in a folder named pages/: that name switches on Streamlit's legacy multipage mode,
which runs a page file *instead of* app.py (no login) on a freshly started server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import streamlit as st

from ui import streamlit_internals


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file, menu title, menu section and icon."""

    path: str
    title: str
    section: str
    icon: str
    url_path: str


# Sections are named for what they group, never like the one page in them (the sidebar would
# read "Events › Events").
PAGES: dict[str, PageSpec] = {
    "mappings": PageSpec(
        "views/mappings.py",
        "Customer Transformer Matching",
        "Data Maintenance",
        ":material/cable:",
        "mappings",
    ),
    "substations": PageSpec(
        "views/substations.py",
        "Substations",
        "Data Maintenance",
        ":material/electric_bolt:",
        "substations",
    ),
    "meters": PageSpec(
        "views/meters.py", "Meters", "Data Maintenance", ":material/speed:", "meters"
    ),
    "customers": PageSpec(
        "views/customers.py", "Customers", "Data Maintenance", ":material/groups:", "customers"
    ),
    "history": PageSpec(
        "views/history.py", "History", "Data Maintenance", ":material/history:", "history"
    ),
    "events": PageSpec("views/events.py", "Events", "Power Quality", ":material/bolt:", "events"),
    "statistics": PageSpec(
        "views/statistics.py", "Statistics", "Power Quality", ":material/monitoring:", "statistics"
    ),
    "analytics_sarfi": PageSpec(
        "views/analytics_sarfi.py", "SARFI", "Analytics", ":material/query_stats:", "sarfi"
    ),
    "analytics_ride_through": PageSpec(
        "views/analytics_ride_through.py",
        "Ride-through compliance",
        "Analytics",
        ":material/scatter_plot:",
        "ride-through",
    ),
    "analytics_most_affected": PageSpec(
        "views/analytics_most_affected.py",
        "Most affected",
        "Analytics",
        ":material/leaderboard:",
        "most-affected",
    ),
    "users": PageSpec("views/users.py", "Users", "Administration", ":material/group:", "users"),
}
# Every role may use the Analytics section (roles.Action.READ).
ANALYTICS_PAGES = ("analytics_sarfi", "analytics_ride_through", "analytics_most_affected")

# Which pages each role may open. A page missing here is not registered for the role, so its URL
# leads nowhere; viewers get read-only controls inside the pages they may open.
# Every role reads the reference data pages (roles.Action.READ); what each may change there comes
# from ctm.roles inside the pages.
REFERENCE_PAGES = ("substations", "meters", "customers")
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "admin": (
        "mappings",
        *REFERENCE_PAGES,
        "history",
        "events",
        "statistics",
        *ANALYTICS_PAGES,
        "users",
    ),
    "operator": ("mappings", *REFERENCE_PAGES, "history", "events", "statistics", *ANALYTICS_PAGES),
    "viewer": ("mappings", *REFERENCE_PAGES, "history", "events", "statistics", *ANALYTICS_PAGES),
}


def configure_page() -> None:
    """Page title, icon and wide layout; called by app.py and by page files run directly."""
    st.set_page_config(
        page_title="Customer Transformer Matching",
        page_icon=":material/electrical_services:",
        layout="wide",
    )


def keep_requested_page() -> None:
    """Make st.navigation open the page named by the browser's URL when a run does not say which.

    Until the browser has seen this session's first navigation message it knows only the main
    script's hash, so a run sent that early (a reload, a second tab) asks for that hash and
    st.navigation would fall back to the default page: /statistics would end on /mappings. Such a
    run still carries the browser's real URL; its last path segment names the page."""
    url = streamlit_internals.browser_url()
    if url is None or not streamlit_internals.run_names_no_page():
        return
    segment = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    if segment in {spec.url_path for spec in PAGES.values()}:
        streamlit_internals.ask_for_page(segment)


def navigation_pages(role: str) -> dict[str, list[st.Page]]:
    """The st.navigation sections for a role: only the pages ROLE_PAGES grants it.

    Streamlit serves its default page at "/" only, so a hidden default page forwards to the
    role's first page and every real page keeps its own URL (/mappings, /events, ...)."""
    sections: dict[str, list] = {}
    first: st.Page | None = None
    for key in ROLE_PAGES.get(role, ()):
        spec = PAGES[key]
        page = st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path)
        first = first or page
        sections.setdefault(spec.section, []).append(page)
    if first is None:
        return {}

    def start() -> None:
        # Keep the query string: "/?substation=North" opens the first page filtered.
        st.switch_page(first, query_params=st.query_params.to_dict())

    start_page = st.Page(start, title="Start", default=True, visibility="hidden", url_path="start")
    next(iter(sections.values())).insert(0, start_page)
    return sections


def logged_out_pages() -> list[st.Page]:
    """What st.navigation gets while nobody is logged in: the login (default) plus every page's
    URL, each showing only the login form the gate drew — so a deep link such as /events neither
    errors nor opens anything, and after logging in the same URL opens the real page."""

    def login_page() -> None:
        return None

    def placeholder(key: str) -> Callable[[], None]:
        def page() -> None:
            return None

        page.__name__ = f"login_for_{key}"
        return page

    return [st.Page(login_page, title="Log in", default=True)] + [
        st.Page(placeholder(key), title=spec.title, url_path=spec.url_path)
        for key, spec in PAGES.items()
    ]
