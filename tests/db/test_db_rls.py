"""Row-level security through the identity model (role `authenticated` + JWT claims): what admin,
operator, viewer and a user without a profile may do, allowed and denied the way PostgreSQL shows
it — a missing grant or a failed WITH CHECK raises 42501, a USING filter affects 0 rows."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from dbhelpers import add_event, pgcode, run, scalar

from ctm import db

ROLES = ["admin", "operator", "viewer", None]


@pytest.fixture
def users(engine, make_user) -> dict:
    return {role: make_user(role) for role in ROLES}


def as_user(engine, identity, sql: str, **params):
    """(rowcount, rows) of one statement run as identity; raises what PostgreSQL raises."""
    with db.user_transaction(engine, identity) as conn:
        result = conn.execute(sa.text(sql), params)
        return result.rowcount, (list(result) if result.returns_rows else [])


def denied(engine, identity, sql: str, **params) -> str | None:
    with pytest.raises(sa.exc.DBAPIError) as err:
        as_user(engine, identity, sql, **params)
    return pgcode(err)


# The identity model itself ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_user_transaction_acts_as_authenticated_with_the_users_id(engine, users, role):
    identity = users[role]
    _, rows = as_user(
        engine,
        identity,
        "SELECT current_user, auth.uid(), public.current_user_role()",
    )
    assert tuple(rows[0]) == ("authenticated", identity.user_id, role)


def test_auth_uid_reads_the_single_claim_setting_first(engine):
    with engine.begin() as conn:
        one, two = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            sa.text(
                "SELECT set_config('request.jwt.claims', :c, true),"
                " set_config('request.jwt.claim.sub', :s, true)"
            ),
            {"c": f'{{"sub": "{one}"}}', "s": str(two)},
        )
        assert conn.execute(sa.text("SELECT auth.uid()")).scalar() == two
        conn.execute(sa.text("SELECT set_config('request.jwt.claim.sub', '', true)"))
        assert conn.execute(sa.text("SELECT auth.uid()")).scalar() == one


def test_without_claims_auth_uid_is_null(engine):
    assert scalar(engine, "SELECT auth.uid()") is None


# Mappings: four verbs × four users --------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "visible"), [("admin", 5), ("operator", 5), ("viewer", 5), (None, 0)]
)
def test_select_mappings(engine, grid, users, role, visible):
    _, rows = as_user(engine, users[role], "SELECT * FROM customer_transformer_matching")
    assert len(rows) == visible


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_admins_and_operators_insert_mappings(engine, grid, users, role):
    count, rows = as_user(
        engine,
        users[role],
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H4') RETURNING updated_by",
        c=grid.a,
        s=grid.south,
    )
    assert (count, rows[0].updated_by) == (1, users[role].user_id)


@pytest.mark.parametrize("role", ["viewer", None])
def test_viewers_and_users_without_profile_cannot_insert_mappings(engine, grid, users, role):
    code = denied(
        engine,
        users[role],
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H4')",
        c=grid.a,
        s=grid.south,
    )
    assert code == "42501"  # new row violates the WITH CHECK of the insert policy
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching") == 5


@pytest.mark.parametrize(
    ("role", "changed"), [("admin", 1), ("operator", 1), ("viewer", 0), (None, 0)]
)
def test_update_mappings(engine, grid, users, role, changed):
    count, _ = as_user(
        engine,
        users[role],
        "UPDATE customer_transformer_matching SET circuit_id = 'H9' WHERE customer_id = :c",
        c=grid.d,
    )
    assert count == changed
    stored = scalar(
        engine,
        "SELECT circuit_id FROM customer_transformer_matching WHERE customer_id = :c",
        c=grid.d,
    )
    assert stored == ("H9" if changed else "H1")


@pytest.mark.parametrize(
    ("role", "deleted"), [("admin", 1), ("operator", 0), ("viewer", 0), (None, 0)]
)
def test_only_admins_delete_mappings_permanently(engine, grid, users, role, deleted):
    count, _ = as_user(
        engine,
        users[role],
        "DELETE FROM customer_transformer_matching WHERE customer_id = :c",
        c=grid.d,
    )
    assert count == deleted
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching") == 5 - deleted


def test_operator_can_soft_delete_what_it_cannot_delete(engine, grid, users):
    count, _ = as_user(
        engine,
        users["operator"],
        "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c",
        c=grid.d,
    )
    assert count == 1


# Other tables -----------------------------------------------------------------------------------

TABLES = ["substations", "customers", "profiles", "pq_events", "event_customer_impact"]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_reading_other_tables_needs_a_profile(engine, grid, users, table, role):
    add_event(engine, grid.north, "H1")
    total = scalar(engine, f"SELECT count(*) FROM {table}")
    assert total > 0
    _, rows = as_user(engine, users[role], f"SELECT count(*) FROM {table}")
    assert rows[0][0] == (total if role else 0)


WRITES = {
    "add substation": "INSERT INTO substations (name) VALUES ('New')",
    "rename substation": "UPDATE substations SET region = 'East'",
    "delete substation": "DELETE FROM substations WHERE code = 'gone'",
    "add customer": "INSERT INTO customers (account_number, name) VALUES ('NEW-1', 'New')",
    "change customer": "UPDATE customers SET address = 'Road 1'",
    "delete customer": "DELETE FROM customers WHERE account_number = 'ACC-E'",
    "record event": "INSERT INTO pq_events (circuit_id, severity) VALUES ('H1', 'high')",
    "correct event": "UPDATE pq_events SET status = 'resolved'",
    "delete event": "DELETE FROM pq_events",
    "change profile": "UPDATE profiles SET department = 'Ops'",
}
# Expected outcome per role: 'ok' (rows written), 0 (USING hides every row), 42501 (refused).
EXPECTED = {
    "add substation": ("ok", 42501, 42501, 42501),
    "rename substation": ("ok", 0, 0, 0),
    "delete substation": ("ok", 0, 0, 0),
    "add customer": ("ok", "ok", 42501, 42501),
    "change customer": ("ok", "ok", 0, 0),
    "delete customer": ("ok", 0, 0, 0),
    "record event": ("ok", "ok", 42501, 42501),
    "correct event": ("ok", "ok", 0, 0),
    "delete event": ("ok", 0, 0, 0),
    "change profile": ("ok", 0, 0, 0),
}


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("role", ROLES)
def test_writes_to_other_tables(engine, grid, users, write, role):
    run(engine, "INSERT INTO substations (name, code) VALUES ('Gone', 'gone')")
    run(engine, "DELETE FROM customer_transformer_matching WHERE customer_id = :c", c=grid.e)
    add_event(engine, grid.north, "H2")
    expected = EXPECTED[write][ROLES.index(role)]
    if expected == 42501:
        assert denied(engine, users[role], WRITES[write]) == "42501"
    else:
        count, _ = as_user(engine, users[role], WRITES[write])
        assert (count > 0) if expected == "ok" else (count == 0)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO event_customer_impact (event_id, customer_id) SELECT id, :c FROM pq_events",
        "UPDATE event_customer_impact SET impact_level = 'severe'",
        "DELETE FROM event_customer_impact",
        "INSERT INTO profiles (id, role) VALUES (gen_random_uuid(), 'admin')",
        "DELETE FROM profiles",
    ],
)
def test_nobody_writes_impacts_or_creates_profiles_directly(engine, grid, users, sql):
    add_event(engine, grid.north, "H2")
    assert denied(engine, users["admin"], sql, c=grid.a) == "42501"


def test_operator_recording_an_event_gets_its_impacts(engine, grid, users):
    _, rows = as_user(
        engine,
        users["operator"],
        "INSERT INTO pq_events (substation_id, circuit_id, severity) VALUES (:s, 'H1', 'high')"
        " RETURNING id",
        s=grid.north,
    )
    _, seen = as_user(
        engine,
        users["viewer"],
        "SELECT customer_id FROM event_customer_impact WHERE event_id = :e",
        e=rows[0].id,
    )
    assert {r.customer_id for r in seen} == {grid.a, grid.b}


# Secrets and definer-rights functions -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_password_hashes_are_unreadable(engine, users, role):
    run(
        engine,
        "INSERT INTO ctm_private.user_credentials (profile_id, username, password_hash)"
        " VALUES (:p, 'someone', '$2b$12$abcdefghijklmnopqrstuv')",
        p=users["admin"].user_id,
    )
    assert denied(engine, users[role], "SELECT * FROM ctm_private.user_credentials") == "42501"
    assert denied(engine, users[role], "SELECT * FROM ctm_private.schema_migrations") == "42501"


@pytest.mark.parametrize(
    "call",
    [
        "SELECT backfill_customer_impacts()",
        "SELECT * FROM backfill_customer_impacts_between(NULL, NULL)",
        "SELECT generate_customer_impacts_for_event(gen_random_uuid())",
    ],
)
def test_users_cannot_run_the_definer_rights_backfills(engine, users, call):
    assert denied(engine, users["admin"], call) == "42501"


def test_writer_with_only_insert_on_events_still_produces_complete_impacts(engine, grid):
    """An ingest role that may add events and read nothing: the definer-rights trigger still finds
    every mapped customer (the plan's invoker-rights trigger found none under RLS)."""
    writer = f"ctm_test_writer_{uuid.uuid4().hex[:8]}"
    run(engine, f"CREATE ROLE {writer} NOLOGIN")
    try:
        run(engine, f"GRANT USAGE ON SCHEMA public TO {writer}")
        run(engine, f"GRANT INSERT ON pq_events TO {writer}")
        run(engine, f"CREATE POLICY ingest ON pq_events FOR INSERT TO {writer} WITH CHECK (true)")
        with engine.begin() as conn:
            conn.execute(sa.text(f"SET LOCAL ROLE {writer}"))
            with pytest.raises(sa.exc.ProgrammingError) as err, conn.begin_nested():
                conn.execute(sa.text("SELECT * FROM customer_transformer_matching"))
            assert pgcode(err) == "42501"
            conn.execute(
                sa.text(
                    "INSERT INTO pq_events (substation_id, circuit_id, severity)"
                    " VALUES (:n, 'H1', 'critical'), (:s, 'H1', 'low')"
                ),
                {"n": grid.north, "s": grid.south},
            )
        rows = run(
            engine,
            "SELECT e.substation_id, i.customer_id, i.impact_level FROM event_customer_impact i"
            " JOIN pq_events e ON e.id = i.event_id",
        )
        assert {tuple(r) for r in rows} == {
            (grid.north, grid.a, "severe"),
            (grid.north, grid.b, "severe"),
            (grid.south, grid.d, "minor"),
        }
    finally:
        run(engine, f"DROP OWNED BY {writer}")
        run(engine, f"DROP ROLE {writer}")


def test_every_trigger_and_backfill_function_runs_with_definer_rights_and_a_pinned_path(engine):
    rows = run(
        engine,
        "SELECT p.proname, p.prosecdef, p.proconfig FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY(:names)",
        names=[
            "trigger_generate_customer_impacts",
            "trigger_regenerate_customer_impacts",
            "generate_customer_impacts_for_event",
            "backfill_customer_impacts",
            "backfill_customer_impacts_between",
            "current_user_role",
        ],
    )
    assert len(rows) == 6
    for row in rows:
        assert row.prosecdef, row.proname
        assert any(c.startswith("search_path=") for c in row.proconfig or []), row.proname
