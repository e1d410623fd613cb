"""One unit of work across service calls: the `*_in(conn, ...)` cores share the caller's
transaction, so several writes succeed or fail together; the engine wrappers keep working."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ctm import db, events, mappings, reference, stats, substations
from ctm.errors import DuplicateMapping, InUse, ServiceError, ValidationError


def count(engine, sql: str, **params) -> int:
    with db.owner_transaction(engine) as conn:
        return conn.scalar(sa.text(sql), params)


def test_two_writes_in_one_unit_of_work_the_second_refused_leaves_nothing(engine, world):
    with pytest.raises(DuplicateMapping), db.user_transaction(engine, world.admin) as conn:
        first = mappings.create_mapping_in(conn, world.acme, world.north, "H1")
        assert first.active
        mappings.create_mapping_in(conn, world.acme, world.north, "H1")  # refused: duplicate
    assert (
        count(
            engine, "SELECT count(*) FROM customer_transformer_matching WHERE id = :id", id=first.id
        )
        == 0
    )


def test_writes_of_different_services_fail_together(engine, world):
    """Record an event, then try to delete a substation that is still used: neither stays."""
    before = count(engine, "SELECT count(*) FROM pq_events")
    new = events.NewEvent(
        substation_id=world.north,
        circuit_id="H1",
        timestamp=datetime.now(UTC) - timedelta(hours=1),
        severity="high",
        duration_ms=1000,
        magnitude=None,
    )
    with pytest.raises(InUse), db.user_transaction(engine, world.admin) as conn:
        events.record_event_in(conn, new)
        substations.delete_substation_in(conn, world.north)
    assert count(engine, "SELECT count(*) FROM pq_events") == before


def test_a_successful_unit_of_work_keeps_every_write_and_reads_its_own_writes(engine, world):
    with db.user_transaction(engine, world.operator) as conn:
        made = mappings.create_mapping_in(conn, world.bolt, world.north, "H2")
        mappings.deactivate_mapping_in(conn, made.id, made.version)
        # The core sees the uncommitted change of its own unit of work.
        listed = mappings.list_mappings_in(
            conn, mappings.MappingFilter(include_inactive=True, customer_text="Bolt")
        )
        assert listed.total == 1 and not bool(listed.rows["active"].iloc[0])
        assert stats.coverage_statistics_in(conn).kpis.substations == 3
    assert count(engine, "SELECT count(*) FROM customer_transformer_matching WHERE NOT active") == 1


def test_a_refused_core_leaves_the_unit_of_work_usable(engine, world):
    """A service refusal inside a unit of work (validated before any write or in a savepoint)
    does not poison the transaction: the caller may go on and commit the rest."""
    with db.user_transaction(engine, world.admin) as conn:
        with pytest.raises(ValidationError):
            mappings.create_mapping_in(conn, world.acme, world.north, "H99")  # unknown circuit
        with pytest.raises(DuplicateMapping):
            mappings.create_mapping_in(conn, world.crane, world.south, "H7")
        mappings.create_mapping_in(conn, world.acme, world.north, "H2")
    assert count(engine, "SELECT count(*) FROM customer_transformer_matching") == 2


SERVICES = [mappings, events, reference, stats]


@pytest.mark.parametrize("module", SERVICES, ids=lambda m: m.__name__)
def test_every_engine_taking_service_has_a_core_taking_a_connection(module):
    missing = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or name.startswith("_") or name.endswith("_in"):
            continue
        params = list(inspect.signature(fn).parameters)
        if params[:2] == ["engine", "identity"]:
            core = getattr(module, f"{name}_in", None)
            if core is None or next(iter(inspect.signature(core).parameters)) != "conn":
                missing.append(name)
    assert not missing, f"{module.__name__}: no `NAME_in(conn, ...)` core for {missing}"


def test_cores_raise_service_errors_not_driver_errors(engine, world):
    with db.user_transaction(engine, world.viewer) as conn, pytest.raises(ServiceError):
        mappings.create_mapping_in(conn, world.acme, world.north, "H2")
