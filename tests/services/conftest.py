"""Fixtures for the mapping service tests: a small grid of substations, circuits (known from
events), customers and one identity per role, all written with owner SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from ctm import db


@dataclass(frozen=True)
class World:
    north: uuid.UUID  # substation "North" with circuits H1, H2, H10 (from events)
    south: uuid.UUID  # substation "South" with circuit H1 (from events), H7 (from a mapping)
    empty: uuid.UUID  # substation "Empty": no events, no mappings
    acme: uuid.UUID  # customer "Acme Steel" ACC-1001
    bolt: uuid.UUID  # customer "Bolt Foods" ACC-1002
    crane: uuid.UUID  # customer "Crane Works" ACC-2001
    south_h7: uuid.UUID  # active mapping Crane Works → South / H7 (a system load, no editor)
    admin: db.Identity
    operator: db.Identity
    viewer: db.Identity
    nobody: db.Identity


def owner(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params)


@pytest.fixture
def world(engine, make_user) -> World:
    north, south, empty = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    acme, bolt, crane = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    south_h7 = uuid.uuid4()
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO substations (id, name, code) VALUES"
                " (:n, 'North', 'NTH'), (:s, 'South', 'STH'), (:e, 'Empty', 'EMP')"
            ),
            {"n": north, "s": south, "e": empty},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers (id, account_number, name, customer_type) VALUES"
                " (:a, 'ACC-1001', 'Acme Steel', 'industrial'),"
                " (:b, 'ACC-1002', 'Bolt Foods', 'commercial'),"
                " (:c, 'ACC-2001', 'Crane Works', 'industrial')"
            ),
            {"a": acme, "b": bolt, "c": crane},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms,"
                " \"timestamp\") SELECT :n, c, 'low', 100, now() - make_interval(days => g)"
                " FROM unnest(ARRAY['H10', 'H2', 'H1']) AS c, generate_series(1, 3) AS g"
            ),
            {"n": north},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " VALUES (:s, 'H1', 'high', 60000), (:s, NULL, 'low', 5)"
            ),
            {"s": south},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (id, customer_id, substation_id,"
                " circuit_id) VALUES (:id, :c, :s, 'H7')"
            ),
            {"id": south_h7, "c": crane, "s": south},
        )
    return World(
        north=north,
        south=south,
        empty=empty,
        acme=acme,
        bolt=bolt,
        crane=crane,
        south_h7=south_h7,
        admin=make_user("admin", "ada"),
        operator=make_user("operator", "otto"),
        viewer=make_user("viewer", "vera"),
        nobody=make_user(None, "nemo"),
    )
