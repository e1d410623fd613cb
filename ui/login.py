"""The login gate: who is logged in on this run, the login form, the sidebar's user and Log out.

A login is a server-side session (ctm/sessions.py). The browser keeps its signed id in the cookie
`ctm_login`; the gate reads that cookie from the page request itself (st.context.cookies), so a
new tab, a reload or a deep link knows its user on the very first run, with no component round
trip. The cookie is written and deleted by a line of JavaScript (st.html), which is why it cannot
be HttpOnly: revocation on the server, an idle timeout and SameSite=Strict make up for it.
Every run resolves the session again, so a logout, a password or role change, a disabled or
removed account ends it at once, and the role is always the one in the database.
"""

from __future__ import annotations

import time

import streamlit as st

from ctm import sessions, settings
from ctm.db import Identity
from ctm.roles import ROLE_LABELS
from ui import streamlit_internals
from ui.app_engine import app_engine
from ui.feedback import fail_plainly

COOKIE_NAME = "ctm_login"
WRONG_LOGIN = "Username or password is incorrect"
LOCKED_LOGIN = (
    "Too many failed logins for this username. Try again in {minutes} minutes, "
    "or ask an administrator to unlock it."
)
LOGGED_OUT = "You are logged out."
SESSION_ENDED = "Your session has ended. Please log in again."
LOGIN_PANEL = "ctm-login"

TOKEN_KEY = "ctm_session_token"  # the session token this browser session uses
_IDENTITY_KEY = "ctm_identity"
_REJECTED_COOKIE_KEY = "ctm_rejected_cookie"
_NOTICE_KEY = "ctm_login_notice"  # (kind, text) shown above the form once
# Set once this browser session has held a login: its cookie may exist although the page
# request carried none (the login happened after the page was loaded).
_MAY_HOLD_COOKIE_KEY = "ctm_may_hold_cookie"
_USERNAME_KEY = "ctm_login_username"
_PASSWORD_KEY = "ctm_login_password"


def cookie_key() -> str:
    """The key that signs login cookies: secrets.toml `cookie_key`, CTM_COOKIE_KEY or the file."""
    secret = None
    try:
        secret = st.secrets.get("cookie_key")
    except Exception:  # noqa: BLE001 - a missing or unparsable secrets.toml means "no secret"
        secret = None
    return settings.cookie_key(secret)


def _browser_cookie() -> str | None:
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser (bare mode): no cookie
        return None


def _cookie_script(token: str | None) -> str:
    """JavaScript that stores (or, for None, deletes) the login cookie in the browser."""
    lifetime = sessions.MAX_SESSION_DAYS * 86400 if token else 0
    return (
        "<script>(function () {"
        " var secure = window.location.protocol === 'https:' ? '; Secure' : '';"
        f" document.cookie = '{COOKIE_NAME}={token or ''}; Path=/; Max-Age={lifetime};"
        " SameSite=Strict' + secure;"
        "})();</script>"
    )


def _write_cookie(token: str | None) -> None:
    st.html(_cookie_script(token), unsafe_allow_javascript=True)


def _notice(kind: str, text: str) -> None:
    st.session_state[_NOTICE_KEY] = (kind, text)


def _submit_login() -> None:
    """The form's callback: runs before the script, so the same run already shows the page."""
    username = st.session_state.get(_USERNAME_KEY, "")
    password = st.session_state.get(_PASSWORD_KEY, "")
    st.session_state[_PASSWORD_KEY] = ""
    try:
        outcome = sessions.log_in(app_engine(), username, password, cookie_key())
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc, "The login could not be checked.")
    if outcome.ok:
        st.session_state[TOKEN_KEY] = outcome.token
        st.session_state[_MAY_HOLD_COOKIE_KEY] = True
        st.session_state.pop(_NOTICE_KEY, None)
        return
    # The pause slows guessing from one browser; the lock in the database stops the rest.
    time.sleep(settings.login_sleep_seconds())
    if outcome.locked_minutes is not None:
        _notice("error", LOCKED_LOGIN.format(minutes=f"{outcome.locked_minutes:g}"))
    else:
        _notice("error", WRONG_LOGIN)


