"""Optimistic concurrency: two people edit the same mapping; exactly one save wins and the other
is told who changed it and when, with nothing written."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc
from ctm.errors import DuplicateMapping, StaleEdit
from ctm.mappings import MappingFilter


def stored(engine, mapping_id):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text(
                "SELECT circuit_id, active, version, updated_by FROM customer_transformer_matching"
                " WHERE id = :id"
            ),
            {"id": mapping_id},
        ).one()


@pytest.fixture
def mapping(engine, world):
    return svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")


def loaded(engine, identity):
    """The row as a user's grid holds it after loading the list."""
    return svc.list_mappings(engine, identity, MappingFilter(customer_text="Acme")).rows.iloc[0]


def test_two_admins_edit_the_same_row_and_the_later_save_is_refused(engine, world, make_user):
    svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")
    other_admin = make_user("admin", "bea")
    seen_by_a = loaded(engine, world.admin)
    seen_by_b = loaded(engine, other_admin)
    assert seen_by_a.version == seen_by_b.version == 1

    saved = svc.update_mapping(
        engine, world.admin, seen_by_a.id, int(seen_by_a.version), circuit_id="H2"
    )
    assert saved.version == 2
    with pytest.raises(StaleEdit) as caught:
        svc.update_mapping(
            engine, other_admin, seen_by_b.id, int(seen_by_b.version), circuit_id="H10"
        )
    message = str(caught.value)
    assert message.startswith(
        "The mapping of Acme Steel (ACC-1001) to North / H2 was changed by Ada at "
    )
    assert message.endswith(" UTC after you loaded it; reload and try again")  # stored zone: UTC
    assert saved.updated_at.strftime("%Y-%m-%d %H:%M:%S") in message
    row = stored(engine, seen_by_a.id)
    assert (row.circuit_id, row.version, row.updated_by) == ("H2", 2, world.admin.user_id)


def test_stale_deactivate_and_delete_write_nothing(engine, world, mapping):
    svc.update_mapping(engine, world.operator, mapping.id, 1, circuit_id="H10")
    with pytest.raises(StaleEdit, match="was changed by Otto at"):
        svc.deactivate_mapping(engine, world.admin, mapping.id, 1)
    with pytest.raises(StaleEdit, match="was changed by Otto at"):
        svc.delete_mapping(engine, world.admin, mapping.id, 1)
    row = stored(engine, mapping.id)
    assert (row.circuit_id, row.active, row.version) == ("H10", True, 2)


def test_a_system_load_in_between_is_reported_without_a_name(engine, world, mapping):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET circuit_id = 'H2', updated_by = NULL"
                " WHERE id = :id"
            ),
            {"id": mapping.id},
        )
    with pytest.raises(StaleEdit, match=r"changed by someone else \(a system load\)"):
        svc.update_mapping(engine, world.admin, mapping.id, 1, circuit_id="H10")


def test_a_save_racing_an_open_transaction_waits_and_then_sees_it_is_stale(engine, world, mapping):
    """B saves while A's save is still in flight: B waits for A's lock instead of overwriting,
    then finds version 2 and writes nothing."""
    outcome: dict = {}
    a_conn_ctx = db.user_transaction(engine, world.admin)
    a_conn = a_conn_ctx.__enter__()
    try:
        a_conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET circuit_id = 'H2'"
                " WHERE id = :id AND version = 1"
            ),
            {"id": mapping.id},
        )

        def b_saves():
            try:
                svc.update_mapping(engine, world.operator, mapping.id, 1, circuit_id="H10")
                outcome["result"] = "saved"
            except StaleEdit as exc:
                outcome["result"] = str(exc)

        b = threading.Thread(target=b_saves)
        b.start()
        b.join(timeout=1.0)
        assert b.is_alive(), "B must wait for A's row lock, not write past it"
    finally:
        a_conn_ctx.__exit__(None, None, None)
    b.join(timeout=10)
    assert "was changed by Ada at" in outcome["result"]
    row = stored(engine, mapping.id)
    assert (row.circuit_id, row.version) == ("H2", 2)


def test_two_people_creating_the_same_mapping_at_once_get_one_row_and_a_clear_message(
    engine, world
):
    """B checks for a duplicate while A's insert is not committed yet: the unique index makes B
    wait, and when A commits B's insert fails with 23505, reported as DuplicateMapping."""
    outcome: dict = {}
    a_ctx = db.user_transaction(engine, world.admin)
    a_conn = a_ctx.__enter__()
    try:
        a_conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H2')"
            ),
            {"c": world.bolt, "s": world.north},
        )

        def b_creates():
            try:
                svc.create_mapping(engine, world.operator, world.bolt, world.north, "H2")
                outcome["result"] = "created"
            except DuplicateMapping as exc:
                outcome["result"] = str(exc)

        b = threading.Thread(target=b_creates)
        b.start()
        b.join(timeout=1.0)
        assert b.is_alive(), "B must wait on the unique index while A's insert is open"
    finally:
        a_ctx.__exit__(None, None, None)
    b.join(timeout=10)
    assert outcome["result"] == "Customer Bolt Foods (ACC-1002) is already mapped to North / H2"
    with db.owner_transaction(engine) as conn:
        count = conn.scalar(
            sa.text(
                "SELECT count(*) FROM customer_transformer_matching"
                " WHERE customer_id = :c AND circuit_id = 'H2'"
            ),
            {"c": world.bolt},
        )
    assert count == 1
