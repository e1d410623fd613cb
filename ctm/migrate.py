"""Applies migrations/*.sql in file-name order, each once, in its own transaction, recorded with a
checksum; an advisory lock keeps two migrating processes from colliding.

On a Supabase project the migrating role's default privileges grant ALL on every new object in
`public` to anon, authenticated and service_role. Each file is therefore applied with those
default grants suspended (restored in the same transaction), so its objects get exactly the GRANTs
it writes; after every run `ctm_private.revoke_unmeant_privileges()` cleans what older runs or
hands left (see migrations/20261126000061_*).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import sqlparse
from sqlalchemy.engine import Engine

# Any constant shared by every ctm process; pg_advisory_lock takes a bigint.
_LOCK_KEY = 0x63746D5F6D6967  # "ctm_mig"

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS ctm_private;
CREATE TABLE IF NOT EXISTS ctm_private.schema_migrations (
  filename   text PRIMARY KEY,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
"""


class MigrationError(Exception):
    """A migration could not be applied; nothing of that file was kept."""


@dataclass(frozen=True)
class Migration:
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The copy installed inside the package (ctm/migrations), else migrations/ of a source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "migrations"
    return installed if installed.is_dir() else here.parent / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    return [
        Migration(p.name, p.read_text(encoding="utf-8"))
        for p in sorted(directory.glob("*.sql"), key=lambda p: p.name)
    ]


def _statements(sql: str) -> list[tuple[int, str]]:
    """(first line number, statement) for each statement of a file, comments-only pieces dropped."""
    out: list[tuple[int, str]] = []
    cursor = 0
    for raw in sqlparse.split(sql):
        stripped = sqlparse.format(raw, strip_comments=True).strip()
        if not stripped:
            continue
        start = sql.find(raw.strip(), cursor)
        cursor = start + len(raw.strip()) if start >= 0 else cursor
        first_code = raw.strip()
        # Report the line where the code starts, not where its leading comment starts.
        offset = start + (first_code.find(stripped.split()[0]) if start >= 0 else 0)
        out.append((sql.count("\n", 0, max(offset, 0)) + 1, raw.strip()))
    return out


def applied_migrations(engine: Engine) -> dict[str, str]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT to_regclass('ctm_private.schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT filename, checksum FROM ctm_private.schema_migrations")
        return dict(cur.fetchall())
    finally:
        raw.close()


def migrate(engine: Engine, directory: Path | None = None, log=print) -> list[str]:
    """Apply every pending migration; return the file names applied (empty on a second run)."""
    migrations = load_migrations(directory)
    pooled = engine.raw_connection()
    # The driver's own connection: `autocommit` set on SQLAlchemy's pool proxy is a plain
    # attribute of the proxy and never reaches psycopg2, so the lock and the bookkeeping would
    # silently share the first file's transaction (and vanish with it when that file fails).
    raw = pooled.driver_connection
    try:
        raw.autocommit = True
        cur = raw.cursor()
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            cur.execute(_BOOKKEEPING)
            cur.execute("SELECT filename, checksum FROM ctm_private.schema_migrations")
            applied = dict(cur.fetchall())
            for m in migrations:
                if m.filename in applied and applied[m.filename] != m.checksum:
                    raise MigrationError(
                        f"migration {m.filename} was changed after it was applied "
                        f"(recorded checksum {applied[m.filename][:12]}, file now {m.checksum[:12]}); "
                        "restore the applied version and put the change in a new migration"
                    )
            done: list[str] = []
            raw.autocommit = False
            for m in migrations:
                if m.filename in applied:
                    continue
                _apply(raw, m)
                log(f"applied {m.filename}")
                done.append(m.filename)
            _revoke_unmeant_privileges(raw)
            return done
        finally:
            raw.rollback()
            raw.autocommit = True
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            raw.autocommit = False  # back to the pool as SQLAlchemy expects it
    finally:
        pooled.close()


# Roles a Supabase project grants everything to by default privileges.
_DEFAULT_GRANTEES = ("anon", "authenticated", "service_role")
_OBJECT_KINDS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}


def _suspend_default_grants(cur) -> list[str]:
    """Revoke (inside the open transaction) the migrating role's default privileges for the
    Supabase roles; return the statements that restore them."""
    cur.execute(
        "SELECT CASE WHEN d.defaclnamespace = 0 THEN NULL"
        "            ELSE quote_ident(d.defaclnamespace::regnamespace::text) END,"
        "       d.defaclobjtype, quote_ident(g.rolname), a.privilege_type, a.is_grantable"
        " FROM pg_default_acl AS d CROSS JOIN LATERAL aclexplode(d.defaclacl) AS a"
        " JOIN pg_roles AS g ON g.oid = a.grantee"
        " WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        " AND g.rolname = ANY(%s)",
        (list(_DEFAULT_GRANTEES),),
    )
    grants: dict[tuple, list[str]] = {}
    for schema, kind, grantee, privilege, grantable in cur.fetchall():
        if kind in _OBJECT_KINDS:
            grants.setdefault((schema, kind, grantee, grantable), []).append(privilege)
    restore = []
    for (schema, kind, grantee, grantable), privileges in grants.items():
        where = f" IN SCHEMA {schema}" if schema else ""
        objects = _OBJECT_KINDS[kind]
        cur.execute(f"ALTER DEFAULT PRIVILEGES{where} REVOKE ALL ON {objects} FROM {grantee}")
        restore.append(
            f"ALTER DEFAULT PRIVILEGES{where} GRANT {', '.join(sorted(privileges))} ON {objects}"
            f" TO {grantee}{' WITH GRANT OPTION' if grantable else ''}"
        )
    return restore


def _revoke_unmeant_privileges(raw) -> None:
    cur = raw.cursor()
    cur.execute("SELECT to_regprocedure('ctm_private.revoke_unmeant_privileges()') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute("SELECT ctm_private.revoke_unmeant_privileges()")
    raw.commit()


def _apply(raw, migration: Migration) -> None:
    cur = raw.cursor()
    restore = _suspend_default_grants(cur)
    for line, statement in _statements(migration.sql):
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:  # reported with file, line and statement
            raw.rollback()
            first = " ".join(statement.split())
            first = first if len(first) <= 160 else first[:157] + "..."
            reason = (getattr(exc, "pgerror", None) or str(exc)).strip().replace("\n", " | ")
            raise MigrationError(
                f"migration {migration.filename} failed at line {line}: {first}\n"
                f"  PostgreSQL: {reason}\n"
                "  Nothing of this file was applied."
            ) from None
    for statement in restore:
        cur.execute(statement)
    cur.execute(
        "INSERT INTO ctm_private.schema_migrations (filename, checksum) VALUES (%s, %s)",
        (migration.filename, migration.checksum),
    )
    raw.commit()
