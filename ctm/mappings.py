"""Customer → substation circuit mappings: list, export, circuits of a substation, create, update,
deactivate, delete and statistics. Every call runs as the acting user under row-level security;
the database stamps the editor and bumps the version, this module turns refusals into messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import clock, inputs
from ctm.db import Identity, user_transaction
from ctm.errors import (
    DuplicateMapping,
    NotFound,
    PermissionDenied,
    ServiceError,
    StaleEdit,
    ValidationError,
    sqlstate,
)
from ctm.reference import like_pattern, require_role
from ctm.roles import Action, roles_that_can

WRITERS = roles_that_can(Action.EDIT_MAPPINGS)
DELETERS = roles_that_can(Action.DELETE_MAPPINGS)
MAPPING_COLUMNS = [
    "id",
    "version",
    "customer_id",
    "customer_name",
    "account_number",
    "customer_type",
    "substation_id",
    "substation_name",
    "circuit_id",
    "active",
    "updated_by_name",
    "updated_at",
    "created_at",
]
STATS_COLUMNS = [
    "substation_id",
    "substation_name",
    "active_mappings",
    "mapped_customers",
    "circuits_covered",
]


@dataclass(frozen=True)
class MappingFilter:
    """What the mapping list shows; every field None/False means every active mapping."""

    substation_id: UUID | None = None
    circuit_id: str | None = None
    customer_text: str | None = None
    include_inactive: bool = False


@dataclass(frozen=True)
class MappingPage:
    """One page of mappings (columns MAPPING_COLUMNS) and how many match in all."""

    rows: pd.DataFrame
    total: int


@dataclass(frozen=True)
class Mapping:
    id: UUID
    version: int
    customer_id: UUID
    customer_name: str
    account_number: str
    substation_id: UUID
    substation_name: str
    circuit_id: str
    active: bool
    updated_by_name: str | None
    updated_at: datetime


@dataclass(frozen=True)
class MappingStats:
    active_mappings: int
    mapped_customers: int
    circuits_covered: int
    by_substation: pd.DataFrame


# Reading -----------------------------------------------------------------------------------------

_SELECT_MAPPINGS = """
    SELECT m.id, m.version, m.customer_id, c.name AS customer_name, c.account_number,
           c.customer_type, m.substation_id, s.name AS substation_name, m.circuit_id, m.active,
           p.full_name AS updated_by_name, m.updated_at, m.created_at
    FROM public.customer_transformer_matching AS m
    JOIN public.customers AS c ON c.id = m.customer_id
    JOIN public.substations AS s ON s.id = m.substation_id
    LEFT JOIN public.profiles AS p ON p.id = m.updated_by
"""


def natural_key(text: str) -> tuple:
    """Sort key that puts H2 before H10: digit runs compare as numbers, letters ignore case."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.casefold()) for p in parts if p)


def _where(filters: MappingFilter) -> tuple[list[str], dict]:
    """Conditions on m (mappings) and c (customers) for a filter, with their parameters."""
    if not isinstance(filters, MappingFilter):
        raise inputs.invalid("filters", filters, "must be a MappingFilter")
    filters = MappingFilter(
        substation_id=inputs.optional_uuid("substation_id", filters.substation_id),
        circuit_id=inputs.text("circuit_id", filters.circuit_id, max_length=64),
        customer_text=inputs.text("customer_text", filters.customer_text),
        include_inactive=bool(inputs.boolean("include_inactive", filters.include_inactive)),
    )
    clauses: list[str] = []
    params: dict = {}
    if not filters.include_inactive:
        clauses.append("m.active")
    if filters.substation_id is not None:
        clauses.append("m.substation_id = :substation_id")
        params["substation_id"] = filters.substation_id
    if filters.circuit_id is not None and filters.circuit_id.strip():
        clauses.append("m.circuit_id = :circuit_id")
        params["circuit_id"] = filters.circuit_id.strip()
    if filters.customer_text is not None and filters.customer_text.strip():
        params["text"] = filters.customer_text.strip()
        params["pattern"] = like_pattern(params["text"])
    return clauses, params


@dataclass(frozen=True)
class _Group:
    """All matching mappings of one circuit of one substation: the unit the list is cut into."""

    substation_id: UUID
    substation_name: str
    circuit_id: str
    count: int

    @property
    def order(self) -> tuple:
        return (
            natural_key(self.substation_name),
            str(self.substation_id),
            natural_key(self.circuit_id),
            self.circuit_id,
        )


