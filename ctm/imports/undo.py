"""Undo an import by its batch id (DESIGN.md "Import", "History"): every row the import touched goes
back to its state before it — rows it inserted are removed, rows it changed get their old values
back — in one transaction written as a new batch (source `import`, recorded in import_runs as kind
`undo` with `undoes_batch`), as the user under row-level security.

Refused as a whole, nothing written: when a row the import touched changed after it (a later
history entry of that row: the refusal names the rows), when the import was undone already, when
the batch is itself an undo, and for a role that may not import that kind. Customers, circuits and
substations the import created are removed only when nothing refers to them now; otherwise they
are kept and the outcome says so. Removal runs through public.undo_import_remove() (definer
rights: an operator may import mappings and customers but not delete them); restoring updated rows
is a plain UPDATE per table as the user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import db, inputs, roles
from ctm.clock import time_zone
from ctm.errors import (
    NotFound,
    PermissionDenied,
    ServiceError,
    StaleEdit,
    ValidationError,
    constraint_name,
    sqlstate,
)
from ctm.history import name_rows_in
from ctm.imports.service import import_action
from ctm.reference import NO_PROFILE, acting_role

UNDO_KIND = "undo"
# Key columns of each table an import writes (how audit_log.row_id names its rows).
KEYS: dict[str, tuple[str, ...]] = {
    "substations": ("id",),
    "substation_circuits": ("substation_id", "circuit_id"),
    "customers": ("id",),
    "customer_transformer_matching": ("id",),
    "pq_meters": ("id",),
}
# Restored parents first (the order of KEYS); bookkeeping columns are the database's own.
_NOT_RESTORED = {"version", "created_at", "updated_at", "updated_by"}
NOUNS = {  # in the order outcomes name them
    "customer_transformer_matching": ("mapping", "mappings"),
    "customers": ("customer", "customers"),
    "substation_circuits": ("circuit", "circuits"),
    "substations": ("substation", "substations"),
    "pq_meters": ("meter", "meters"),
}
SHOWN_ROWS = 10  # rows named in a refusal; the rest are counted


@dataclass(frozen=True)
class ImportRun:
    """One applied import (or undo) as import_runs records it, and whether it was undone."""

    batch_id: UUID
    kind: str
    file_name: str
    imported_at: datetime
    imported_by: str  # a name, or "System" for the CLI without --as
    rows_total: int
    rows_new: int
    rows_changed: int
    rows_unchanged: int
    undoes_batch: UUID | None = None
    undone_by_batch: UUID | None = None
    undone_at: datetime | None = None
    undone_by: str | None = None

    @property
    def is_undo(self) -> bool:
        return self.kind == UNDO_KIND


@dataclass(frozen=True)
class UndoOutcome:
    """What undoing an import does (a preview) or did (with `undo_batch_id`): rows removed and
    restored per table, and the rows kept because something refers to them now (named)."""

    batch_id: UUID
    file_name: str
    removed: dict[str, int] = field(default_factory=dict)  # table → rows
    restored: dict[str, int] = field(default_factory=dict)
    kept: tuple[str, ...] = ()
    undo_batch_id: UUID | None = None

    @property
    def applied(self) -> bool:
        return self.undo_batch_id is not None

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())

    @property
    def total_restored(self) -> int:
        return sum(self.restored.values())

    def summary_line(self) -> str:
        parts = [
            f"{'removed' if self.applied else 'removes'} {_counted(self.removed) or 'nothing'}",
            f"{'restored' if self.applied else 'restores'} {_counted(self.restored) or 'nothing'}",
        ]
        if self.kept:
            parts.append(
                f"{'kept' if self.applied else 'keeps'} {len(self.kept)} row(s) other rows refer"
                f" to now: {listed(list(self.kept))}"
            )
        return "; ".join(parts)


def listed(names: list[str]) -> str:
    """The first SHOWN_ROWS names joined, and how many more there are."""
    more = f" and {len(names) - SHOWN_ROWS} more" if len(names) > SHOWN_ROWS else ""
    return "; ".join(names[:SHOWN_ROWS]) + more


def _counted(per_table: dict[str, int]) -> str:
    return ", ".join(
        f"{n:,} {NOUNS[t][0] if n == 1 else NOUNS[t][1]}"
        for t in NOUNS
        if (n := per_table.get(t, 0))
    )


# Reading the import record -----------------------------------------------------------------------


def import_run_in(conn: Connection, batch_id: UUID) -> ImportRun | None:
    batch_id = inputs.uuid_value("batch_id", batch_id)
    row = conn.execute(
        sa.text(
            "SELECT r.batch_id, r.kind, r.file_name, r.imported_at,"
            " coalesce(p.full_name, p.email, 'System') AS imported_by, r.rows_total, r.rows_new,"
            " r.rows_changed, r.rows_unchanged, r.undoes_batch, u.batch_id AS undone_by_batch,"
            " u.imported_at AS undone_at, coalesce(up.full_name, up.email, 'System') AS undone_by"
            " FROM public.import_runs AS r"
            " LEFT JOIN public.profiles AS p ON p.id = r.imported_by"
            " LEFT JOIN public.import_runs AS u ON u.undoes_batch = r.batch_id"
            " LEFT JOIN public.profiles AS up ON up.id = u.imported_by"
            " WHERE r.batch_id = :batch"
        ),
        {"batch": batch_id},
    ).one_or_none()
    if row is None:
        return None
    values = row._asdict()
    if values["undone_by_batch"] is None:
        values["undone_by"] = None
    return ImportRun(**values)


def import_run(engine: Engine, identity: db.Identity, batch_id: UUID) -> ImportRun | None:
    """The import (or undo) recorded with this batch id; None when there is none."""
    with db.user_transaction(engine, identity) as conn:
        return import_run_in(conn, batch_id)


def may_undo(role: str | None, run: ImportRun) -> bool:
    """Whoever may import a kind may undo such an import (an undo itself is not undone)."""
    return not run.is_undo and roles.can(role, import_action(run.kind))


# The undo ----------------------------------------------------------------------------------------


def _when(conn: Connection, instant: datetime) -> str:
    """A time in the stored time zone, which it names: '2026-12-05 19:40 Asia/Hong_Kong'."""
    zone = time_zone(conn)
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _check(conn: Connection, batch_id: UUID, role: str) -> ImportRun:
    """The import to undo, after refusing what may not be undone."""
    run = import_run_in(conn, batch_id)
    if run is None:
        raise NotFound(f"No import has the batch id {batch_id}")
    if run.is_undo:
        raise ValidationError(
            f"Batch {batch_id} is the undo of the import {run.undoes_batch}: an undo cannot be"
            " undone (import the file again instead)"
        )
    if not may_undo(role, run):
        raise PermissionDenied(f"Your role ({role}) does not allow undoing an import of {run.kind}")
    # Two people pressing Undo at once: the second waits here, then sees the first one's record.
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"ctm.undo:{batch_id}"},
    )
    run = import_run_in(conn, batch_id) or run
    if run.undone_by_batch is not None:
        raise ValidationError(
            f"The import of {run.file_name} (batch {batch_id}) was undone already, on"
            f" {_when(conn, run.undone_at)} by {run.undone_by} (batch {run.undone_by_batch});"
            " nothing was changed"
        )
    return run


_ROWS = """
CREATE TEMPORARY TABLE ctm_undo_rows ON COMMIT DROP AS
SELECT DISTINCT ON (a.row_id) regexp_replace(a.table_name, '^public\\.', '') AS table_name,
       a.row_id, a.action, a.old_values
