"""Fixtures of the database contract tests: a small grid of substations, circuits, customers and
mappings, helpers to add events and read their impacts, and empty (unmigrated) databases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from dbhelpers import run, scalar

from ctm import db


@dataclass(frozen=True)
class Grid:
    """Two substations that both have a circuit H1; customers a..e.

    north/H1: a, b (active), e (inactive) · north/H2: c · south/H1: d · north/H3: nobody
    """

    north: uuid.UUID
    south: uuid.UUID
    a: uuid.UUID
    b: uuid.UUID
    c: uuid.UUID
    d: uuid.UUID
    e: uuid.UUID


@pytest.fixture
def grid(engine) -> Grid:
    north = scalar(
        engine, "INSERT INTO substations (name, code) VALUES ('North', 'N') RETURNING id"
    )
    south = scalar(
        engine, "INSERT INTO substations (name, code) VALUES ('South', 'S') RETURNING id"
    )
    customers = {}
    for key in "abcde":
        customers[key] = scalar(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:acc, :name) RETURNING id",
            acc=f"ACC-{key.upper()}",
            name=f"Customer {key.upper()}",
        )
    for key, sub, circuit, active in [
        ("a", north, "H1", True),
        ("b", north, "H1", True),
        ("e", north, "H1", False),
        ("c", north, "H2", True),
        ("d", south, "H1", True),
    ]:
        run(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id, active)"
            " VALUES (:c, :s, :k, :a)",
            c=customers[key],
            s=sub,
            k=circuit,
            a=active,
        )
    return Grid(north=north, south=south, **customers)


@pytest.fixture
def empty_database(server_url):
    """Factory: URL of a new database with no migration applied; dropped after the test."""
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"ctm_test_empty_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        u = sa.engine.make_url(db._sqlalchemy_url(server_url)).set(database=name)
        return u.render_as_string(hide_password=False)

    yield make
    db.dispose_engines()
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
