"""Data Maintenance → Customers per role: the paged search, add/edit, and a customer's detail with
its PQ history, through AppTest against PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import db
from tests.ui.conftest import logged_in, scalar, texts

PAGE = "views/customers.py"


def open_page(identity, **query):
    at = logged_in(identity)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def open_link(identity, **query):
    """As a browser opening /customers?...: the page file runs with the URL's parameters."""
    at = logged_in(identity, page=PAGE)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


def paging(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Page "))


def test_viewer_searches_and_pages_without_edit_controls(login_user, grid_data):
    at = open_page(login_user("viewer"))
    assert paging(at) == "Page 1 of 5 · customers 1–50 of 250"
    assert len(at.dataframe[0].value) == 50
    assert not [b for b in at.button if b.label in ("Add customer", "Save customer")]
    at.text_input(key="customer_search").input("0245").run()
    assert list(at.dataframe[0].value["Account number"]) == ["ACC0245"]
    at.selectbox(key="customer_type").select("commercial").run()
    assert paging(at) == "Page 1 of 1 · customers 0–0 of 0"
    assert "No customer matches these filters." in texts(at)


def test_filters_and_page_come_from_the_link(login_user, grid_data):
    at = open_link(login_user("viewer"), customer_type="Industrial", page="2")
    assert paging(at) == "Page 2 of 2 · customers 51–83 of 83"


def test_a_search_matching_more_than_the_cap_says_more_than(login_user, grid_data, engine):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name)"
                " SELECT 'B-' || g, 'Bulk ' || lpad(g::text, 4, '0')"
                " FROM generate_series(1, 1100) AS g"
            )
        )
    at = open_link(login_user("viewer"), customer_search="bulk")
    assert paging(at) == "Page 1 of 20+ · customers 1–50 of more than 1,000"
    at = open_link(login_user("viewer"), customer_search="bulk", page="22")
    assert paging(at) == "Page 22 of 22 · customers 1,051–1,100 of 1,100"


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_admins_and_operators_add_a_customer_and_a_taken_account_is_refused(
    login_user, grid_data, engine, role
):
    at = open_page(login_user(role))
    at.text_input(key="add_customer_account").input("NEW-1")
    at.text_input(key="add_customer_name").input("Delta Labs")
    at.text_input(key="add_customer_kva").input("150")
    button(at, "Add customer").click().run()
    assert not at.exception
    assert scalar(engine, "SELECT name FROM customers WHERE account_number = 'NEW-1'") == (
        "Delta Labs"
    )
    assert "Delta Labs (NEW-1)" in texts(at)  # the new customer's detail is open
    at.text_input(key="add_customer_account").input("acc0001")
    at.text_input(key="add_customer_name").input("Copy")
    button(at, "Add customer").click().run()
    assert any("Account number acc0001 is already used" in e.value for e in at.error)
    assert scalar(engine, "SELECT count(*) FROM customers") == 251


def test_detail_shows_mappings_history_and_refuses_deleting_a_customer_with_history(
    login_user, grid_data, engine
):
    with db.owner_transaction(engine) as conn:
        customer = conn.scalar(sa.text("SELECT id FROM customers WHERE account_number = 'ACC0002'"))
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " SELECT substation_id, circuit_id, 'critical', 120000"
                " FROM customer_transformer_matching WHERE customer_id = :c AND active"
            ),
            {"c": customer},
        )
    at = open_page(login_user("admin"), customer_search="ACC0002")
    at.selectbox(key="open_customer").select(customer).run()
    assert not at.exception
    assert "Customer 0002 (ACC0002)" in texts(at)
    assert "events 1–1 of 1" in texts(at), texts(at)
    history = next(d.value for d in at.dataframe if "Severity" in d.value.columns)
    assert list(history["Severity"]) == ["critical"]
    mapped = next(d.value for d in at.dataframe if "Disconnected on" in d.value.columns)
    assert list(mapped["Disconnected on"]) == [""]  # empty, not "None"
    assert list(history["Impact level"]) == ["severe"]
    download = at.get("download_button")
    assert download and download[0].proto.label == "Download Excel"
    # The PQ report tab: the customer's own SARFI and the formatted report for the same period.
    assert {"SARFI-70", "SARFI-80", "SARFI-90"} <= {m.label for m in at.metric}
    assert "Download PQ report (Excel)" in [d.proto.label for d in download]
    at.checkbox(key=f"delete_customer_{customer}_sure").check().run()
    at.button(key=f"delete_customer_{customer}_button").click().run()
    assert any("cannot be deleted: 1 PQ event" in e.value for e in at.error)
    at.button(key=f"close_account_{customer}").click().run()
    assert not at.exception
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :c AND active",
            c=customer,
        )
        == 0
    )


def test_viewer_sees_a_customer_detail_without_edit_controls(login_user, grid_data, engine):
    customer = scalar(engine, "SELECT id FROM customers WHERE account_number = 'ACC0003'")
    at = open_page(login_user("viewer"), customer_search="ACC0003")
    at.selectbox(key="open_customer").select(customer).run()
    assert "Customer 0003 (ACC0003)" in texts(at)
    labels = {b.label for b in at.button}
    assert not labels & {"Save customer", "Close account", "Delete"}
    assert "No PQ event hit this customer in this period." in texts(at)
