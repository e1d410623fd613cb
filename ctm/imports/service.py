"""The import itself: a file's rows matched against the database (preview) and, when no row has
an error, written with a few set-based statements in one transaction (apply).

Rows go into a temporary table with COPY, are validated with joins and applied with one INSERT or
UPDATE per kind of change, as the acting user under row-level security (or as the database owner
with admin rules when no user is given: the CLI without --as). A refusal or failure anywhere
rolls everything back, customers included. Every change carries source 'import' and the import's
batch id, and the import is recorded in public.import_runs."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import db, roles
from ctm.errors import PermissionDenied, ServiceError, ValidationError, sqlstate
from ctm.imports.kinds import SPECS
from ctm.imports.reading import ImportFile
from ctm.reference import NO_PROFILE, acting_role

OUTCOMES = ("new", "changed", "unchanged", "error")
Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class RowError:
    """One problem with one row: the row as the spreadsheet shows it and the column."""

    row: int
    column: str | None
    message: str


@dataclass(frozen=True)
class ImportPreview:
    """What an import does (or did): every row's outcome and reason, the counts, the mappings
    --sync ends, and — once applied — its batch id."""

    kind: str
    file: ImportFile
    outcomes: pd.DataFrame  # row, outcome, reason, then the file's columns (header texts)
    errors: tuple[RowError, ...]
    new: int
    changed: int
    unchanged: int
    error_rows: int
    sync: bool = False
    ended_by_sync: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()
    batch_id: UUID | None = None

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def applied(self) -> bool:
        return self.batch_id is not None

    def summary_line(self) -> str:
        line = (
            f"{self.total} rows: {self.new} new, {self.changed} changed,"
            f" {self.unchanged} unchanged, {self.error_rows} errors"
        )
        if self.sync:
            line += f"; {len(self.ended_by_sync)} ended by --sync"
        return line

    def error_lines(self) -> list[str]:
        return [f"{self.file.place(e.row, e.column)}: {e.message}" for e in self.errors]


class ImportRefused(ValidationError):
    """Some rows have errors: nothing was written. `preview` lists them."""

    def __init__(self, preview: ImportPreview):
        n = preview.error_rows
        super().__init__(
            f"{n} row{'s' if n != 1 else ''} of {preview.file.file_name} have errors; nothing was"
            " written. Fix them and import again."
        )
        self.preview = preview


class ImportFailed(ServiceError):
    """The database refused the import while writing it; nothing was written."""


class _Rollback(Exception):
    def __init__(self, result: ImportPreview):
        self.result = result


# Rows of one import ------------------------------------------------------------------------------


class _Rows:
    """Per-row outcome, reasons and errors while a kind works through the file."""

    def __init__(self, file: ImportFile):
        self.file = file
        self.numbers: list[int] = file.rows["row"].tolist()
        self.outcome: list[str | None] = [None] * len(self.numbers)
        self.reasons: list[list[str]] = [[] for _ in self.numbers]
        self.errors: list[RowError] = []
        self.failed = [False] * len(self.numbers)

    def error(self, i: int, column: str | None, message: str) -> None:
        self.failed[i] = True
        self.errors.append(RowError(self.numbers[i], column, message))
        header = self.file.headers.get(column, column) if column else None
        self.reasons[i].append(f"{header}: {message}" if header else message)

    def note(self, i: int, message: str) -> None:
        self.reasons[i].append(message)

    def values(self, column: str) -> list[Any]:
        if column in self.file.rows.columns:
            return self.file.rows[column].tolist()
        return [None] * len(self.numbers)

    def parsed(self, column: str, parser: Callable[[Any], Any]) -> list[Any]:
        """Each row's value of `column` through `parser`; a ValueError becomes a row error. A
        column the file lacks is empty in every row: parsed once."""
        if column not in self.file.rows.columns:
            try:
                return [parser(None)] * len(self.numbers)
            except ValueError:
                pass  # an empty value is an error: each row says so below
        out: list[Any] = []
        for i, value in enumerate(self.values(column)):
            try:
                out.append(parser(value))
            except ValueError as exc:
                self.error(i, column, str(exc))
                out.append(None)
        return out

    def require(self, column: str, values: list[Any], why: str = "") -> None:
        for i, value in enumerate(values):
            if value is None and not self.failed_on(i, column):
                self.error(i, column, f"is empty{why}")

    def failed_on(self, i: int, column: str) -> bool:
        return any(e.row == self.numbers[i] and e.column == column for e in self.errors[-50:])

    def duplicates(self, keys: list[Any], columns: str) -> None:
        """Rows that repeat an earlier row's key: an error naming both rows."""
        first: dict[Any, int] = {}
        for i, key in enumerate(keys):
            if key is None:
                continue
            if key in first:
                self.error(
                    i,
                    None,
                    f"same {columns} as {self.file.row_word} {self.numbers[first[key]]}"
                    f" ({self.file.row_word}s {self.numbers[first[key]]} and {self.numbers[i]}"
                    " repeat each other)",
                )
            else:
                first[key] = i

    def preview(self, kind: str, **extra: Any) -> ImportPreview:
        outcome = ["error" if f else (o or "unchanged") for f, o in zip(self.failed, self.outcome)]
        shown = self.file.rows.drop(columns=["row"]).rename(columns=self.file.headers)
        frame = pd.DataFrame(
            {
                "row": self.numbers,
                "outcome": outcome,
                "reason": ["; ".join(r) for r in self.reasons],
            }
        )
        frame = pd.concat([frame, shown.reset_index(drop=True)], axis=1)
        errors = sorted(self.errors, key=lambda e: e.row)
        return ImportPreview(
            kind=kind,
            file=self.file,
            outcomes=frame,
            errors=tuple(errors),
            new=outcome.count("new"),
            changed=outcome.count("changed"),
            unchanged=outcome.count("unchanged"),
            error_rows=outcome.count("error"),
            notes=self.file.notes,
            **extra,
        )


