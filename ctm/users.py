"""Login accounts: profiles plus bcrypt hashes in ctm_private.user_credentials, managed as the
connection owner (CLI, login page, the admins' Users page); `authenticated` can never read a hash.

Changing a password, a role, disabling or removing an account ends all of its sessions (a trigger
does it, see migrations/20261126000060_*). The last administrator who can log in can be neither
demoted, disabled nor removed: without one, nobody could manage users from the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import bcrypt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import roles, sessions
from ctm.db import Identity, owner_transaction
from ctm.errors import PermissionDenied, ServiceError
from ctm.roles import Action, can

ROLES = roles.ROLES
# The same rule as the CHECK on ctm_private.user_credentials.username.
USERNAME_RULE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
USERNAME_HELP = (
    "2 to 63 characters: lowercase letters, digits, '.', '_' or '-', "
    "starting with a letter or digit"
)
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further; bcrypt 5 refuses longer input outright
BCRYPT_ROUNDS = 12


class UserError(ServiceError, ValueError):
    """A user could not be added or changed; the message says which user and why."""


class LastAdmin(UserError):
    """The change would leave no administrator who can log in."""


@dataclass(frozen=True)
class UserRecord:
    """One login account as `ctm users list` shows it."""

    user_id: UUID
    username: str
    role: str
    full_name: str
    email: str
    created_at: datetime
    is_demo: bool
    disabled: bool = False
    last_login_at: datetime | None = None
    locked_until: datetime | None = None
    open_sessions: int = 0


def check_username(username: str) -> str:
    if not USERNAME_RULE.match(username or ""):
        raise UserError(f"username {username!r} is not allowed: use {USERNAME_HELP}")
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} does not exist: choose one of {', '.join(ROLES)}")
    return role


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A bcrypt hash of a password that meets the length rules."""
    if password is None or len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise UserError(
            f"the password is too long: bcrypt uses at most {MAX_PASSWORD_BYTES} bytes "
            f"and this one has {len(encoded)} (UTF-8)"
        )
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def _profile_id(conn: Connection, username: str) -> UUID:
    user_id = conn.scalar(
        sa.text("SELECT profile_id FROM ctm_private.user_credentials WHERE username = :u"),
        {"u": username},
    )
    if user_id is None:
        raise UserError(f"there is no user {username!r} (see `ctm users list`)")
    return user_id


def _forget_demo_password(conn: Connection, username: str) -> None:
    # The login page must stop showing a demo password once the account is changed by hand.
    conn.execute(sa.text("DELETE FROM ctm_private.demo_users WHERE username = :u"), {"u": username})


def add_user_in(
    conn: Connection,
    username: str,
    role: str,
    password_hash: str,
    full_name: str | None = None,
    email: str | None = None,
    user_id: UUID | None = None,
) -> UUID:
    """Insert a profile and its credentials inside an open owner transaction."""
    check_username(username)
    check_role(role)
    taken = conn.scalar(
        sa.text("SELECT 1 FROM ctm_private.user_credentials WHERE username = :u"), {"u": username}
    )
    if taken:
        raise UserError(f"user {username!r} already exists")
    new_id = conn.scalar(
        sa.text(
            "INSERT INTO public.profiles (id, email, full_name, role)"
            " VALUES (coalesce(CAST(:id AS uuid), gen_random_uuid()), :email, :full_name, :role)"
            " RETURNING id"
        ),
        {"id": user_id, "email": email, "full_name": full_name or username, "role": role},
    )
    conn.execute(
        sa.text(
            "INSERT INTO ctm_private.user_credentials (profile_id, username, password_hash)"
            " VALUES (:id, :u, :h)"
        ),
        {"id": new_id, "u": username, "h": password_hash},
    )
    return new_id


def add_user(
    engine: Engine,
    username: str,
    role: str,
    password: str,
    full_name: str | None = None,
    email: str | None = None,
    actor: Identity | None = None,
) -> UUID:
    """Create a login with a profile; returns the profile id (the user's auth.uid())."""
    check_username(username)
    check_role(role)
    password_hash = hash_password(password)
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        return add_user_in(conn, username, role, password_hash, full_name, email)


