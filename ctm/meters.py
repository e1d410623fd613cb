"""PQ meters (public.pq_meters) as reference data: list, add and edit (admins), each on a registered
circuit of its own substation, and "place the earlier events of this meter": the events that named
the meter before it was registered take the place they lack from it (an UPDATE, so their impacts
follow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.circuits import canonical, circuit_names_in
from ctm.db import Identity, user_transaction
from ctm.errors import NotFound, PermissionDenied, ServiceError, ValidationError, sqlstate
from ctm.permissions import require_in
from ctm.reference import like_pattern
from ctm.roles import Action

ADMINS_ONLY = "Only admins can add or change meters"
MAX_TEXT = 200
METER_COLUMNS = [
    "id",
    "meter_id",
    "substation_id",
    "substation_name",
    "circuit_id",
    "voltage_level",
    "site_id",
    "location",
    "active",
    "updated_at",
]


@dataclass(frozen=True)
class MeterInput:
    meter_id: str
    substation_id: UUID | None
    circuit_id: str | None = None
    voltage_level: str | None = None
    site_id: str | None = None
    location: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Meter:
    id: UUID
    meter_id: str
    substation_id: UUID | None
    substation_name: str | None
    circuit_id: str | None
    voltage_level: str | None
    site_id: str | None
    location: str | None
    active: bool
    updated_at: datetime


_SELECT = """
    SELECT p.id, p.meter_id, p.substation_id, s.name AS substation_name, p.circuit_id,
           p.voltage_level, p.site_id, p.location, p.active, p.updated_at
    FROM public.pq_meters AS p
    LEFT JOIN public.substations AS s ON s.id = p.substation_id
"""


def _text(value: str | None, field: str) -> str | None:
    text = inputs.text(field, value) or ""
    if len(text) > MAX_TEXT:
        raise ValidationError(f"{field} is longer than {MAX_TEXT} characters")
    return text or None


def clean_meter_in(conn: Connection, data: MeterInput) -> dict:
    """Row values, or ValidationError: a name is required and the circuit must be a registered,
    not retired circuit of the meter's own substation (circuit names repeat across substations)."""
    name = _text(data.meter_id, "Meter name")
    if not name:
        raise ValidationError(
            "Meter name is empty: type the monitor's name, e.g. PQMS_11KV.APA0042_H3"
        )
    if data.substation_id is None:
        raise ValidationError(f"Meter {name}: choose its substation")
    substation_id = inputs.uuid_value("substation_id", data.substation_id)
    substation = conn.scalar(
        sa.text("SELECT name FROM public.substations WHERE id = :id"), {"id": substation_id}
    )
    if substation is None:
        raise ValidationError(f"Meter {name}: that substation no longer exists; reload the page")
    circuit = canonical(data.circuit_id) or None
    if circuit is not None:
        known = circuit_names_in(conn, substation_id)
        if circuit not in known:
            listed = ", ".join(known) if known else "none registered yet"
            raise ValidationError(
                f"Meter {name}: circuit {circuit} is not a circuit of {substation}"
                f" (its circuits: {listed})"
            )
    return {
        "meter_id": name,
        "substation_id": substation_id,
        "circuit_id": circuit,
        "voltage_level": _text(data.voltage_level, "Voltage level"),
        "site_id": _text(data.site_id, "Site id"),
        "location": _text(data.location, "Location"),
        "active": inputs.boolean("active", data.active) is not False,
    }


def list_meters_in(
    conn: Connection, *, substation_id: UUID | None = None, text: str | None = None
) -> pd.DataFrame:
    """Meters by name, optionally of one substation and/or matching a text (name, site, location)."""
    substation_id = inputs.optional_uuid("substation_id", substation_id)
    text = inputs.text("text", text)
    clauses, params = [], {}
    if substation_id is not None:
        clauses.append("p.substation_id = :s")
        params["s"] = substation_id
    if text:
        clauses.append("(p.meter_id ILIKE :p OR p.site_id ILIKE :p OR p.location ILIKE :p)")
        params["p"] = like_pattern(text)
    sql = _SELECT + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY p.meter_id"
    return pd.DataFrame(conn.execute(sa.text(sql), params).fetchall(), columns=METER_COLUMNS)


def list_meters(
    engine: Engine,
    identity: Identity,
    *,
    substation_id: UUID | None = None,
    text: str | None = None,
) -> pd.DataFrame:
    with user_transaction(engine, identity) as conn:
        return list_meters_in(conn, substation_id=substation_id, text=text)


def get_meter_in(conn: Connection, meter_uuid: UUID) -> Meter:
    meter_uuid = inputs.uuid_value("meter", meter_uuid)
    row = conn.execute(sa.text(_SELECT + " WHERE p.id = :id"), {"id": meter_uuid}).one_or_none()
    if row is None:
        raise NotFound("That meter no longer exists; reload the list")
    return Meter(**row._mapping)


def get_meter(engine: Engine, identity: Identity, meter_uuid: UUID) -> Meter:
    with user_transaction(engine, identity) as conn:
        return get_meter_in(conn, meter_uuid)


def _write(conn: Connection, sql: str, params: dict):
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        state = sqlstate(exc)
        if state == "23505":
            raise ValidationError(f"Meter {params['meter_id']} is already registered") from None
        if state == "42501":
            raise PermissionDenied(ADMINS_ONLY) from None
        if state in ("23503", "23514", "22001"):
            raise ValidationError(
                f"Meter {params['meter_id']}: the database does not accept its place or values"
            ) from None
        raise ServiceError("The meter could not be saved; nothing was changed") from exc


