"""Customer → substation circuit mappings: list, export, circuits of a substation, create, update,
deactivate, delete and statistics. Every call runs as the acting user under row-level security;
the database stamps the editor and bumps the version, this module turns refusals into messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import clock, inputs
from ctm.circuits import circuit_names_in, limit_refusal
from ctm.db import Identity, user_transaction
from ctm.errors import (
    DuplicateMapping,
    NotFound,
    PermissionDenied,
    ServiceError,
    StaleEdit,
    ValidationError,
    constraint_name,
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
    "connected_since",
    "disconnected_on",
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
class CircuitCount:
    """How many mappings of one circuit of one substation match a filter: the unit the list is
    cut into."""

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


@dataclass(frozen=True)
class MappingPage:
    """One page of mappings (columns MAPPING_COLUMNS), how many match in all, and how they split
    over circuits in list order (give them back to list_mappings for another page of the same
    filter to skip counting again)."""

    rows: pd.DataFrame
    total: int
    circuits: tuple[CircuitCount, ...] = ()


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
    connected_since: date | None = None
    disconnected_on: date | None = None


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
           m.connected_since, m.disconnected_on,
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


def _groups(conn: Connection, clauses: list[str], params: dict) -> list[CircuitCount]:
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
    return sorted((CircuitCount(r[0], r[1], r[2], r[3]) for r in rows), key=lambda g: g.order)


# The page: only the circuits that hold the requested rows are read, in the order the groups give
# (natural: Substation 2 before Substation 10, H2 before H10), customers by name within a circuit.
_PAGE_SQL = """
    SELECT m.id, m.version, m.customer_id, c.name AS customer_name, c.account_number,
           c.customer_type, m.substation_id, s.name AS substation_name, m.circuit_id, m.active,
           m.connected_since, m.disconnected_on,
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
    conn: Connection,
    filters: MappingFilter,
    limit: int | None,
    offset: int,
    circuits: tuple[CircuitCount, ...] | None = None,
) -> tuple[pd.DataFrame, int, tuple[CircuitCount, ...]]:
    """The rows [offset, offset + limit) of the ordered list (all from offset when limit is None),
    the number of matching mappings and the per-circuit counts (`circuits` when given)."""
    clauses, params = _where(filters)
    groups = tuple(_groups(conn, clauses, params)) if circuits is None else circuits
    total = sum(g.count for g in groups)
    chosen: list[CircuitCount] = []
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
        return pd.DataFrame(columns=MAPPING_COLUMNS), total, groups
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
    return _frame(conn.execute(sa.text(sql), page_params)), total, groups


def _frame(result: sa.CursorResult) -> pd.DataFrame:
    return pd.DataFrame(result.fetchall(), columns=MAPPING_COLUMNS)


def _one_snapshot(engine: Engine) -> Engine:
    """The engine, its transactions REPEATABLE READ: the per-circuit counts and the page are two
    statements and must see the same rows (a read-only transaction never fails to serialize)."""
    return engine.execution_options(isolation_level="REPEATABLE READ")


def list_mappings_in(
    conn: Connection,
    filters: MappingFilter,
    *,
    limit: int = 200,
    offset: int = 0,
    circuits: tuple[CircuitCount, ...] | None = None,
) -> MappingPage:
    """One page of mappings ordered by substation, circuit (naturally: H2 before H10) and
    customer name, and the exact number of matching mappings (in the caller's unit of work;
    give it a REPEATABLE READ one so counts and page agree). `circuits`: the counts an earlier
    page of the same filter returned, reused instead of counted (a page change a moment later:
    the counting is most of a page's cost at 100,000 mappings)."""
    limit, offset = inputs.page(limit, offset)
    if circuits is not None and not all(isinstance(c, CircuitCount) for c in circuits):
        raise inputs.invalid("circuits", circuits, "must be the circuits of an earlier page")
    rows, total, counted = _rows(conn, filters, limit, offset, circuits)
    return MappingPage(rows=rows, total=total, circuits=counted)


def list_mappings(
    engine: Engine,
    identity: Identity,
    filters: MappingFilter,
    *,
    limit: int = 200,
    offset: int = 0,
    circuits: tuple[CircuitCount, ...] | None = None,
) -> MappingPage:
    """list_mappings_in in a read snapshot of its own, as `identity`."""
    with user_transaction(_one_snapshot(engine), identity) as conn:
        return list_mappings_in(conn, filters, limit=limit, offset=offset, circuits=circuits)


def export_mappings_in(conn: Connection, filters: MappingFilter) -> pd.DataFrame:
    """Every mapping matching the filter, in list order, for download."""
    return _rows(conn, filters, None, 0)[0]


