"""What every page file starts with: `engine, identity = require_user()`.

The parts live in small modules: ui/navigation.py (pages, roles, st.navigation), ui/login.py (the
login gate, cookie and sidebar), ui/app_engine.py (the database engine), and
ui/streamlit_internals.py (the only private Streamlit API ctm touches). The names below are
re-exported so a page or test can keep importing them from here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.roles import ROLE_LABELS
from ui import streamlit_internals
from ui.app_engine import SchemaMissing, app_engine
from ui.login import COOKIE_NAME, WRONG_LOGIN, confirm_login, login_gate, user_sidebar
from ui.navigation import (
    PAGES,
    ROLE_PAGES,
    PageSpec,
    configure_page,
    keep_requested_page,
    logged_out_pages,
    navigation_pages,
)

__all__ = [
    "COOKIE_NAME",
    "PAGES",
    "ROLE_LABELS",
    "ROLE_PAGES",
    "WRONG_LOGIN",
    "PageSpec",
    "SchemaMissing",
    "app_engine",
    "configure_page",
    "keep_requested_page",
    "logged_out_pages",
    "login_gate",
    "navigation_pages",
    "require_user",
    "user_fragment",
    "user_sidebar",
]


def require_user(roles: set[str] | None = None) -> tuple[Engine, Identity]:
    """Called first by every page: the engine and the logged-in user. Stops the page with the
    login form when nobody is logged in, or with a message when the role may not use it."""
    if streamlit_internals.gate_ran_this_run():
        identity = st.session_state.get("ctm_identity")
    else:
        # Streamlit ran this page file without app.py: guard it here.
        configure_page()
        identity = login_gate()
        if identity is not None:
            user_sidebar(identity)
    if identity is None:
        st.stop()
    if roles is not None and identity.role not in roles:
        st.error("Your role does not give access to this page.")
        st.stop()
    return app_engine(), identity


def user_fragment(func: Callable[..., None]) -> Callable[..., None]:
    """st.fragment for the part of a page a widget changes (the grid and its pager, an event list
    and the selected event): its widgets rerun only that part, not app.py, the sidebar and the
    rest of the page. A fragment rerun skips app.py's login gate, so it checks the login itself
    first and reruns the whole app when the session ended or the user's role changed — a logout
    in another tab still ends the next click here."""

    @functools.wraps(func)
    def checked(*args, **kwargs) -> None:
        if not streamlit_internals.gate_ran_this_run():
            confirm_login()
        func(*args, **kwargs)

    return st.fragment(checked)