FROM public.audit_log AS a
WHERE a.batch_id = :batch
ORDER BY a.row_id, a.id
"""


def _key_match(table: str, target: str, source: str) -> str:
    """SQL: the row `target` of `table` is the row `source` names (both as records)."""
    return " AND ".join(f"{target}.{k} = {source}.{k}" for k in KEYS[table])


def _row_key(table: str) -> str:
    """SQL: ctm_undo_rows.row_id (alias r) as the table's key, for an index lookup."""
    if table == "substation_circuits":
        return (
            "t.substation_id = CAST(left(r.row_id, 36) AS uuid)"
            " AND t.circuit_id = substr(r.row_id, 38)"
        )
    return "t.id = CAST(r.row_id AS uuid)"


def _touched(conn: Connection, batch_id: UUID, run: ImportRun) -> dict[tuple[str, str], int]:
    """(table, first action) → rows, from the batch's history; the rows go into ctm_undo_rows."""
    conn.execute(sa.text("DROP TABLE IF EXISTS ctm_undo_rows"))
    conn.execute(sa.text(_ROWS), {"batch": batch_id})
    conn.execute(sa.text("ANALYZE ctm_undo_rows"))  # without statistics the joins nest-loop
    counts = {
        (t, a): int(n)
        for t, a, n in conn.execute(
            sa.text("SELECT table_name, action, count(*) FROM ctm_undo_rows GROUP BY 1, 2")
        )
    }
    if not counts:
        raise ValidationError(
            f"The import of {run.file_name} (batch {batch_id}) changed no row: there is nothing"
            " to undo"
        )
    unknown = sorted({t for t, _ in counts} - set(KEYS))
    deleted = sorted(t for t, a in counts if a == "DELETE")
    if unknown or deleted:
        raise ValidationError(
            f"The import of {run.file_name} (batch {batch_id}) "
            + (f"changed {', '.join(unknown)}" if unknown else f"deleted rows of {deleted[0]}")
            + ", which an undo does not put back; nothing was changed"
        )
    return counts


