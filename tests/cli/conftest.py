"""Fixtures for the CLI tests: a database with no schema at all, next to the migrated ones."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from ctm import db


@pytest.fixture
def empty_db_url(server_url: str):
    """URL of a new database with no schema at all (not from the migrated template)."""
    name = f"ctm_cli_empty_{os.getpid()}_{os.urandom(3).hex()}"
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = (
        sa.engine.make_url(db._sqlalchemy_url(server_url))
        .set(database=name)
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg2://", "postgresql://")
    )
    yield url
    db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
