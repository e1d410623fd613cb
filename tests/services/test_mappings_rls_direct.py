"""Bypassing the services gains nothing: raw SQL through the lowest-level helper, as a viewer or a
user without profile, cannot write mappings — the database's policies refuse."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc


@pytest.fixture
def mapping(engine, world):
    return svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")


def snapshot(engine):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text(
                "SELECT id, customer_id, substation_id, circuit_id, active, version"
                " FROM customer_transformer_matching ORDER BY id"
            )
        ).all()


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_raw_insert_is_refused_by_row_level_security(engine, world, mapping, who):
    before = snapshot(engine)
    with (
        pytest.raises(sa.exc.ProgrammingError) as caught,
        db.user_transaction(engine, getattr(world, who)) as conn,
    ):
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id) VALUES (:c, :s, 'H2')"
            ),
            {"c": world.bolt, "s": world.north},
        )
    assert caught.value.orig.pgcode == "42501"
    assert snapshot(engine) == before


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_raw_update_and_delete_affect_no_rows(engine, world, mapping, who):
    before = snapshot(engine)
    with db.user_transaction(engine, getattr(world, who)) as conn:
        updated = conn.execute(
            sa.text("UPDATE customer_transformer_matching SET circuit_id = 'H2', active = false")
        ).rowcount
        deleted = conn.execute(sa.text("DELETE FROM customer_transformer_matching")).rowcount
    assert (updated, deleted) == (0, 0)
    assert snapshot(engine) == before


def test_an_operator_raw_delete_affects_no_rows(engine, world, mapping):
    with db.user_transaction(engine, world.operator) as conn:
        assert conn.execute(sa.text("DELETE FROM customer_transformer_matching")).rowcount == 0
    assert len(snapshot(engine)) == 2


def test_a_raw_write_cannot_forge_the_editor(engine, world, mapping):
    with db.user_transaction(engine, world.operator) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET updated_by = :admin, version = 99"
                " WHERE id = :id"
            ),
            {"admin": world.admin.user_id, "id": mapping.id},
        )
    with db.owner_transaction(engine) as conn:
        row = conn.execute(
            sa.text("SELECT updated_by, version FROM customer_transformer_matching WHERE id = :id"),
            {"id": mapping.id},
        ).one()
    assert (row.updated_by, row.version) == (world.operator.user_id, 2)
