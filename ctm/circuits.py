"""The circuit registry (public.substation_circuits) as the pages use it: a substation's circuits in
natural order (H2 before H10), the pickers' choices (registered and not retired), add / describe /
limit (admins), retire on a date — refused while mappings still apply then, or ending them on
that date — and delete while nothing uses a circuit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.db import Identity, user_transaction
from ctm.errors import (
    CircuitFull,
    InUse,
    NotFound,
    PermissionDenied,
    ServiceError,
    ValidationError,
    constraint_name,
    sqlstate,
)
from ctm.permissions import require_in
from ctm.roles import Action

ADMINS_ONLY = "Only admins can add, change, retire or delete circuits"
MAX_NAME = 64
MAX_DESCRIPTION = 500


LIMIT_CONSTRAINT = "substation_circuits_max_mapped_customers"
_LIMIT_MESSAGE = re.compile(
    r"circuit (?P<c>.+?) of substation (?P<s>.+?) is at its limit of (?P<n>\d+)"
)


def limit_refusal(exc: BaseException) -> CircuitFull | None:
    """The database's max_mapped_customers refusal as the one domain error the grid, the dialogs
    and the import show (None when `exc` is another error)."""
    if constraint_name(exc) != LIMIT_CONSTRAINT:
        return None
    original = getattr(exc, "orig", exc)
    diag = getattr(original, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(original)).strip()
    match = _LIMIT_MESSAGE.search(text)
    if match is None:
        return CircuitFull(text[:1].upper() + text[1:])
    limit = int(match["n"])
    noun = "customer" if limit == 1 else "customers"
    return CircuitFull(
        f"Circuit {match['s']} / {match['c']} is full: it allows at most {limit} mapped {noun}"
        " (max mapped customers). End a mapping there first, or raise the limit on the"
        " Substations page"
    )


class CircuitInUse(InUse):
    """A retirement refused because mappings still apply on or after the date."""

    def __init__(self, message: str, mappings: int, on: date) -> None:
        super().__init__(message)
        self.mappings = mappings
        self.on = on


def natural_key(text: str) -> tuple:
    """Sort key that puts H2 before H10: digit runs compare as numbers, letters ignore case."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.casefold()) for p in parts if p)


def canonical(name: str | None) -> str:
    """A circuit name as the database stores it: trimmed and upper-case ("h1 " is H1). Text that
    is not text or holds a NUL byte is refused (ValidationError naming it)."""
    return (inputs.text("circuit_id", name) or "").upper()


@dataclass(frozen=True)
class Circuit:
    substation_id: UUID
    circuit_id: str
    description: str | None
    retired_on: date | None
    customers_served: int | None
    max_mapped_customers: int | None
    source: str
    created_at: datetime
    current_mappings: int = 0
    meters: int = 0
    retired: bool = False  # retired_on is today or earlier

    @property
    def label(self) -> str:
        return (
            f"{self.circuit_id} (retired {self.retired_on:%Y-%m-%d})"
            if self.retired
            else self.circuit_id
        )


@dataclass(frozen=True)
class CircuitOption:
    """A circuit as a filter shows it: its name and whether it is retired (shown marked)."""

    circuit_id: str
    retired: bool

    @property
    def label(self) -> str:
        return f"{self.circuit_id} (retired)" if self.retired else self.circuit_id


_TODAY = "public.ctm_local_date(now())"

_LIST_SQL = f"""
    SELECT c.substation_id, c.circuit_id, c.description, c.retired_on, c.customers_served,
           c.max_mapped_customers, c.source, c.created_at,
           (SELECT count(*) FROM public.customer_transformer_matching AS m
            WHERE m.substation_id = c.substation_id AND m.circuit_id = c.circuit_id
              AND public.mapping_applies_on(m.active, m.connected_since, m.disconnected_on,
                                            {_TODAY})) AS current_mappings,
           (SELECT count(*) FROM public.pq_meters AS p
            WHERE p.substation_id = c.substation_id AND p.circuit_id = c.circuit_id) AS meters,
           coalesce(c.retired_on <= {_TODAY}, false) AS retired
    FROM public.substation_circuits AS c
"""


def _circuit(row) -> Circuit:
    return Circuit(**row._mapping)


