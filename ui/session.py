"""The login gate and the app's database engine: who is logged in, and which pages they may use.

app.py runs the gate once per run before st.navigation; every page file starts with
`engine, identity = require_user()`, which reuses that run's gate or, should Streamlit ever run
the page file without app.py, runs the gate itself. The page files live in views/: a folder named
pages/ would switch on Streamlit's legacy multipage mode on a freshly started server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.engine import Engine
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ctm import db, settings
from ctm.db import Identity
from ui.feedback import fail_plainly

COOKIE_NAME = "ctm_login"
COOKIE_EXPIRY_DAYS = 7
WRONG_LOGIN = "Username or password is incorrect"
# The cookie helper of streamlit-authenticator registers this widget key once per run.
_AUTHENTICATOR_WIDGET_KEY = "init"
_IDENTITY_KEY = "ctm_identity"
LOGIN_PANEL = "ctm-login"
_LOGIN_RUN_KEY = "ctm_login_run"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file, menu title, menu section and icon."""

    path: str
    title: str
    section: str
    icon: str
    url_path: str


PAGES: dict[str, PageSpec] = {
    "mappings": PageSpec(
        "views/mappings.py",
        "Customer Transformer Matching",
        "Data Maintenance",
        ":material/cable:",
        "mappings",
    ),
    "events": PageSpec("views/events.py", "Events", "Events", ":material/bolt:", "events"),
    "statistics": PageSpec(
        "views/statistics.py", "Statistics", "Statistics", ":material/monitoring:", "statistics"
    ),
}

# Which pages each role may open. A page missing here is not registered for the role, so its URL
# leads nowhere; viewers get read-only controls inside the pages they may open.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "admin": ("mappings", "events", "statistics"),
    "operator": ("mappings", "events", "statistics"),
    "viewer": ("mappings", "events", "statistics"),
}

ROLE_LABELS = {"admin": "Administrator", "operator": "Operator", "viewer": "Viewer"}


class SchemaMissing(Exception):
    """DATABASE_URL points at a database that ctm has not migrated (fully) yet."""


def configure_page() -> None:
    """Page title, icon and wide layout; called by app.py and by page files run directly."""
    st.set_page_config(
        page_title="Customer Transformer Matching",
        page_icon=":material/electrical_services:",
        layout="wide",
    )


@st.cache_resource(show_spinner="Opening the database…")
def _engine_for(configured_url: str | None) -> Engine:
    """The engine for DATABASE_URL as given (never migrated here), or the embedded default,
    which is migrated and filled with demo data when empty so a fresh machine opens on data."""
    from ctm.migrate import applied_migrations, load_migrations, migrate

    if configured_url:
        engine = db.get_engine(configured_url)
        pending = [
            m.filename for m in load_migrations() if m.filename not in applied_migrations(engine)
        ]
        if pending:
            raise SchemaMissing(
                f"The database at {db.describe_url(configured_url)} is missing {len(pending)} "
                f"migration(s), starting with {pending[0]}: run `ctm migrate` first."
            )
        return engine
    from ctm import demo

    engine = db.get_engine(db.embedded_server_url())
    migrate(engine, log=lambda _line: None)
    if demo.database_is_empty(engine):
        demo.load_demo_data(engine)
    return engine


def app_engine() -> Engine:
    """The process-wide engine; stops the page with a plain message when there is no database."""
    configured_url = os.environ.get("DATABASE_URL") or None
    try:
        if configured_url is None:
            from ui.first_run import ensure_embedded_ready

            ensure_embedded_ready()  # the first start says what it does, step by step
        return _engine_for(configured_url)
    except (db.DatabaseUnavailable, SchemaMissing) as exc:
        st.error(str(exc), icon=":material/database:")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - the user gets a sentence, the log the details
        fail_plainly(exc, "The database could not be opened.")
    raise AssertionError("unreachable")


def _gate_ran_this_run() -> bool:
    ctx = get_script_run_ctx()
    return ctx is not None and _AUTHENTICATOR_WIDGET_KEY in ctx.shared.widget_user_keys_this_run


def _cookie_key() -> str:
    secret = None
    try:
        secret = st.secrets.get("cookie_key")
    except (FileNotFoundError, KeyError, AttributeError):
        secret = None
    except Exception:  # noqa: BLE001 - a missing or unparsable secrets.toml means "no secret"
        secret = None
    return settings.cookie_key(secret)


def _show_demo_logins(engine: Engine) -> None:
    from ctm import users

    logins = users.demo_logins(engine)
    if not logins:
        return
    with st.expander("Demo logins (this database was made by `ctm demo-data`)", expanded=True):
        st.table(
            {
                "Username": [u for u, _, _ in logins],
                "Password": [p for _, p, _ in logins],
                "Role": [ROLE_LABELS.get(r, r) for _, _, r in logins],
            }
        )