def _lock_updated(conn: Connection, counts: dict[tuple[str, str], int]) -> None:
    """Lock the rows the import changed, so nobody edits them between the check and the restore."""
    for table in KEYS:
        if counts.get((table, "UPDATE")):
            conn.execute(
                sa.text(
                    f"SELECT 1 FROM public.{table} AS t JOIN ctm_undo_rows AS r"
                    f" ON r.table_name = :table AND r.action = 'UPDATE' AND {_row_key(table)}"
                    " FOR UPDATE OF t"
                ),
                {"table": table},
            )


def _refuse_changed_since(conn: Connection, batch_id: UUID, run: ImportRun) -> None:
    changed = conn.execute(
        sa.text(
            "SELECT s.table_name, s.row_id, s.changed_at, b.old_values, b.new_values"
            " FROM public.import_batch_rows_changed_since(:batch) AS s"
            " CROSS JOIN LATERAL (SELECT a.old_values, a.new_values FROM public.audit_log AS a"
            "  WHERE a.batch_id = :batch AND a.row_id = s.row_id ORDER BY a.id DESC LIMIT 1) AS b"
            " ORDER BY s.changed_at, s.table_name, s.row_id"
        ),
        {"batch": batch_id},
    ).all()
    if changed:
        _refuse(
            conn,
            run,
            f"{len(changed)} of its rows changed after it",
            [(r.table_name, r.row_id, r.old_values, r.new_values) for r in changed],
            [f"changed {_when(conn, r.changed_at)}" for r in changed],
            "Undoing it would overwrite those changes",
        )


def _refuse(
    conn: Connection,
    run: ImportRun,
    reason: str,
    rows: list[tuple[str, str, dict | None, dict | None]],
    notes: list[str],
    advice: str,
) -> NoReturn:
    """Refuse the undo, naming the rows in the way (each with its note)."""
    names = name_rows_in(conn, rows)
    shown = [f"{name} ({note})" for name, note in zip(names, notes, strict=True)]
    raise StaleEdit(
        f"The import of {run.file_name} cannot be undone: {reason} — {listed(shown)}. {advice};"
        " nothing was changed."
    )