def _copy_text(value: Any) -> str:
    """A value as COPY's CSV reads it: None → empty (NULL), flags t/f, dates ISO."""
    if value is None:
        return ""
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _copy(conn: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    """COPY rows into a temporary table (None → NULL, dates ISO, flags t/f), converted column by
    column: a plain string is written as it is."""
    if not rows:
        return
    converted = [[v if type(v) is str else _copy_text(v) for v in column] for column in zip(*rows)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(zip(*converted))
    buffer.seek(0)
    cursor = conn.connection.cursor()
    try:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    finally:
        cursor.close()


def today_in(conn: Connection) -> date:
    """Today in the product's time zone (ctm_local_date) where it exists, else the server's."""
    has_zone = conn.scalar(sa.text("SELECT to_regprocedure('public.ctm_local_date(timestamptz)')"))
    sql = "SELECT public.ctm_local_date(now())" if has_zone else "SELECT current_date"
    return conn.scalar(sa.text(sql))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value) if not isinstance(value, date) else value.isoformat()


def _lower_choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip().casefold()
        if text not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return text

    return parse


def import_action(kind: str) -> roles.Action:
    """What a role needs to import `kind` — and to undo such an import."""
    return roles.Action.EDIT_MAPPINGS if kind == "mappings" else roles.Action.EDIT_SUBSTATIONS


# The unit of work --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    role: str
    sync: bool
    apply: bool
    batch_id: UUID | None
    progress: Progress


def import_in(
    conn: Connection,
    file: ImportFile,
    kind: str,
    *,
    role: str,
    sync: bool = False,
    apply: bool = False,
    batch_id: UUID | None = None,
    progress: Progress = None,
) -> ImportPreview:
    """The import's core inside an open transaction: check the role, match every row and — when
    `apply` and no row has an error — write it all. Raises ImportRefused on row errors when
    applying (the caller's transaction must then roll back)."""
    if kind not in SPECS:
        raise ValidationError(f"unknown kind {kind!r}: choose one of {', '.join(SPECS)}")
    if not roles.can(role, import_action(kind)):
        raise PermissionDenied(f"Your role ({role}) does not allow importing {kind}")
    if sync and kind != "mappings":
        raise ValidationError("--sync applies to mappings only")
    if sync and not roles.can(role, roles.Action.SYNC_IMPORT):
        raise PermissionDenied("Only admins can import with sync (it ends mappings)")
    ctx = _Context(role, sync, apply, batch_id, progress)
    from ctm.imports import kinds_apply

    handler = kinds_apply.HANDLERS[kind]
    preview = handler(conn, file, ctx)
    if apply:
        if preview.error_rows:
            raise ImportRefused(preview)
        _record(conn, preview, batch_id)
        preview = replace(preview, batch_id=batch_id)
    return preview


def _record(conn: Connection, preview: ImportPreview, batch_id: UUID | None) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO public.import_runs (batch_id, kind, file_name, checksum, encoding,"
            " rows_total, rows_new, rows_changed, rows_unchanged, synced, ended_by_sync)"
            " VALUES (:batch, :kind, :file_name, :checksum, :encoding, :total, :new, :changed,"
            " :unchanged, :synced, :ended)"
        ),
        {
            "batch": batch_id,
            "kind": preview.kind,
            "file_name": preview.file.file_name[:255],
            "checksum": preview.file.checksum,
            "encoding": preview.file.encoding,
            "total": preview.total,
            "new": preview.new,
            "changed": preview.changed,
            "unchanged": preview.unchanged,
            "synced": preview.sync,
            "ended": len(preview.ended_by_sync),
        },
    )