def export_mappings(engine: Engine, identity: Identity, filters: MappingFilter) -> pd.DataFrame:
    """export_mappings_in in a read snapshot of its own, as `identity`."""
    with user_transaction(_one_snapshot(engine), identity) as conn:
        return export_mappings_in(conn, filters)


def _circuits(conn: Connection, substation_id: UUID) -> list[str]:
    """The circuits a mapping may use: registered and not retired (ctm.circuits), naturally
    sorted. The registry, not the events: a new substation's first circuit is known as soon as an
    admin registers it, and a retired one is refused even when an old browser tab offers it."""
    return circuit_names_in(conn, substation_id)


def circuits_of_substation_in(conn: Connection, substation_id: UUID) -> list[str]:
    """Circuits a picker offers for a substation — registered, not retired — sorted naturally."""
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
        connected_since=row.connected_since,
        disconnected_on=row.disconnected_on,
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
        retired_on = conn.scalar(
            sa.text(
                "SELECT retired_on FROM public.substation_circuits"
                " WHERE substation_id = :s AND circuit_id = :c AND retired_on IS NOT NULL"
            ),
            {"s": substation_id, "c": circuit},
        )
        if retired_on is not None:
            raise ValidationError(
                f"Circuit {circuit} of substation {substation} was retired on {retired_on:%Y-%m-%d}:"
                " choose a circuit in service"
            )
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


# Refusals the database makes whoever writes (migrations 20261126000200): their messages are
# written for people (they name the limit or the other mapping).
_DATABASE_RULES = frozenset(
    {
        "substation_circuits_max_mapped_customers",
        "customer_transformer_matching_no_overlap",
        "customer_transformer_matching_no_reactivation",
    }
)


def _first_line(exc: sa.exc.DBAPIError) -> str:
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return message[:1].upper() + message[1:]


def _write(conn: Connection, sql: str, params: dict, duplicate: DuplicateMapping | None):
    """Run one write in a savepoint and turn the driver's refusals into service errors."""
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        code = sqlstate(exc)
        if (full := limit_refusal(exc)) is not None:
            raise full from None
        if constraint_name(exc) in _DATABASE_RULES:
            # The database's own sentence (limit, overlap, re-activation) is the message.
            raise ValidationError(_first_line(exc)) from None
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
        " SET substation_id = :substation_id, circuit_id = :circuit_id, active = :active,"
        # Switching a mapping back on the day it was switched off undoes that: its period
        # goes on. An earlier end stays (the database refuses: a new period is a new row).
        " disconnected_on = CASE WHEN :active AND NOT active"
        " AND disconnected_on = public.ctm_local_date(now()) THEN NULL"
        " ELSE disconnected_on END"
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


# Validity periods, moves, restore and past events -----------------------------------------------
# A mapping applies to an event when public.mapping_applies_on(active, connected_since,
# disconnected_on, the event's local date) holds (DESIGN.md "Mapping validity"). Ending a mapping
# sets disconnected_on, re-activating adds a new row (a new period), a move ends the row and adds
# one on the new circuit, a correction changes the row in place. Past events are never touched
# here: the past-events preview says which would change and apply_past_events does it on request.

EDIT_REFUSAL = "Your role does not allow changing mappings"
PREVIEW_ROWS = 200


@dataclass(frozen=True)
class PastEvents:
    """Past events whose impact list would change for one mapping's customer: 'add' — events the
    mapping reaches that do not list the customer yet; 'remove' — events on `place` that list the
    customer although none of the customer's mappings reaches them any more."""

    mode: str
    mapping_id: UUID
    customer: str
    place: str
    since: date | None
    event_ids: tuple[UUID, ...]
    severe: int
    moderate: int
    minor: int
    events: pd.DataFrame  # the newest PREVIEW_ROWS: id, timestamp, severity, impact_level, ...

    @property
    def count(self) -> int:
        return len(self.event_ids)

    @property
    def message(self) -> str:
        levels = f"{self.severe} severe, {self.moderate} moderate, {self.minor} minor"
        if self.mode == "add":
            since = f"since {self.since.isoformat()}" if self.since else "in the whole history"
            return (
                f"{self.count} past events on {self.place} {since} do not list"
                f" {self.customer} yet — {levels}"
            )
        after = f" after {self.since.isoformat()}" if self.since else ""
        return (
            f"{self.count} events on {self.place}{after} list {self.customer} although the"
            f" mapping no longer covers them — {levels}. Remove them?"
        )


