"""AppTest fixtures: the app pointed at a fresh migrated database, users that can log in, and
helpers to log a user in and read what the page shows."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from ctm import db, users

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
SESSION_TOKEN_KEY = "ctm_session_token"  # ui/login.py TOKEN_KEY
TIMEOUT = 30


@pytest.fixture
def app_env(db_url, monkeypatch, tmp_path):
    """Environment of the app under test: the fixture database, no login pause, a cookie key."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CTM_LOGIN_SLEEP_SECONDS", "0")
    monkeypatch.setenv("CTM_COOKIE_KEY", "k" * 40)
    monkeypatch.setenv("CTM_DATA_DIR", str(tmp_path / "data"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db_url
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def login_user(engine, app_env):
    """Factory: a login with the given role; returns its Identity."""

    def make(role: str, username: str | None = None) -> db.Identity:
        name = username or f"{role}{uuid.uuid4().hex[:6]}"
        users.add_user(engine, name, role, PASSWORD, full_name=f"{role.title()} Person")
        identity = users.identity_for(engine, name)
        assert identity is not None
        return identity

    return make


def new_app(page: str = "app.py") -> AppTest:
    return AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)


def logged_in(identity: db.Identity, page: str = "app.py") -> AppTest:
    """An AppTest whose browser session is already logged in as `identity`: a real server-side
    session (as the login form opens), its token in the session state (as after the form or the
    cookie). The identity must have a login (the `login_user` fixture makes one)."""
    from ctm import sessions, settings

    engine = db.get_engine(os.environ["DATABASE_URL"])
    with db.owner_transaction(engine) as conn:
        token = sessions.create_session_in(conn, identity.user_id, settings.cookie_key())
    at = new_app(page)
    at.session_state[SESSION_TOKEN_KEY] = token
    return at


def texts(at: AppTest) -> str:
    """Everything the page says in markdown, captions, titles, errors, infos, successes, toasts."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "error",
        "info",
        "success",
        "warning",
        "toast",
    ):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def scalar(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


@pytest.fixture
def grid_data(engine, app_env):
    """Two substations (North with circuits H1-H3 from events, South with H1), 250 customers and
    mappings: 240 on North (spread over H1-H3, 10 of them inactive), 10 on South."""
    with db.owner_transaction(engine) as conn:
        north = conn.scalar(
            sa.text("INSERT INTO substations (name, code) VALUES ('North', 'N') RETURNING id")
        )
        south = conn.scalar(
            sa.text("INSERT INTO substations (name, code) VALUES ('South', 'S') RETURNING id")
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " VALUES (:n, 'H1', 'low', 1000), (:n, 'H2', 'low', 1000),"
                " (:n, 'H3', 'low', 1000), (:s, 'H1', 'low', 1000)"
            ),
            {"n": north, "s": south},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name, customer_type)"
                " SELECT 'ACC' || lpad(g::text, 4, '0'), 'Customer ' || lpad(g::text, 4, '0'),"
                " (ARRAY['residential','commercial','industrial'])[1 + g % 3]"
                " FROM generate_series(1, 250) AS g"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching"
                " (customer_id, substation_id, circuit_id, active)"
                " SELECT c.id, CASE WHEN n <= 240 THEN CAST(:n AS uuid) ELSE CAST(:s AS uuid) END,"
                " CASE WHEN n <= 240 THEN 'H' || (1 + n % 3) ELSE 'H1' END, n % 24 <> 0"
                " FROM (SELECT id, row_number() OVER (ORDER BY account_number) AS n"
                "       FROM customers) AS c"
            ),
            {"n": north, "s": south},
        )
    return {"north": north, "south": south}
