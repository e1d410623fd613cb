"""The acting user's capability checked inside a unit of work: the role comes from the database
(`current_user_role()`), the rule from ctm.roles, the refusal is a sentence for people."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ctm import roles
from ctm.errors import PermissionDenied

NO_PROFILE = (
    "Your account has no profile in this database, so it can see and change nothing;"
    " ask an admin to add one"
)


def role_in(conn: Connection) -> str | None:
    """The role of the user this transaction acts as (None: no profile). The connection's own
    role (CLI, import as owner) acts with admin rules."""
    return conn.scalar(
        sa.text(
            "SELECT CASE WHEN current_user = 'authenticated' THEN public.current_user_role()"
            " ELSE 'admin' END"
        )
    )


def require_in(conn: Connection, action: roles.Action, refusal: str) -> str:
    """The acting role when it may perform `action`; otherwise PermissionDenied(`refusal`)."""
    role = role_in(conn)
    if role is None:
        raise PermissionDenied(NO_PROFILE)
    if not roles.can(role, action):
        raise PermissionDenied(refusal)
    return role