def _groups(conn: Connection, clauses: list[str], params: dict) -> list[_Group]:
    """How many mappings match per (substation, circuit), in list order.

    Counting per circuit reads only the mappings table and its indexes: a mapping's customer and
    substation always exist (NOT NULL foreign keys) and every user who may read mappings may read
    both (same policy condition), so joining customers would change no count. With a customer
    text of three characters or more, customer_ids_like() finds the customers through the
    trigram indexes; a shorter text has no trigram, matches most customers, and is tested on
    every customer row in one hash join instead."""
    conditions = list(clauses)
    source = " FROM public.customer_transformer_matching AS m"
    if "pattern" in params and len(params["text"]) >= 3:
        # A plain join (the ids are unique) probes the mappings once per customer found.
        source = (
            " FROM public.customer_ids_like(:pattern) AS found"
            " JOIN public.customer_transformer_matching AS m ON m.customer_id = found.id"
        )
    elif "pattern" in params:
        source += " JOIN public.customers AS c ON c.id = m.customer_id"
        conditions.append("(c.name ILIKE :pattern OR c.account_number ILIKE :pattern)")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = conn.execute(
        sa.text(
            "SELECT g.substation_id, s.name, g.circuit_id, g.n FROM ("
            " SELECT m.substation_id, m.circuit_id, count(*) AS n"
            + source
            + where
            + " GROUP BY m.substation_id, m.circuit_id) AS g"
            " JOIN public.substations AS s ON s.id = g.substation_id"
        ),
        params,
    )
    return sorted((_Group(r[0], r[1], r[2], r[3]) for r in rows), key=lambda g: g.order)


# The page: only the circuits that hold the requested rows are read, in the order the groups give
# (natural: Substation 2 before Substation 10, H2 before H10), customers by name within a circuit.
_PAGE_SQL = """
    SELECT m.id, m.version, m.customer_id, c.name AS customer_name, c.account_number,
           c.customer_type, m.substation_id, s.name AS substation_name, m.circuit_id, m.active,
           p.full_name AS updated_by_name, m.updated_at, m.created_at
    FROM unnest(CAST(:group_substations AS uuid[]), CAST(:group_circuits AS text[]))
         WITH ORDINALITY AS g (substation_id, circuit_id, position)
    JOIN public.customer_transformer_matching AS m
      ON m.substation_id = g.substation_id AND m.circuit_id = g.circuit_id
    JOIN public.customers AS c ON c.id = m.customer_id
    JOIN public.substations AS s ON s.id = m.substation_id
    LEFT JOIN public.profiles AS p ON p.id = m.updated_by
"""


_FEW_CIRCUITS = 16


def _rows(
    conn: Connection, filters: MappingFilter, limit: int | None, offset: int
) -> tuple[pd.DataFrame, int]:
    """The rows [offset, offset + limit) of the ordered list (all from offset when limit is None)
    and the number of matching mappings."""
    clauses, params = _where(filters)
    groups = _groups(conn, clauses, params)
    total = sum(g.count for g in groups)
    chosen: list[_Group] = []
    skip = offset  # rows to drop from the first chosen circuit
    held = 0  # rows the chosen circuits hold
    for group in groups:
        if not chosen and skip >= group.count:
            skip -= group.count
            continue
        chosen.append(group)
        held += group.count
        if limit is not None and held >= skip + limit:
            break
    if not chosen:
        return pd.DataFrame(columns=MAPPING_COLUMNS), total
    # Repeated as plain conditions on m so the planner uses both columns of the circuit index
    # (through the join alone it probed by substation and filtered the circuit afterwards).
    conditions = [
        *clauses,
        "m.substation_id = ANY(CAST(:any_substations AS uuid[]))",
        "m.circuit_id = ANY(CAST(:any_circuits AS text[]))",
    ]
    if "pattern" in params:
        if len(chosen) <= _FEW_CIRCUITS or len(params["text"]) < 3:
            # A few circuits hold the page: test their rows, cheaper than searching again.
            conditions.append("(c.name ILIKE :pattern OR c.account_number ILIKE :pattern)")
        else:
            # Matches spread thin over many circuits: start from the matching customers.
            conditions.append(
                "m.customer_id IN (SELECT id FROM public.customer_ids_like(:pattern))"
            )
    sql = _PAGE_SQL + " WHERE " + " AND ".join(conditions)
    sql += " ORDER BY g.position, c.name, c.account_number, m.id OFFSET :skip"
    page_params = {
        **params,
        "group_substations": [g.substation_id for g in chosen],
        "group_circuits": [g.circuit_id for g in chosen],
        "any_substations": sorted({g.substation_id for g in chosen}, key=str),
        "any_circuits": sorted({g.circuit_id for g in chosen}),
        "skip": skip,
    }
    if limit is not None:
        sql += " LIMIT :limit"
        page_params["limit"] = limit
    return _frame(conn.execute(sa.text(sql), page_params)), total


