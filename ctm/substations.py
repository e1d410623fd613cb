"""Substations as reference data: search, add, edit and delete (admins), with the checks a person
needs — a unique upper-case code, coordinates in range, and no delete while anything uses it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.db import Identity, user_transaction
from ctm.errors import InUse, NotFound, PermissionDenied, ServiceError, ValidationError, sqlstate
from ctm.permissions import require_in
from ctm.reference import like_pattern
from ctm.roles import Action

STATUSES: tuple[str, ...] = ("operational", "maintenance", "offline")
VOLTAGE_LEVELS: tuple[str, ...] = ("400kV", "132kV", "33kV", "22kV", "11kV", "380V")
MAX_TEXT = 200
ADMINS_ONLY = "Only admins can add, change or delete substations"


@dataclass(frozen=True)
class SubstationRecord:
    """A substation with how many circuits and current mappings it has."""

    id: UUID
    name: str
    code: str | None
    voltage_level: str | None
    region: str | None
    status: str
    latitude: Decimal | None
    longitude: Decimal | None
    created_at: datetime
    circuits: int = 0
    mappings: int = 0


@dataclass(frozen=True)
class SubstationInput:
    """What the add/edit form sends; the service cleans and checks every field."""

    name: str
    code: str | None = None
    voltage_level: str | None = None
    region: str | None = None
    status: str = "operational"
    latitude: Decimal | float | str | None = None
    longitude: Decimal | float | str | None = None


@dataclass(frozen=True)
class SubstationUsage:
    """What still refers to a substation (a delete is refused while any is non-zero)."""

    circuits: int
    meters: int
    mappings: int
    events: int

    def describe(self) -> str:
        parts = [
            (self.circuits, "circuit", "circuits"),
            (self.meters, "meter", "meters"),
            (self.mappings, "mapping", "mappings"),
            (self.events, "PQ event", "PQ events"),
        ]
        used = [f"{n:,} {one if n == 1 else many}" for n, one, many in parts if n]
        if not used:
            return "nothing"
        return ", ".join(used[:-1]) + (" and " if len(used) > 1 else "") + used[-1]

    @property
    def in_use(self) -> bool:
        return bool(self.circuits or self.meters or self.mappings or self.events)


def _optional_text(value: str | None, field: str) -> str | None:
    text = inputs.text(field, value) or ""
    if len(text) > MAX_TEXT:
        raise ValidationError(f"{field} is longer than {MAX_TEXT} characters")
    return text or None


def _coordinate(value, field: str, limit: int) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{field} {value!r} is not a number") from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise ValidationError(
            f"{field} {value} is out of range: it must be between -{limit} and {limit}"
        )
    return round(number, 6)


def clean_substation(data: SubstationInput) -> dict:
    """The row values for `data`, or ValidationError naming the field and value at fault."""
    name = inputs.text("name", data.name) or ""
    if not name:
        raise ValidationError("Name is empty: every substation needs a name")
    if len(name) > MAX_TEXT:
        raise ValidationError(f"Name is longer than {MAX_TEXT} characters")
    code = _optional_text(data.code, "Code")
    if code is not None:
        code = code.upper()
        if any(ch.isspace() for ch in code):
            raise ValidationError(f"Code {code!r} contains spaces; use letters, digits or dashes")
    status = (inputs.text("status", data.status) or "operational").lower()
    if status not in STATUSES:
        raise ValidationError(f"Status {data.status!r} is not one of {', '.join(STATUSES)}")
    return {
        "name": name,
        "code": code,
        "voltage_level": _optional_text(data.voltage_level, "Voltage level"),
        "region": _optional_text(data.region, "Region"),
        "status": status,
        "latitude": _coordinate(data.latitude, "Latitude", 90),
        "longitude": _coordinate(data.longitude, "Longitude", 180),
    }


def _has_table(conn: Connection, name: str) -> bool:
    return conn.scalar(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name})


_RECORD_SQL = """
    SELECT s.id, s.name, s.code, s.voltage_level, s.region, s.status, s.latitude, s.longitude,
           s.created_at, {circuits} AS circuits,
           (SELECT count(*) FROM public.customer_transformer_matching AS m
            WHERE m.substation_id = s.id AND public.mapping_applies_on(m.active,
              m.connected_since, m.disconnected_on, public.ctm_local_date(now()))) AS mappings
    FROM public.substations AS s
