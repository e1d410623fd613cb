"""The history table: every insert, update and delete of the audited tables leaves one row written
by the database (raw SQL under SET LOCAL ROLE authenticated included, attributed to auth.uid()),
with its source and batch; nobody can change or delete history, whatever the role."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from dbhelpers import pgcode, run, scalar

from ctm import db

ROLES = ("admin", "operator", "viewer", "nobody")

# Who may do what, per table and verb (the policies of the base migrations).
ALLOWED = {
    ("substations", "INSERT"): {"admin"},
    ("substations", "UPDATE"): {"admin"},
    ("substations", "DELETE"): {"admin"},
    ("customers", "INSERT"): {"admin", "operator"},
    ("customers", "UPDATE"): {"admin", "operator"},
    ("customers", "DELETE"): {"admin"},
    ("customer_transformer_matching", "INSERT"): {"admin", "operator"},
    ("customer_transformer_matching", "UPDATE"): {"admin", "operator"},
    ("customer_transformer_matching", "DELETE"): {"admin"},
}


def raw_as(engine, identity: db.Identity | None, sql: str, **params):
    """Raw SQL the way any client of the database can send it: SET LOCAL ROLE authenticated and
    the JWT claims, nothing from ctm (no change source set), in one transaction."""
    with engine.begin() as conn:
        if identity is not None:
            conn.execute(sa.text("SET LOCAL ROLE authenticated"))
            conn.execute(
                sa.text("SELECT set_config('request.jwt.claims', :c, true)"),
                {"c": json.dumps({"sub": str(identity.user_id), "role": "authenticated"})},
            )
        result = conn.execute(sa.text(sql), params)
        return result.rowcount


def history_since(engine, last_id: int) -> list[sa.Row]:
    return run(engine, "SELECT * FROM audit_log WHERE id > :i ORDER BY id", i=last_id)


def last_history_id(engine) -> int:
    return scalar(engine, "SELECT coalesce(max(id), 0) FROM audit_log")


@pytest.fixture
def place(engine):
    """A substation, a customer mapped to it, and a spare substation and customer (no FKs)."""
    sub = scalar(engine, "INSERT INTO substations (name, code) VALUES ('North', 'N') RETURNING id")
    spare_sub = scalar(engine, "INSERT INTO substations (name) VALUES ('Spare') RETURNING id")
    cust = scalar(
        engine, "INSERT INTO customers (account_number, name) VALUES ('A1', 'Acme') RETURNING id"
    )
    spare_cust = scalar(
        engine, "INSERT INTO customers (account_number, name) VALUES ('B1', 'Bolt') RETURNING id"
    )
    mapping = scalar(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H1') RETURNING id",
        c=cust,
        s=sub,
    )
    return {
        "sub": sub,
        "spare_sub": spare_sub,
        "cust": cust,
        "spare_cust": spare_cust,
        "mapping": mapping,
    }


def statement(table: str, action: str, place: dict) -> tuple[str, dict, str | None]:
    """SQL for one verb on one table, its parameters, and the id of the row it touches."""
    if table == "substations":
        sql = {
            "INSERT": "INSERT INTO substations (name) VALUES ('New')",
            "UPDATE": "UPDATE substations SET region = 'East' WHERE id = :id",
            "DELETE": "DELETE FROM substations WHERE id = :id",
        }[action]
        return sql, {"id": place["spare_sub"]}, (None if action == "INSERT" else place["spare_sub"])
    if table == "customers":
        sql = {
            "INSERT": "INSERT INTO customers (account_number, name) VALUES ('C9', 'Crane')",
            "UPDATE": "UPDATE customers SET address = '1 Main St' WHERE id = :id",
            "DELETE": "DELETE FROM customers WHERE id = :id",
        }[action]
        return (
            sql,
            {"id": place["spare_cust"]},
            (None if action == "INSERT" else place["spare_cust"]),
        )
    sql = {
        "INSERT": "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
        " circuit_id) VALUES (:c, :s, 'H2')",
        "UPDATE": "UPDATE customer_transformer_matching SET circuit_id = 'H3' WHERE id = :id",
        "DELETE": "DELETE FROM customer_transformer_matching WHERE id = :id",
    }[action]
    params = {"id": place["mapping"], "c": place["cust"], "s": place["sub"]}
    return sql, params, (None if action == "INSERT" else place["mapping"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["INSERT", "UPDATE", "DELETE"])
@pytest.mark.parametrize("table", ["substations", "customers", "customer_transformer_matching"])
def test_each_table_and_action_as_each_role_leaves_one_attributed_row_or_none(
    engine, make_user, place, table, action, role
):
    identity = make_user(None if role == "nobody" else role)
    sql, params, row_id = statement(table, action, place)
    before = last_history_id(engine)
    allowed = role in ALLOWED[(table, action)]
    if allowed:
        assert raw_as(engine, identity, sql, **params) == 1
    else:
        try:
            affected = raw_as(engine, identity, sql, **params)
        except sa.exc.DBAPIError as exc:
            assert getattr(exc.orig, "pgcode", None) == "42501"
        else:
            assert affected == 0  # a USING filter hides the row: nothing changes
    rows = [r for r in history_since(engine, before) if r.table_name == table]
    if not allowed:
        assert rows == []
        return
    assert len(rows) == 1, rows
    row = rows[0]
    assert row.action == action
    assert row.changed_by == identity.user_id  # raw SQL of a logged-in role is attributed
    assert row.source == "sql"  # nothing set the change source
    assert row.batch_id is None
    if row_id is not None:
        assert row.row_id == str(row_id)
    if action == "INSERT":
        assert row.old_values is None and row.new_values["id"] == row.row_id
    elif action == "DELETE":
        assert row.new_values is None and row.old_values["id"] == row.row_id
    else:
        changed = {k for k in row.new_values if row.new_values[k] != row.old_values.get(k)}
        expected = {"substations": {"region"}, "customers": {"address"}}.get(
            table, {"circuit_id", "updated_at", "updated_by", "version"}
        )
        assert changed == expected
    if table == "customer_transformer_matching":
        assert (row.customer_id, row.substation_id) == (place["cust"], place["sub"])
    if table == "customers":
        assert row.customer_id == uuid.UUID(row.row_id)
    if table == "substations":
        assert row.substation_id == uuid.UUID(row.row_id)


def test_the_owner_and_other_systems_are_recorded_without_a_user(engine, place):
    before = last_history_id(engine)
    run(engine, "UPDATE customers SET name = 'Acme Ltd' WHERE id = :id", id=place["cust"])
    (row,) = history_since(engine, before)
    assert (row.changed_by, row.source, row.action) == (None, "cli", "UPDATE")
    assert (row.old_values["name"], row.new_values["name"]) == ("Acme", "Acme Ltd")
    # A plain connection that sets nothing: source sql.
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE customers SET name = 'Acme' WHERE id = :id"), {"id": place["cust"]}
        )
    assert history_since(engine, row.id)[0].source == "sql"


def test_source_and_batch_come_from_the_unit_of_work(engine, make_user, place):
    admin = make_user("admin")
    batch = uuid.uuid4()
    before = last_history_id(engine)
    with db.user_transaction(engine, admin, source="import", batch_id=batch) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (account_number, name)"
                " SELECT 'IMP' || g, 'Imported ' || g FROM generate_series(1, 500) AS g"
            )
        )
    rows = history_since(engine, before)
    assert len(rows) == 500  # one statement, one history row per row
    assert {(r.source, r.batch_id, r.changed_by, r.action) for r in rows} == {
        ("import", batch, admin.user_id, "INSERT")
    }


@pytest.mark.parametrize("value", ["", "bogus", "APP ", None])
def test_an_unknown_or_empty_source_reads_as_sql_or_its_clean_form(engine, place, value):
    before = last_history_id(engine)
    with engine.begin() as conn:
        if value is not None:
            conn.execute(
                sa.text(
                    "SELECT set_config('ctm.change_source', :v, true),"
                    " set_config('ctm.change_batch', 'not-a-uuid', true)"
                ),
                {"v": value},
            )
        conn.execute(
            sa.text("UPDATE substations SET region = 'X' WHERE id = :id"), {"id": place["sub"]}
        )
    (row,) = history_since(engine, before)
    assert row.source == ("app" if value == "APP " else "sql")
    assert row.batch_id is None


def test_an_update_that_changes_nothing_leaves_no_row(engine, place):
    before = last_history_id(engine)
    run(engine, "UPDATE substations SET name = name WHERE id = :id", id=place["sub"])
    assert history_since(engine, before) == []


def test_deleting_a_customer_records_its_cascaded_mappings_too(engine, make_user, place):
    admin = make_user("admin")
    before = last_history_id(engine)
    raw_as(engine, admin, "DELETE FROM customers WHERE id = :id", id=place["cust"])
    rows = {(r.table_name, r.action, r.row_id) for r in history_since(engine, before)}
    assert rows == {
        ("customers", "DELETE", str(place["cust"])),
        ("customer_transformer_matching", "DELETE", str(place["mapping"])),
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET changed_by = NULL",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (table_name, row_id, action) VALUES ('customers', 'x', 'INSERT')",
    ],
)
def test_no_role_of_the_app_can_rewrite_history(engine, make_user, place, role, sql):
    identity = make_user(None if role == "nobody" else role)
    count = scalar(engine, "SELECT count(*) FROM audit_log")
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        raw_as(engine, identity, sql)
    assert pgcode(excinfo) == "42501"
    assert scalar(engine, "SELECT count(*) FROM audit_log") == count


@pytest.mark.parametrize(
    "sql", ["UPDATE audit_log SET source = 'app'", "DELETE FROM audit_log", "TRUNCATE audit_log"]
)
def test_even_the_owner_cannot_rewrite_history(engine, place, sql):
    count = scalar(engine, "SELECT count(*) FROM audit_log")
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        run(engine, sql)
    assert pgcode(excinfo) == "42501"
    assert "append-only" in str(excinfo.value)
    assert scalar(engine, "SELECT count(*) FROM audit_log") == count


@pytest.mark.parametrize("role", ROLES)
def test_every_user_with_a_profile_reads_history_and_nobody_else(engine, make_user, place, role):
    identity = make_user(None if role == "nobody" else role)
    total = scalar(engine, "SELECT count(*) FROM audit_log")
    assert total >= 5
    with db.user_transaction(engine, identity) as conn:
        seen = conn.scalar(sa.text("SELECT count(*) FROM audit_log"))
    assert seen == (0 if role == "nobody" else total)