def _frame(result: sa.CursorResult) -> pd.DataFrame:
    return pd.DataFrame(result.fetchall(), columns=MAPPING_COLUMNS)


def _one_snapshot(engine: Engine) -> Engine:
    """The engine, its transactions REPEATABLE READ: the per-circuit counts and the page are two
    statements and must see the same rows (a read-only transaction never fails to serialize)."""
    return engine.execution_options(isolation_level="REPEATABLE READ")


def list_mappings_in(
    conn: Connection, filters: MappingFilter, *, limit: int = 200, offset: int = 0
) -> MappingPage:
    """One page of mappings ordered by substation, circuit (naturally: H2 before H10) and
    customer name, and the exact number of matching mappings (in the caller's unit of work;
    give it a REPEATABLE READ one so counts and page agree)."""
    limit, offset = inputs.page(limit, offset)
    rows, total = _rows(conn, filters, limit, offset)
    return MappingPage(rows=rows, total=total)


def list_mappings(
    engine: Engine, identity: Identity, filters: MappingFilter, *, limit: int = 200, offset: int = 0
) -> MappingPage:
    """list_mappings_in in a read snapshot of its own, as `identity`."""
    with user_transaction(_one_snapshot(engine), identity) as conn:
        return list_mappings_in(conn, filters, limit=limit, offset=offset)


def export_mappings_in(conn: Connection, filters: MappingFilter) -> pd.DataFrame:
    """Every mapping matching the filter, in list order, for download."""
    return _rows(conn, filters, None, 0)[0]


def export_mappings(engine: Engine, identity: Identity, filters: MappingFilter) -> pd.DataFrame:
    """export_mappings_in in a read snapshot of its own, as `identity`."""
    with user_transaction(_one_snapshot(engine), identity) as conn:
        return export_mappings_in(conn, filters)


# The events' index (substation_id, circuit_id, timestamp DESC) is walked one circuit at a time
# ("skip scan"): each step jumps to the next larger circuit id, so a substation with millions of
# events and ten circuits costs about ten index probes.
_CIRCUITS_SQL = """
    WITH RECURSIVE event_circuits AS (
        (SELECT e.circuit_id FROM public.pq_events AS e
         WHERE e.substation_id = :substation_id AND e.circuit_id IS NOT NULL
         ORDER BY e.circuit_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.circuit_id FROM public.pq_events AS e
                WHERE e.substation_id = :substation_id AND e.circuit_id > ec.circuit_id
                ORDER BY e.circuit_id LIMIT 1)
        FROM event_circuits AS ec
        WHERE ec.circuit_id IS NOT NULL
    ),
    mapping_circuits AS (
        (SELECT m.circuit_id FROM public.customer_transformer_matching AS m
         WHERE m.substation_id = :substation_id
         ORDER BY m.circuit_id LIMIT 1)
        UNION ALL
        SELECT (SELECT m.circuit_id FROM public.customer_transformer_matching AS m
                WHERE m.substation_id = :substation_id AND m.circuit_id > mc.circuit_id
                ORDER BY m.circuit_id LIMIT 1)
        FROM mapping_circuits AS mc
        WHERE mc.circuit_id IS NOT NULL
    )
    SELECT circuit_id FROM event_circuits WHERE circuit_id IS NOT NULL
    UNION
    SELECT circuit_id FROM mapping_circuits WHERE circuit_id IS NOT NULL
"""


def _circuits(conn: Connection, substation_id: UUID) -> list[str]:
    rows = conn.scalars(sa.text(_CIRCUITS_SQL), {"substation_id": substation_id})
    return sorted(rows, key=lambda circuit: (natural_key(circuit), circuit))


