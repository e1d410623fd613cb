"""The app's one database engine: DATABASE_URL as given (never migrated here), or the embedded
default, migrated and — only while it is entirely empty — filled with the demo."""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.engine import Engine

from ctm import db
from ui.feedback import fail_plainly


class SchemaMissing(Exception):
    """DATABASE_URL points at a database that ctm has not migrated (fully) yet."""


@st.cache_resource(show_spinner="Opening the database…")
def _engine_for(configured_url: str | None) -> Engine:
    from ctm.migrate import applied_migrations, load_migrations, migrate

    if configured_url:
        engine = db.get_engine(configured_url)
        pending = [
            m.filename for m in load_migrations() if m.filename not in applied_migrations(engine)
        ]
        if pending:
            raise SchemaMissing(
                f"The database at {db.describe_url(configured_url)} is missing {len(pending)} "
                f"migration(s), starting with {pending[0]}: run `ctm migrate` first."
            )
        return engine
    from ctm import demo

    engine = db.get_engine(db.embedded_server_url())
    migrate(engine, log=lambda _line: None)
    # Never beside real data or real users: `ctm users add` on the embedded default means the
    # owner set it up by hand, and a demo admin with a published password must not appear.
    if demo.database_is_empty(engine):
        demo.load_demo_data(engine)
    return engine


def app_engine() -> Engine:
    """The process-wide engine; stops the page with a plain message when there is no database."""
    configured_url = os.environ.get("DATABASE_URL") or None
    try:
        if configured_url is None:
            from ui.first_run import ensure_embedded_ready

            ensure_embedded_ready()  # the first start says what it does, step by step
        return _engine_for(configured_url)
    except (db.DatabaseUnavailable, SchemaMissing) as exc:
        st.error(str(exc), icon=":material/database:")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - the user gets a sentence, the log the details
        fail_plainly(exc, "The database could not be opened.")
    raise AssertionError("unreachable")
