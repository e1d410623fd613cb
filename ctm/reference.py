"""Reference data the mapping pages pick from: substations, customer search, and the acting
user's role as the database sees it. Every call runs as the user, under row-level security."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.db import Identity, user_transaction
from ctm.errors import PermissionDenied

NO_PROFILE = "Your account has no profile in this database, so it can see and change nothing; ask an admin to add one"


@dataclass(frozen=True)
class Substation:
    id: UUID
    name: str
    code: str | None


@dataclass(frozen=True)
class CustomerChoice:
    id: UUID
    name: str
    account_number: str
    customer_type: str


def acting_role(conn: Connection) -> str | None:
    """The role of the user this transaction acts as, from the database (None: no profile)."""
    return conn.scalar(sa.text("SELECT public.current_user_role()"))


def require_role(conn: Connection, allowed: AbstractSet[str], refusal: str) -> str:
    """The acting role if it is in `allowed`; otherwise PermissionDenied with a message that
    says why (no profile, viewer, or `refusal` for other roles)."""
    role = acting_role(conn)
    if role is None:
        raise PermissionDenied(NO_PROFILE)
    if role not in allowed:
        if role == "viewer" and "operator" in allowed:
            raise PermissionDenied("Viewers can look at mappings but not change them")
        raise PermissionDenied(refusal)
    return role


def like_pattern(text: str) -> str:
    """`%text%` with LIKE wildcards in the user's text taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_substations(engine: Engine, identity: Identity) -> list[Substation]:
    """list_substations_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return list_substations_in(conn)


def list_substations_in(conn: Connection) -> list[Substation]:
    """Every substation the user may see, sorted by name."""
    rows = conn.execute(
        sa.text("SELECT id, name, code FROM public.substations ORDER BY name, code, id")
    )
    return [Substation(r.id, r.name, r.code) for r in rows]


def search_customers(
    engine: Engine, identity: Identity, text: str, limit: int = 20
) -> list[CustomerChoice]:
    """search_customers_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return search_customers_in(conn, text, limit)


def search_customers_in(conn: Connection, text: str, limit: int = 20) -> list[CustomerChoice]:
    """Customers whose name or account number contains `text` (any case), for pickers: an exact
    account number first, then names that start with the text, then the rest by name. The
    match runs in customer_ids_like() so the trigram indexes serve it under row-level security."""
    text = inputs.text("text", text) or ""
    limit = inputs.integer("limit", limit, minimum=1, maximum=inputs.MAX_PAGE_ROWS)
    if not text:
        rows = conn.execute(
            sa.text(
                "SELECT id, name, account_number, customer_type FROM public.customers"
                " ORDER BY name, account_number LIMIT :limit"
            ),
            {"limit": limit},
        )
    else:
        rows = conn.execute(
            sa.text(
                """
                SELECT id, name, account_number, customer_type
                FROM public.customers
                WHERE id IN (SELECT id FROM public.customer_ids_like(:pattern))
                ORDER BY lower(account_number) = lower(:text) DESC,
                         name ILIKE :prefix DESC, name, account_number
                LIMIT :limit
                """
            ),
            {
                "pattern": like_pattern(text),
                "prefix": like_pattern(text)[1:],
                "text": text,
                "limit": limit,
            },
        )
    return [CustomerChoice(r.id, r.name, r.account_number, r.customer_type) for r in rows]