def circuits_of_substation_in(conn: Connection, substation_id: UUID) -> list[str]:
    """Circuits known for a substation — from its events and its mappings — sorted naturally."""
    return _circuits(conn, inputs.uuid_value("substation_id", substation_id))


def circuits_of_substation(engine: Engine, identity: Identity, substation_id: UUID) -> list[str]:
    """circuits_of_substation_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return circuits_of_substation_in(conn, substation_id)


def mapping_statistics(engine: Engine, identity: Identity) -> MappingStats:
    """mapping_statistics_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return mapping_statistics_in(conn)


def mapping_statistics_in(conn: Connection) -> MappingStats:
    """Active mappings, distinct mapped customers and covered circuits, overall and per
    substation (substations without mappings included), in one grouped query."""
    rows = conn.execute(
        sa.text(
            """
            SELECT s.id AS substation_id, s.name AS substation_name,
                   count(m.id) AS active_mappings,
                   count(DISTINCT m.customer_id) AS mapped_customers,
                   count(DISTINCT (m.substation_id, m.circuit_id))
                     FILTER (WHERE m.id IS NOT NULL) AS circuits_covered,
                   GROUPING(s.id, s.name) AS is_total
            FROM public.substations AS s
            LEFT JOIN public.customer_transformer_matching AS m
              ON m.substation_id = s.id AND m.active
            GROUP BY GROUPING SETS ((s.id, s.name), ())
            ORDER BY is_total, s.name, s.id
            """
        )
    ).fetchall()
    per_substation = [r for r in rows if not r.is_total]
    total = next(r for r in rows if r.is_total)
    frame = pd.DataFrame([tuple(r)[:5] for r in per_substation], columns=STATS_COLUMNS)
    for column in STATS_COLUMNS[2:]:
        frame[column] = frame[column].astype("int64")
    return MappingStats(
        active_mappings=int(total.active_mappings),
        mapped_customers=int(total.mapped_customers),
        circuits_covered=int(total.circuits_covered),
        by_substation=frame,
    )


# Writing -----------------------------------------------------------------------------------------


def _load(conn: Connection, mapping_id: UUID, *, lock: bool = False) -> sa.Row | None:
    if lock:
        # Lock first, read after: a statement that waited for another writer's lock re-checks
        # only the locked row, so its joined names (the editor) would still be the old ones.
        locked = conn.scalar(
            sa.text(
                "SELECT id FROM public.customer_transformer_matching WHERE id = :id FOR UPDATE"
            ),
            {"id": mapping_id},
        )
        if locked is None:
            return None
    sql = _SELECT_MAPPINGS + " WHERE m.id = :id"
    return conn.execute(sa.text(sql), {"id": mapping_id}).one_or_none()


def _mapping(row: sa.Row) -> Mapping:
    return Mapping(
        id=row.id,
        version=row.version,
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        account_number=row.account_number,
        substation_id=row.substation_id,
        substation_name=row.substation_name,
        circuit_id=row.circuit_id,
        active=row.active,
        updated_by_name=row.updated_by_name,
        updated_at=row.updated_at,
    )


def _describe(row: sa.Row) -> str:
    return (
        f"The mapping of {row.customer_name} ({row.account_number}) to"
        f" {row.substation_name} / {row.circuit_id}"
    )