def list_circuits_in(
    conn: Connection, substation_id: UUID, *, include_retired: bool = True
) -> list[Circuit]:
    """The substation's registered circuits in natural order, with current mappings and meters."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    include_retired = inputs.boolean("include_retired", include_retired) is not False
    sql = _LIST_SQL + " WHERE c.substation_id = :s"
    if not include_retired:
        sql += " AND c.retired_on IS NULL"
    rows = conn.execute(sa.text(sql), {"s": substation_id})
    return sorted((_circuit(r) for r in rows), key=lambda c: natural_key(c.circuit_id))


def list_circuits(
    engine: Engine, identity: Identity, substation_id: UUID, *, include_retired: bool = True
) -> list[Circuit]:
    with user_transaction(engine, identity) as conn:
        return list_circuits_in(conn, substation_id, include_retired=include_retired)


def circuit_names_in(conn: Connection, substation_id: UUID) -> list[str]:
    """What pickers offer: registered circuits that are neither retired nor scheduled to retire
    (the mapping services refuse both), naturally sorted."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    names = conn.scalars(
        sa.text(
            "SELECT circuit_id FROM public.substation_circuits WHERE substation_id = :s"
            " AND retired_on IS NULL AND active"
        ),
        {"s": substation_id},
    )
    return sorted(names, key=natural_key)


def circuit_options_in(conn: Connection, substation_id: UUID) -> list[CircuitOption]:
    """What filters offer: every registered circuit, retired ones marked, naturally sorted."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    rows = conn.execute(
        sa.text(
            "SELECT circuit_id, coalesce(retired_on <= "
            + _TODAY
            + ", false) AS retired FROM public.substation_circuits WHERE substation_id = :s"
        ),
        {"s": substation_id},
    )
    return sorted(
        (CircuitOption(r.circuit_id, r.retired) for r in rows),
        key=lambda o: natural_key(o.circuit_id),
    )


def circuit_options(engine: Engine, identity: Identity, substation_id: UUID) -> list[CircuitOption]:
    with user_transaction(engine, identity) as conn:
        return circuit_options_in(conn, substation_id)


def get_circuit_in(conn: Connection, substation_id: UUID, circuit_id: str) -> Circuit:
    substation_id = inputs.uuid_value("substation_id", substation_id)
    row = conn.execute(
        sa.text(_LIST_SQL + " WHERE c.substation_id = :s AND c.circuit_id = :c"),
        {"s": substation_id, "c": canonical(circuit_id)},
    ).one_or_none()
    if row is None:
        raise NotFound(f"Circuit {canonical(circuit_id)} is not registered on this substation")
    return _circuit(row)


def _substation_name(conn: Connection, substation_id: UUID) -> str:
    name = conn.scalar(
        sa.text("SELECT name FROM public.substations WHERE id = :id"), {"id": substation_id}
    )
    if name is None:
        raise ValidationError("That substation no longer exists; reload the page")
    return name


def _count(value, field: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, (int, float)) else value
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not a whole number") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise ValidationError(f"{field} {value!r} is not a whole number")
        number = int(number)
    if number < 0 or number > 2_000_000_000:
        raise ValidationError(f"{field} {number} must be between 0 and 2,000,000,000")
    return number


def _description(value: str | None) -> str | None:
    text = inputs.text("description", value) or ""
    if len(text) > MAX_DESCRIPTION:
        raise ValidationError(f"Description is longer than {MAX_DESCRIPTION} characters")
    return text or None


def check_new_name(conn: Connection, substation_id: UUID, name: str | None) -> str:
    """The canonical name of a new circuit, or ValidationError when it is blank or differs only by
    case or spaces from one the substation already has (H1 vs "h1 " or "H 1")."""
    circuit = canonical(name)
    if not circuit:
        raise ValidationError("Circuit name is empty: type a name such as H1")
    if len(circuit) > MAX_NAME:
        raise ValidationError(
            f"Circuit name {circuit[:20]!r}… is longer than {MAX_NAME} characters"
        )
    squeezed = re.sub(r"\s+", "", circuit)
    existing = conn.scalars(
        sa.text("SELECT circuit_id FROM public.substation_circuits WHERE substation_id = :s"),
        {"s": substation_id},
    ).all()
    for other in existing:
        if other == circuit:
            substation = _substation_name(conn, substation_id)
            raise ValidationError(
                f"Circuit {name!r} is {other} (case and surrounding spaces do not count),"
                f" which {substation} already has"
            )
        if re.sub(r"\s+", "", other) == squeezed:
            substation = _substation_name(conn, substation_id)
            raise ValidationError(
                f"Circuit {name!r} differs only by spaces from {other}, which {substation}"
                " already has"
            )
    return circuit


def _write(conn: Connection, sql: str, params: dict):
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        state = sqlstate(exc)
        if state == "23505":
            raise ValidationError(
                f"Circuit {params.get('c')} already exists on this substation"
            ) from None
        if state == "42501":
            raise PermissionDenied(ADMINS_ONLY) from None
        if state in ("23503", "23001"):
            raise InUse(
                f"Circuit {params.get('c')} is still used by meters, mappings or events"
            ) from None
        if state in ("23514", "22003", "22P02", "22001"):
            raise ValidationError("The circuit has a value the database does not accept") from None
        raise ServiceError("The circuit could not be saved; nothing was changed") from exc


def add_circuit_in(
    conn: Connection,
    substation_id: UUID,
    name: str | None,
    *,
    description: str | None = None,
    customers_served=None,
    max_mapped_customers=None,
) -> Circuit:
    """Register a circuit on a substation (admins)."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    _substation_name(conn, substation_id)
    circuit = check_new_name(conn, substation_id, name)
    params = {
        "s": substation_id,
        "c": circuit,
        "d": _description(description),
        "served": _count(customers_served, "Customers served"),
        "limit": _count(max_mapped_customers, "Maximum mapped customers"),
    }
    _write(
        conn,
        "INSERT INTO public.substation_circuits (substation_id, circuit_id, description,"
        " customers_served, max_mapped_customers, source)"
        " VALUES (:s, :c, :d, :served, :limit, 'app')",
        params,
    )
    return get_circuit_in(conn, substation_id, circuit)


