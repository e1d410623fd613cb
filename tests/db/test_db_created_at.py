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


# Per table a logged-in writer may insert into: the INSERT (returning the row's key) and the WHERE
# clause that finds that row again. Every table whose created_at `authenticated` may write must be
# here (see test_every_table_a_user_writes_keeps_created_at): profiles are only updated (below).
INSERTS = {
    "substations": (
        "INSERT INTO substations (name, created_at) VALUES ('X', :t) RETURNING id",
        "id = :i",
    ),
    "customers": (
        (
            "INSERT INTO customers (account_number, name, created_at) VALUES ('X1', 'X', :t)"
            " RETURNING id"
        ),
        "id = :i",
    ),
    "pq_events": (
        (
            "INSERT INTO pq_events (substation_id, circuit_id, created_at) VALUES (:s, 'H1', :t)"
            " RETURNING id"
        ),
        "id = :i",
    ),
    "customer_transformer_matching": (
        (
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
            " created_at) VALUES (:c, :s, 'H2', :t) RETURNING id"
        ),
        "id = :i",
    ),
    "substation_circuits": (
        (
            "INSERT INTO substation_circuits (substation_id, circuit_id, created_at)"
            " VALUES (:s, 'H9', :t) RETURNING circuit_id"
        ),
        "substation_id = :s AND circuit_id = :i",
    ),
    "pq_meters": (
        (
            "INSERT INTO pq_meters (meter_id, substation_id, circuit_id, created_at)"
            " VALUES ('M-X', :s, 'H8', :t) RETURNING id"
        ),
        "id = :i",
    ),
}
UPDATED_ONLY = {"profiles"}

# Tables with a created_at column that the role `authenticated` may INSERT or UPDATE.
USER_WRITABLE = """
WITH created AS MATERIALIZED (
  SELECT format('%I.%I', c.table_schema, c.table_name) AS name
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_schema, table_name)
  WHERE c.column_name = 'created_at' AND t.table_type = 'BASE TABLE'
    AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
)
SELECT name FROM created
WHERE has_column_privilege('authenticated', name, 'created_at', 'INSERT')
   OR has_column_privilege('authenticated', name, 'created_at', 'UPDATE')
"""
# Of those, the ones with a BEFORE INSERT OR UPDATE row trigger calling keep_created_at().
WITH_TRIGGER = """
SELECT DISTINCT t.tgrelid::regclass::text
FROM pg_trigger t
WHERE t.tgfoid = 'public.keep_created_at()'::regprocedure AND NOT t.tgisinternal
  AND t.tgtype & 1 = 1        -- ROW
  AND t.tgtype & 2 = 2        -- BEFORE
  AND t.tgtype & 4 = 4        -- INSERT
  AND t.tgtype & 16 = 16      -- UPDATE
"""


def test_every_table_a_user_writes_keeps_created_at(engine):
    """A table added later whose created_at a logged-in writer can set fails here until it gets
    the keep_created_at trigger and a row in INSERTS (or UPDATED_ONLY)."""
    with db.owner_transaction(engine) as conn:
        writable = {r.split(".")[-1] for r in conn.scalars(sa.text(USER_WRITABLE))}
        guarded = {r.split(".")[-1] for r in conn.scalars(sa.text(WITH_TRIGGER))}
    assert writable >= {"substation_circuits", "pq_meters", "customers"}
    assert sorted(writable - guarded) == [], "created_at writable without keep_created_at"
    assert writable == set(INSERTS) | UPDATED_ONLY, "a writable table without a case below"


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_a_logged_in_writer_cannot_backdate_or_rewrite_created_at(engine, make_user, place, table):
    sub, cust = place
    insert, where = INSERTS[table]
    admin = make_user("admin")
    with db.user_transaction(engine, admin) as conn:
        key = conn.scalar(sa.text(insert), {"t": OLD, "s": sub, "c": cust})
        args = {"i": key, "s": sub}
        assert conn.scalar(
            sa.text(f"SELECT created_at > now() - interval '1 minute' FROM {table} WHERE {where}"),
            args,
        )
        first = conn.scalar(sa.text(f"SELECT created_at FROM {table} WHERE {where}"), args)
        conn.execute(
            sa.text(f"UPDATE {table} SET created_at = :t WHERE {where}"), {**args, "t": OLD}
        )
        assert conn.scalar(sa.text(f"SELECT created_at FROM {table} WHERE {where}"), args) == first


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
        row = conn.scalar(sa.text(INSERTS["pq_events"][0]), {"t": OLD, "s": sub, "c": cust})
        assert (
            str(
                conn.scalar(
                    sa.text("SELECT created_at AT TIME ZONE 'UTC' FROM pq_events WHERE id = :i"),
                    {"i": row},
                )
            )
            == "2001-02-03 04:05:06"
        )