def _format_time(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as people read it: in the product's stored zone, named."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone.key}"


def _check_version(row: sa.Row, expected_version: int, zone: ZoneInfo) -> None:
    if row.version != expected_version:
        editor = row.updated_by_name or "someone else (a system load)"
        raise StaleEdit(
            f"{_describe(row)} was changed by {editor} at {_format_time(row.updated_at, zone)}"
            " after you loaded it; reload and try again"
        )


_MAX_VERSION = 2**31 - 1


def _version(expected_version: object) -> int:
    return inputs.integer("expected_version", expected_version, minimum=1, maximum=_MAX_VERSION)


def _clean_circuit(circuit_id: str | None) -> str:
    circuit = inputs.text("circuit_id", circuit_id, max_length=64) or ""
    if not circuit:
        raise ValidationError("Choose a circuit: the circuit is empty")
    return circuit


def _substation_name(conn: Connection, substation_id: UUID) -> str:
    name = conn.scalar(
        sa.text("SELECT name FROM public.substations WHERE id = :id"), {"id": substation_id}
    )
    if name is None:
        raise ValidationError(f"Unknown substation {substation_id}: it does not exist any more")
    return name


def _check_circuit(conn: Connection, substation_id: UUID, substation: str, circuit: str) -> None:
    known = _circuits(conn, substation_id)
    if circuit not in known:
        listed = ", ".join(known) if known else "none yet"
        raise ValidationError(
            f"Circuit {circuit} is not known for substation {substation} (known circuits: {listed})"
        )


def _check_no_duplicate(
    conn: Connection,
    customer_id: UUID,
    substation_id: UUID,
    circuit: str,
    except_id: UUID | None = None,
) -> None:
    other = conn.execute(
        sa.text(
            _SELECT_MAPPINGS
            + " WHERE m.customer_id = :customer_id AND m.substation_id = :substation_id"
            " AND m.circuit_id = :circuit_id AND m.active"
            " AND m.id IS DISTINCT FROM :except_id"
        ),
        {
            "customer_id": customer_id,
            "substation_id": substation_id,
            "circuit_id": circuit,
            "except_id": except_id,
        },
    ).first()
    if other is not None:
        raise _duplicate(other.customer_name, other.account_number, other.substation_name, circuit)


def _duplicate(customer: str, account: str, substation: str, circuit: str) -> DuplicateMapping:
    return DuplicateMapping(
        f"Customer {customer} ({account}) is already mapped to {substation} / {circuit}"
    )


def _write(conn: Connection, sql: str, params: dict, duplicate: DuplicateMapping | None):
    """Run one write in a savepoint and turn the driver's refusals into service errors."""
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        code = sqlstate(exc)
        if code == "23505" and duplicate is not None:
            raise duplicate from None
        if code == "23503":
            raise ValidationError(
                "The customer or substation does not exist any more; reload and try again"
            ) from None
        if code == "42501":
            raise PermissionDenied("Your role does not allow changing this mapping") from None
        if code in ("23514", "22P02", "22001"):
            raise ValidationError("The mapping has a value the database does not accept") from None
        raise ServiceError("The mapping could not be saved; nothing was changed") from exc


def create_mapping(
    engine: Engine, identity: Identity, customer_id: UUID, substation_id: UUID, circuit_id: str
) -> Mapping:
    """create_mapping_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return create_mapping_in(conn, customer_id, substation_id, circuit_id)


def create_mapping_in(
    conn: Connection, customer_id: UUID, substation_id: UUID, circuit_id: str
) -> Mapping:
    """Map a customer to a circuit of a substation (admins and operators)."""
    customer_id = inputs.uuid_value("customer_id", customer_id)
    substation_id = inputs.uuid_value("substation_id", substation_id)
    circuit = _clean_circuit(circuit_id)
    require_role(conn, WRITERS, "Your role does not allow adding mappings")
    customer = conn.execute(
        sa.text("SELECT name, account_number FROM public.customers WHERE id = :id"),
        {"id": customer_id},
    ).one_or_none()
    if customer is None:
        raise ValidationError(f"Unknown customer {customer_id}: it does not exist any more")
    substation = _substation_name(conn, substation_id)
    _check_circuit(conn, substation_id, substation, circuit)
    _check_no_duplicate(conn, customer_id, substation_id, circuit)
    duplicate = _duplicate(customer.name, customer.account_number, substation, circuit)
    new_id = _write(
        conn,
        "INSERT INTO public.customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:customer_id, :substation_id, :circuit_id) RETURNING id",
        {"customer_id": customer_id, "substation_id": substation_id, "circuit_id": circuit},
        duplicate,
    ).scalar_one()
    return _mapping(_load(conn, new_id))


def _locked_current(
    conn: Connection, mapping_id: UUID, expected_version: int, allowed: set[str], refusal: str
) -> sa.Row:
    """The mapping, locked, after the role and version checks: NotFound when it is gone or not
    visible, PermissionDenied for the role, StaleEdit when someone saved in between."""
    mapping_id = inputs.uuid_value("mapping_id", mapping_id)
    expected_version = _version(expected_version)
    require_role(conn, allowed, refusal)
    row = _load(conn, mapping_id, lock=True)
    if row is None:
        raise NotFound(
            "That mapping no longer exists (someone may have deleted it); reload the list"
        )
    _check_version(row, expected_version, clock.time_zone(conn))
    return row


def _after_write(conn: Connection, result: sa.CursorResult, mapping_id: UUID) -> Mapping:
    if result.rowcount == 0:
        # The row was locked and visible a moment ago: only a policy can hide it from the write.
        raise PermissionDenied("Your role does not allow changing this mapping")
    return _mapping(_load(conn, mapping_id))


def update_mapping(
    engine: Engine,
    identity: Identity,
    mapping_id: UUID,
    expected_version: int,
    *,
    circuit_id: str | None = None,
    substation_id: UUID | None = None,
    active: bool | None = None,
) -> Mapping:
    """update_mapping_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return update_mapping_in(
            conn,
            mapping_id,
            expected_version,
            circuit_id=circuit_id,
            substation_id=substation_id,
            active=active,
        )


def update_mapping_in(
    conn: Connection,
    mapping_id: UUID,
    expected_version: int,
    *,
    circuit_id: str | None = None,
    substation_id: UUID | None = None,
    active: bool | None = None,
) -> Mapping:
    """Change circuit, substation and/or active flag of the mapping the user saw at
    `expected_version`; nothing is written if someone else saved it since."""
    substation_id = inputs.optional_uuid("substation_id", substation_id)
    circuit_id = None if circuit_id is None else _clean_circuit(circuit_id)
    active = inputs.boolean("active", active)
    row = _locked_current(
        conn, mapping_id, expected_version, WRITERS, "Your role does not allow changing mappings"
    )
    new_substation = substation_id if substation_id is not None else row.substation_id
    new_circuit = circuit_id if circuit_id is not None else row.circuit_id
    new_active = row.active if active is None else active
    if (new_substation, new_circuit, new_active) == (row.substation_id, row.circuit_id, row.active):
        return _mapping(row)
    substation = row.substation_name
    if (new_substation, new_circuit) != (row.substation_id, row.circuit_id):
        substation = _substation_name(conn, new_substation)
        _check_circuit(conn, new_substation, substation, new_circuit)
    if new_active:
        _check_no_duplicate(conn, row.customer_id, new_substation, new_circuit, row.id)
    result = _write(
        conn,
        "UPDATE public.customer_transformer_matching"
        " SET substation_id = :substation_id, circuit_id = :circuit_id, active = :active"
        " WHERE id = :id AND version = :version",
        {
            "substation_id": new_substation,
            "circuit_id": new_circuit,
            "active": new_active,
            "id": mapping_id,
            "version": expected_version,
        },
        _duplicate(row.customer_name, row.account_number, substation, new_circuit),
    )
    return _after_write(conn, result, mapping_id)


def deactivate_mapping(
    engine: Engine, identity: Identity, mapping_id: UUID, expected_version: int
) -> Mapping:
    """deactivate_mapping_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return deactivate_mapping_in(conn, mapping_id, expected_version)


def deactivate_mapping_in(conn: Connection, mapping_id: UUID, expected_version: int) -> Mapping:
    """Soft delete: the mapping stays for history but no longer produces impacts."""
    _locked_current(
        conn,
        mapping_id,
        expected_version,
        WRITERS,
        "Your role does not allow deactivating mappings",
    )
    result = _write(
        conn,
        "UPDATE public.customer_transformer_matching SET active = false"
        " WHERE id = :id AND version = :version",
        {"id": mapping_id, "version": expected_version},
        None,
    )
    return _after_write(conn, result, mapping_id)


def delete_mapping(
    engine: Engine, identity: Identity, mapping_id: UUID, expected_version: int
) -> None:
    """delete_mapping_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        delete_mapping_in(conn, mapping_id, expected_version)


def delete_mapping_in(conn: Connection, mapping_id: UUID, expected_version: int) -> None:
    """Delete a mapping permanently (admins only; others deactivate)."""
    _locked_current(
        conn,
        mapping_id,
        expected_version,
        DELETERS,
        "Only admins can delete mappings permanently; deactivate it instead",
    )
    result = _write(
        conn,
        "DELETE FROM public.customer_transformer_matching WHERE id = :id AND version = :version",
        {"id": mapping_id, "version": expected_version},
        None,
    )
    if result.rowcount == 0:
        raise PermissionDenied("Only admins can delete mappings permanently; deactivate it instead")
