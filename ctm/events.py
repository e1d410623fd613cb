"""PQ events as a logged-in user sees them: the filtered, paged event list, one event's details and
the customers it hit, and recording an event by hand (its impacts come from the database trigger)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import clock, inputs
from ctm.db import Identity, user_transaction
from ctm.errors import NotFound, PermissionDenied, ValidationError
from ctm.roles import Action, can

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
EVENT_TYPES: tuple[str, ...] = (
    "voltage_dip",
    "voltage_swell",
    "harmonic",
    "interruption",
    "transient",
    "flicker",
)
IMPACT_LEVELS: tuple[str, ...] = ("severe", "moderate", "minor")

EVENT_COLUMNS: list[str] = [
    "id",
    "timestamp",
    "substation_name",
    "circuit_id",
    "event_type",
    "severity",
    "duration_ms",
    "magnitude",
    "remaining_voltage",
    "status",
    "customers_affected",
]
IMPACT_COLUMNS: list[str] = [
    "customer_name",
    "account_number",
    "customer_type",
    "impact_level",
    "estimated_downtime_min",
]

# Counting every matching row of a 500,000-event table on each rerun costs more than the rest of the
# page together; past this many rows the list says "more than N" instead (EventPage.total_is_exact).
COUNT_CAP = 100_000

_MAX_CIRCUIT_LENGTH = 64
_MAX_DURATION_MS = 2**31 - 1  # pq_events.duration_ms is an integer column
_MAX_MAGNITUDE = Decimal("9999999.999")  # numeric(10, 3)
_MAX_REMAINING_VOLTAGE = Decimal("9999.99")  # numeric(6, 2)


@dataclass(frozen=True)
class EventFilter:
    """Which events the list shows. Dates are whole days in the database's time zone, both ends
    included; an empty `severities` means every severity (NULL included)."""

    date_from: date | None = None
    date_to: date | None = None
    substation_id: UUID | None = None
    circuit_id: str | None = None
    severities: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventPage:
    """One page of events (newest first) and how many events match the filter in all.

    `total` is exact while `total_is_exact`; otherwise more than COUNT_CAP events match and
    `total` is COUNT_CAP."""

    rows: pd.DataFrame
    total: int
    total_is_exact: bool = True


@dataclass(frozen=True)
class EventDetail:
    """Everything about one event plus how many customers it hit, by impact level."""

    id: UUID
    timestamp: datetime
    substation_id: UUID | None
    substation_name: str | None
    circuit_id: str | None
    event_type: str | None
    severity: str | None
    duration_ms: int | None
    magnitude: Decimal | None
    remaining_voltage: Decimal | None
    status: str
    meter_id: str | None
    voltage_level: str | None
    created_at: datetime
    customers_affected: int
    severe: int
    moderate: int
    minor: int
    total_downtime_min: Decimal | None


@dataclass(frozen=True)
class NewEvent:
    """An event recorded by hand. A naive timestamp is read in the database's time zone."""

    substation_id: UUID
    circuit_id: str
    timestamp: datetime
    severity: str
    duration_ms: int
    magnitude: Decimal | float | None
    event_type: str = "voltage_dip"
    remaining_voltage: Decimal | float | None = None


_invalid = inputs.invalid


