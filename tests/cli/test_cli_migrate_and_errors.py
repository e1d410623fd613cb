"""`ctm migrate` on an empty database and its no-op re-run; commands refusing an unmigrated
database; unreachable or wrong database URLs as one line, exit status 2, no traceback."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa
from clihelpers import run_ctm

from ctm.migrate import load_migrations


def test_migrate_applies_every_file_once_then_is_a_no_op(empty_db_url):
    first = run_ctm("migrate", url=empty_db_url)
    assert first.returncode == 0, first.stderr
    files = [m.filename for m in load_migrations()]
    assert first.stdout.splitlines() == [f"applied {name}" for name in files]

    second = run_ctm("migrate", url=empty_db_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"


@pytest.mark.parametrize(
    "args",
    [("demo-data",), ("backfill",), ("users", "list"), ("users", "set-role", "x", "viewer")],
)
def test_commands_on_an_unmigrated_database_ask_for_ctm_migrate(empty_db_url, args):
    result = run_ctm(*args, url=empty_db_url)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "no ctm schema yet" in line and "run `ctm migrate`" in line
    assert empty_db_url.rsplit("/", 1)[1].split("?")[0] in line  # names the database


def test_commands_never_migrate_implicitly(empty_db_url):
    run_ctm("users", "list", url=empty_db_url)
    engine = sa.create_engine(empty_db_url.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass('public.pq_events')")) is None
    engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_one_line_exit_2(result) -> str:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [("migrate",), ("users", "list"), ("demo-data",)])
def test_closed_port_gives_one_line_naming_host_port_database(command):
    port = _closed_port()
    result = run_ctm(*command, url=f"postgresql://postgres@127.0.0.1:{port}/ctm_nowhere")
    line = _assert_one_line_exit_2(result)
    assert f"127.0.0.1:{port}/ctm_nowhere" in line
    assert "Connection refused" in line


def test_wrong_database_name_gives_one_line_with_the_reason(server_url):
    url = sa.engine.make_url(server_url.replace("postgresql://", "postgresql+psycopg2://"))
    wrong = (
        url.set(database="ctm_no_such_database")
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg2://", "postgresql://")
    )
    line = _assert_one_line_exit_2(run_ctm("migrate", url=wrong))
    assert "ctm_no_such_database" in line
    assert 'database "ctm_no_such_database" does not exist' in line


def test_database_url_option_wins_over_the_environment(db_url):
    port = _closed_port()
    result = run_ctm(
        "--database-url", db_url, "users", "list", url=f"postgresql://postgres@127.0.0.1:{port}/x"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bad", ["nonsense", "mysql://root:secret@db/x"])
def test_a_url_that_is_not_postgresql_is_refused_without_traceback(bad):
    line = _assert_one_line_exit_2(run_ctm("migrate", url=bad))
    assert "is not a PostgreSQL URL" in line
    assert "secret" not in line


def test_help_starts_no_server_and_lists_every_command():
    result = run_ctm("--help", env={"CTM_DATA_DIR": "/nonexistent/never-created"})
    assert result.returncode == 0
    for command in ("migrate", "db-url", "demo-data", "backfill", "users"):
        assert command in result.stdout
    users_help = run_ctm("users", "--help")
    for command in ("add", "set-role", "set-password", "list"):
        assert command in users_help.stdout
