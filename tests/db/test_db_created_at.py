"""created_at cannot be backdated by a logged-in writer; owner loads keep their own times."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ctm import db

OLD = "2001-02-03 04:05:06+00"


@pytest.fixture
def place(engine):
    with db.owner_transaction(engine) as conn:
        sub = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('N') RETURNING id"))
        cust = conn.scalar(
            sa.text("INSERT INTO customers (account_number, name) VALUES ('1', 'C') RETURNING id")
        )
    return sub, cust


INSERTS = {
    "substations": "INSERT INTO substations (name, created_at) VALUES ('X', :t) RETURNING id",
    "customers": "INSERT INTO customers (account_number, name, created_at)"
    " VALUES ('X1', 'X', :t) RETURNING id",
    "pq_events": "INSERT INTO pq_events (substation_id, circuit_id, created_at)"
    " VALUES (:s, 'H1', :t) RETURNING id",
    "customer_transformer_matching": "INSERT INTO customer_transformer_matching"
    " (customer_id, substation_id, circuit_id, created_at) VALUES (:c, :s, 'H2', :t) RETURNING id",
}


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_a_logged_in_writer_cannot_backdate_or_rewrite_created_at(engine, make_user, place, table):
    sub, cust = place
    admin = make_user("admin")
    with db.user_transaction(engine, admin) as conn:
        row = conn.scalar(sa.text(INSERTS[table]), {"t": OLD, "s": sub, "c": cust})
        assert conn.scalar(
            sa.text(f"SELECT created_at > now() - interval '1 minute' FROM {table} WHERE id = :i"),
            {"i": row},
        )
        first = conn.scalar(sa.text(f"SELECT created_at FROM {table} WHERE id = :i"), {"i": row})
        conn.execute(
            sa.text(f"UPDATE {table} SET created_at = :t WHERE id = :i"), {"t": OLD, "i": row}
        )
        assert (
            conn.scalar(sa.text(f"SELECT created_at FROM {table} WHERE id = :i"), {"i": row})
            == first
        )


def test_an_admin_cannot_rewrite_a_profile_created_at(engine, make_user):
    admin = make_user("admin")
    with db.user_transaction(engine, admin) as conn:
        conn.execute(
            sa.text("UPDATE profiles SET created_at = :t WHERE id = :i"),
            {"t": OLD, "i": admin.user_id},
        )
    with db.owner_transaction(engine) as conn:
        assert conn.scalar(
            sa.text("SELECT created_at > '2020-01-01' FROM profiles WHERE id = :i"),
            {"i": admin.user_id},
        )


def test_the_owner_may_load_rows_with_their_own_created_at(engine, place):
    sub, cust = place
    with db.owner_transaction(engine) as conn:
        row = conn.scalar(sa.text(INSERTS["pq_events"]), {"t": OLD, "s": sub, "c": cust})
        assert (
            str(
                conn.scalar(
                    sa.text("SELECT created_at AT TIME ZONE 'UTC' FROM pq_events WHERE id = :i"),
                    {"i": row},
                )
            )
            == "2001-02-03 04:05:06"
        )