def login_gate() -> Identity | None:
    """Run the login form (or the cookie re-login) once per run; the logged-in user's Identity,
    or None while nobody is logged in (the form is then on screen)."""
    from ctm import users

    engine = app_engine()
    try:
        credentials = users.login_credentials(engine)
        authenticator = stauth.Authenticate(
            credentials,
            COOKIE_NAME,
            _cookie_key(),
            COOKIE_EXPIRY_DAYS,
            auto_hash=False,
            login_sleep_time=settings.login_sleep_seconds(),
        )
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc, "The login could not be prepared.")
    st.session_state["ctm_authenticator"] = authenticator
    status = st.session_state.get("authentication_status")
    if not status:
        _left, middle, _right = st.columns([1, 2, 1])
        with middle, st.container(key=LOGIN_PANEL):
            st.title("Customer Transformer Matching")
            st.caption("Which critical customers hang off which substation circuit.")
            try:
                authenticator.login(
                    location="main",
                    fields={
                        "Form name": "Log in",
                        "Username": "Username",
                        "Password": "Password",
                        "Login": "Log in",
                    },
                )
            except Exception:  # noqa: BLE001 - e.g. a stale cookie for a removed user
                st.session_state["authentication_status"] = False
            status = st.session_state.get("authentication_status")
            if status is False:
                st.error(WRONG_LOGIN)
            if not status:
                _show_demo_logins(engine)
                st.session_state.pop(_IDENTITY_KEY, None)
                return None
        # Logged in by this very run: hide the form drawn above it (no st.rerun here, so the
        # cookie component inside the panel still runs in the browser and remembers the login).
        st.html(f"<style>.st-key-{LOGIN_PANEL} {{display: none;}}</style>")
        st.session_state[_LOGIN_RUN_KEY] = True
    else:
        st.session_state[_LOGIN_RUN_KEY] = False
    username = st.session_state.get("username")
    identity = users.identity_for(engine, username) if username else None
    if identity is None:
        st.session_state.pop(_IDENTITY_KEY, None)
        st.error("Your account no longer exists or has no role. Ask an administrator.")
        authenticator.logout(location="unrendered")
        return None
    st.session_state[_IDENTITY_KEY] = identity
    return identity


def logout_button() -> None:
    """The sidebar's Logout button (after the user's name and role)."""
    authenticator = st.session_state.get("ctm_authenticator")
    if authenticator is not None and st.session_state.get("authentication_status"):
        authenticator.logout("Log out", location="sidebar", key="ctm_logout")


def user_sidebar(identity: Identity) -> None:
    """Who is logged in, with their role, and the Logout button."""
    with st.sidebar:
        st.markdown(f"**{identity.full_name or identity.username}**")
        st.caption(f"{ROLE_LABELS.get(identity.role, identity.role)} · {identity.username}")
    logout_button()
    if not st.session_state.get("authentication_status"):
        # Logged out by this run: no st.rerun here, the cookie is being deleted in the browser.
        st.session_state.pop(_IDENTITY_KEY, None)
        st.info("You are logged out.")
        st.button("Log in again", key="ctm_login_again")
        st.stop()


def keep_requested_page() -> None:
    """Make st.navigation open the page named by the browser's URL when a run does not say which.

    Until the browser has seen this session's first navigation message it knows only the main
    script's hash (from the new-session message), so a rerun sent that early — the login cookie
    reader mounting, a reload, a second tab — asks for that hash, and st.navigation would fall
    back to the default page: /statistics would end on /mappings. Such a run still carries the
    browser's real URL; its last path segment names the page. Call before st.navigation."""
    ctx = get_script_run_ctx()
    if ctx is None or ctx.context_info is None or not ctx.context_info.HasField("url"):
        return
    manager = ctx.pages_manager
    if manager.intended_page_script_hash != manager.main_script_hash:
        return
    segment = unquote(urlsplit(ctx.context_info.url).path.rstrip("/").rpartition("/")[2])
    if segment in {spec.url_path for spec in PAGES.values()}:
        manager.set_script_intent("", segment)


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
        if not st.session_state.get(_LOGIN_RUN_KEY):
            # Keep the query string: "/?substation=North" opens the first page filtered.
            st.switch_page(first, query_params=st.query_params.to_dict())
        # Switching now would rerun before the browser stores the login cookie; the cookie
        # component's own rerun (or a click on a link) moves on to the first page.
        st.subheader(f"Welcome, {st.session_state.get('name') or ''}")
        for section in sections.values():
            for page in section:
                if page is not start_page:
                    st.page_link(page)

    start_page = st.Page(start, title="Start", default=True, visibility="hidden", url_path="start")
    next(iter(sections.values())).insert(0, start_page)
    return sections


def require_user(roles: set[str] | None = None) -> tuple[Engine, Identity]:
    """Called first by every page: the engine and the logged-in user. Stops the page with the
    login form when nobody is logged in, or with a message when the role may not use it."""
    if _gate_ran_this_run():
        identity = st.session_state.get(_IDENTITY_KEY)
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