"""


def _record_sql(conn: Connection) -> str:
    circuits = (
        "(SELECT count(*) FROM public.substation_circuits AS sc"
        " WHERE sc.substation_id = s.id AND sc.retired_on IS NULL)"
        if _has_table(conn, "public.substation_circuits")
        else "0"
    )
    return _RECORD_SQL.format(circuits=circuits)


def _record(row) -> SubstationRecord:
    return SubstationRecord(
        id=row.id,
        name=row.name,
        code=row.code,
        voltage_level=row.voltage_level,
        region=row.region,
        status=row.status,
        latitude=row.latitude,
        longitude=row.longitude,
        created_at=row.created_at,
        circuits=int(row.circuits),
        mappings=int(row.mappings),
    )


def search_substations_in(conn: Connection, text: str | None = None) -> list[SubstationRecord]:
    """Substations whose name, code or region contains `text` (any case), by name."""
    text = inputs.text("text", text)
    sql = _record_sql(conn)
    params: dict = {}
    if text:
        sql += " WHERE s.name ILIKE :p OR s.code ILIKE :p OR s.region ILIKE :p"
        params["p"] = like_pattern(text)
    sql += " ORDER BY s.name, s.code, s.id"
    return [_record(r) for r in conn.execute(sa.text(sql), params)]


def search_substations(
    engine: Engine, identity: Identity, text: str | None = None
) -> list[SubstationRecord]:
    with user_transaction(engine, identity) as conn:
        return search_substations_in(conn, text)


def get_substation_in(conn: Connection, substation_id: UUID) -> SubstationRecord:
    substation_id = inputs.uuid_value("substation_id", substation_id)
    row = conn.execute(
        sa.text(_record_sql(conn) + " WHERE s.id = :id"), {"id": substation_id}
    ).one_or_none()
    if row is None:
        raise NotFound("That substation no longer exists; reload the list")
    return _record(row)


def get_substation(engine: Engine, identity: Identity, substation_id: UUID) -> SubstationRecord:
    with user_transaction(engine, identity) as conn:
        return get_substation_in(conn, substation_id)


def _check_code_free(conn: Connection, code: str | None, except_id: UUID | None) -> None:
    if code is None:
        return
    other = conn.execute(
        sa.text(
            "SELECT name, code FROM public.substations"
            " WHERE upper(code) = :code AND id IS DISTINCT FROM :id LIMIT 1"
        ),
        {"code": code, "id": except_id},
    ).first()
    if other is not None:
        raise ValidationError(f"Code {code} is already used by substation {other.name}")


def _write(conn: Connection, sql: str, params: dict, code: str | None):
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        state = sqlstate(exc)
        if state == "23505":
            raise ValidationError(f"Code {code} is already used by another substation") from None
        if state == "42501":
            raise PermissionDenied(ADMINS_ONLY) from None
        if state in ("23514", "22003", "22P02"):
            raise ValidationError(
                "The substation has a value the database does not accept"
            ) from None
        raise ServiceError("The substation could not be saved; nothing was changed") from exc


def add_substation_in(conn: Connection, data: SubstationInput) -> SubstationRecord:
    """Add a substation (admins); ValidationError for a bad or duplicate value."""
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    values = clean_substation(data)
    _check_code_free(conn, values["code"], None)
    new_id = _write(
        conn,
        "INSERT INTO public.substations (name, code, voltage_level, region, status, latitude,"
        " longitude) VALUES (:name, :code, :voltage_level, :region, :status, :latitude,"
        " :longitude) RETURNING id",
        values,
        values["code"],
    ).scalar_one()
    return get_substation_in(conn, new_id)


def add_substation(engine: Engine, identity: Identity, data: SubstationInput) -> SubstationRecord:
    with user_transaction(engine, identity) as conn:
        return add_substation_in(conn, data)


def update_substation_in(
    conn: Connection, substation_id: UUID, data: SubstationInput
) -> SubstationRecord:
    """Change every field of a substation (admins)."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    values = clean_substation(data)
    exists = conn.scalar(
        sa.text("SELECT id FROM public.substations WHERE id = :id FOR UPDATE"),
        {"id": substation_id},
    )
    if exists is None:
        raise NotFound("That substation no longer exists; reload the list")
    _check_code_free(conn, values["code"], substation_id)
    result = _write(
        conn,
        "UPDATE public.substations SET name = :name, code = :code,"
        " voltage_level = :voltage_level, region = :region, status = :status,"
        " latitude = :latitude, longitude = :longitude WHERE id = :id",
        {**values, "id": substation_id},
        values["code"],
    )
    if result.rowcount == 0:
        raise PermissionDenied(ADMINS_ONLY)
    return get_substation_in(conn, substation_id)


