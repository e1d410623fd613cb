"""`ctm migrate` on a database with Supabase's default privileges (ALL on every new table,
function and sequence in public for anon, authenticated and service_role): afterwards anon and
service_role hold nothing on ctm's objects, and authenticated exactly what ctm grants it."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from ctm import db
from ctm.migrate import migrate

SUPABASE_SETUP = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
"""

CTM_RELATIONS = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'ctm_private') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
"""
CTM_FUNCTIONS = """
SELECT p.oid::regprocedure::text, p.prorettype = 'trigger'::regtype FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'ctm_private')
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
"""
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def privileges(conn, role: str) -> dict[str, set[str]]:
    """Every table privilege `role` holds on ctm's relations (directly or through PUBLIC)."""
    held: dict[str, set[str]] = {}
    for (name,) in conn.execute(sa.text(CTM_RELATIONS)):
        for privilege in TABLE_PRIVILEGES:
            if conn.scalar(
                sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                {"r": role, "t": name, "p": privilege},
            ):
                held.setdefault(name, set()).add(privilege)
    return held


def executable(conn, role: str) -> set[str]:
    return {
        name
        for name, _ in conn.execute(sa.text(CTM_FUNCTIONS))
        if conn.scalar(
            sa.text("SELECT has_function_privilege(:r, :f, 'EXECUTE')"), {"r": role, "f": name}
        )
    }


@pytest.fixture
def migrated_pair(server_url, template_url):
    """(plain, supabase): the migrated template as it is, and a fresh empty database that got
    Supabase's default privileges before `ctm migrate`."""
    name = f"ctm_supabase_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(db._sqlalchemy_url(server_url)).set(database=name)
    supabase = sa.create_engine(url)
    plain = sa.create_engine(db._sqlalchemy_url(template_url))
    with admin.connect() as conn:
        existed = set(
            conn.scalars(
                sa.text("SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'service_role')")
            )
        )
    try:
        with supabase.begin() as conn:
            conn.execute(sa.text(SUPABASE_SETUP))
        migrate(supabase, log=lambda _line: None)
        yield plain, supabase
    finally:
        supabase.dispose()
        plain.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            # Roles are cluster-wide: leave a shared server as it was when this test made them.
            for role in {"anon", "service_role"} - existed:
                try:
                    conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
                except sa.exc.DBAPIError:
                    pass  # another database of the cluster was migrated meanwhile and names it
        admin.dispose()


def test_anon_and_service_role_hold_nothing_on_ctm_objects(migrated_pair):
    _plain, supabase = migrated_pair
    with supabase.connect() as conn:
        for role in ("anon", "service_role"):
            assert privileges(conn, role) == {}, role
            assert executable(conn, role) == set(), role
        assert not conn.scalar(
            sa.text("SELECT has_schema_privilege('anon', 'ctm_private', 'USAGE')")
        )


def test_authenticated_holds_exactly_what_ctm_grants(migrated_pair):
    plain, supabase = migrated_pair
    with plain.connect() as p, supabase.connect() as s:
        meant = privileges(p, "authenticated")
        assert privileges(s, "authenticated") == meant
        for grants in meant.values():
            assert not grants & {"TRUNCATE", "REFERENCES", "TRIGGER"}
        callable_there = executable(s, "authenticated")
        triggers = {name for name, is_trigger in s.execute(sa.text(CTM_FUNCTIONS)) if is_trigger}
        owner_only = {
            f
            for f in callable_there
            if f.split("(")[0]
            in (
                "backfill_customer_impacts",
                "backfill_customer_impacts_between",
                "generate_customer_impacts_for_event",
            )
        }
        assert owner_only == set()
        assert callable_there & triggers == set()
        assert not any(f.startswith("ctm_private.") for f in callable_there)
        # What the app calls as a user still works.
        assert "customer_ids_like(text)" in callable_there
        assert "current_user_role()" in callable_there


def test_the_default_privileges_themselves_are_left_as_they_were(migrated_pair):
    _plain, supabase = migrated_pair
    with supabase.connect() as conn:
        kinds = conn.execute(
            sa.text(
                "SELECT d.defaclobjtype, g.rolname, count(*) FROM pg_default_acl d,"
                " aclexplode(d.defaclacl) a JOIN pg_roles g ON g.oid = a.grantee"
                " WHERE g.rolname IN ('anon', 'authenticated', 'service_role')"
                " GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ).all()
    # ALL on tables is 7 privileges (8 with MAINTAIN on PostgreSQL 17+), functions 1, sequences 3.
    counts = {(kind, role): n for kind, role, n in kinds}
    for role in ("anon", "authenticated", "service_role"):
        assert counts[("f", role)] == 1 and counts[("S", role)] == 3
        assert counts[("r", role)] >= 7


def test_a_user_still_writes_and_the_triggers_still_fire(migrated_pair):
    """Trigger functions lost EXECUTE for everyone: the impact trigger and the mapping stamp still
    run for a logged-in writer."""
    _plain, supabase = migrated_pair
    with supabase.begin() as conn:
        admin_id = conn.scalar(
            sa.text("INSERT INTO profiles (role, full_name) VALUES ('admin', 'A') RETURNING id")
        )
        sub = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('N') RETURNING id"))
        cust = conn.scalar(
            sa.text("INSERT INTO customers (account_number, name) VALUES ('1', 'C') RETURNING id")
        )
    with supabase.begin() as conn:
        conn.execute(
            sa.text(
                "SELECT set_config('request.jwt.claims', :c, true),"
                " set_config('role', 'authenticated', true)"
            ),
            {"c": f'{{"sub": "{admin_id}", "role": "authenticated"}}'},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H1')"
            ),
            {"c": cust, "s": sub},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " VALUES (:s, 'H1', 'critical', 60000)"
            ),
            {"s": sub},
        )
        assert conn.scalar(sa.text("SELECT count(*) FROM event_customer_impact")) == 1
        assert conn.scalar(sa.text("SELECT updated_by FROM customer_transformer_matching")) == (
            admin_id
        )


def test_a_second_migrate_changes_nothing(migrated_pair):
    _plain, supabase = migrated_pair
    with supabase.connect() as conn:
        before = privileges(conn, "authenticated"), executable(conn, "authenticated")
    assert migrate(supabase, log=lambda _line: None) == []
    with supabase.connect() as conn:
        assert (privileges(conn, "authenticated"), executable(conn, "authenticated")) == before
