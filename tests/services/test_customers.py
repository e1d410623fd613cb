"""Customers: paged search, add/edit with the checks, delete refused with history, close account,
and a customer's PQ event history (presets, severity, paging)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ctm import customers as svc
from ctm import db
from ctm.customers import CustomerFilter, CustomerInput
from ctm.errors import InUse, PermissionDenied, ValidationError


def scalar(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_list_searches_filters_and_pages_with_the_total(engine, world):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name, customer_type, critical_customer)"
                " SELECT 'B-' || g, 'Bulk ' || lpad(g::text, 3, '0'), 'residential', g % 2 = 0"
                " FROM generate_series(1, 120) AS g"
            )
        )
    page = svc.list_customers(engine, world.viewer, CustomerFilter(), limit=50)
    assert page.total == 123 and len(page.rows) == 50
    assert list(page.rows["name"][:2]) == ["Acme Steel", "Bolt Foods"]
    page = svc.list_customers(
        engine, world.viewer, CustomerFilter(text="bulk 1"), limit=5, offset=5
    )
    assert page.total == 21  # Bulk 100..120 and Bulk 1xx
    assert list(page.rows["name"]) == [f"Bulk {n}" for n in range(105, 110)]
    crit = svc.list_customers(
        engine, world.viewer, CustomerFilter(customer_type="residential", critical=True)
    )
    assert crit.total == 60
    industrial = svc.list_customers(
        engine, world.viewer, CustomerFilter(customer_type="industrial")
    )
    assert list(industrial.rows["account_number"]) == ["ACC-1001", "ACC-2001"]
    assert list(industrial.rows["current_mappings"]) == [0, 1]
    assert svc.list_customers(engine, world.nobody, CustomerFilter()).total == 0
    # Texts too short for a trigram match the same way: any part, any case, wildcards literal.
    short = {
        text: list(svc.list_customers(engine, world.viewer, CustomerFilter(text)).rows["name"])
        for text in ("cM", "c-2", "%", "_")
    }
    assert short == {"cM": ["Acme Steel"], "c-2": ["Crane Works"], "%": [], "_": []}
    assert svc.list_customers(engine, world.viewer, CustomerFilter("K")).total == 121


def test_a_long_list_counts_up_to_the_cap_and_still_pages_past_it(engine, world):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name)"
                " SELECT 'B-' || g, 'Bulk ' || lpad(g::text, 4, '0')"
                " FROM generate_series(1, 1200) AS g"
            )
        )
    first = svc.list_customers(engine, world.viewer, CustomerFilter(text="bulk"))
    assert (first.total, first.total_is_exact) == (svc.COUNT_CAP, False)  # "more than 1,000"
    assert list(first.rows["name"][:2]) == ["Bulk 0001", "Bulk 0002"]
    everyone = svc.list_customers(engine, world.viewer, CustomerFilter())
    assert (everyone.total, everyone.total_is_exact) == (svc.COUNT_CAP, False)
    # A page past the cap is still served in list order, and its end is known exactly.
    last = svc.list_customers(engine, world.viewer, CustomerFilter(text="bulk"), offset=1150)
    assert (last.total, last.total_is_exact) == (1200, True)
    assert list(last.rows["name"]) == [f"Bulk {n:04d}" for n in range(1151, 1201)]
    past = svc.list_customers(engine, world.viewer, CustomerFilter(text="bulk"), offset=1200)
    assert past.rows.empty and (past.total, past.total_is_exact) == (1200, True)
    narrow = svc.list_customers(engine, world.viewer, CustomerFilter(text="bulk 11"))
    assert (narrow.total, narrow.total_is_exact) == (100, True)


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_admins_and_operators_add_and_edit_customers(engine, world, who):
    identity = getattr(world, who)
    added = svc.add_customer(
        engine,
        identity,
        CustomerInput(
            account_number=" NEW-1 ",
            name=" Delta Labs ",
            customer_type="Commercial",
            address="1 Harbour Road",
            contract_demand_kva="1250.5",
            critical_customer=True,
        ),
    )
    assert (added.account_number, added.name, added.customer_type) == (
        "NEW-1",
        "Delta Labs",
        "commercial",
    )
    assert added.contract_demand_kva == Decimal("1250.50") and added.critical_customer
    edited = svc.update_customer(
        engine,
        identity,
        added.id,
        CustomerInput(account_number="NEW-1", name="Delta Labs Ltd", customer_type="industrial"),
    )
    assert (edited.name, edited.customer_type, edited.contract_demand_kva) == (
        "Delta Labs Ltd",
        "industrial",
        None,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (CustomerInput("acc-1001", "Copy"), "Account number acc-1001 is already used by"),
        (CustomerInput("  ", "X"), "Account number is empty"),
        (CustomerInput("X-9", " "), "Name is empty"),
        (CustomerInput("X-9", "X", customer_type="farm"), "Customer type 'farm'"),
        (CustomerInput("X-9", "X", contract_demand_kva="-5"), "Contract demand -5 kVA"),
        (CustomerInput("X-9", "X", contract_demand_kva="lots"), "is not a number"),
    ],
)
def test_bad_customer_input_is_refused_and_nothing_written(engine, world, data, message):
    with pytest.raises(ValidationError, match=message):
        svc.add_customer(engine, world.operator, data)
    assert scalar(engine, "SELECT count(*) FROM customers") == 3


def test_edit_refuses_an_account_number_of_another_customer(engine, world):
    with pytest.raises(ValidationError, match="ACC-1002 is already used by customer Bolt Foods"):
        svc.update_customer(engine, world.admin, world.acme, CustomerInput("ACC-1002", "Acme"))
    assert scalar(engine, "SELECT name FROM customers WHERE id = :id", id=world.acme) == (
        "Acme Steel"
    )


def test_viewers_change_no_customer(engine, world):
    with pytest.raises(PermissionDenied):
        svc.add_customer(engine, world.viewer, CustomerInput("V-1", "Viewer's"))
    with pytest.raises(PermissionDenied):
        svc.update_customer(engine, world.viewer, world.acme, CustomerInput("ACC-1001", "X"))
    with pytest.raises(PermissionDenied):
        svc.close_account(engine, world.viewer, world.crane)
    with pytest.raises(PermissionDenied):
        svc.delete_customer(engine, world.operator, world.bolt)


def hit(engine, customer, substation, circuit="H1", when="now()", severity="high"):
    """An event on a circuit the customer is mapped to (so the trigger records the impact)."""
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, :k) ON CONFLICT DO NOTHING"
            ),
            {"c": customer, "s": substation, "k": circuit},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                f' "timestamp") VALUES (:s, :k, :sev, 90000, {when})'
            ),
            {"s": substation, "k": circuit, "sev": severity},
        )


def test_a_customer_with_pq_history_cannot_be_deleted_but_its_account_closes(engine, world):
    hit(engine, world.acme, world.north)
    with pytest.raises(InUse, match=r"Acme Steel \(ACC-1001\) cannot be deleted: 1 PQ event"):
        svc.delete_customer(engine, world.admin, world.acme)
    assert scalar(engine, "SELECT count(*) FROM customers WHERE id = :id", id=world.acme) == 1
    assert svc.close_account(engine, world.operator, world.acme) == 1
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :id AND active",
            id=world.acme,
        )
        == 0
    )
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 1
    svc.delete_customer(engine, world.admin, world.bolt)  # no history: deleted
    assert scalar(engine, "SELECT count(*) FROM customers") == 2


def test_event_history_with_presets_severity_and_paging(engine, world):
    hit(engine, world.acme, world.north, when="now() - interval '2 days'", severity="critical")
    hit(engine, world.acme, world.north, when="now() - interval '40 days'", severity="low")
    hit(engine, world.acme, world.north, when="now() - interval '200 days'", severity="high")
    hit(engine, world.bolt, world.south, when="now() - interval '3 days'")
    today = date.today()
    last_month = svc.preset_range("Last month", today)
    page = svc.customer_events(engine, world.viewer, world.acme, *last_month)
    # The world's earlier North / H1 events came before the mapping: they hit nobody.
    assert page.total == 1
    assert list(page.rows["severity"]) == ["critical"]
    assert list(page.rows["impact_level"]) == ["severe"]
    assert page.rows["estimated_downtime_min"].iloc[0] == 1.5
    year = svc.preset_range("Last 12 months", today)
    all_year = svc.customer_events(engine, world.viewer, world.acme, *year)
    assert all_year.total == 3
    assert list(all_year.rows["severity"]) == ["critical", "low", "high"]  # newest first
    assert (
        svc.customer_events(engine, world.viewer, world.acme, *year, severities=["high"]).total == 1
    )
    paged = svc.customer_events(engine, world.viewer, world.acme, *year, limit=2, offset=2)
    assert paged.total == 3 and list(paged.rows["severity"]) == ["high"]
    assert svc.preset_range("Custom", today) is None
    with pytest.raises(ValidationError, match="ends before it starts"):
        svc.customer_events(engine, world.viewer, world.acme, today, today - timedelta(days=1))
    with pytest.raises(ValidationError, match="Severity 'huge'"):
        svc.customer_events(engine, world.viewer, world.acme, *year, severities=["huge"])


def test_history_file_name_carries_customer_and_period(engine, world):
    customer = svc.get_customer(engine, world.viewer, world.acme)
    name = svc.history_file_name(customer, date(2026, 1, 1), date(2026, 3, 31))
    assert name == "ctm_pq_history_ACC-1001_Acme-Steel_2026-01-01_to_2026-03-31.xlsx"


def test_months_back_clamps_to_the_end_of_a_short_month():
    assert svc.months_back(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert svc.months_back(date(2026, 1, 15), 3) == date(2025, 10, 15)
    assert svc.months_back(date(2026, 5, 31), 12) == date(2025, 5, 31)


def test_customer_mappings_lists_current_first(engine, world):
    frame = svc.customer_mappings(engine, world.viewer, world.crane)
    assert list(frame["substation_name"]) == ["South"] and list(frame["circuit_id"]) == ["H7"]
