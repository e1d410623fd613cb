"""Login sessions the server can end, and the per-username limit on failed logins.

A login creates a row in ctm_private.login_sessions and gives the browser a cookie holding a random
session id signed with the cookie key (`v1.<id>.<hmac>`). Every run of the app resolves the cookie
to the user again (`resolve`): the session must exist, not be ended, not be idle longer than the
idle limit, and its account must still be enabled — the role is read afresh each time. Failed
logins are counted in the database per submitted username (known or not), so every browser session
and server process shares one count; too many lock the username for a while.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import bcrypt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import settings
from ctm.db import Identity, owner_transaction
from ctm.roles import ROLES

log = logging.getLogger("ctm.login")

TOKEN_VERSION = "v1"
# A session older than this ends even when used every day (the cookie's own lifetime too).
MAX_SESSION_DAYS = 7
MAX_USERNAME_CHARS = 200
# Checked when the username is unknown, so an unknown name costs the same time as a known one.
_DUMMY_HASH = b"$2b$12$OQzjExl50D8RoegVJBDm.OAlhwcTagJL6eQpQE9deaVPcY8qOljp."


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt gave: the identity and cookie token, or why not."""

    identity: Identity | None = None
    token: str | None = None
    locked_minutes: float | None = None  # set when the username is (now) locked

    @property
    def ok(self) -> bool:
        return self.identity is not None


@dataclass(frozen=True)
class LockState:
    username: str
    locked_until: datetime
    failures: int


def normalize_username(username: str | None) -> str:
    """How a typed username is counted and looked up: trimmed, lower-case, at most 200 chars."""
    text = (username or "").replace("\x00", "").strip().lower()
    return text[:MAX_USERNAME_CHARS]


# Tokens ------------------------------------------------------------------------------------------