def _remove(conn: Connection, batch_id: UUID) -> tuple[dict[str, int], tuple[str, ...]]:
    rows = conn.execute(
        sa.text("SELECT table_name, row_id, removed FROM public.undo_import_remove(:batch)"),
        {"batch": batch_id},
    ).all()
    removed: dict[str, int] = {}
    for r in rows:
        if r.removed:
            removed[r.table_name] = removed.get(r.table_name, 0) + 1
    kept = [r for r in rows if not r.removed]
    if not kept:
        return removed, ()
    values = dict(
        conn.execute(
            sa.text(
                "SELECT row_id, new_values FROM public.audit_log"
                " WHERE batch_id = :batch AND action = 'INSERT' AND row_id = ANY(:ids)"
            ),
            {"batch": batch_id, "ids": [r.row_id for r in kept]},
        ).all()
    )
    names = name_rows_in(conn, [(r.table_name, r.row_id, None, values.get(r.row_id)) for r in kept])
    return removed, tuple(names)


def _columns(conn: Connection, table: str) -> list[str]:
    return list(
        conn.scalars(
            sa.text(
                "SELECT a.attname FROM pg_catalog.pg_attribute AS a"
                " WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0"
                " AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum"
            ),
            {"table": f"public.{table}"},
        )
    )


def _restore(conn: Connection, counts: dict[tuple[str, str], int]) -> dict[str, int]:
    """Every row the import changed gets its values from before the import back (one UPDATE per
    table; a column the recorded values lack, e.g. added later, keeps its value)."""
    restored: dict[str, int] = {}
    for table, keys in KEYS.items():
        if not counts.get((table, "UPDATE")):
            continue
        columns = [c for c in _columns(conn, table) if c not in keys and c not in _NOT_RESTORED]
        sets = ", ".join(
            f"{c} = CASE WHEN r.old_values ? '{c}' THEN o.{c} ELSE t.{c} END" for c in columns
        )
        result = conn.execute(
            sa.text(
                f"UPDATE public.{table} AS t SET {sets}"
                " FROM ctm_undo_rows AS r"
                " CROSS JOIN LATERAL"
                f" jsonb_populate_record(NULL::public.{table}, r.old_values) AS o"
                " WHERE r.table_name = :table AND r.action = 'UPDATE'"
                f" AND {_key_match(table, 't', 'o')}"
            ),
            {"table": table},
        )
        restored[table] = result.rowcount
    return restored


_OVERLAPS = """
SELECT r.row_id, r.old_values, to_jsonb(o) AS other
FROM ctm_undo_rows AS r
JOIN public.customer_transformer_matching AS o
  ON o.customer_id = CAST(r.old_values ->> 'customer_id' AS uuid)
 AND o.substation_id = CAST(r.old_values ->> 'substation_id' AS uuid)
 AND o.circuit_id = r.old_values ->> 'circuit_id'
 AND o.id <> CAST(r.row_id AS uuid)
WHERE r.table_name = 'customer_transformer_matching' AND r.action = 'UPDATE'
  AND (CAST(r.old_values ->> 'active' AS boolean) OR r.old_values ->> 'disconnected_on' IS NOT NULL)
  AND (o.active OR o.disconnected_on IS NOT NULL)
  AND daterange(CAST(r.old_values ->> 'connected_since' AS date),
                CAST(r.old_values ->> 'disconnected_on' AS date), '[)')
      && daterange(o.connected_since, o.disconnected_on, '[)')
ORDER BY r.row_id
"""


def _refuse_overlaps(conn: Connection, run: ImportRun) -> None:
    """A mapping the import ended cannot be current again when the same customer got another
    period on that circuit since: name both (the caller re-raises anything else)."""
    found = conn.execute(sa.text(_OVERLAPS)).all()
    if found:
        _refuse(
            conn,
            run,
            "mappings it ended or changed cannot get their old period back because the same"
            " customer has another period on that circuit now",
            [("customer_transformer_matching", r.row_id, None, r.old_values) for r in found],
            [
                f"a period from {r.other['connected_since'] or 'the start'} was added since"
                for r in found
            ],
            "End or remove those first",
        )


