"""Add mapping with "New customer…" and, for admins, "New circuit…": one unit of work."""

from __future__ import annotations

import pytest

from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/mappings.py"


def open_dialog(identity, **query):
    at = logged_in(identity)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    at.button(key="open_add").click().run()
    assert not at.exception, at.exception
    return at


def new_customer(at, account: str, name: str):
    at.toggle(key="add_new_customer").set_value(True).run()
    at.text_input(key="add_new_account").input(account)
    at.text_input(key="add_new_name").input(name)
    at.selectbox(key="add_new_type").select("industrial").run()


def test_admin_maps_a_new_customer_to_a_new_circuit_in_one_go(login_user, grid_data, engine):
    at = open_dialog(login_user("admin"), substation="South")
    new_customer(at, "NEW-77", "Quay Cold Store")
    assert "New circuit…" in at.selectbox(key="add_circuit").options
    at.selectbox(key="add_circuit").select("New circuit…").run()
    at.text_input(key="add_new_circuit").input("h9").run()
    at.button(key="add_confirm").click().run()
    assert not at.exception
    assert any("Mapped Quay Cold Store (NEW-77) to South / H9" in t.value for t in at.toast)
    assert (
        scalar(
            engine,
            "SELECT critical_customer FROM customers WHERE account_number = 'NEW-77'",
        )
        is True
    )
    assert (
        scalar(
            engine,
            "SELECT source FROM substation_circuits sc JOIN substations s ON s.id = sc.substation_id"
            " WHERE s.name = 'South' AND sc.circuit_id = 'H9'",
        )
        == "app"
    )


def test_a_refused_mapping_leaves_no_new_customer_or_circuit(login_user, grid_data, engine):
    at = open_dialog(login_user("admin"), substation="South")
    new_customer(at, "NEW-78", "Would Be Customer")
    at.selectbox(key="add_circuit").select("New circuit…").run()
    at.text_input(key="add_new_circuit").input(" h1").run()  # South already has H1
    at.button(key="add_confirm").click().run()
    assert any("which South already has" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM customers WHERE account_number = 'NEW-78'") == 0
    # A taken account number: the new circuit is not kept either.
    at.text_input(key="add_new_account").input("ACC0001")
    at.text_input(key="add_new_circuit").input("H42").run()
    at.button(key="add_confirm").click().run()
    assert any("Account number ACC0001 is already used" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM substation_circuits WHERE circuit_id = 'H42'") == 0


@pytest.mark.parametrize("role", ["operator"])
def test_operators_add_new_customers_but_not_circuits(login_user, grid_data, engine, role):
    at = open_dialog(login_user(role), substation="South")
    assert "New circuit…" not in at.selectbox(key="add_circuit").options
    new_customer(at, "NEW-79", "Operator's Customer")
    at.selectbox(key="add_circuit").select("H1").run()
    at.button(key="add_confirm").click().run()
    assert not at.exception
    assert "Mapped Operator's Customer (NEW-79) to South / H1" in texts(at)
