"""The migration runner against real databases: once per file, edited files refused, failures
rolled back whole with a useful message, concurrent runners, and a Supabase-shaped database."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctm import db
from ctm.migrate import MigrationError, load_migrations, migrate, migrations_dir

REPO = Path(__file__).resolve().parents[2]


def quiet(_: str) -> None:
    pass


def engine_for(url: str):
    return sa.create_engine(db._sqlalchemy_url(url))


def applied(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT filename, checksum FROM ctm_private.schema_migrations"))
        return dict(rows.all())


@pytest.fixture
def migrations_copy(tmp_path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


def test_every_file_is_recorded_with_its_checksum(engine):
    expected = {m.filename: m.checksum for m in load_migrations()}
    assert applied(engine) == expected
    assert "20251214000000_base_pq_schema.sql" in expected
    assert [name[:14] for name in sorted(expected)][:4] == [
        "20251214000000",
        "20251215000001",
        "20251215000002",
        "20251215000003",
    ]


def test_second_run_does_nothing(engine):
    before = applied(engine)
    assert migrate(engine, log=quiet) == []
    assert applied(engine) == before


def test_fresh_database_applies_every_file_in_name_order(empty_database):
    engine = engine_for(empty_database())
    try:
        logged: list[str] = []
        done = migrate(engine, log=logged.append)
        names = [m.filename for m in load_migrations()]
        assert done == names == sorted(names)
        assert logged == [f"applied {n}" for n in names]
    finally:
        engine.dispose()


def test_edited_applied_file_is_refused_with_its_name(engine, migrations_copy):
    edited = migrations_copy / "20251215000002_remove_transformer_id_from_customers.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless looking edit\n")
    with pytest.raises(MigrationError) as err:
        migrate(engine, migrations_copy, log=quiet)
    assert "20251215000002_remove_transformer_id_from_customers.sql" in str(err.value)
    assert "changed after it was applied" in str(err.value)


def test_new_file_is_applied_once(engine, migrations_copy):
    (migrations_copy / "20991231000000_extra.sql").write_text(
        "CREATE TABLE public.extra_thing (id int);\n"
    )
    assert migrate(engine, migrations_copy, log=quiet) == ["20991231000000_extra.sql"]
    assert migrate(engine, migrations_copy, log=quiet) == []


def test_failing_migration_is_rolled_back_whole_and_named(engine, migrations_copy):
    (migrations_copy / "20991231000000_broken.sql").write_text(
        "-- first statement works\n"
        "CREATE TABLE public.half_done (id int);\n"
        "INSERT INTO public.half_done VALUES (1);\n"
        "\n"
        "INSERT INTO public.no_such_table (id) VALUES (1);\n"
        "CREATE TABLE public.never_reached (id int);\n"
    )
    with pytest.raises(MigrationError) as err:
        migrate(engine, migrations_copy, log=quiet)
    message = str(err.value)
    assert "20991231000000_broken.sql" in message
    assert "line 5" in message
    assert "INSERT INTO public.no_such_table (id) VALUES (1)" in message
    assert 'relation "public.no_such_table" does not exist' in message
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass('public.half_done')")) is None
    assert "20991231000000_broken.sql" not in applied(engine)
    # Fixed, it applies.
    (migrations_copy / "20991231000000_broken.sql").write_text(
        "CREATE TABLE public.half_done (id int);\n"
    )
    assert migrate(engine, migrations_copy, log=quiet) == ["20991231000000_broken.sql"]


def test_failure_keeps_the_files_applied_before_it(empty_database, migrations_copy):
    (migrations_copy / "20991231000000_broken.sql").write_text("SELECT 1/0;\n")
    engine = engine_for(empty_database())
    try:
        with pytest.raises(MigrationError) as err:
            migrate(engine, migrations_copy, log=quiet)
        assert "division by zero" in str(err.value)
        assert set(applied(engine)) == {m.filename for m in load_migrations()}
    finally:
        engine.dispose()


MIGRATE_IN_A_PROCESS = """
import sys
import sqlalchemy as sa
from ctm import db
from ctm.migrate import migrate
engine = sa.create_engine(db._sqlalchemy_url(sys.argv[1]))
migrate(engine)
"""


def test_two_processes_migrating_at_once_both_succeed_and_apply_each_file_once(empty_database):
    url = empty_database()
    runners = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_IN_A_PROCESS, url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=120) for r in runners]
    assert [r.returncode for r in runners] == [0, 0], [err for _, err in outputs]
    lines = [line for out, _ in outputs for line in out.splitlines() if line.startswith("applied")]
    names = [m.filename for m in load_migrations()]
    assert sorted(lines) == sorted(f"applied {n}" for n in names)
    engine = engine_for(url)
    try:
        assert set(applied(engine)) == set(names)
    finally:
        engine.dispose()


SUPABASE_AUTH = """
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
COMMENT ON FUNCTION auth.uid() IS 'supabase original';
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
END $$;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated;
"""


def test_migrations_apply_where_authenticated_and_auth_uid_already_exist(empty_database):
    url = empty_database()
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(SUPABASE_AUTH))
        migrate(engine, log=quiet)
        with engine.connect() as conn:
            comment = conn.scalar(sa.text("SELECT obj_description('auth.uid()'::regprocedure)"))
        assert comment == "supabase original"  # kept, not replaced
        # The policies work with Supabase's auth.uid(): an operator sees and adds mappings.
        with engine.begin() as conn:
            profile = conn.scalar(
                sa.text("INSERT INTO profiles (role) VALUES ('operator') RETURNING id")
            )
            sub = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('S') RETURNING id"))
            cust = conn.scalar(
                sa.text(
                    "INSERT INTO customers (account_number, name) VALUES ('1', 'C') RETURNING id"
                )
            )
        with db.user_transaction(engine, db.Identity(user_id=profile)) as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                    " VALUES (:c, :s, 'H1')"
                ),
                {"c": cust, "s": sub},
            )
            mine = conn.scalar(sa.text("SELECT updated_by FROM customer_transformer_matching"))
        assert mine == profile
    finally:
        engine.dispose()


def test_bookkeeping_is_committed_on_its_own_even_when_the_first_file_fails(
    empty_database, tmp_path
):
    """The runner's lock and bookkeeping run in autocommit on the driver itself: the bookkeeping
    table survives a first file that fails (with autocommit set only on SQLAlchemy's proxy they
    shared that file's transaction and were rolled back with it)."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "0001_broken.sql").write_text("CREATE TABLE public.t (id int);\nSELECT 1/0;\n")
    engine = engine_for(empty_database())
    with pytest.raises(MigrationError, match="0001_broken.sql"):
        migrate(engine, folder, log=quiet)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass('ctm_private.schema_migrations')"))
        assert conn.scalar(sa.text("SELECT to_regclass('public.t')")) is None
        # No advisory lock left behind by the pooled connection.
        assert not conn.scalar(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
    # The pooled connection went back to the pool in the mode SQLAlchemy expects.
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE public.u (id int)"))
        conn.rollback()
        assert conn.scalar(sa.text("SELECT to_regclass('public.u')")) is None
    engine.dispose()
