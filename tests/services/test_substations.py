"""Substations as reference data: search, add/edit with the checks, delete refused while in use."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import substations as svc
from ctm.errors import InUse, NotFound, PermissionDenied, ValidationError
from ctm.substations import SubstationInput


def count(engine, sql: str, **params) -> int:
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_admin_adds_a_substation_with_an_upper_case_code(engine, world):
    added = svc.add_substation(
        engine,
        world.admin,
        SubstationInput(
            name="  Kai Tak East ",
            code=" ktE ",
            voltage_level="132kV",
            region="Kowloon",
            status="maintenance",
            latitude="22.3301234",
            longitude=114.2,
        ),
    )
    assert (added.name, added.code, added.status) == ("Kai Tak East", "KTE", "maintenance")
    assert added.latitude == Decimal("22.330123") and added.longitude == Decimal("114.2")
    found = svc.search_substations(engine, world.viewer, "kai")
    assert [s.code for s in found] == ["KTE"]
    assert [s.name for s in svc.search_substations(engine, world.viewer, "kowloon")] == [
        "Kai Tak East"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SubstationInput(name="X", code="nth"), "Code NTH is already used by substation North"),
        (SubstationInput(name="  "), "Name is empty"),
        (SubstationInput(name="X", latitude=91), "Latitude 91 is out of range"),
        (SubstationInput(name="X", longitude="-180.5"), "Longitude -180.5 is out of range"),
        (SubstationInput(name="X", latitude="north"), "Latitude 'north' is not a number"),
        (SubstationInput(name="X", status="broken"), "Status 'broken' is not one of"),
    ],
)
def test_bad_input_is_refused_with_a_sentence_and_nothing_written(engine, world, data, message):
    before = count(engine, "SELECT count(*) FROM substations")
    with pytest.raises(ValidationError, match=message):
        svc.add_substation(engine, world.admin, data)
    assert count(engine, "SELECT count(*) FROM substations") == before


def test_edit_keeps_its_own_code_and_refuses_another_ones(engine, world):
    edited = svc.update_substation(
        engine, world.admin, world.north, SubstationInput(name="North Point", code="nth")
    )
    assert (edited.name, edited.code) == ("North Point", "NTH")
    with pytest.raises(ValidationError, match="Code STH is already used by substation South"):
        svc.update_substation(
            engine, world.admin, world.north, SubstationInput(name="North", code="sth")
        )
    assert count(engine, "SELECT code FROM substations WHERE id = :id", id=world.north) == "NTH"


def test_delete_counts_inactive_mappings_too(engine, world):
    with db.owner_transaction(engine) as conn:
        lone = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('Lone') RETURNING id"))
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id, active) VALUES (:a, :s, 'H1', true), (:b, :s, 'H1', false)"
            ),
            {"a": world.acme, "b": world.bolt, "s": lone},
        )
    with pytest.raises(InUse, match=r"Lone cannot be deleted: .*2 mappings"):
        svc.delete_substation(engine, world.admin, lone)
    assert count(engine, "SELECT count(*) FROM substations WHERE name = 'Lone'") == 1


@pytest.mark.parametrize("who", ["operator", "viewer", "nobody"])
def test_only_admins_maintain_substations(engine, world, who):
    identity = getattr(world, who)
    with pytest.raises(PermissionDenied):
        svc.add_substation(engine, identity, SubstationInput(name="New"))
    with pytest.raises(PermissionDenied):
        svc.update_substation(engine, identity, world.empty, SubstationInput(name="Renamed"))
    with pytest.raises(PermissionDenied):
        svc.delete_substation(engine, identity, world.empty)
    assert count(engine, "SELECT count(*) FROM substations") == 3


def test_delete_is_refused_while_in_use_saying_how_many_of_each(engine, world):
    with pytest.raises(InUse, match=r"North cannot be deleted: .*9 PQ events"):
        svc.delete_substation(engine, world.admin, world.north)
    with pytest.raises(InUse, match=r"South cannot be deleted: .*1 mapping and 2 PQ events"):
        svc.delete_substation(engine, world.admin, world.south)
    assert count(engine, "SELECT count(*) FROM substations") == 3
    svc.delete_substation(engine, world.admin, world.empty)
    assert count(engine, "SELECT count(*) FROM substations") == 2
    with pytest.raises(NotFound):
        svc.delete_substation(engine, world.admin, world.empty)
