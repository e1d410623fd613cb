"""Login sessions the server can end, and the failed-login lock, against a real PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from ctm import db, sessions, users
from ctm.errors import PermissionDenied

KEY = "s" * 40
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_settings(monkeypatch):
    for name in (
        "CTM_SESSION_IDLE_HOURS",
        "CTM_LOGIN_MAX_FAILURES",
        "CTM_LOGIN_FAILURE_WINDOW_MINUTES",
        "CTM_LOGIN_LOCK_MINUTES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def alice(engine):
    users.add_user(engine, "alice", "operator", PASSWORD, full_name="Alice Chan")
    return users.identity_for(engine, "alice")


def login(engine, username="alice", password=PASSWORD):
    outcome = sessions.log_in(engine, username, password, KEY)
    assert outcome.ok, outcome
    return outcome.token


def run_sql(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params)


def test_a_login_opens_a_session_the_token_resolves_to(engine, alice):
    token = login(engine)
    identity = sessions.resolve(engine, token, KEY)
    assert identity == alice
    assert sessions.resolve(engine, token, "another key that is long enough......") is None
    with db.owner_transaction(engine) as conn:
        stored = conn.execute(sa.text("SELECT id_hash FROM ctm_private.login_sessions")).scalars()
        assert [token.split(".")[1]] != list(stored)  # only a hash of the id is kept
    assert users.list_users(engine)[0].last_login_at is not None


def test_logout_ends_that_session_only(engine, alice):
    first, second = login(engine), login(engine)
    assert sessions.end_session(engine, first, KEY)
    assert sessions.resolve(engine, first, KEY) is None
    assert sessions.resolve(engine, second, KEY) == alice
    assert not sessions.end_session(engine, first, KEY)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: users.set_password(e, "alice", "a new password"),
        lambda e: users.set_role(e, "alice", "viewer"),
        lambda e: users.disable_user(e, "alice"),
        lambda e: users.remove_user(e, "alice"),
        lambda e: users.end_sessions(e, "alice"),
        # Whoever changes the role, even by SQL, ends the sessions (a trigger does it).
        lambda e: run_sql(e, "UPDATE profiles SET role = 'admin' WHERE full_name = 'Alice Chan'"),
    ],
    ids=["password", "role", "disable", "remove", "end-sessions", "role-by-sql"],
)
def test_account_changes_end_every_session_of_the_user(engine, alice, change):
    users.add_user(engine, "root", "admin", PASSWORD)
    tokens = [login(engine), login(engine)]
    other = login(engine, "root")
    change(engine)
    assert [sessions.resolve(engine, t, KEY) for t in tokens] == [None, None]
    assert sessions.resolve(engine, other, KEY) is not None


def test_the_role_is_read_from_the_database_on_every_resolve(engine, alice):
    token = login(engine)
    run_sql(engine, "UPDATE profiles SET full_name = 'Alice Wong' WHERE id = :i", i=alice.user_id)
    assert sessions.resolve(engine, token, KEY).full_name == "Alice Wong"
    users.set_role(engine, "alice", "viewer")
    assert sessions.resolve(engine, token, KEY) is None
    assert sessions.resolve(engine, login(engine), KEY).role == "viewer"


def test_a_recreated_username_never_inherits_an_old_cookie(engine, alice):
    users.add_user(engine, "root", "admin", PASSWORD)
    old = login(engine)
    users.remove_user(engine, "alice")
    users.add_user(engine, "alice", "admin", PASSWORD)
    assert sessions.resolve(engine, old, KEY) is None


def test_a_disabled_user_cannot_log_in_until_enabled(engine, alice):
    users.add_user(engine, "root", "admin", PASSWORD)
    users.disable_user(engine, "alice")
    assert not sessions.log_in(engine, "alice", PASSWORD, KEY).ok
    users.enable_user(engine, "alice")
    assert sessions.log_in(engine, "alice", PASSWORD, KEY).ok


def test_an_idle_session_ends_after_the_idle_limit(engine, alice, monkeypatch):
    token = login(engine)
    run_sql(engine, "UPDATE ctm_private.login_sessions SET last_seen_at = now() - interval '13 h'")
    monkeypatch.setenv("CTM_SESSION_IDLE_HOURS", "24")
    assert sessions.resolve(engine, token, KEY) == alice  # used again: idle time starts anew
    run_sql(engine, "UPDATE ctm_private.login_sessions SET last_seen_at = now() - interval '13 h'")
    monkeypatch.delenv("CTM_SESSION_IDLE_HOURS")
    assert sessions.resolve(engine, token, KEY) is None
    reasons = run_sql(engine, "SELECT end_reason FROM ctm_private.login_sessions").scalars().all()
    assert reasons == ["expired"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_forged_and_foreign_tokens_log_nobody_in(engine, alice):
    token = login(engine)
    version, session_id, mac = token.split(".")
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'username': 'alice'})}."
    forged = [
        alg_none,
        f"{version}.{session_id}.",
        f"{version}.{session_id}.{mac[:-2]}AA",
        f"{version}.{'x' * 43}.{mac}",
        sessions.sign("x" * 43, KEY),  # correctly signed, but no such session
        "",
        "garbage",
        "v1." + "a" * 500,
    ]
    assert [sessions.resolve(engine, t, KEY) for t in forged] == [None] * len(forged)


def test_five_failures_lock_a_username_known_or_not_and_an_admin_unlocks(engine, alice, caplog):
    outcomes = {}
    for name in ("alice", "nobody"):
        outcomes[name] = [sessions.log_in(engine, name, "wrong guess", KEY) for _ in range(5)]
    for name, results in outcomes.items():
        assert [r.ok for r in results] == [False] * 5, name
        assert [r.locked_minutes for r in results] == [None, None, None, None, 15], name
    # Locked: even the right password is refused, with the same answer as for an unknown name.
    locked = sessions.log_in(engine, "alice", PASSWORD, KEY)
    assert not locked.ok and locked.locked_minutes == 15
    assert sessions.log_in(engine, "nobody", PASSWORD, KEY).locked_minutes == 15
    assert "username 'alice' locked for 15 minutes after 5 failed logins" in caplog.text
    assert users.list_users(engine)[0].locked_until is not None

    assert users.unlock_user(engine, "ALICE ")  # as typed: case and spaces do not matter
    assert sessions.log_in(engine, "alice", PASSWORD, KEY).ok


def test_failures_are_counted_in_the_database_across_processes(engine, db_url, alice):
    other_process = sa.create_engine(db._sqlalchemy_url(db_url))
    try:
        for attempt in range(5):
            which = engine if attempt % 2 else other_process
            sessions.log_in(which, "alice", "wrong guess", KEY)
        assert sessions.log_in(other_process, "alice", PASSWORD, KEY).locked_minutes == 15
    finally:
        other_process.dispose()


def test_a_lock_ends_by_itself_and_old_failures_do_not_count(engine, alice, monkeypatch):
    monkeypatch.setenv("CTM_LOGIN_MAX_FAILURES", "2")
    sessions.log_in(engine, "alice", "wrong", KEY)
    run_sql(engine, "UPDATE ctm_private.login_failures SET failed_at = now() - interval '16 min'")
    assert sessions.log_in(engine, "alice", "wrong", KEY).locked_minutes is None
    assert sessions.log_in(engine, "alice", "wrong", KEY).locked_minutes == 15
    run_sql(engine, "UPDATE ctm_private.login_locks SET locked_until = now() - interval '1 s'")
    assert sessions.log_in(engine, "alice", PASSWORD, KEY).ok


def test_a_successful_login_clears_the_failure_count(engine, alice):
    for _ in range(4):
        sessions.log_in(engine, "alice", "wrong", KEY)
    login(engine)
    for _ in range(4):
        assert sessions.log_in(engine, "alice", "wrong", KEY).locked_minutes is None


@pytest.mark.parametrize(
    "table", ["login_sessions", "login_failures", "login_locks", "user_credentials"]
)
def test_authenticated_cannot_read_sessions_or_lock_tables(engine, alice, table):
    login(engine)
    with (
        pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
        db.user_transaction(engine, alice) as conn,
    ):
        conn.execute(sa.text(f"SELECT * FROM ctm_private.{table}"))


# Managing users: the last admin, and who may manage -----------------------------------------------


def test_the_last_admin_cannot_be_demoted_disabled_or_removed(engine):
    users.add_user(engine, "root", "admin", PASSWORD)
    for change in (
        lambda: users.set_role(engine, "root", "operator"),
        lambda: users.disable_user(engine, "root"),
        lambda: users.remove_user(engine, "root"),
    ):
        with pytest.raises(users.LastAdmin, match="last administrator"):
            change()
    assert users.identity_for(engine, "root").role == "admin"
    users.add_user(engine, "second", "admin", PASSWORD)
    users.disable_user(engine, "second")  # a disabled admin cannot log in: it does not count
    with pytest.raises(users.LastAdmin):
        users.set_role(engine, "root", "viewer")
    users.enable_user(engine, "second")
    users.set_role(engine, "root", "viewer")
    assert users.identity_for(engine, "root").role == "viewer"


def test_only_a_current_admin_may_manage_users(engine, alice):
    users.add_user(engine, "root", "admin", PASSWORD)
    root = users.identity_for(engine, "root")
    with pytest.raises(PermissionDenied):
        users.add_user(engine, "mallory", "admin", PASSWORD, actor=alice)
    with pytest.raises(PermissionDenied):
        users.set_role(engine, "alice", "admin", actor=alice)
    users.add_user(engine, "bob", "viewer", PASSWORD, actor=root)
    users.set_role(engine, "bob", "operator", actor=root)
    users.add_user(engine, "other", "admin", PASSWORD)
    users.set_role(engine, "root", "viewer")  # root is no admin any more: its old identity fails
    with pytest.raises(PermissionDenied):
        users.disable_user(engine, "bob", actor=root)
