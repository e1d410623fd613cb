"""Meters: add/edit on a circuit of their own substation, and placing their earlier events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import meters as svc
from ctm.errors import PermissionDenied, ValidationError
from ctm.meters import MeterInput


def scalar(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_admin_registers_and_edits_a_meter(engine, world):
    meter = svc.add_meter(
        engine,
        world.admin,
        MeterInput(
            "PQMS_11KV.NTH0001_H2", world.north, " h2", "11kV", "S-77", "Room 2", active=True
        ),
    )
    assert (meter.meter_id, meter.substation_name, meter.circuit_id) == (
        "PQMS_11KV.NTH0001_H2",
        "North",
        "H2",
    )
    edited = svc.update_meter(
        engine,
        world.admin,
        meter.id,
        MeterInput("PQMS_11KV.NTH0001_H2", world.north, "H10", location="Yard", active=False),
    )
    assert (edited.circuit_id, edited.location, edited.active) == ("H10", "Yard", False)
    listed = svc.list_meters(engine, world.viewer, substation_id=world.north)
    assert list(listed["meter_id"]) == ["PQMS_11KV.NTH0001_H2"]
    assert svc.list_meters(engine, world.viewer, text="yard")["circuit_id"].tolist() == ["H10"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (MeterInput("M-1", None, None), "choose its substation"),
        (MeterInput(" ", None, None), "Meter name is empty"),
        # H7 is a circuit of South, not of North.
        (MeterInput("M-1", "north", "H7"), "circuit H7 is not a circuit of North"),
    ],
)
def test_bad_meters_are_refused_and_nothing_written(engine, world, data, message):
    if data.substation_id == "north":
        data = MeterInput(data.meter_id, world.north, data.circuit_id)
    with pytest.raises(ValidationError, match=message):
        svc.add_meter(engine, world.admin, data)
    assert scalar(engine, "SELECT count(*) FROM pq_meters") == 0


def test_a_duplicate_meter_name_is_refused(engine, world):
    svc.add_meter(engine, world.admin, MeterInput("M-1", world.north, "H1"))
    with pytest.raises(ValidationError, match="Meter m-1 is already registered"):
        svc.add_meter(engine, world.admin, MeterInput("m-1", world.south, "H1"))


def test_only_admins_register_meters(engine, world):
    with pytest.raises(PermissionDenied):
        svc.add_meter(engine, world.operator, MeterInput("M-1", world.north, "H1"))


def test_placing_the_earlier_events_of_a_new_meter_makes_their_impacts(engine, world):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H2')"
            ),
            {"c": world.acme, "s": world.north},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (meter_id, severity, duration_ms) VALUES"
                " ('PQMS_11KV.NTH0001_H2', 'high', 60000), ('PQMS_11KV.NTH0001_H2', 'low', 10)"
            )
        )
        # An event that names its own place keeps it (values the event gives win).
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (meter_id, substation_id, circuit_id, severity)"
                " VALUES ('PQMS_11KV.NTH0001_H2', :s, 'H1', 'low')"
            ),
            {"s": world.south},
        )
    meter = svc.add_meter(
        engine, world.admin, MeterInput("PQMS_11KV.NTH0001_H2", world.north, "H2")
    )
    assert svc.unplaced_events(engine, world.admin, meter.id) == 2
    assert svc.place_meter_events(engine, world.admin, meter.id) == 2
    assert svc.unplaced_events(engine, world.admin, meter.id) == 0
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM event_customer_impact i JOIN pq_events e ON e.id = i.event_id"
            " WHERE e.meter_id = 'PQMS_11KV.NTH0001_H2' AND i.customer_id = :c",
            c=world.acme,
        )
        == 2
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM pq_events WHERE meter_id = 'PQMS_11KV.NTH0001_H2'"
            " AND substation_id = :s AND circuit_id = 'H1'",
            s=world.south,
        )
        == 1
    )