@dataclass(frozen=True)
class MappingChange:
    """The result of a change: the mapping as it is now (a new row after a move or re-activation)
    and the past events the change concerns (empty previews are left out)."""

    mapping: Mapping
    previews: tuple[PastEvents, ...] = ()
    ended: Mapping | None = None  # the row a move or re-activation ended / continued from


def _require_editor(conn: Connection, refusal: str = EDIT_REFUSAL) -> None:
    require_role(conn, WRITERS, refusal)


def local_today_in(conn: Connection) -> date:
    """Today in the stored time zone."""
    return conn.scalar(sa.text("SELECT public.ctm_local_date(now())"))


def _period_write(
    conn: Connection,
    sql: str,
    params: dict,
    what: str,
    duplicate: DuplicateMapping | None = None,
):
    """Run a write that may break a period rule; the database's refusal as a message."""
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        code = sqlstate(exc)
        if (full := limit_refusal(exc)) is not None:
            raise full from None
        orig = getattr(exc, "orig", None)
        diag = getattr(orig, "diag", None)
        message = (getattr(diag, "message_primary", None) or str(orig or exc)).strip()
        if code == "23P01":
            other = None
            detail = getattr(diag, "message_detail", None) or ""
            match = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", detail or message)
            if match:
                found = _load(conn, UUID(match.group(0)))
                if found is not None:
                    other = f"{_describe(found)} ({_period_text(found.connected_since, found.disconnected_on)})"
            raise ValidationError(
                f"{what}: the period overlaps "
                + (other or "another mapping of the same customer and circuit")
                + "; choose other dates"
            ) from None
        if code == "23505" and duplicate is not None:
            raise duplicate from None
        if code == "23505":
            raise DuplicateMapping(
                f"{what}: the customer already has an open mapping on that circuit"
            ) from None
        if code == "23514":
            if "period_order" in (constraint_name(exc) or ""):
                raise ValidationError(
                    f"{what}: 'Connected since' must be before 'Disconnected on'"
                ) from None
            raise ValidationError(f"{what}: {message}") from None
        if code == "42501":
            raise PermissionDenied(EDIT_REFUSAL) from None
        if code == "23503":
            raise ValidationError(
                "The customer or substation does not exist any more; reload and try again"
            ) from None
        raise ServiceError(f"{what}: the change could not be saved; nothing was changed") from exc


def _period_text(since: date | None, until: date | None) -> str:
    start = since.isoformat() if since else "the start"
    return f"from {start} until {until.isoformat()}" if until else f"from {start}, open"


def _check_not_retired(conn: Connection, substation_id: UUID, substation: str, circuit: str):
    row = conn.execute(
        sa.text(
            "SELECT active, retired_on FROM public.substation_circuits"
            " WHERE substation_id = :s AND circuit_id = :c"
        ),
        {"s": substation_id, "c": circuit},
    ).one_or_none()
    if row is not None and (not row.active or row.retired_on is not None):
        when = f" on {row.retired_on.isoformat()}" if row.retired_on else ""
        raise ValidationError(
            f"Circuit {substation} / {circuit} was retired{when}: no mapping can be put on it"
        )


def _check_place(conn: Connection, substation_id: UUID, circuit: str) -> str:
    substation = _substation_name(conn, substation_id)
    _check_circuit(conn, substation_id, substation, circuit)
    _check_not_retired(conn, substation_id, substation, circuit)
    return substation


def _insert_period(
    conn: Connection,
    customer_id: UUID,
    substation_id: UUID,
    circuit: str,
    connected_since: date | None,
    what: str,
    duplicate: DuplicateMapping | None = None,
) -> UUID:
    return _period_write(
        conn,
        "INSERT INTO public.customer_transformer_matching"
        " (customer_id, substation_id, circuit_id, connected_since)"
        " VALUES (:customer_id, :substation_id, :circuit_id, :since) RETURNING id",
        {
            "customer_id": customer_id,
            "substation_id": substation_id,
            "circuit_id": circuit,
            "since": connected_since,
        },
        what,
        duplicate,
    ).scalar_one()


def connect_mapping_in(
    conn: Connection,
    customer_id: UUID,
    substation_id: UUID,
    circuit_id: str,
    connected_since: date | None = None,
) -> MappingChange:
    """Add a mapping valid from `connected_since` (None: as far back as the events go) and the
    preview of the past events it reaches that do not list the customer yet."""
    _require_editor(conn, "Your role does not allow adding mappings")
    circuit = _clean_circuit(circuit_id)
    customer = conn.execute(
        sa.text("SELECT name, account_number FROM public.customers WHERE id = :id"),
        {"id": customer_id},
    ).one_or_none()
    if customer is None:
        raise ValidationError(f"Unknown customer {customer_id}: it does not exist any more")
    substation = _check_place(conn, substation_id, circuit)
    what = f"Mapping {customer.name} ({customer.account_number}) to {substation} / {circuit}"
    duplicate = _duplicate(customer.name, customer.account_number, substation, circuit)
    new_id = _insert_period(
        conn, customer_id, substation_id, circuit, connected_since, what, duplicate
    )
    mapping = _mapping(_load(conn, new_id))
    return MappingChange(mapping, _non_empty(past_events_to_add_in(conn, new_id)))