def _check_actor(conn: Connection, actor: Identity | None) -> None:
    """CLI calls (actor None) act as the owner; an app user must be an admin *now*."""
    if actor is None:
        return
    role = conn.scalar(
        sa.text(
            "SELECT p.role FROM public.profiles AS p"
            " JOIN ctm_private.user_credentials AS c ON c.profile_id = p.id"
            " WHERE p.id = :id AND c.disabled_at IS NULL"
        ),
        {"id": actor.user_id},
    )
    if not can(role, Action.MANAGE_USERS):
        raise PermissionDenied("Only administrators can manage users.")


def _keep_an_admin(conn: Connection, username: str, doing: str) -> None:
    """Refuse when `username` is the last enabled admin with a login."""
    admins = (
        conn.execute(
            sa.text(
                "SELECT c.username FROM public.profiles AS p"
                " JOIN ctm_private.user_credentials AS c ON c.profile_id = p.id"
                " WHERE p.role = 'admin' AND c.disabled_at IS NULL"
                " ORDER BY c.username FOR UPDATE OF p, c"
            )
        )
        .scalars()
        .all()
    )
    if admins == [username]:
        raise LastAdmin(
            f"cannot {doing} {username!r}: it is the last administrator who can log in; "
            "make another user an administrator first"
        )


def set_role_in(conn: Connection, username: str, role: str, actor: Identity | None = None) -> None:
    check_role(role)
    _check_actor(conn, actor)
    user_id = _profile_id(conn, username)
    current = conn.scalar(
        sa.text("SELECT role FROM public.profiles WHERE id = :id"), {"id": user_id}
    )
    if current == role:
        return
    if current == "admin":
        _keep_an_admin(conn, username, f"make {role} of")
    conn.execute(
        sa.text("UPDATE public.profiles SET role = :r WHERE id = :id"),
        {"r": role, "id": user_id},
    )
    _forget_demo_password(conn, username)


def set_role(engine: Engine, username: str, role: str, actor: Identity | None = None) -> None:
    """Change a user's role; their open sessions end (they log in again with the new role)."""
    check_role(role)
    with owner_transaction(engine) as conn:
        set_role_in(conn, username, role, actor)


def set_password(
    engine: Engine, username: str, password: str, actor: Identity | None = None
) -> None:
    """Set a new password; every open session of the user ends."""
    password_hash = hash_password(password)
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        _profile_id(conn, username)
        conn.execute(
            sa.text(
                "UPDATE ctm_private.user_credentials SET password_hash = :h WHERE username = :u"
            ),
            {"h": password_hash, "u": username},
        )
        _forget_demo_password(conn, username)


def disable_user(engine: Engine, username: str, actor: Identity | None = None) -> bool:
    """The user can no longer log in and every open session ends; False if already disabled."""
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        _profile_id(conn, username)
        _keep_an_admin(conn, username, "disable")
        result = conn.execute(
            sa.text(
                "UPDATE ctm_private.user_credentials SET disabled_at = now()"
                " WHERE username = :u AND disabled_at IS NULL"
            ),
            {"u": username},
        )
        _forget_demo_password(conn, username)
    return result.rowcount > 0


def enable_user(engine: Engine, username: str, actor: Identity | None = None) -> bool:
    """The user can log in again; False if not disabled."""
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        _profile_id(conn, username)
        result = conn.execute(
            sa.text(
                "UPDATE ctm_private.user_credentials SET disabled_at = NULL"
                " WHERE username = :u AND disabled_at IS NOT NULL"
            ),
            {"u": username},
        )
    return result.rowcount > 0


def remove_user(engine: Engine, username: str, actor: Identity | None = None) -> None:
    """Delete the login and its sessions; the profile goes too unless rows still name it."""
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        user_id = _profile_id(conn, username)
        _keep_an_admin(conn, username, "remove")
        sessions.end_user_sessions_in(conn, user_id, "account removed")
        conn.execute(
            sa.text("DELETE FROM ctm_private.user_credentials WHERE profile_id = :id"),
            {"id": user_id},
        )
        nested = conn.begin_nested()
        try:
            conn.execute(sa.text("DELETE FROM public.profiles WHERE id = :id"), {"id": user_id})
            nested.commit()
        except sa.exc.IntegrityError:
            # History rows still refer to the profile: keep it (it cannot log in without a login).
            nested.rollback()
            sessions.end_user_sessions_in(conn, user_id, "account removed")