def add_circuit(
    engine: Engine, identity: Identity, substation_id: UUID, name: str, **fields
) -> Circuit:
    with user_transaction(engine, identity) as conn:
        return add_circuit_in(conn, substation_id, name, **fields)


def update_circuit_in(
    conn: Connection,
    substation_id: UUID,
    circuit_id: str,
    *,
    description: str | None = None,
    customers_served=None,
    max_mapped_customers=None,
) -> Circuit:
    """Describe a circuit and set its customers served and optional mapping limit (admins). A
    limit below the current mappings is refused by the database with a sentence naming it."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    current = get_circuit_in(conn, substation_id, circuit_id)
    limit = _count(max_mapped_customers, "Maximum mapped customers")
    if limit is not None and limit < current.current_mappings:
        raise ValidationError(
            f"Circuit {current.circuit_id} has {current.current_mappings} current mappings:"
            f" a limit of {limit} is below that; end some mappings first"
        )
    params = {
        "s": substation_id,
        "c": current.circuit_id,
        "d": _description(description),
        "served": _count(customers_served, "Customers served"),
        "limit": limit,
    }
    result = _write(
        conn,
        "UPDATE public.substation_circuits SET description = :d, customers_served = :served,"
        " max_mapped_customers = :limit WHERE substation_id = :s AND circuit_id = :c",
        params,
    )
    if result.rowcount == 0:
        raise PermissionDenied(ADMINS_ONLY)
    return get_circuit_in(conn, substation_id, current.circuit_id)


def update_circuit(
    engine: Engine, identity: Identity, substation_id: UUID, circuit_id: str, **fields
) -> Circuit:
    with user_transaction(engine, identity) as conn:
        return update_circuit_in(conn, substation_id, circuit_id, **fields)


# A mapping applies on some day on or after :on when it is open-ended and active, or ends after
# :on (its start is before its end by the table's own check).
_APPLIES_FROM = """
    m.substation_id = :s AND m.circuit_id = :c
    AND ((m.disconnected_on IS NULL AND m.active) OR m.disconnected_on > :on)