def _record(conn: Connection, run: ImportRun, undo_batch_id: UUID, outcome: UndoOutcome) -> None:
    """The undo in import_runs: the undone import's file, rows changed = removed + restored, rows
    unchanged = kept (the unique index refuses a second undo of the same batch)."""
    conn.execute(
        sa.text(
            "INSERT INTO public.import_runs (batch_id, kind, file_name, checksum, encoding,"
            " rows_total, rows_new, rows_changed, rows_unchanged, undoes_batch)"
            " SELECT :undo, 'undo', r.file_name, r.checksum, r.encoding, :total, 0, :changed,"
            " :kept, r.batch_id FROM public.import_runs AS r WHERE r.batch_id = :batch"
        ),
        {
            "undo": undo_batch_id,
            "batch": run.batch_id,
            "total": outcome.total_removed + outcome.total_restored + len(outcome.kept),
            "changed": outcome.total_removed + outcome.total_restored,
            "kept": len(outcome.kept),
        },
    )


def undo_import_in(
    conn: Connection, batch_id: UUID, *, role: str, undo_batch_id: UUID | None
) -> UndoOutcome:
    """The undo inside an open transaction whose changes carry `undo_batch_id` (None: a preview
    the caller rolls back). Raises before writing anything it refuses."""
    batch_id = inputs.uuid_value("batch_id", batch_id)
    run = _check(conn, batch_id, role)
    counts = _touched(conn, batch_id, run)
    _lock_updated(conn, counts)
    _refuse_changed_since(conn, batch_id, run)
    removed, kept = _remove(conn, batch_id)
    try:
        with conn.begin_nested():
            restored = _restore(conn, counts)
    except sa.exc.IntegrityError:
        _refuse_overlaps(conn, run)
        raise
    outcome = UndoOutcome(batch_id, run.file_name, removed, restored, kept)
    if undo_batch_id is not None:
        _record(conn, run, undo_batch_id, outcome)
        outcome = UndoOutcome(batch_id, run.file_name, removed, restored, kept, undo_batch_id)
    return outcome


class _Rollback(Exception):
    def __init__(self, outcome: UndoOutcome):
        self.outcome = outcome


def _failure(exc: sa.exc.DBAPIError) -> ServiceError:
    code = sqlstate(exc)
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if code == "42501":
        return PermissionDenied(
            f"Your role does not allow this undo ({reason}); nothing was changed"
        )
    if code == "23505" and constraint_name(exc) == "import_runs_undone_once":
        return ValidationError("This import was undone already (just now); nothing was changed")
    if code == "55000":
        return StaleEdit(f"Rows of the import changed meanwhile ({reason}); nothing was changed")
    return ServiceError(f"The database refused the undo ({reason}); nothing was changed")


def _run(engine: Engine, identity: db.Identity, batch_id: UUID, undo_batch_id: UUID | None):
    with db.user_transaction(engine, identity, source="import", batch_id=undo_batch_id) as conn:
        role = acting_role(conn)
        if role is None:
            raise PermissionDenied(NO_PROFILE)
        outcome = undo_import_in(conn, batch_id, role=role, undo_batch_id=undo_batch_id)
        if undo_batch_id is None:
            raise _Rollback(outcome)
        return outcome


def preview_undo(engine: Engine, identity: db.Identity, batch_id: UUID) -> UndoOutcome:
    """What undoing the import would do (rows removed, restored, kept); nothing is written."""
    try:
        _run(engine, identity, batch_id, None)
    except _Rollback as done:
        return done.outcome
    except sa.exc.DBAPIError as exc:
        raise _failure(exc) from None
    raise AssertionError("unreachable")


def undo_import(engine: Engine, identity: db.Identity, batch_id: UUID) -> UndoOutcome:
    """Undo the import `batch_id` in one transaction, as a new batch; all or nothing."""
    try:
        return _run(engine, identity, batch_id, uuid.uuid4())
    except sa.exc.DBAPIError as exc:
        raise _failure(exc) from None