def end_sessions(engine: Engine, username: str, actor: Identity | None = None) -> int:
    """End every open session of a user (they must log in again); returns how many."""
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        user_id = _profile_id(conn, username)
        return sessions.end_user_sessions_in(conn, user_id, "ended by an administrator")


def unlock_user(engine: Engine, username: str, actor: Identity | None = None) -> bool:
    """Lift a failed-login lock on a username (which need not exist); True when it was locked."""
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        return sessions.unlock_in(conn, username)


_USERS_SQL = """
SELECT p.id, c.username, p.role, coalesce(p.full_name, c.username) AS full_name,
       coalesce(p.email, '') AS email, c.created_at,
       EXISTS (SELECT 1 FROM ctm_private.demo_users AS d WHERE d.username = c.username) AS is_demo,
       c.disabled_at IS NOT NULL AS disabled, c.last_login_at,
       (SELECT l.locked_until FROM ctm_private.login_locks AS l
         WHERE l.username = c.username AND l.locked_until > now()) AS locked_until,
       (SELECT count(*) FROM ctm_private.login_sessions AS s
         WHERE s.profile_id = c.profile_id AND s.ended_at IS NULL) AS open_sessions
FROM ctm_private.user_credentials AS c
JOIN public.profiles AS p ON p.id = c.profile_id
"""


def list_users(engine: Engine, actor: Identity | None = None) -> list[UserRecord]:
    with owner_transaction(engine) as conn:
        _check_actor(conn, actor)
        rows = conn.execute(sa.text(_USERS_SQL + " ORDER BY c.username")).all()
    return [UserRecord(*row) for row in rows]


def login_credentials(engine: Engine) -> dict:
    """Every login as {"usernames": {name: {name, email, password (bcrypt hash), roles}}}."""
    with owner_transaction(engine) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.username, coalesce(p.full_name, c.username), coalesce(p.email, ''),"
                " c.password_hash, p.role"
                " FROM ctm_private.user_credentials AS c"
                " JOIN public.profiles AS p ON p.id = c.profile_id ORDER BY c.username"
            )
        ).all()
    return {
        "usernames": {
            username: {"name": name, "email": email, "password": pw_hash, "roles": [role]}
            for username, name, email, pw_hash, role in rows
        }
    }


def identity_for(engine: Engine, username: str) -> Identity | None:
    """The Identity a logged-in username acts as, or None if there is no such login."""
    with owner_transaction(engine) as conn:
        row = conn.execute(
            sa.text(
                "SELECT p.id, c.username, p.role, coalesce(p.full_name, c.username)"
                " FROM ctm_private.user_credentials AS c"
                " JOIN public.profiles AS p ON p.id = c.profile_id WHERE c.username = :u"
            ),
            {"u": username},
        ).one_or_none()
    if row is None:
        return None
    return Identity(user_id=row[0], username=row[1], role=row[2], full_name=row[3])


def demo_logins(engine: Engine) -> list[tuple[str, str, str]]:
    """(username, password, role) of the untouched demo users; empty unless `ctm demo-data` made
    this database."""
    with owner_transaction(engine) as conn:
        if conn.scalar(sa.text("SELECT to_regclass('ctm_private.demo_users')")) is None:
            return []
        rows = conn.execute(
            sa.text(
                "SELECT d.username, d.password, p.role FROM ctm_private.demo_users AS d"
                " JOIN ctm_private.user_credentials AS c ON c.username = d.username"
                " JOIN public.profiles AS p ON p.id = c.profile_id"
                " ORDER BY array_position(ARRAY['admin', 'operator', 'viewer'], p.role), d.username"
            )
        ).all()
    return [tuple(row) for row in rows]