def _mac(session_id: str, key: str) -> str:
    digest = hmac.new(key.encode(), f"{TOKEN_VERSION}.{session_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def sign(session_id: str, key: str) -> str:
    """The cookie value for a session id."""
    return f"{TOKEN_VERSION}.{session_id}.{_mac(session_id, key)}"


def session_id_from(token: str | None, key: str) -> str | None:
    """The session id of a correctly signed token, else None (forged, old format, garbage)."""
    if not token or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION or not parts[1]:
        return None
    if not hmac.compare_digest(parts[2], _mac(parts[1], key)):
        return None
    return parts[1]


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


# Sessions ----------------------------------------------------------------------------------------


def create_session_in(conn: Connection, profile_id: UUID, key: str) -> str:
    """A new session for a profile inside an open owner transaction; returns the cookie token."""
    session_id = secrets.token_urlsafe(32)
    conn.execute(
        sa.text("INSERT INTO ctm_private.login_sessions (id_hash, profile_id) VALUES (:h, :p)"),
        {"h": _id_hash(session_id), "p": profile_id},
    )
    return sign(session_id, key)


_RESOLVE_SQL = """
SELECT p.id, c.username, p.role, coalesce(p.full_name, c.username),
       s.ended_at IS NULL AND c.disabled_at IS NULL
         AND s.last_seen_at > now() - make_interval(secs => :idle)
         AND s.created_at > now() - make_interval(days => :max_days) AS alive,
       s.last_seen_at < now() - interval '60 seconds' AS touch
FROM ctm_private.login_sessions AS s
JOIN public.profiles AS p ON p.id = s.profile_id
JOIN ctm_private.user_credentials AS c ON c.profile_id = s.profile_id
WHERE s.id_hash = :h
"""


def resolve(engine: Engine, token: str | None, key: str) -> Identity | None:
    """The user a cookie token logs in, read afresh (role included), or None when the token is
    forged or its session ended, expired or belongs to a disabled or removed account."""
    session_id = session_id_from(token, key)
    if session_id is None:
        return None
    id_hash = _id_hash(session_id)
    idle = settings.session_idle_hours() * 3600
    with owner_transaction(engine) as conn:
        row = conn.execute(
            sa.text(_RESOLVE_SQL), {"h": id_hash, "idle": idle, "max_days": MAX_SESSION_DAYS}
        ).one_or_none()
        if row is None:
            return None
        user_id, username, role, full_name, alive, touch = row
        if not alive:
            conn.execute(
                sa.text(
                    "UPDATE ctm_private.login_sessions SET ended_at = now(),"
                    " end_reason = 'expired' WHERE id_hash = :h AND ended_at IS NULL"
                ),
                {"h": id_hash},
            )
            return None
        if role not in ROLES:
            return None
        if touch:
            # Written at most once a minute: a rerun per click need not write each time.
            conn.execute(
                sa.text(
                    "UPDATE ctm_private.login_sessions SET last_seen_at = now() WHERE id_hash = :h"
                ),
                {"h": id_hash},
            )
    return Identity(user_id=user_id, username=username, role=role, full_name=full_name)


def end_session(engine: Engine, token: str | None, key: str, reason: str = "logged out") -> bool:
    """End the session a token names (logout); True when one was open."""
    session_id = session_id_from(token, key)
    if session_id is None:
        return False
    with owner_transaction(engine) as conn:
        result = conn.execute(
            sa.text(
                "UPDATE ctm_private.login_sessions SET ended_at = now(), end_reason = :r"
                " WHERE id_hash = :h AND ended_at IS NULL"
            ),
            {"h": _id_hash(session_id), "r": reason},
        )
    return result.rowcount > 0


def end_user_sessions_in(conn: Connection, profile_id: UUID, reason: str) -> int:
    """End every open session of a profile; returns how many."""
    return conn.execute(
        sa.text(
            "UPDATE ctm_private.login_sessions SET ended_at = now(), end_reason = :r"
            " WHERE profile_id = :p AND ended_at IS NULL"
        ),
        {"p": profile_id, "r": reason},
    ).rowcount


# Logging in --------------------------------------------------------------------------------------


def _password_matches(password: str | None, password_hash: bytes) -> bool:
    try:
        return bcrypt.checkpw((password or "").encode("utf-8"), password_hash)
    except (ValueError, UnicodeError):  # over 72 bytes for bcrypt 5, NUL bytes, lone surrogates
        return False


def log_in(engine: Engine, username: str | None, password: str | None, key: str) -> LoginOutcome:
    """Check a username and password under the failed-login limit; on success open a session.

    Locked or wrong, the caller shows the same words whether the username exists or not."""
    name = normalize_username(username)
    max_failures = settings.login_max_failures()
    window = settings.login_failure_window_minutes() * 60
    lock_minutes = settings.login_lock_minutes()
    with owner_transaction(engine) as conn:
        # One attempt per username at a time, across every process: the count cannot be raced.
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('ctm-login:' || :n))"), {"n": name}
        )
        locked = conn.scalar(
            sa.text(
                "SELECT ceil(extract(epoch FROM locked_until - now()) / 60)"
                " FROM ctm_private.login_locks WHERE username = :n AND locked_until > now()"
            ),
            {"n": name},
        )
        if locked is not None:
            log.warning("login refused: username %r is locked", name)
            return LoginOutcome(locked_minutes=float(locked))
        row = conn.execute(
            sa.text(
                "SELECT c.profile_id, c.password_hash, c.disabled_at IS NULL, p.role,"
                " coalesce(p.full_name, c.username)"
                " FROM ctm_private.user_credentials AS c"
                " JOIN public.profiles AS p ON p.id = c.profile_id WHERE c.username = :n"
            ),
            {"n": name},
        ).one_or_none()
        stored = row[1].encode("ascii") if row is not None else _DUMMY_HASH
        if _password_matches(password, stored) and row is not None:
            profile_id, _hash, enabled, role, full_name = row
            if enabled and role in ROLES:
                conn.execute(
                    sa.text("DELETE FROM ctm_private.login_failures WHERE username = :n"),
                    {"n": name},
                )
                conn.execute(
                    sa.text(
                        "UPDATE ctm_private.user_credentials SET last_login_at = now()"
                        " WHERE profile_id = :p"
                    ),
                    {"p": profile_id},
                )
                token = create_session_in(conn, profile_id, key)
                log.info("login: %s", name)
                return LoginOutcome(
                    Identity(user_id=profile_id, username=name, role=role, full_name=full_name),
                    token,
                )
            # Right password for a disabled account: refused, but not counted as guessing.
            log.warning("login refused: account %r is disabled", name)
            return LoginOutcome()
        conn.execute(
            sa.text("INSERT INTO ctm_private.login_failures (username) VALUES (:n)"), {"n": name}
        )
        failures = conn.scalar(
            sa.text(
                "SELECT count(*) FROM ctm_private.login_failures"
                " WHERE username = :n AND failed_at > now() - make_interval(secs => :w)"
            ),
            {"n": name, "w": window},
        )
        log.warning("failed login for username %r (%d in the window)", name, failures)
        if failures >= max_failures:
            conn.execute(
                sa.text(
                    "INSERT INTO ctm_private.login_locks (username, locked_until, failures)"
                    " VALUES (:n, now() + make_interval(secs => :s), :f)"
                    " ON CONFLICT (username) DO UPDATE SET locked_at = now(),"
                    " locked_until = EXCLUDED.locked_until, failures = EXCLUDED.failures"
                ),
                {"n": name, "s": lock_minutes * 60, "f": failures},
            )
            # The lock replaces the count: after it expires the username starts from zero.
            conn.execute(
                sa.text("DELETE FROM ctm_private.login_failures WHERE username = :n"), {"n": name}
            )
            log.warning(
                "username %r locked for %g minutes after %d failed logins",
                name,
                lock_minutes,
                failures,
            )
            return LoginOutcome(locked_minutes=lock_minutes)
    return LoginOutcome()


def lock_state(engine: Engine, username: str) -> LockState | None:
    """The current lock of a username, if any."""
    with owner_transaction(engine) as conn:
        row = conn.execute(
            sa.text(
                "SELECT username, locked_until, failures FROM ctm_private.login_locks"
                " WHERE username = :n AND locked_until > now()"
            ),
            {"n": normalize_username(username)},
        ).one_or_none()
    return LockState(*row) if row else None


def unlock_in(conn: Connection, username: str) -> bool:
    """Lift a username's lock and forget its failed logins; True when it was locked."""
    name = normalize_username(username)
    result = conn.execute(
        sa.text(
            "DELETE FROM ctm_private.login_locks WHERE username = :n RETURNING locked_until > now()"
        ),
        {"n": name},
    ).all()
    conn.execute(sa.text("DELETE FROM ctm_private.login_failures WHERE username = :n"), {"n": name})
    if result:
        log.warning("username %r unlocked", name)
    return any(bool(r[0]) for r in result)
