"""Data Maintenance → Substations per role, through AppTest against PostgreSQL."""

from __future__ import annotations

import pytest

from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/substations.py"


def open_page(identity, **query):
    at = logged_in(identity)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_operators_and_viewers_read_substations_without_edit_controls(login_user, grid_data, role):
    at = open_page(login_user(role))
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["North", "South"]
    assert not [b for b in at.button if b.label in ("Add substation", "Save substation", "Delete")]
    at.selectbox(key="open_substation").select(grid_data["north"]).run()
    assert "North" in texts(at)
    assert not [b for b in at.button if b.label in ("Save substation", "Delete")]


def test_admin_adds_a_substation_and_a_duplicate_code_is_refused(login_user, grid_data, engine):
    at = open_page(login_user("admin"))
    at.text_input(key="add_substation_name").input("Harbour")
    at.text_input(key="add_substation_code").input("hb1")
    at.text_input(key="add_substation_lat").input("22.3")
    at.text_input(key="add_substation_lon").input("114.17")
    button(at, "Add substation").click().run()
    assert not at.exception
    assert scalar(engine, "SELECT code FROM substations WHERE name = 'Harbour'") == "HB1"
    assert "Added substation Harbour" in texts(at)
    at.text_input(key="add_substation_name").input("Copy")
    at.text_input(key="add_substation_code").input("HB1 ")
    button(at, "Add substation").click().run()
    assert "Code HB1 is already used by substation Harbour" in [e.value for e in at.error]
    at.text_input(key="add_substation_name").input("Far away")
    at.text_input(key="add_substation_code").input("FAR")
    at.text_input(key="add_substation_lat").input("95")
    button(at, "Add substation").click().run()
    assert any("Latitude 95 is out of range" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM substations") == 3


def test_admin_is_told_why_a_substation_in_use_cannot_be_deleted(login_user, grid_data, engine):
    at = open_page(login_user("admin"), open_substation="South")
    sid = grid_data["south"]
    at.checkbox(key=f"delete_substation_{sid}_sure").check().run()
    at.button(key=f"delete_substation_{sid}_button").click().run()
    assert any("South cannot be deleted" in e.value and "10 mappings" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM substations") == 2


def test_search_comes_from_the_link(login_user, grid_data):
    at = open_page(login_user("viewer"), substation_search="sou")
    assert list(at.dataframe[0].value["Name"]) == ["South"]


def test_admin_adds_a_circuit_and_a_case_duplicate_is_refused(login_user, grid_data, engine):
    at = open_page(login_user("admin"), open_substation="South")
    sid = grid_data["south"]
    assert list(at.dataframe[-1].value["Circuit"]) == ["H1"]
    at.text_input(key=f"new_circuit_name_{sid}").input("h2")
    at.text_input(key=f"new_circuit_served_{sid}").input("300")
    button(at, "Add circuit").click().run()
    assert not at.exception
    assert (
        scalar(
            engine,
            "SELECT customers_served FROM substation_circuits WHERE substation_id = :s"
            " AND circuit_id = 'H2'",
            s=sid,
        )
        == 300
    )
    at.text_input(key=f"new_circuit_name_{sid}").input(" H2 ")
    button(at, "Add circuit").click().run()
    assert any("which South already has" in e.value for e in at.error)
    at.text_input(key=f"new_circuit_name_{sid}").input("  ")
    button(at, "Add circuit").click().run()
    assert any("Circuit name is empty" in e.value for e in at.error)


def test_retiring_a_circuit_in_use_offers_to_end_its_mappings(login_user, grid_data, engine):
    at = open_page(login_user("admin"), open_substation="South")
    sid = grid_data["south"]
    at.selectbox(key=f"change_circuit_{sid}").select("H1").run()
    at.button(key=f"circuit_{sid}_H1_retire").click().run()
    assert any("10 mappings still apply" in w.value for w in at.warning)
    assert (
        scalar(engine, "SELECT retired_on FROM substation_circuits WHERE substation_id = :s", s=sid)
        is None
    )
    at.button(key=f"circuit_{sid}_H1_end_and_retire").click().run()
    assert not at.exception
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE substation_id = :s"
            " AND disconnected_on IS NULL",
            s=sid,
        )
        == 0
    )
    assert (
        scalar(
            engine,
            "SELECT retired_on IS NOT NULL FROM substation_circuits WHERE substation_id = :s",
            s=sid,
        )
        is True
    )
    circuits = list(at.dataframe[-1].value["Circuit"])
    assert len(circuits) == 1 and circuits[0].startswith("H1 (retired ")
