"""Substations, customer search and substation deletion, as each role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import db, reference
from ctm import mappings as svc
from ctm.errors import ValidationError


def substation_names(engine) -> list[str]:
    with db.owner_transaction(engine) as conn:
        return list(conn.scalars(sa.text("SELECT name FROM substations ORDER BY name")))


@pytest.mark.parametrize("who", ["admin", "operator", "viewer"])
def test_substations_are_listed_by_name(engine, world, who):
    listed = reference.list_substations(engine, getattr(world, who))
    assert [(s.name, s.code) for s in listed] == [
        ("Empty", "EMP"),
        ("North", "NTH"),
        ("South", "STH"),
    ]
    assert listed[1].id == world.north


def test_a_user_without_profile_sees_no_substations_or_customers(engine, world):
    assert reference.list_substations(engine, world.nobody) == []
    assert reference.search_customers(engine, world.nobody, "acme") == []


@pytest.mark.parametrize("who", ["admin", "operator", "viewer"])
def test_customer_search_matches_name_or_account_any_case(engine, world, who):
    identity = getattr(world, who)
    found = reference.search_customers(engine, identity, "ACME")
    assert [(c.name, c.account_number, c.customer_type) for c in found] == [
        ("Acme Steel", "ACC-1001", "industrial")
    ]
    assert [c.name for c in reference.search_customers(engine, identity, "acc-100")] == [
        "Acme Steel",
        "Bolt Foods",
    ]
    assert [c.name for c in reference.search_customers(engine, identity, "acc-2001")] == [
        "Crane Works"
    ]
    assert len(reference.search_customers(engine, identity, "", limit=2)) == 2
    assert reference.search_customers(engine, identity, "%") == []


def test_customer_search_puts_exact_account_and_name_prefix_first(engine, world):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name) VALUES"
                " ('X-1', 'Steel Acme Annex'), ('ACME', 'Zenith Plant')"
            )
        )
    found = reference.search_customers(engine, world.viewer, "acme")
    assert [c.name for c in found] == ["Zenith Plant", "Acme Steel", "Steel Acme Annex"]


def test_customer_search_refuses_a_limit_below_one(engine, world):
    with pytest.raises(ValidationError):
        reference.search_customers(engine, world.admin, "a", limit=0)


def test_a_mapping_created_after_search_uses_the_chosen_customer(engine, world):
    choice = reference.search_customers(engine, world.operator, "bolt")[0]
    made = svc.create_mapping(engine, world.operator, choice.id, world.north, "H2")
    assert made.customer_name == "Bolt Foods"
