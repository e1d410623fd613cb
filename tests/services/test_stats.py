"""Coverage statistics against a real PostgreSQL: every figure equals a hand count on small data
and an independent SQL count; users without a profile see nothing."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ctm import stats
from ctm.db import owner_transaction
from ctm.errors import ValidationError

NOW = datetime.now(UTC)


def _insert(conn, table: str, **values) -> uuid.UUID:
    cols = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join(f":{c}" for c in values)
    return conn.scalar(
        sa.text(f"INSERT INTO public.{table} ({cols}) VALUES ({marks}) RETURNING id"), values
    )


def _map(conn, customer, substation, circuit, active=True):
    conn.execute(
        sa.text(
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
            " active) VALUES (:c, :s, :k, :a)"
        ),
        {"c": customer, "s": substation, "k": circuit, "a": active},
    )


def _event(conn, substation, circuit, days_ago, severity, duration_ms=60_000):
    return _insert(
        conn,
        "pq_events",
        substation_id=substation,
        circuit_id=circuit,
        timestamp=NOW - timedelta(days=days_ago),
        severity=severity,
        duration_ms=duration_ms,
    )


@pytest.fixture
def grid(engine):
    """North: circuits H1 (2 customers), H2 (events only), H3 (inactive mapping only).
    South: H1 (1 customer, who is also on North/H1). Empty: no circuits at all.
    Mapping after the event: South/H4 event 5 days ago, then a mapping on H4 (no impact)."""
    with owner_transaction(engine) as conn:
        north = _insert(conn, "substations", name="North")
        south = _insert(conn, "substations", name="South")
        empty = _insert(conn, "substations", name="Empty")
        a = _insert(conn, "customers", account_number="A", name="A")
        b = _insert(conn, "customers", account_number="B", name="B")
        c = _insert(conn, "customers", account_number="C", name="C")
        d = _insert(conn, "customers", account_number="D", name="D")
        _map(conn, a, north, "H1")
        _map(conn, b, north, "H1")
        _map(conn, c, north, "H3", active=False)
        _map(conn, a, south, "H1")
        # North: H1 critical recent (2 severe), H1 high old (2 moderate), H2 low recent (blind),
        # H2 medium old (blind but not recent), one event without circuit recent (blind).
        _event(conn, north, "H1", 1, "critical")
        _event(conn, north, "H1", 200, "high")
        _event(conn, north, "H2", 3, "low")
        _event(conn, north, "H2", 120, "medium")
        _event(conn, north, None, 4, "high")
        # South: H1 low recent (1 minor), H4 critical recent before its mapping existed (blind at
        # the time, covered now: not a blind spot today, and no impact).
        _event(conn, south, "H1", 2, "low")
        _event(conn, south, "H4", 5, "critical")
        _map(conn, d, south, "H4")
        # An event with no substation is counted nowhere.
        _event(conn, None, "H1", 1, "critical")
    return {"north": north, "south": south, "empty": empty}


def _row(result, name):
    frame = result.by_substation
    return frame[frame["substation_name"] == name].iloc[0]


def test_figures_per_substation_match_a_hand_count(engine, make_user, grid):
    result = stats.coverage_statistics(engine, make_user("viewer"))
    assert list(result.by_substation["substation_name"]) == ["Empty", "North", "South"]
    assert list(result.by_substation.columns) == stats.SUBSTATION_COLUMNS

    north = _row(result, "North")
    assert (north.circuits_known, north.circuits_covered) == (3, 1)
    assert north.coverage_pct == pytest.approx(33.3)
    assert (north.mapped_customers, north.active_mappings) == (2, 2)
    assert (north.events_recent, north.blind_spot_events) == (3, 2)
    assert (north.severe_recent, north.moderate_recent, north.minor_recent) == (2, 0, 0)
    assert (north.severe_all, north.moderate_all, north.minor_all) == (2, 2, 0)

    south = _row(result, "South")
    assert (south.circuits_known, south.circuits_covered, south.coverage_pct) == (2, 2, 100.0)
    assert (south.mapped_customers, south.events_recent, south.blind_spot_events) == (2, 2, 0)
    assert (south.severe_all, south.moderate_all, south.minor_all) == (0, 0, 1)

    empty = _row(result, "Empty")
    assert empty.circuits_known == 0 and math.isnan(empty.coverage_pct)
    assert empty.events_recent == 0 and empty.minor_all == 0


def test_kpis_and_impacts_by_level(engine, make_user, grid):
    result = stats.coverage_statistics(engine, make_user("operator"))
    k = result.kpis
    assert (k.substations, k.circuits_known, k.circuits_covered) == (3, 5, 3)
    assert k.coverage_pct == 60.0
    # Customer A is on North/H1 and South/H1: counted once here.
    assert (k.mapped_customers, k.active_mappings) == (3, 4)
    assert (k.events_recent, k.blind_spot_events) == (5, 2)
    assert (k.impacts_recent, k.impacts_all) == (3, 5)
    levels = result.impacts_by_level.set_index("impact_level")
    assert levels.loc["severe"].tolist() == [2, 2]
    assert levels.loc["moderate"].tolist() == [0, 2]
    assert levels.loc["minor"].tolist() == [1, 1]


def test_window_is_a_parameter(engine, make_user, grid):
    result = stats.coverage_statistics(engine, make_user("admin"), days=365)
    north = _row(result, "North")
    assert (north.events_recent, north.blind_spot_events) == (5, 3)
    assert north.moderate_recent == 2
    with pytest.raises(ValidationError, match="Days 0: must be between 1"):
        stats.coverage_statistics(engine, make_user("admin"), days=0)


def test_figures_match_independent_sql_counts(engine, make_user, grid):
    """The same figures counted another way, one small query each, straight from the tables."""
    result = stats.coverage_statistics(engine, make_user("viewer"))
    with owner_transaction(engine) as conn:
        for row in result.by_substation.itertuples():
            p = {"s": row.substation_id}
            known = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM (SELECT circuit_id FROM pq_events WHERE"
                    " substation_id = :s AND circuit_id IS NOT NULL UNION SELECT circuit_id"
                    " FROM customer_transformer_matching WHERE substation_id = :s) AS k"
                ),
                p,
            )
            covered = conn.scalar(
                sa.text(
                    "SELECT count(DISTINCT circuit_id) FROM customer_transformer_matching"
                    " WHERE substation_id = :s AND active"
                ),
                p,
            )
            customers = conn.scalar(
                sa.text(
                    "SELECT count(DISTINCT customer_id) FROM customer_transformer_matching"
                    " WHERE substation_id = :s AND active"
                ),
                p,
            )
            blind = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pq_events e WHERE e.substation_id = :s"
                    " AND e.timestamp >= now() - interval '90 days' AND (e.circuit_id IS NULL"
                    " OR e.circuit_id NOT IN (SELECT m.circuit_id FROM"
                    " customer_transformer_matching m WHERE m.substation_id = :s AND m.active))"
                ),
                p,
            )
            severe_all = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM event_customer_impact i JOIN pq_events e"
                    " ON e.id = i.event_id WHERE e.substation_id = :s"
                    " AND i.impact_level = 'severe'"
                ),
                p,
            )
            assert (
                row.circuits_known,
                row.circuits_covered,
                row.mapped_customers,
                row.severe_all,
                row.blind_spot_events,
            ) == (known, covered, customers, severe_all, blind)


def test_user_without_profile_sees_nothing(engine, make_user, grid):
    result = stats.coverage_statistics(engine, make_user(None))
    assert result.by_substation.empty
    assert result.kpis.substations == 0 and result.kpis.coverage_pct is None
    assert result.impacts_by_level["all_time"].tolist() == [0, 0, 0]


def test_empty_database_gives_zeros(engine, make_user):
    result = stats.coverage_statistics(engine, make_user("viewer"))
    assert result.by_substation.empty and result.kpis.circuits_known == 0