def update_substation(
    engine: Engine, identity: Identity, substation_id: UUID, data: SubstationInput
) -> SubstationRecord:
    with user_transaction(engine, identity) as conn:
        return update_substation_in(conn, substation_id, data)


def substation_usage_in(conn: Connection, substation_id: UUID) -> SubstationUsage:
    """How many circuits, meters, mappings (any period) and events refer to the substation."""
    circuits = meters = 0
    if _has_table(conn, "public.substation_circuits"):
        circuits = conn.scalar(
            sa.text("SELECT count(*) FROM public.substation_circuits WHERE substation_id = :id"),
            {"id": substation_id},
        )
    if _has_table(conn, "public.pq_meters"):
        meters = conn.scalar(
            sa.text("SELECT count(*) FROM public.pq_meters WHERE substation_id = :id"),
            {"id": substation_id},
        )
    row = conn.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM public.customer_transformer_matching"
            "        WHERE substation_id = :id) AS mappings,"
            " (SELECT count(*) FROM public.pq_events WHERE substation_id = :id) AS events"
        ),
        {"id": substation_id},
    ).one()
    return SubstationUsage(int(circuits), int(meters), int(row.mappings), int(row.events))


def delete_substation_in(conn: Connection, substation_id: UUID) -> None:
    """Delete a substation (admins) that nothing uses; InUse says how many of each still do."""
    substation_id = inputs.uuid_value("substation_id", substation_id)
    require_in(conn, Action.DELETE_SUBSTATIONS, "Only admins can delete substations")
    name = conn.scalar(
        sa.text("SELECT name FROM public.substations WHERE id = :id FOR UPDATE"),
        {"id": substation_id},
    )
    if name is None:
        raise NotFound("That substation no longer exists; reload the list")
    usage = substation_usage_in(conn, substation_id)
    if usage.in_use:
        raise InUse(
            f"Substation {name} cannot be deleted: {usage.describe()} still use it."
            " Delete or move them first (events are never deleted with a substation)"
        )
    try:
        with conn.begin_nested():
            deleted = conn.execute(
                sa.text("DELETE FROM public.substations WHERE id = :id"), {"id": substation_id}
            ).rowcount
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) in ("23503", "23001"):
            raise InUse(f"Substation {name} is still referred to; it cannot be deleted") from None
        if sqlstate(exc) == "42501":
            raise PermissionDenied("Only admins can delete substations") from None
        raise ServiceError(f"Substation {name} could not be deleted") from exc
    if deleted == 0:
        raise PermissionDenied("Only admins can delete substations")


def delete_substation(engine: Engine, identity: Identity, substation_id: UUID) -> None:
    with user_transaction(engine, identity) as conn:
        delete_substation_in(conn, substation_id)