@contextmanager
def _unit_of_work(engine: Engine, identity: db.Identity | None, batch_id: UUID | None):
    """As the user (RLS), or as the owner with admin rules when identity is None."""
    if identity is None:
        with db.owner_transaction(engine, source="import", batch_id=batch_id) as conn:
            yield conn, "admin"
        return
    with db.user_transaction(engine, identity, source="import", batch_id=batch_id) as conn:
        role = acting_role(conn)
        if role is None:
            raise PermissionDenied(NO_PROFILE)
        yield conn, role


def _database_failure(exc: sa.exc.DBAPIError) -> ServiceError:
    code = sqlstate(exc)
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if code == "42501":
        return PermissionDenied(f"Your role does not allow this import ({reason}); nothing written")
    return ImportFailed(f"The database refused the import ({reason}); nothing was written")


def preview_import(
    engine: Engine,
    identity: db.Identity | None,
    file: ImportFile,
    kind: str = "mappings",
    *,
    sync: bool = False,
    progress: Progress = None,
) -> ImportPreview:
    """What importing `file` would do; nothing is written (the transaction rolls back)."""
    try:
        with _unit_of_work(engine, identity, None) as (conn, role):
            raise _Rollback(import_in(conn, file, kind, role=role, sync=sync, progress=progress))
    except _Rollback as done:
        return done.result
    except sa.exc.DBAPIError as exc:
        raise _database_failure(exc) from None


def apply_import(
    engine: Engine,
    identity: db.Identity | None,
    file: ImportFile,
    kind: str = "mappings",
    *,
    sync: bool = False,
    progress: Progress = None,
) -> ImportPreview:
    """Import `file` in one transaction: every row or none (ImportRefused lists row errors)."""
    batch_id = uuid.uuid4()
    try:
        with _unit_of_work(engine, identity, batch_id) as (conn, role):
            return import_in(
                conn,
                file,
                kind,
                role=role,
                sync=sync,
                apply=True,
                batch_id=batch_id,
                progress=progress,
            )
    except sa.exc.DBAPIError as exc:
        raise _database_failure(exc) from None


__all__ = [
    "Decimal",
    "ImportFailed",
    "ImportPreview",
    "ImportRefused",
    "RowError",
    "apply_import",
    "import_action",
    "import_in",
    "preview_import",
    "today_in",
]