def connect_mapping(
    engine: Engine,
    identity: Identity,
    customer_id: UUID,
    substation_id: UUID,
    circuit_id: str,
    connected_since: date | None = None,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return connect_mapping_in(conn, customer_id, substation_id, circuit_id, connected_since)


def end_mapping_in(
    conn: Connection, mapping_id: UUID, expected_version: int, disconnected_on: date | None = None
) -> MappingChange:
    """Deactivate: the mapping no longer applies from `disconnected_on` (default today; a later
    day schedules the end and keeps it current until then). A past day comes with the preview of
    the events after it that still list the customer."""
    row = _locked_current(
        conn,
        mapping_id,
        expected_version,
        WRITERS,
        "Your role does not allow deactivating mappings",
    )
    today = local_today_in(conn)
    end = disconnected_on or today
    if not row.active:
        raise ValidationError(f"{_describe(row)} has already ended; nothing to deactivate")
    if row.connected_since is not None and end <= row.connected_since:
        raise ValidationError(
            f"Disconnected on {end.isoformat()} must be after its connected since"
            f" {row.connected_since.isoformat()}"
        )
    _period_write(
        conn,
        "UPDATE public.customer_transformer_matching SET disconnected_on = :end,"
        " active = :still WHERE id = :id AND version = :version",
        {"end": end, "still": end > today, "id": mapping_id, "version": expected_version},
        _describe(row),
    )
    mapping = _mapping(_load(conn, mapping_id))
    previews = _non_empty(past_events_to_remove_in(conn, mapping_id)) if end < today else ()
    return MappingChange(mapping, previews)


def end_mapping(
    engine: Engine,
    identity: Identity,
    mapping_id: UUID,
    expected_version: int,
    disconnected_on: date | None = None,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return end_mapping_in(conn, mapping_id, expected_version, disconnected_on)


def reactivate_mapping_in(
    conn: Connection, mapping_id: UUID, expected_version: int, connected_since: date | None = None
) -> MappingChange:
    """A new period for an ended mapping: a new row from `connected_since` (default today; not
    before the old period's end), the old row stays as history."""
    row = _locked_current(conn, mapping_id, expected_version, WRITERS, EDIT_REFUSAL)
    today = local_today_in(conn)
    if row.active and (row.disconnected_on is None or row.disconnected_on > today):
        raise ValidationError(f"{_describe(row)} is still current; nothing to re-activate")
    since = connected_since or today
    if row.disconnected_on is not None and since < row.disconnected_on:
        raise ValidationError(
            f"Connected since {since.isoformat()} is before the old period's end"
            f" {row.disconnected_on.isoformat()}: periods of one mapping cannot overlap"
        )
    _check_not_retired(conn, row.substation_id, row.substation_name, row.circuit_id)
    duplicate = _duplicate(
        row.customer_name, row.account_number, row.substation_name, row.circuit_id
    )
    new_id = _insert_period(
        conn, row.customer_id, row.substation_id, row.circuit_id, since, _describe(row), duplicate
    )
    mapping = _mapping(_load(conn, new_id))
    return MappingChange(
        mapping, _non_empty(past_events_to_add_in(conn, new_id)), ended=_mapping(row)
    )


def reactivate_mapping(
    engine: Engine,
    identity: Identity,
    mapping_id: UUID,
    expected_version: int,
    connected_since: date | None = None,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return reactivate_mapping_in(conn, mapping_id, expected_version, connected_since)


def move_mapping_in(
    conn: Connection,
    mapping_id: UUID,
    expected_version: int,
    substation_id: UUID,
    circuit_id: str,
    moved_on: date | None = None,
) -> MappingChange:
    """The customer was moved on `moved_on` (default today): the row ends that day and a new row
    on the new circuit starts that day, in this one unit of work."""
    row = _locked_current(conn, mapping_id, expected_version, WRITERS, EDIT_REFUSAL)
    circuit = _clean_circuit(circuit_id)
    if (substation_id, circuit) == (row.substation_id, row.circuit_id):
        raise ValidationError(f"{_describe(row)}: the new circuit is the same as the old one")
    today = local_today_in(conn)
    day = moved_on or today
    if row.connected_since is not None and day <= row.connected_since:
        raise ValidationError(
            f"Moved on {day.isoformat()} must be after its connected since"
            f" {row.connected_since.isoformat()}; if it was always on the new circuit, choose"
            " Correction"
        )
    if row.disconnected_on is not None and day >= row.disconnected_on:
        raise ValidationError(
            f"Moved on {day.isoformat()} is not before the mapping's end"
            f" {row.disconnected_on.isoformat()}"
        )
    substation = _check_place(conn, substation_id, circuit)
    duplicate = _duplicate(row.customer_name, row.account_number, substation, circuit)
    _period_write(
        conn,
        "UPDATE public.customer_transformer_matching SET disconnected_on = :day,"
        " active = :still WHERE id = :id AND version = :version",
        {"day": day, "still": day > today, "id": mapping_id, "version": expected_version},
        _describe(row),
    )
    new_id = _insert_period(
        conn, row.customer_id, substation_id, circuit, day, _describe(row), duplicate
    )
    previews = (
        *_non_empty(past_events_to_add_in(conn, new_id)),
        *_non_empty(past_events_to_remove_in(conn, mapping_id)),
    )
    return MappingChange(
        _mapping(_load(conn, new_id)), previews, ended=_mapping(_load(conn, mapping_id))
    )


def move_mapping(
    engine: Engine,
    identity: Identity,
    mapping_id: UUID,
    expected_version: int,
    substation_id: UUID,
    circuit_id: str,
    moved_on: date | None = None,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return move_mapping_in(
            conn, mapping_id, expected_version, substation_id, circuit_id, moved_on
        )


def correct_mapping_in(
    conn: Connection,
    mapping_id: UUID,
    expected_version: int,
    substation_id: UUID,
    circuit_id: str,
) -> MappingChange:
    """It was always this circuit: the row changes in place. Both previews come back: events to
    add on the new circuit and events of the old circuit that still list the customer."""
    row = _locked_current(conn, mapping_id, expected_version, WRITERS, EDIT_REFUSAL)
    circuit = _clean_circuit(circuit_id)
    if (substation_id, circuit) == (row.substation_id, row.circuit_id):
        return MappingChange(_mapping(row))
    substation = _check_place(conn, substation_id, circuit)
    _period_write(
        conn,
        "UPDATE public.customer_transformer_matching SET substation_id = :s, circuit_id = :c"
        " WHERE id = :id AND version = :version",
        {"s": substation_id, "c": circuit, "id": mapping_id, "version": expected_version},
        _describe(row),
        _duplicate(row.customer_name, row.account_number, substation, circuit),
    )
    previews = (
        *_non_empty(past_events_to_add_in(conn, mapping_id)),
        *_non_empty(
            past_events_to_remove_in(conn, mapping_id, place=(row.substation_id, row.circuit_id))
        ),
    )
    return MappingChange(_mapping(_load(conn, mapping_id)), previews)


def correct_mapping(
    engine: Engine,
    identity: Identity,
    mapping_id: UUID,
    expected_version: int,
    substation_id: UUID,
    circuit_id: str,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return correct_mapping_in(conn, mapping_id, expected_version, substation_id, circuit_id)


def set_connected_since_in(
    conn: Connection, mapping_id: UUID, expected_version: int, connected_since: date | None
) -> MappingChange:
    """Change when the mapping starts; an earlier start comes with the preview of the events it
    now reaches, a later one with those it no longer reaches."""
    row = _locked_current(conn, mapping_id, expected_version, WRITERS, EDIT_REFUSAL)
    if (
        row.disconnected_on is not None
        and connected_since is not None
        and connected_since >= row.disconnected_on
    ):
        raise ValidationError(
            f"Connected since {connected_since.isoformat()} must be before its disconnected"
            f" on {row.disconnected_on.isoformat()}"
        )
    _period_write(
        conn,
        "UPDATE public.customer_transformer_matching SET connected_since = :since"
        " WHERE id = :id AND version = :version",
        {"since": connected_since, "id": mapping_id, "version": expected_version},
        _describe(row),
    )
    previews = (
        *_non_empty(past_events_to_add_in(conn, mapping_id)),
        *_non_empty(past_events_to_remove_in(conn, mapping_id)),
    )
    return MappingChange(_mapping(_load(conn, mapping_id)), previews)


def restore_mapping_in(
    conn: Connection,
    history_id: int,
    expected_version: int | None,
    *,
    how: str | None = None,
    moved_on: date | None = None,
) -> MappingChange:
    """Bring a mapping back to the state a history row recorded, as a new change. A different
    circuit needs `how`: 'correction' (it was always that circuit: in place) or 'moved' (ends the
    row on `moved_on` and starts a new one); a retired circuit is refused.

    `expected_version` None says the caller saw the mapping deleted: it is added again with its
    old id and that state (see _restore_deleted)."""
    history_id = inputs.integer("history_entry", history_id, minimum=1, maximum=2**63 - 1)
    expected_version = None if expected_version is None else _version(expected_version)
    how = inputs.text("how", how)
    if how is not None and how not in ("correction", "moved"):
        raise inputs.invalid("how", how, "must be 'correction' or 'moved'")
    moved_on = inputs.day("moved_on", moved_on)
    _require_editor(conn, "Your role does not allow restoring mappings")
    entry = conn.execute(
        sa.text(
            "SELECT table_name, row_id, action, old_values, new_values FROM public.audit_log"
            " WHERE id = :id"
        ),
        {"id": history_id},
    ).one_or_none()
    if entry is None or entry.table_name != "customer_transformer_matching":
        raise ValidationError(f"History entry {history_id} is not a change of a mapping")
    state = entry.old_values if entry.action == "DELETE" else entry.new_values
    try:
        mapping_id = UUID(entry.row_id)
    except ValueError:
        raise ValidationError(f"History entry {history_id} names no mapping") from None
    target_substation = UUID(state["substation_id"])
    target_circuit = state["circuit_id"]
    target_since = (
        date.fromisoformat(state["connected_since"]) if state.get("connected_since") else None
    )
    target_end = (
        date.fromisoformat(state["disconnected_on"]) if state.get("disconnected_on") else None
    )
    if expected_version is None:
        return _restore_deleted(
            conn,
            mapping_id,
            UUID(state["customer_id"]),
            target_substation,
            target_circuit,
            active=bool(state.get("active")),
            since=target_since,
            until=target_end,
        )
    row = _locked_current(conn, mapping_id, expected_version, WRITERS, EDIT_REFUSAL)
    today = local_today_in(conn)
    target_current = bool(state.get("active")) and (target_end is None or target_end > today)
    current_now = bool(row.active) and (row.disconnected_on is None or row.disconnected_on > today)
    changes: list[MappingChange] = []
    version = expected_version
    if (target_substation, target_circuit) != (row.substation_id, row.circuit_id):
        if how not in ("correction", "moved"):
            raise ValidationError(
                f"The earlier state is on another circuit ({target_circuit}): say whether it is a"
                " correction (it was always that circuit) or a move (on which date)"
            )
        if how == "moved":
            if not current_now:
                raise ValidationError(f"{_describe(row)} has ended: re-activate it instead")
            moved = move_mapping_in(
                conn, mapping_id, version, target_substation, target_circuit, moved_on
            )
            return moved
        changes.append(
            correct_mapping_in(conn, mapping_id, version, target_substation, target_circuit)
        )
        version = _load(conn, mapping_id).version
    else:
        _check_not_retired(conn, row.substation_id, row.substation_name, row.circuit_id)
    if target_current and not current_now:
        changes.append(reactivate_mapping_in(conn, mapping_id, version, None))
    elif not target_current and current_now:
        end = target_end if target_end and target_end <= today else None
        if row.connected_since is not None and end is not None and end <= row.connected_since:
            end = None
        changes.append(end_mapping_in(conn, mapping_id, version, end))
    elif target_since != row.connected_since and current_now:
        changes.append(set_connected_since_in(conn, mapping_id, version, target_since))
    if not changes:
        return MappingChange(_mapping(_load(conn, mapping_id)))
    previews = tuple(p for change in changes for p in change.previews)
    return MappingChange(changes[-1].mapping, previews)


def _restore_deleted(
    conn: Connection,
    mapping_id: UUID,
    customer_id: UUID,
    substation_id: UUID,
    circuit: str,
    *,
    active: bool,
    since: date | None,
    until: date | None,
) -> MappingChange:
    """Add a deleted mapping again under its old id (so its history stays one story) with the
    state recorded, as a new change (an INSERT in the history, by the restoring user). Operators
    may do this although only admins delete: it is an insert, which their role and the table's
    policy allow. The place must still exist and be in service; the database's period rules
    (overlap, one open mapping per circuit, the circuit's limit) refuse as for any new mapping.
    StaleEdit when the mapping exists again (someone restored it meanwhile)."""
    stale = StaleEdit(
        "That mapping exists again (someone restored it after you loaded the page);"
        " reload and try again"
    )
    if conn.scalar(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM public.customer_transformer_matching WHERE id = :id)"
        ),
        {"id": mapping_id},
    ):
        raise stale
    customer = conn.execute(
        sa.text("SELECT name, account_number FROM public.customers WHERE id = :id"),
        {"id": customer_id},
    ).one_or_none()
    if customer is None:
        raise ValidationError(
            "The customer of this mapping was deleted too: add the customer again, then map it"
        )
    substation = _check_place(conn, substation_id, circuit)
    what = f"Restoring the mapping of {customer.name} ({customer.account_number}) to {substation} / {circuit}"
    restored = _period_write(
        conn,
        "INSERT INTO public.customer_transformer_matching (id, customer_id, substation_id,"
        " circuit_id, active, connected_since, disconnected_on)"
        " VALUES (:id, :customer_id, :substation_id, :circuit_id, :active, :since, :until)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        {
            "id": mapping_id,
            "customer_id": customer_id,
            "substation_id": substation_id,
            "circuit_id": circuit,
            "active": active,
            "since": since,
            "until": until,
        },
        what,
        _duplicate(customer.name, customer.account_number, substation, circuit),
    ).scalar_one_or_none()
    if restored is None:
        raise stale
    return MappingChange(
        _mapping(_load(conn, mapping_id)), _non_empty(past_events_to_add_in(conn, mapping_id))
    )


def restore_mapping(
    engine: Engine,
    identity: Identity,
    history_id: int,
    expected_version: int | None,
    *,
    how: str | None = None,
    moved_on: date | None = None,
) -> MappingChange:
    with user_transaction(engine, identity) as conn:
        return restore_mapping_in(conn, history_id, expected_version, how=how, moved_on=moved_on)


def current_version_in(conn: Connection, mapping_id: UUID) -> Mapping:
    row = _load(conn, mapping_id)
    if row is None:
        raise NotFound("That mapping no longer exists (someone may have deleted it)")
    return _mapping(row)


def get_mapping_in(conn: Connection, mapping_id: UUID) -> Mapping:
    """The mapping as it is now (NotFound when gone or not visible)."""
    return current_version_in(conn, inputs.uuid_value("mapping_id", mapping_id))


def get_mapping(engine: Engine, identity: Identity, mapping_id: UUID) -> Mapping:
    with user_transaction(engine, identity) as conn:
        return current_version_in(conn, mapping_id)


# Past events --------------------------------------------------------------------------------------

# Events the mapping reaches (its circuit, its validity on the event's local date) that do not
# list its customer yet. The mapping's values come as parameters and the zone is read once per
# statement and passed in (`("timestamp" AT TIME ZONE zone)::date` is ctm_local_date without a
# function call per row, which also lets mapping_applies_on be inlined), so
# the events' (substation_id, circuit_id, timestamp) index and the impacts' primary key
# (event_id, customer_id) serve it: 5,000 events cost 5,000 index probes, not a scan.
_TO_ADD_SQL = """
    SELECT e.id, e."timestamp", e.severity, e.duration_ms,
           public.impact_level_for_severity(e.severity) AS impact_level
    FROM public.pq_events AS e
    WHERE e.substation_id = :substation_id AND e.circuit_id = :circuit_id
      AND public.mapping_applies_on(:active, CAST(:since AS date), CAST(:until AS date),
                                    (e."timestamp" AT TIME ZONE CAST(:zone AS text))::date)
      AND NOT EXISTS (SELECT 1 FROM public.event_customer_impact AS i
                      WHERE i.event_id = e.id AND i.customer_id = :customer_id)
    ORDER BY e."timestamp" DESC, e.id
"""

# Events on a place that list the customer while no mapping of the customer on that place
# applies on the event's date.
_TO_REMOVE_SQL = """
    SELECT e.id, e."timestamp", e.severity, e.duration_ms, i.impact_level
    FROM public.pq_events AS e
    JOIN public.event_customer_impact AS i
      ON i.event_id = e.id AND i.customer_id = :customer_id
    WHERE e.substation_id = :substation_id AND e.circuit_id = :circuit_id
      AND NOT EXISTS (
        SELECT 1 FROM public.customer_transformer_matching AS o
        WHERE o.customer_id = :customer_id AND o.substation_id = :substation_id
          AND o.circuit_id = :circuit_id
          AND public.mapping_applies_on(o.active, o.connected_since, o.disconnected_on,
                                        (e."timestamp" AT TIME ZONE CAST(:zone AS text))::date))
    ORDER BY e."timestamp" DESC, e.id
"""


def _zone_name(conn: Connection) -> str:
    """The stored time zone, read once per preview (public.ctm_time_zone())."""
    return conn.scalar(sa.text("SELECT public.ctm_time_zone()"))


_EVENT_COLUMNS = ["id", "timestamp", "severity", "duration_ms", "impact_level"]


def _preview(
    conn: Connection,
    mode: str,
    row: sa.Row,
    place: str,
    since: date | None,
    rows: list[sa.Row],
) -> PastEvents:
    levels = {"severe": 0, "moderate": 0, "minor": 0}
    for r in rows:
        levels[r.impact_level] = levels.get(r.impact_level, 0) + 1
    frame = pd.DataFrame([tuple(r) for r in rows[:PREVIEW_ROWS]], columns=_EVENT_COLUMNS)
    return PastEvents(
        mode=mode,
        mapping_id=row.id,
        customer=f"{row.customer_name} ({row.account_number})",
        place=place,
        since=since,
        event_ids=tuple(r.id for r in rows),
        severe=levels["severe"],
        moderate=levels["moderate"],
        minor=levels["minor"],
        events=frame,
    )


def past_events_to_add_in(conn: Connection, mapping_id: UUID) -> PastEvents:
    row = _load(conn, mapping_id)
    if row is None:
        raise NotFound("That mapping no longer exists (someone may have deleted it)")
    rows = conn.execute(
        sa.text(_TO_ADD_SQL),
        {
            "substation_id": row.substation_id,
            "circuit_id": row.circuit_id,
            "customer_id": row.customer_id,
            "active": row.active,
            "since": row.connected_since,
            "until": row.disconnected_on,
            "zone": _zone_name(conn),
        },
    ).fetchall()
    place = f"{row.substation_name} / {row.circuit_id}"
    return _preview(conn, "add", row, place, row.connected_since, rows)


def past_events_to_remove_in(
    conn: Connection, mapping_id: UUID, place: tuple[UUID, str] | None = None
) -> PastEvents:
    row = _load(conn, mapping_id)
    if row is None:
        raise NotFound("That mapping no longer exists (someone may have deleted it)")
    substation_id, circuit = place or (row.substation_id, row.circuit_id)
    substation = (
        row.substation_name
        if substation_id == row.substation_id
        else _substation_name(conn, substation_id)
    )
    rows = conn.execute(
        sa.text(_TO_REMOVE_SQL),
        {
            "customer_id": row.customer_id,
            "substation_id": substation_id,
            "circuit_id": circuit,
            "zone": _zone_name(conn),
        },
    ).fetchall()
    since = row.disconnected_on if place is None else None
    return _preview(conn, "remove", row, f"{substation} / {circuit}", since, rows)


def past_events(
    engine: Engine, identity: Identity, mapping_id: UUID, mode: str = "add"
) -> PastEvents:
    """past_events_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return past_events_in(conn, mapping_id, mode)


def past_events_in(conn: Connection, mapping_id: UUID, mode: str = "add") -> PastEvents:
    """The past-events preview of a mapping: 'add' or 'remove' (on its own circuit)."""
    mapping_id = inputs.uuid_value("mapping_id", mapping_id)
    if mode == "add":
        return past_events_to_add_in(conn, mapping_id)
    if mode == "remove":
        return past_events_to_remove_in(conn, mapping_id)
    raise ValidationError(f"Mode {mode!r}: use add or remove")


def _non_empty(preview: PastEvents) -> tuple[PastEvents, ...]:
    return (preview,) if preview.count else ()


def apply_past_events_in(conn: Connection, preview: PastEvents) -> int:
    """Add (or remove) exactly the previewed impacts through public.apply_mapping_impacts, which
    checks the role and that each event is one the mapping reaches (or no longer reaches)."""
    _require_editor(conn, "Your role does not allow changing past events' impacts")
    try:
        with conn.begin_nested():
            return int(
                conn.scalar(
                    sa.text(
                        "SELECT public.apply_mapping_impacts(:m, CAST(:events AS uuid[]), :mode)"
                    ),
                    {
                        "m": preview.mapping_id,
                        "events": list(preview.event_ids),
                        "mode": preview.mode,
                    },
                )
            )
    except sa.exc.DBAPIError as exc:
        code = sqlstate(exc)
        diag = getattr(getattr(exc, "orig", None), "diag", None)
        message = (getattr(diag, "message_primary", None) or "").strip()
        if code == "42501":
            raise PermissionDenied(
                "Your role does not allow changing past events' impacts"
            ) from None
        if code in ("22023", "P0002"):
            raise StaleEdit(
                f"The preview is out of date ({message}); nothing was changed — look again"
            ) from None
        raise ServiceError("The past events could not be changed; nothing was changed") from exc


def apply_past_events(engine: Engine, identity: Identity, preview: PastEvents) -> int:
    with user_transaction(engine, identity) as conn:
        return apply_past_events_in(conn, preview)