def _log_out() -> None:
    token = st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(_IDENTITY_KEY, None)
    try:
        sessions.end_session(app_engine(), token, cookie_key())
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc, "The logout could not be recorded. Please try again.")
    _notice("info", LOGGED_OUT)


def _current_identity() -> Identity | None:
    """Resolve this browser session's token, else the browser's cookie; forget what fails."""
    engine = app_engine()
    key = cookie_key()
    token = st.session_state.get(TOKEN_KEY)
    if token:
        identity = sessions.resolve(engine, token, key)
        if identity is not None:
            return identity
        st.session_state.pop(TOKEN_KEY, None)
        _notice("info", SESSION_ENDED)
    cookie = _browser_cookie()
    if cookie and cookie != token and cookie != st.session_state.get(_REJECTED_COOKIE_KEY):
        identity = sessions.resolve(engine, cookie, key)
        if identity is not None:
            st.session_state[TOKEN_KEY] = cookie
            return identity
        # A forged, ended, expired or foreign cookie: never asked about again in this session.
        st.session_state[_REJECTED_COOKIE_KEY] = cookie
    return None


def login_gate() -> Identity | None:
    """The logged-in user's Identity for this run, or None with the login form on screen."""
    streamlit_internals.mark_gate_ran()
    try:
        identity = _current_identity()
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc, "The login could not be checked.")
    if identity is not None:
        st.session_state[_IDENTITY_KEY] = identity
        return identity
    st.session_state.pop(_IDENTITY_KEY, None)
    _login_form()
    return None


def confirm_login() -> None:
    """For a run in which app.py's gate did not run (a fragment rerun): go on only while the
    browser session still logs in the same user with the same role; otherwise rerun the whole
    app, whose gate then shows the login form (or the pages of the new role)."""
    try:
        identity = _current_identity()
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc, "The login could not be checked.")
    if identity is None or identity != st.session_state.get(_IDENTITY_KEY):
        st.rerun()


def _login_form() -> None:
    _left, middle, _right = st.columns([1, 2, 1])
    with middle, st.container(key=LOGIN_PANEL):
        st.title("Customer Transformer Matching")
        st.caption("Which critical customers hang off which substation circuit.")
        notice = st.session_state.pop(_NOTICE_KEY, None)
        if notice is not None:
            kind, text = notice
            (st.error if kind == "error" else st.info)(text)
        with st.form("ctm_login_form", enter_to_submit=True):
            st.subheader("Log in")
            st.text_input("Username", key=_USERNAME_KEY, autocomplete="username")
            st.text_input(
                "Password", type="password", key=_PASSWORD_KEY, autocomplete="current-password"
            )
            st.form_submit_button("Log in", on_click=_submit_login, type="primary")
        _show_demo_logins()
        if _browser_cookie() or st.session_state.get(_MAY_HOLD_COOKIE_KEY):
            _write_cookie(None)  # a cookie that logs nobody in is dropped from the browser


def _show_demo_logins() -> None:
    from ctm import users

    logins = users.demo_logins(app_engine())
    if not logins:
        return
    with st.expander("Demo logins (this database holds ctm's demo data)", expanded=True):
        st.table(
            {
                "Username": [u for u, _, _ in logins],
                "Password": [p for _, p, _ in logins],
                "Role": [ROLE_LABELS.get(r, r) for _, _, r in logins],
            }
        )


def user_sidebar(identity: Identity) -> None:
    """Who is logged in, with their role, and the Log out button; stores a new login's cookie."""
    with st.sidebar:
        st.markdown(f"**{identity.full_name or identity.username}**")
        st.caption(f"{ROLE_LABELS.get(identity.role, identity.role)} · {identity.username}")
        st.button("Log out", key="ctm_logout", on_click=_log_out)
        token = st.session_state.get(TOKEN_KEY)
        if token and _browser_cookie() != token:
            # Until the browser reloads, the request's cookie is the old one: write on each run
            # (the same value; a page switch right after login cannot lose it).
            _write_cookie(token)
