"""Helpers of the database contract tests: statements as the owner, events and their impacts."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa

from ctm import db


def run(engine, sql: str, **params) -> list[sa.Row]:
    """Run one statement as the connection owner (a system load, no user) and return its rows."""
    with db.owner_transaction(engine) as conn:
        result = conn.execute(sa.text(sql), params)
        return list(result) if result.returns_rows else []


def scalar(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


def add_event(engine, substation_id, circuit_id, severity="high", duration_ms=60_000) -> uuid.UUID:
    return scalar(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
        " VALUES (:s, :c, :sev, :d) RETURNING id",
        s=substation_id,
        c=circuit_id,
        sev=severity,
        d=duration_ms,
    )


def impacts(engine, event_id) -> dict[uuid.UUID, tuple[str, Decimal | None]]:
    """customer id → (impact level, estimated downtime in minutes) of one event."""
    rows = run(
        engine,
        "SELECT customer_id, impact_level, estimated_downtime_min FROM event_customer_impact"
        " WHERE event_id = :e",
        e=event_id,
    )
    return {r.customer_id: (r.impact_level, r.estimated_downtime_min) for r in rows}


def pgcode(excinfo) -> str | None:
    """The SQLSTATE behind a SQLAlchemy error."""
    return getattr(getattr(excinfo.value, "orig", None), "pgcode", None)