def _where(filters: EventFilter, time_zone: str) -> tuple[str, dict]:
    """SQL condition on pq_events AS e for the filter, and its parameters. Days are whole days in
    `time_zone` (the stored one, clock.time_zone_name), never the session's; it goes in as a value
    so the planner sees constant bounds and reads the timestamp index on every PostgreSQL."""
    if not isinstance(filters, EventFilter):
        raise _invalid("filters", filters, "must be an EventFilter")
    severities = filters.severities
    if isinstance(severities, str) or not isinstance(severities, tuple | list | frozenset | set):
        raise _invalid("severity", severities, "must be a list of severities")
    filters = EventFilter(
        date_from=inputs.day("date_from", filters.date_from),
        date_to=inputs.day("date_to", filters.date_to),
        substation_id=inputs.optional_uuid("substation_id", filters.substation_id),
        circuit_id=inputs.text("circuit_id", filters.circuit_id, max_length=_MAX_CIRCUIT_LENGTH),
        severities=tuple(inputs.required_text("severity", s, max_length=20) for s in severities),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise _invalid(
            "date_from", filters.date_from.isoformat(), "the range ends before it starts"
        )
    clauses: list[str] = []
    params: dict = {"time_zone": time_zone}
    if filters.date_from is not None:
        clauses.append(
            'e."timestamp" >= (CAST(:date_from AS timestamp) AT TIME ZONE CAST(:time_zone AS text))'
        )
        params["date_from"] = filters.date_from
    if filters.date_to is not None:
        # The whole last day: everything before the next midnight.
        clauses.append(
            'e."timestamp" < (CAST(:date_to_next AS timestamp) AT TIME ZONE CAST(:time_zone AS text))'
        )
        params["date_to_next"] = filters.date_to + timedelta(days=1)
    if filters.substation_id is not None:
        clauses.append("e.substation_id = :substation_id")
        params["substation_id"] = filters.substation_id
    if filters.circuit_id:
        clauses.append("e.circuit_id = :circuit_id")
        params["circuit_id"] = filters.circuit_id
    if filters.severities:
        unknown = [s for s in filters.severities if s not in SEVERITIES]
        if unknown:
            raise _invalid("severity", unknown[0], f"choose from {', '.join(SEVERITIES)}")
        clauses.append("e.severity = ANY(:severities)")
        params["severities"] = list(filters.severities)
    return (" AND ".join(clauses) or "TRUE"), params


def list_queries(filters: EventFilter, time_zone: str) -> tuple[sa.TextClause, sa.TextClause, dict]:
    """The page query (needs :limit, :offset), the capped count (needs :cap) and the filter's
    parameters, days taken in `time_zone`. Public so tests and benchmarks can EXPLAIN exactly what
    the list runs."""
    where, params = _where(filters, time_zone)
    page_sql = sa.text(
        f"""
        SELECT e.id, e."timestamp", s.name AS substation_name, e.circuit_id, e.event_type,
               e.severity, e.duration_ms, e.magnitude, e.remaining_voltage, e.status,
               (SELECT count(*) FROM public.event_customer_impact AS i
                WHERE i.event_id = e.id) AS customers_affected
        FROM (
          SELECT e.* FROM public.pq_events AS e
          WHERE {where}
          ORDER BY e."timestamp" DESC, e.id DESC
          LIMIT :limit OFFSET :offset
        ) AS e
        LEFT JOIN public.substations AS s ON s.id = e.substation_id
        ORDER BY e."timestamp" DESC, e.id DESC
        """
    )
    # Stops counting past the cap: the cost stays bounded however many events match.
    count_sql = sa.text(
        f"SELECT count(*) FROM (SELECT 1 FROM public.pq_events AS e WHERE {where}"
        " LIMIT :cap) AS capped"
    )
    return page_sql, count_sql, params


def list_events(
    engine: Engine, identity: Identity, filters: EventFilter, *, limit: int = 100, offset: int = 0
) -> EventPage:
    """list_events_in in a read snapshot of its own, as `identity`: the page and the count agree
    even while another system is ingesting events."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    with user_transaction(snapshot, identity) as conn:
        return list_events_in(conn, filters, limit=limit, offset=offset)


def list_events_in(
    conn: Connection, filters: EventFilter, *, limit: int = 100, offset: int = 0
) -> EventPage:
    """Events matching `filters`, newest first, `limit` rows from `offset`, with the total count."""
    limit, offset = inputs.page(limit, offset)
    page_sql, count_sql, params = list_queries(filters, clock.time_zone_name(conn))
    result = conn.execute(page_sql, {**params, "limit": limit, "offset": offset})
    rows = pd.DataFrame(result.fetchall(), columns=EVENT_COLUMNS)
    total = conn.scalar(count_sql, {**params, "cap": COUNT_CAP + 1})
    exact = total <= COUNT_CAP
    rows = _typed_events(rows)
    return EventPage(rows=rows, total=int(min(total, COUNT_CAP)), total_is_exact=exact)


def _typed_events(rows: pd.DataFrame) -> pd.DataFrame:
    """Numbers as numbers (not Decimal objects), so tables sort and Excel gets real values."""
    for column in ("magnitude", "remaining_voltage"):
        rows[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64")
    rows["duration_ms"] = rows["duration_ms"].astype("Int64")
    rows["customers_affected"] = rows["customers_affected"].astype("int64")
    return rows


def get_event(engine: Engine, identity: Identity, event_id: UUID) -> EventDetail:
    """get_event_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return get_event_in(conn, event_id)


def get_event_in(conn: Connection, event_id: UUID) -> EventDetail:
    """One event with its substation's name and its impact counts; NotFound if it is not there
    or the user may not see it."""
    sql = sa.text(
        """
        SELECT e.id, e."timestamp", e.substation_id, s.name AS substation_name, e.circuit_id,
               e.event_type, e.severity, e.duration_ms, e.magnitude, e.remaining_voltage,
               e.status, e.meter_id, e.voltage_level, e.created_at,
               coalesce(i.customers_affected, 0) AS customers_affected,
               coalesce(i.severe, 0) AS severe, coalesce(i.moderate, 0) AS moderate,
               coalesce(i.minor, 0) AS minor, i.total_downtime_min
        FROM public.pq_events AS e
        LEFT JOIN public.substations AS s ON s.id = e.substation_id
        LEFT JOIN LATERAL (
          SELECT count(*) AS customers_affected,
                 count(*) FILTER (WHERE impact_level = 'severe') AS severe,
                 count(*) FILTER (WHERE impact_level = 'moderate') AS moderate,
                 count(*) FILTER (WHERE impact_level = 'minor') AS minor,
                 sum(estimated_downtime_min) AS total_downtime_min
          FROM public.event_customer_impact
          WHERE event_id = e.id
        ) AS i ON TRUE
        WHERE e.id = :event_id
        """
    )
    event_id = inputs.uuid_value("event_id", event_id)
    row = conn.execute(sql, {"event_id": event_id}).mappings().first()
    if row is None:
        raise NotFound(f"Event {event_id} does not exist or you may not see it")
    return EventDetail(**row)


def event_impacts(engine: Engine, identity: Identity, event_id: UUID) -> pd.DataFrame:
    """event_impacts_in in a transaction of its own, as `identity`."""
    with user_transaction(engine, identity) as conn:
        return event_impacts_in(conn, event_id)


def event_impacts_in(conn: Connection, event_id: UUID) -> pd.DataFrame:
    """The customers an event hit: severe first, then moderate, then minor; by name within a level."""
    sql = sa.text(
        """
        SELECT c.name AS customer_name, c.account_number, c.customer_type, i.impact_level,
               i.estimated_downtime_min
        FROM public.event_customer_impact AS i
        JOIN public.customers AS c ON c.id = i.customer_id
        WHERE i.event_id = :event_id
        ORDER BY array_position(ARRAY['severe', 'moderate', 'minor'], i.impact_level),
                 c.name, c.account_number
        """
    )
    result = conn.execute(sql, {"event_id": inputs.uuid_value("event_id", event_id)})
    frame = pd.DataFrame(result.fetchall(), columns=IMPACT_COLUMNS)
    frame["estimated_downtime_min"] = pd.to_numeric(
        frame["estimated_downtime_min"], errors="coerce"
    ).astype("float64")
    return frame


def _acting_role(conn: Connection) -> str | None:
    return conn.scalar(sa.text("SELECT public.current_user_role()"))


def _decimal(field: str, value: Decimal | float | None, limit: Decimal) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise _invalid(field, value, "is not a number") from None
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise _invalid(field, value, "is not a number")
    if number < 0 or number > limit:
        raise _invalid(field, value, f"must be between 0 and {limit}")
    return number


def _validated(event: NewEvent) -> dict:
    """The insert's parameters, or a ValidationError naming the first bad field and its value."""
    if not isinstance(event, NewEvent):
        raise _invalid("event", event, "must be a NewEvent")
    substation_id = inputs.uuid_value("substation_id", event.substation_id)
    circuit = inputs.text("circuit_id", event.circuit_id, max_length=10_000) or ""
    if not circuit:
        raise _invalid("circuit_id", event.circuit_id, "a circuit is required")
    if len(circuit) > _MAX_CIRCUIT_LENGTH:
        raise _invalid("circuit_id", circuit, f"longer than {_MAX_CIRCUIT_LENGTH} characters")
    severity = (inputs.text("severity", event.severity, max_length=100) or "").lower()
    if severity not in SEVERITIES:
        raise _invalid("severity", event.severity, f"choose from {', '.join(SEVERITIES)}")
    if not isinstance(event.event_type, str) or event.event_type not in EVENT_TYPES:
        raise _invalid("event_type", event.event_type, f"choose from {', '.join(EVENT_TYPES)}")
    duration = event.duration_ms
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise _invalid("duration_ms", duration, "must be a whole number of milliseconds")
    if duration < 0:
        raise _invalid("duration_ms", duration, "cannot be negative")
    if duration > _MAX_DURATION_MS:
        raise _invalid("duration_ms", duration, f"cannot exceed {_MAX_DURATION_MS}")
    if not isinstance(event.timestamp, datetime):
        raise _invalid("timestamp", event.timestamp, "a date and time is required")
    return {
        "substation_id": substation_id,
        "circuit_id": circuit,
        "timestamp": event.timestamp,
        "severity": severity,
        "duration_ms": duration,
        "magnitude": _decimal("magnitude", event.magnitude, _MAX_MAGNITUDE),
        "event_type": event.event_type,
        "remaining_voltage": _decimal(
            "remaining_voltage", event.remaining_voltage, _MAX_REMAINING_VOLTAGE
        ),
    }


def record_event(engine: Engine, identity: Identity, event: NewEvent) -> UUID:
    """record_event_in in a transaction of its own, as `identity`."""
    params = _validated(event)  # refuse bad input before opening a transaction
    with user_transaction(engine, identity) as conn:
        return _record(conn, params)


def record_event_in(conn: Connection, event: NewEvent) -> UUID:
    """Record one event by hand (admins and operators) and return its id. The database trigger
    creates its customer impacts in the same transaction."""
    return _record(conn, _validated(event))


def _refuse_retired_circuit(conn: Connection, substation: str, params: dict) -> None:
    """A hand-recorded event on a circuit retired on or before the event's day (stored zone) is
    refused: the form offers circuits in service. Other systems' inserts are kept and counted on
    Statistics (DESIGN.md), so this is the form's check, not the database's."""
    retired = conn.execute(
        sa.text(
            "SELECT circuit_id, retired_on, public.ctm_local_date(CAST(:t AS timestamptz)) AS day"
            " FROM public.substation_circuits"
            " WHERE substation_id = :s AND circuit_id = public.canonical_circuit_id(:c)"
            "   AND retired_on <= public.ctm_local_date(CAST(:t AS timestamptz))"
        ),
        {"s": params["substation_id"], "c": params["circuit_id"], "t": params["timestamp"]},
    ).first()
    if retired is not None:
        raise ValidationError(
            f"Circuit {retired.circuit_id} of substation {substation} was retired on"
            f" {retired.retired_on:%Y-%m-%d}: an event of {retired.day:%Y-%m-%d} cannot be"
            " recorded on it; choose a circuit in service"
        )


def _record(conn: Connection, params: dict) -> UUID:
    role = _acting_role(conn)
    if not can(role, Action.RECORD_EVENTS):
        if role == "viewer":
            raise PermissionDenied("Viewers can look at events but not record them")
        raise PermissionDenied("You need an admin or operator profile to record events")
    substation = conn.scalar(
        sa.text("SELECT name FROM public.substations WHERE id = :id"),
        {"id": params["substation_id"]},
    )
    if substation is None:
        raise _invalid("substation_id", str(params["substation_id"]), "no such substation")
    # A hand-entered time without a zone is a time in the product's zone, not the server's.
    when = params["timestamp"]
    if when.tzinfo is None:
        when = when.replace(tzinfo=clock.time_zone(conn))
    now = conn.scalar(sa.text("SELECT now()"))
    params = {**params, "timestamp": inputs.event_time("timestamp", when, now)}
    _refuse_retired_circuit(conn, substation, params)
    try:
        return conn.scalar(
            sa.text(
                """
                INSERT INTO public.pq_events (substation_id, circuit_id, "timestamp", severity,
                                              duration_ms, magnitude, event_type,
                                              remaining_voltage)
                VALUES (:substation_id, :circuit_id, :timestamp, :severity, :duration_ms,
                        :magnitude, :event_type, :remaining_voltage)
                RETURNING id
                """
            ),
            params,
        )
    except sa.exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42501":
            raise PermissionDenied("You may not record events") from None
        raise
