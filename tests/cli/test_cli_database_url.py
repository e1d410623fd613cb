"""`--database-url` works after the command name as well as before it, for every command, and every
command that writes names the database it acts on (host:port/database, never the password) on
standard error — also for a bare `postgresql://` that libpq completes from PG* variables."""

from __future__ import annotations

import click
import pytest
import sqlalchemy as sa
from clihelpers import run_ctm, scalar

from ctm import db
from ctm.cli import cli


def _where(url: str) -> tuple[str, str]:
    """(host or socket folder, ':port/database') as the announcement shows them."""
    u = sa.engine.make_url(db._sqlalchemy_url(url))
    host = u.host or u.query.get("host") or "localhost"
    return host, f":{u.port or 5432}/{u.database}"


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", _all_commands(cli), ids=" ".join)
def test_every_command_lists_database_url_after_its_name(path):
    result = run_ctm(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "--database-url" in result.stdout


def test_migrate_with_the_url_after_the_command_name(empty_db_url):
    result = run_ctm("migrate", "--database-url", empty_db_url)
    assert result.returncode == 0, result.stderr
    assert "applied 20251214000000_base_pq_schema.sql" in result.stdout
    host, port_db = _where(empty_db_url)
    assert host in result.stderr and port_db in result.stderr  # says where it migrated


def test_url_after_the_name_wins_over_database_url(db_url, empty_db_url):
    # DATABASE_URL points at an unmigrated database; the explicit URL at the migrated one.
    result = run_ctm("users", "list", "--database-url", db_url, url=empty_db_url)
    assert result.returncode == 0, result.stderr
    assert "no users yet" in result.stdout


def test_url_before_the_name_still_works(db_url):
    result = run_ctm("--database-url", db_url, "time-zone")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "UTC"


def test_url_after_a_subcommand_of_users(db_url):
    result = run_ctm(
        "users",
        "add",
        "alice",
        "--role",
        "admin",
        "--database-url",
        db_url,
        "--password-stdin",
        input="a long password\n",
    )
    assert result.returncode == 0, result.stderr
    engine = db.get_engine(db_url)
    assert scalar(engine, "SELECT role FROM profiles WHERE full_name IS NULL OR true") == "admin"


@pytest.mark.parametrize(
    "args",
    [
        ("users", "add", "bob", "--role", "viewer", "--password-stdin"),
        ("time-zone", "Europe/London"),
        ("backfill",),
    ],
    ids=" ".join,
)
def test_writing_commands_name_the_database_without_password(db_url, args):
    url = sa.engine.make_url(db._sqlalchemy_url(db_url))
    result = run_ctm(*args, "--database-url", db_url, input="a long password\n")
    assert result.returncode == 0, result.stderr
    host, port_db = _where(db_url)
    assert f"{host}{port_db}" in result.stderr
    if url.password:
        assert url.password not in result.stderr + result.stdout


def test_a_bare_postgresql_url_names_what_libpq_chose(db_url):
    url = sa.engine.make_url(db._sqlalchemy_url(db_url))
    host, port_db = _where(db_url)
    env = {
        "PGHOST": host,
        "PGPORT": str(url.port or 5432),
        "PGDATABASE": url.database,
        "PGUSER": url.username or "postgres",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    result = run_ctm("migrate", "--database-url", "postgresql://", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database is up to date"
    assert f"{host}{port_db}" in result.stderr
