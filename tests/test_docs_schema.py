"""docs/DATABASE_SCHEMA.md describes every object the migrations create: the catalog of a migrated
database is compared with the document, and anything undocumented (or documented but gone) fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctm.migrate import load_migrations

DOC = Path(__file__).resolve().parent.parent / "docs" / "DATABASE_SCHEMA.md"
SCHEMAS = ("public", "auth", "ctm_private")
NOT_FROM_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
)


def catalog(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), {"schemas": list(SCHEMAS)})]


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def table_sections(doc: str) -> dict[str, str]:
    """'schema.table' → the text under its '### `schema.table`' heading."""
    sections: dict[str, str] = {}
    parts = re.split(r"^(#{2,3} .*)$", doc, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        if match := re.fullmatch(r"### `([a-z_]+\.[a-z_]+)`\s*", heading):
            sections[match.group(1)] = body
    return sections


def test_every_table_and_column_is_documented_and_no_section_is_stale(engine, doc):
    columns = catalog(
        engine,
        "SELECT n.nspname || '.' || c.relname, a.attname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'm')"
        f" AND {NOT_FROM_EXTENSION.format(oid='c.oid')}",
    )
    tables = {t for t, _ in columns}
    sections = table_sections(doc)
    missing_tables = sorted(tables - set(sections))
    missing_columns = sorted(
        f"{t}.{col}" for t, col in columns if t in sections and f"`{col}`" not in sections[t]
    )
    stale = sorted(set(sections) - tables)
    assert not missing_tables, f"tables without a '### `schema.table`' section: {missing_tables}"
    assert not missing_columns, f"columns not described in their table's section: {missing_columns}"
    assert not stale, f"sections for tables the migrations do not create: {stale}"
    assert "transformer_id" not in {col for _, col in columns}


INDEXES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('i', 'I')"
)
TRIGGERS = (
    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY(:schemas) AND NOT t.tgisinternal"
)
POLICIES = (
    "SELECT p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(:schemas)"
)


@pytest.mark.parametrize(
    ("kind", "sql"), [("index", INDEXES), ("trigger", TRIGGERS), ("policy", POLICIES)]
)
def test_every_index_trigger_and_policy_is_documented(engine, doc, kind, sql):
    names = {name for (name,) in catalog(engine, sql)}
    assert names, f"the catalog query for {kind} found nothing"
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"{kind} names missing from {DOC.name} (write them in backticks): {missing}"


def test_every_function_is_documented_with_its_schema(engine, doc):
    functions = catalog(
        engine,
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        f" WHERE n.nspname = ANY(:schemas) AND {NOT_FROM_EXTENSION.format(oid='p.oid')}",
    )
    missing = sorted({f for (f,) in functions if f"`{f}(" not in doc})
    assert not missing, f"functions missing from {DOC.name} (as `schema.name(...)`): {missing}"


def test_every_migration_file_is_listed(doc):
    missing = [m.filename for m in load_migrations() if f"`{m.filename}`" not in doc]
    assert not missing, f"migration files not listed in {DOC.name}: {missing}"


def test_the_check_notices_an_undocumented_object(engine, doc):
    """The comparison is not vacuous: an object added to the database shows up as missing."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE public.not_in_the_doc (id int)"))
        conn.execute(sa.text("CREATE INDEX not_in_the_doc_idx ON public.not_in_the_doc (id)"))
    with pytest.raises(AssertionError, match="public.not_in_the_doc"):
        test_every_table_and_column_is_documented_and_no_section_is_stale(engine, doc)
    with pytest.raises(AssertionError, match="not_in_the_doc_idx"):
        test_every_index_trigger_and_policy_is_documented(engine, doc, "index", INDEXES)
