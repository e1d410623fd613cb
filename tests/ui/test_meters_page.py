"""Data Maintenance → Meters per role, through AppTest against PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from ctm import db
from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/meters.py"


def open_page(identity):
    at = logged_in(identity)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_viewer_reads_meters_without_edit_controls(login_user, grid_data, engine):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_meters (meter_id, substation_id, circuit_id) VALUES ('M-1', :s, 'H2')"
            ),
            {"s": grid_data["north"]},
        )
    at = open_page(login_user("viewer"))
    assert list(at.dataframe[0].value["Meter"]) == ["M-1"]
    assert not [b for b in at.button if b.label in ("Register meter", "Save meter")]


def test_admin_registers_a_meter_and_places_its_earlier_events(login_user, grid_data, engine):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (meter_id, severity, duration_ms)"
                " VALUES ('PQMS_11KV.N0001_H2', 'high', 1000), ('PQMS_11KV.N0001_H2', 'low', 5)"
            )
        )
    at = open_page(login_user("admin"))
    at.text_input(key="new_meter_name").input("PQMS_11KV.N0001_H2")
    at.selectbox(key="new_meter_substation").select(grid_data["north"]).run()
    at.selectbox(key=f"new_meter_circuit|{grid_data['north']}").select("H2").run()
    at.button(key="new_meter_save").click().run()
    assert not at.exception
    assert "Registered meter PQMS_11KV.N0001_H2" in texts(at)
    place = at.button(key="place_meter_events")
    assert place.label == "Place the 2 earlier events of this meter"
    place.click().run()
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM pq_events WHERE meter_id = 'PQMS_11KV.N0001_H2'"
            " AND substation_id = :s AND circuit_id = 'H2'",
            s=grid_data["north"],
        )
        == 2
    )