"""


def mappings_applying_from_in(
    conn: Connection, substation_id: UUID, circuit_id: str, on: date
) -> int:
    return conn.scalar(
        sa.text(
            f"SELECT count(*) FROM public.customer_transformer_matching AS m WHERE {_APPLIES_FROM}"
        ),
        {"s": substation_id, "c": canonical(circuit_id), "on": on},
    )


def retire_circuit_in(
    conn: Connection,
    substation_id: UUID,
    circuit_id: str,
    on: date | None = None,
    *,
    end_mappings: bool = False,
) -> int:
    """Retire a circuit on a date (default today, admins). Refused (CircuitInUse) while mappings
    still apply on or after that date, unless `end_mappings`: then they end on that date (a
    mapping that would only start on or after it is removed: it never applied). Returns how
    many mappings were ended."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    on = inputs.day("retired_on", on)
    end_mappings = bool(inputs.boolean("end_mappings", end_mappings))
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    circuit = get_circuit_in(conn, substation_id, circuit_id)
    on = on or conn.scalar(sa.text(f"SELECT {_TODAY}"))
    params = {"s": substation_id, "c": circuit.circuit_id, "on": on}
    applying = mappings_applying_from_in(conn, substation_id, circuit.circuit_id, on)
    if applying and not end_mappings:
        noun = "mapping still applies" if applying == 1 else "mappings still apply"
        raise CircuitInUse(
            f"Circuit {circuit.circuit_id} cannot be retired on {on:%Y-%m-%d}: {applying} {noun}"
            f" on or after that date. End them on {on:%Y-%m-%d} and retire it?",
            applying,
            on,
        )
    ended = 0
    if applying:
        try:
            with conn.begin_nested():
                ended += conn.execute(
                    sa.text(
                        "DELETE FROM public.customer_transformer_matching AS m WHERE "
                        + _APPLIES_FROM
                        + " AND m.connected_since >= :on"
                    ),
                    params,
                ).rowcount
                ended += conn.execute(
                    sa.text(
                        "UPDATE public.customer_transformer_matching AS m"
                        " SET disconnected_on = :on, active = false WHERE " + _APPLIES_FROM
                    ),
                    params,
                ).rowcount
        except sa.exc.DBAPIError as exc:
            if sqlstate(exc) == "42501":
                raise PermissionDenied(ADMINS_ONLY) from None
            raise ServiceError(
                f"The mappings of circuit {circuit.circuit_id} could not be ended; nothing was changed"
            ) from exc
    _write(
        conn,
        "UPDATE public.substation_circuits SET retired_on = :on,"
        f" active = (:on > {_TODAY}) WHERE substation_id = :s AND circuit_id = :c",
        params,
    )
    return ended


def retire_circuit(
    engine: Engine,
    identity: Identity,
    substation_id: UUID,
    circuit_id: str,
    on: date | None = None,
    *,
    end_mappings: bool = False,
) -> int:
    with user_transaction(engine, identity) as conn:
        return retire_circuit_in(conn, substation_id, circuit_id, on, end_mappings=end_mappings)


def reinstate_circuit_in(conn: Connection, substation_id: UUID, circuit_id: str) -> None:
    """Undo a retirement (admins): the circuit is offered by the pickers again."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    circuit = get_circuit_in(conn, substation_id, circuit_id)
    _write(
        conn,
        "UPDATE public.substation_circuits SET retired_on = NULL, active = true"
        " WHERE substation_id = :s AND circuit_id = :c",
        {"s": substation_id, "c": circuit.circuit_id},
    )


def reinstate_circuit(
    engine: Engine, identity: Identity, substation_id: UUID, circuit_id: str
) -> None:
    with user_transaction(engine, identity) as conn:
        reinstate_circuit_in(conn, substation_id, circuit_id)


def delete_circuit_in(conn: Connection, substation_id: UUID, circuit_id: str) -> None:
    """Delete a circuit registered by mistake (admins); refused while mappings, meters or events
    name it (retire it instead)."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    circuit = get_circuit_in(conn, substation_id, circuit_id)
    params = {"s": substation_id, "c": circuit.circuit_id}
    row = conn.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM public.customer_transformer_matching"
            "        WHERE substation_id = :s AND circuit_id = :c) AS mappings,"
            " (SELECT count(*) FROM public.pq_meters WHERE substation_id = :s AND circuit_id = :c)"
            "   AS meters,"
            " (SELECT count(*) FROM public.pq_events WHERE substation_id = :s AND circuit_id = :c)"
            "   AS events"
        ),
        params,
    ).one()
    used = [
        f"{n:,} {what if n == 1 else what + 's'}"
        for n, what in ((row.mappings, "mapping"), (row.meters, "meter"), (row.events, "PQ event"))
        if n
    ]
    if used:
        raise InUse(
            f"Circuit {circuit.circuit_id} cannot be deleted: {', '.join(used)} still name it."
            " Retire it instead"
        )
    result = _write(
        conn,
        "DELETE FROM public.substation_circuits WHERE substation_id = :s AND circuit_id = :c",
        params,
    )
    if result.rowcount == 0:
        raise PermissionDenied(ADMINS_ONLY)


def delete_circuit(
    engine: Engine, identity: Identity, substation_id: UUID, circuit_id: str
) -> None:
    with user_transaction(engine, identity) as conn:
        delete_circuit_in(conn, substation_id, circuit_id)