def _check_name_free(conn: Connection, name: str, except_id: UUID | None) -> None:
    taken = conn.scalar(
        sa.text(
            "SELECT meter_id FROM public.pq_meters WHERE lower(meter_id) = lower(:m)"
            " AND id IS DISTINCT FROM :id LIMIT 1"
        ),
        {"m": name, "id": except_id},
    )
    if taken is not None:
        raise ValidationError(f"Meter {name} is already registered (as {taken})")


def add_meter_in(conn: Connection, data: MeterInput) -> Meter:
    """Register a meter (admins). Its earlier events are not moved: see place_meter_events_in."""
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    values = clean_meter_in(conn, data)
    _check_name_free(conn, values["meter_id"], None)
    new_id = _write(
        conn,
        "INSERT INTO public.pq_meters (meter_id, substation_id, circuit_id, voltage_level,"
        " site_id, location, active) VALUES (:meter_id, :substation_id, :circuit_id,"
        " :voltage_level, :site_id, :location, :active) RETURNING id",
        values,
    ).scalar_one()
    return get_meter_in(conn, new_id)


def add_meter(engine: Engine, identity: Identity, data: MeterInput) -> Meter:
    with user_transaction(engine, identity) as conn:
        return add_meter_in(conn, data)


def update_meter_in(conn: Connection, meter_uuid: UUID, data: MeterInput) -> Meter:
    meter_uuid = inputs.uuid_value("meter", meter_uuid)
    require_in(conn, Action.EDIT_SUBSTATIONS, ADMINS_ONLY)
    get_meter_in(conn, meter_uuid)
    values = clean_meter_in(conn, data)
    _check_name_free(conn, values["meter_id"], meter_uuid)
    result = _write(
        conn,
        "UPDATE public.pq_meters SET meter_id = :meter_id, substation_id = :substation_id,"
        " circuit_id = :circuit_id, voltage_level = :voltage_level, site_id = :site_id,"
        " location = :location, active = :active WHERE id = :id",
        {**values, "id": meter_uuid},
    )
    if result.rowcount == 0:
        raise PermissionDenied(ADMINS_ONLY)
    return get_meter_in(conn, meter_uuid)


def update_meter(engine: Engine, identity: Identity, meter_uuid: UUID, data: MeterInput) -> Meter:
    with user_transaction(engine, identity) as conn:
        return update_meter_in(conn, meter_uuid, data)


# The events of a meter that lack what the meter knows, by the same rule the database applies on
# insert: no substation (and no circuit) → both from the meter; the meter's substation and no
# circuit → the meter's circuit. A place the event gives is never overwritten.
_UNPLACED = """
    FROM public.pq_events AS e, public.pq_meters AS p
    WHERE p.id = :id AND e.meter_id = p.meter_id AND p.substation_id IS NOT NULL
      AND ((e.substation_id IS NULL AND e.circuit_id IS NULL)
           OR (e.substation_id = p.substation_id AND e.circuit_id IS NULL
               AND p.circuit_id IS NOT NULL))
"""


def unplaced_events_in(conn: Connection, meter_uuid: UUID) -> int:
    """How many earlier events of the meter would take their place from it."""
    meter_uuid = inputs.uuid_value("meter", meter_uuid)
    return conn.scalar(sa.text("SELECT count(*) " + _UNPLACED), {"id": meter_uuid})


def unplaced_events(engine: Engine, identity: Identity, meter_uuid: UUID) -> int:
    with user_transaction(engine, identity) as conn:
        return unplaced_events_in(conn, meter_uuid)


def place_meter_events_in(conn: Connection, meter_uuid: UUID) -> int:
    """Give the meter's earlier events the place they lack (admins); their impacts follow through
    the database's update trigger. Returns how many events were placed."""
    meter_uuid = inputs.uuid_value("meter", meter_uuid)
    require_in(conn, Action.EDIT_SUBSTATIONS, "Only admins can place a meter's events")
    try:
        with conn.begin_nested():
            return conn.execute(
                sa.text(
                    "UPDATE public.pq_events AS t SET substation_id = p.substation_id,"
                    " circuit_id = p.circuit_id"
                    " FROM (SELECT e.id, p.substation_id, p.circuit_id " + _UNPLACED + ") AS p"
                    " WHERE t.id = p.id"
                ),
                {"id": meter_uuid},
            ).rowcount
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) == "42501":
            raise PermissionDenied("Only admins can place a meter's events") from None
        raise ServiceError("The meter's events could not be placed; nothing was changed") from exc


def place_meter_events(engine: Engine, identity: Identity, meter_uuid: UUID) -> int:
    with user_transaction(engine, identity) as conn:
        return place_meter_events_in(conn, meter_uuid)


@dataclass(frozen=True)
class PlaceIssues:
    """Events stored as they came although their place is doubtful (Statistics page)."""

    unknown_meters: int
    meter_disagreements: int
    on_retired_circuits: int


def place_issues_in(conn: Connection) -> PlaceIssues:
    """Counts of events of an unknown meter, events whose place disagrees with their meter, and
    events on a retired circuit, from the database's public.event_place_issues()."""
    row = conn.execute(
        sa.text(
            "SELECT unknown_meters, meter_disagreements, on_retired_circuits"
            " FROM public.event_place_issues()"
        )
    ).one()
    return PlaceIssues(int(row[0]), int(row[1]), int(row[2]))


def place_issues(engine: Engine, identity: Identity) -> PlaceIssues:
    with user_transaction(engine, identity) as conn:
        return place_issues_in(conn)
