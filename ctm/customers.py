"""Customers as reference data: the searchable, paged customer list, add/edit (admins and
operators), delete (admins, refused while the customer has PQ history), "close account" (ends its
mappings), and one customer's detail — its mappings and the PQ events that hit it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.db import Identity, user_transaction
from ctm.errors import InUse, NotFound, PermissionDenied, ServiceError, ValidationError, sqlstate
from ctm.permissions import require_in
from ctm.reference import like_pattern
from ctm.roles import Action

CUSTOMER_TYPES: tuple[str, ...] = ("residential", "commercial", "industrial")
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
MAX_TEXT = 200
MAX_KVA = Decimal("9999999999.99")  # numeric(12, 2)
EDITORS_ONLY = "Only admins and operators can add or change customers"
# The list counts its matches up to here ("more than 1,000"): counting every match of a common
# text, or every customer, would read the whole table on each page view.
COUNT_CAP = 1_000

CUSTOMER_COLUMNS: list[str] = [
    "id",
    "account_number",
    "name",
    "customer_type",
    "critical_customer",
    "contract_demand_kva",
    "address",
    "current_mappings",
]
MAPPING_COLUMNS: list[str] = [
    "id",
    "substation_name",
    "circuit_id",
    "active",
    "connected_since",
    "disconnected_on",
    "updated_at",
]
HISTORY_COLUMNS: list[str] = [
    "event_id",
    "timestamp",
    "substation_name",
    "circuit_id",
    "event_type",
    "severity",
    "duration_ms",
    "remaining_voltage",
    "impact_level",
    "estimated_downtime_min",
]
HISTORY_TITLES: dict[str, str] = {
    "timestamp": "Time",
    "substation_name": "Substation",
    "circuit_id": "Circuit",
    "event_type": "Type",
    "severity": "Severity",
    "duration_ms": "Duration (ms)",
    "remaining_voltage": "Remaining voltage (%)",
    "impact_level": "Impact level",
    "estimated_downtime_min": "Estimated downtime (min)",
}

# History presets: label → months back from today (None: the user picks the range).
PRESETS: dict[str, int | None] = {
    "Last month": 1,
    "Last 3 months": 3,
    "Last 6 months": 6,
    "Last 12 months": 12,
    "Custom": None,
}


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers the list shows; all None means every customer."""

    text: str | None = None
    customer_type: str | None = None
    critical: bool | None = None


@dataclass(frozen=True)
class CustomerPage:
    """One page of customers. `total` is exact while `total_is_exact`; otherwise more than `total`
    customers match (the count stops at COUNT_CAP, or at the end of the page asked for)."""

    rows: pd.DataFrame  # CUSTOMER_COLUMNS
    total: int
    total_is_exact: bool = True


@dataclass(frozen=True)
class CustomerInput:
    """What the add/edit form (or the inline "New customer…") sends."""

    account_number: str
    name: str
    customer_type: str = "residential"
    address: str | None = None
    contract_demand_kva: Decimal | float | str | None = None
    critical_customer: bool = False


@dataclass(frozen=True)
class Customer:
    id: UUID
    account_number: str
    name: str
    customer_type: str
    address: str | None
    contract_demand_kva: Decimal | None
    critical_customer: bool
    created_at: datetime
    current_mappings: int
    impacts: int


@dataclass(frozen=True)
class HistoryPage:
    """One page of the events that hit a customer (newest first) and how many match in all."""

    rows: pd.DataFrame  # HISTORY_COLUMNS
    total: int
    date_from: date
    date_to: date


# Validation --------------------------------------------------------------------------------------


def _text(value: str | None, field: str, *, required: bool = False) -> str | None:
    text = inputs.text(field, value) or ""
    if required and not text:
        raise ValidationError(f"{field} is empty: every customer needs one")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"{field} {text[:20]!r}… is longer than {MAX_TEXT} characters")
    return text or None


def clean_customer(data: CustomerInput) -> dict:
    """Row values for `data`, or ValidationError naming the field and the value at fault."""
    account = _text(data.account_number, "Account number", required=True)
    if any(ch.isspace() for ch in account):
        raise ValidationError(f"Account number {account!r} contains spaces")
    kind = (inputs.text("customer_type", data.customer_type) or "residential").lower()
    if kind not in CUSTOMER_TYPES:
        raise ValidationError(
            f"Customer type {data.customer_type!r} is not one of {', '.join(CUSTOMER_TYPES)}"
        )
    kva = data.contract_demand_kva
    if kva is not None and not (isinstance(kva, str) and not kva.strip()):
        try:
            kva = Decimal(str(kva).strip())
        except InvalidOperation:
            raise ValidationError(f"Contract demand {kva!r} kVA is not a number") from None
        if not kva.is_finite() or kva < 0 or kva > MAX_KVA:
            raise ValidationError(f"Contract demand {kva} kVA must be between 0 and {MAX_KVA}")
        kva = round(kva, 2)
    else:
        kva = None
    return {
        "account_number": account,
        "name": _text(data.name, "Name", required=True),
        "customer_type": kind,
        "address": _text(data.address, "Address"),
        "contract_demand_kva": kva,
        "critical_customer": bool(inputs.boolean("critical_customer", data.critical_customer)),
    }


# Reading -----------------------------------------------------------------------------------------


def _search_params(filters: CustomerFilter) -> dict:
    """customer_search()'s arguments for a filter (NULL = any); ValidationError for a bad type."""
    text = inputs.text("text", filters.text)
    customer_type = inputs.text("customer_type", filters.customer_type)
    critical = inputs.boolean("critical", filters.critical)
    if customer_type and customer_type not in CUSTOMER_TYPES:
        raise ValidationError(
            f"Customer type {filters.customer_type!r} is not one of {', '.join(CUSTOMER_TYPES)}"
        )
    return {
        "pattern": like_pattern(text) if text else None,
        "customer_type": customer_type or None,
        "critical": critical,
    }


# customer_search() lists the matching customers in page order and stops after :max_rows of them
# (COUNT_CAP, or the end of the requested page when it lies further): the page's rows come from
# that list and its length is the total, so the text is matched once, with the indexes (see the
# migration 20261205000300), and neither a common text nor an unfiltered list reads every customer.
# The list is joined to customers as the user, so the read policy still decides what is shown.


def customer_list_queries(filters: CustomerFilter) -> tuple[sa.TextClause, dict]:
    """The one statement a page runs (needs :limit, :offset and :max_rows) and its parameters;
    public so the benchmark can EXPLAIN exactly what the page runs. It returns the page's rows,
    each with the capped total — or, for a page past the end, one row of NULLs with the total.
    Current mappings are counted for the page's rows only."""
    params = _search_params(filters)
    page = sa.text(
        """
        WITH found AS MATERIALIZED (
            SELECT f.id, f.position
            FROM public.customer_search(CAST(:pattern AS text), CAST(:customer_type AS text),
                                        CAST(:critical AS boolean), CAST(:max_rows AS integer))
                 WITH ORDINALITY AS f(id, position)
            JOIN public.customers AS seen ON seen.id = f.id
        ), page AS (
            SELECT c.id, c.account_number, c.name, c.customer_type, c.critical_customer,
                   c.contract_demand_kva, c.address, coalesce(now_mapped.n, 0) AS current_mappings,
                   p.position
            FROM (SELECT id, position FROM found WHERE position > :offset
                  ORDER BY position LIMIT :limit) AS p
            JOIN public.customers AS c ON c.id = p.id
            LEFT JOIN LATERAL (
                SELECT count(*) AS n FROM public.customer_transformer_matching AS m
                WHERE m.customer_id = c.id AND public.mapping_applies_on(m.active,
                      m.connected_since, m.disconnected_on, public.ctm_local_date(now()))
            ) AS now_mapped ON true
        )
        SELECT page.id, page.account_number, page.name, page.customer_type,
               page.critical_customer, page.contract_demand_kva, page.address,
               page.current_mappings, counted.total
        FROM (SELECT count(*) AS total FROM found) AS counted
        LEFT JOIN page ON true
        ORDER BY page.position
        """
    )
    return page, params


def list_customers_in(
    conn: Connection, filters: CustomerFilter, *, limit: int = 50, offset: int = 0
) -> CustomerPage:
    limit, offset = inputs.page(limit, offset)
    page_sql, params = customer_list_queries(filters)
    cap = max(COUNT_CAP, offset + limit)
    rows = conn.execute(
        page_sql, {**params, "max_rows": cap + 1, "limit": limit, "offset": offset}
    ).fetchall()
    total = rows[0].total
    frame = pd.DataFrame([row[:-1] for row in rows if row.id is not None], columns=CUSTOMER_COLUMNS)
    frame["contract_demand_kva"] = pd.to_numeric(
        frame["contract_demand_kva"], errors="coerce"
    ).astype("float64")
    frame["current_mappings"] = frame["current_mappings"].astype("int64")
    return CustomerPage(rows=frame, total=int(min(total, cap)), total_is_exact=total <= cap)


def list_customers(
    engine: Engine,
    identity: Identity,
    filters: CustomerFilter,
    *,
    limit: int = 50,
    offset: int = 0,
) -> CustomerPage:
    """One page of customers by name (and the number matching), under the user's policies."""
    # One statement reads the page and its count, so they agree without a snapshot of their own.
    with user_transaction(engine, identity) as conn:
        return list_customers_in(conn, filters, limit=limit, offset=offset)


def get_customer_in(conn: Connection, customer_id: UUID) -> Customer:
    customer_id = inputs.uuid_value("customer_id", customer_id)
    row = conn.execute(
        sa.text(
            """
            SELECT c.id, c.account_number, c.name, c.customer_type, c.address,
                   c.contract_demand_kva, c.critical_customer, c.created_at,
                   (SELECT count(*) FROM public.customer_transformer_matching AS m
                    WHERE m.customer_id = c.id AND public.mapping_applies_on(m.active,
                      m.connected_since, m.disconnected_on, public.ctm_local_date(now())))
                   AS current_mappings,
                   (SELECT count(*) FROM public.event_customer_impact AS i
                    WHERE i.customer_id = c.id) AS impacts
            FROM public.customers AS c WHERE c.id = :id
            """
        ),
        {"id": customer_id},
    ).one_or_none()
    if row is None:
        raise NotFound("That customer no longer exists (or you may not see it); reload the list")
    return Customer(**row._mapping)


def get_customer(engine: Engine, identity: Identity, customer_id: UUID) -> Customer:
    with user_transaction(engine, identity) as conn:
        return get_customer_in(conn, customer_id)


def find_customer_in(conn: Connection, account_number: str) -> Customer | None:
    """The customer with exactly this account number (any case), or None."""
    found = conn.scalar(
        sa.text(
            "SELECT id FROM public.customers WHERE lower(account_number) = lower(:a)"
            " ORDER BY account_number = :a DESC LIMIT 1"
        ),
        {"a": inputs.text("account_number", account_number) or ""},
    )
    return None if found is None else get_customer_in(conn, found)


def find_customer(engine: Engine, identity: Identity, account_number: str) -> Customer | None:
    with user_transaction(engine, identity) as conn:
        return find_customer_in(conn, account_number)


def _has_column(conn: Connection, table: str, column: str) -> bool:
    return bool(
        conn.scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = :t AND column_name = :c)"
            ),
            {"t": table, "c": column},
        )
    )


def customer_mappings_in(conn: Connection, customer_id: UUID) -> pd.DataFrame:
    customer_id = inputs.uuid_value("customer_id", customer_id)
    """Every mapping of the customer (current first, then by substation and circuit)."""
    periods = _has_column(conn, "customer_transformer_matching", "connected_since")
    dates = (
        "m.connected_since, m.disconnected_on"
        if periods
        else "CAST(NULL AS date) AS connected_since, CAST(NULL AS date) AS disconnected_on"
    )
    rows = conn.execute(
        sa.text(
            f"""
            SELECT m.id, s.name AS substation_name, m.circuit_id, m.active, {dates},
                   m.updated_at
            FROM public.customer_transformer_matching AS m
            JOIN public.substations AS s ON s.id = m.substation_id
            WHERE m.customer_id = :id
            ORDER BY m.active DESC, s.name, m.circuit_id, m.created_at
            """
        ),
        {"id": customer_id},
    ).fetchall()
    return pd.DataFrame(rows, columns=MAPPING_COLUMNS)


def customer_mappings(engine: Engine, identity: Identity, customer_id: UUID) -> pd.DataFrame:
    with user_transaction(engine, identity) as conn:
        return customer_mappings_in(conn, customer_id)


def months_back(today: date, months: int) -> date:
    """The same day `months` months before `today` (clamped to the month's last day)."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    month += 1
    for day in range(today.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(today.day, 28))


def preset_range(preset: str, today: date) -> tuple[date, date] | None:
    """The [from, to] days (both included) of a preset; None for Custom."""
    if preset not in PRESETS:
        raise ValidationError(f"Unknown period {preset!r}; choose one of {', '.join(PRESETS)}")
    months = PRESETS[preset]
    if months is None:
        return None
    return months_back(today, months), today


def _zone(conn: Connection) -> str:
    """The database's stored time zone when it has one (ctm_time_zone()), else UTC."""
    has_setting = conn.scalar(
        sa.text("SELECT to_regprocedure('public.ctm_time_zone()') IS NOT NULL")
    )
    if has_setting:
        return conn.scalar(sa.text("SELECT public.ctm_time_zone()")) or "UTC"
    return "UTC"


def history_queries() -> tuple[sa.TextClause, sa.TextClause]:
    """The history page query and its count, public so the benchmark can EXPLAIN them. Days are
    whole days in the stored time zone: [from 00:00, to + 1 day 00:00)."""
    where = """
        i.customer_id = :customer_id
        AND e."timestamp" >= (CAST(:date_from AS date) + time '00:00') AT TIME ZONE :zone
        AND e."timestamp" < (CAST(:date_to AS date) + 1 + time '00:00') AT TIME ZONE :zone
        AND (CAST(:severities AS text[]) IS NULL OR e.severity = ANY(CAST(:severities AS text[])))
    """
    page = sa.text(
        f"""
        SELECT e.id AS event_id, e."timestamp", s.name AS substation_name, e.circuit_id,
               e.event_type, e.severity, e.duration_ms, e.remaining_voltage, i.impact_level,
               i.estimated_downtime_min
        FROM public.event_customer_impact AS i
        JOIN public.pq_events AS e ON e.id = i.event_id
        LEFT JOIN public.substations AS s ON s.id = e.substation_id
        WHERE {where}
        ORDER BY e."timestamp" DESC, e.id DESC
        LIMIT :limit OFFSET :offset
        """
    )
    count = sa.text(
        f"""
        SELECT count(*) FROM public.event_customer_impact AS i
        JOIN public.pq_events AS e ON e.id = i.event_id
        WHERE {where}
        """
    )
    return page, count


def _history_params(
    conn: Connection,
    customer_id: UUID,
    date_from: date,
    date_to: date,
    severities: tuple[str, ...] | list[str] | None,
) -> dict:
    customer_id = inputs.uuid_value("customer_id", customer_id)
    date_from = inputs.day("date_from", date_from)
    date_to = inputs.day("date_to", date_to)
    if date_from is None or date_to is None:
        raise ValidationError("Choose both the first and the last day of the period")
    if date_from > date_to:
        raise ValidationError(
            f"The period {date_from.isoformat()} – {date_to.isoformat()} ends before it starts"
        )
    if isinstance(severities, str):
        raise inputs.invalid("severity", severities, "must be a list of severities, not text")
    chosen = [s.lower() for s in (inputs.text("severity", v) for v in (severities or [])) if s]
    unknown = [s for s in chosen if s not in SEVERITIES]
    if unknown:
        raise ValidationError(f"Severity {unknown[0]!r} is not one of {', '.join(SEVERITIES)}")
    return {
        "customer_id": customer_id,
        "date_from": date_from,
        "date_to": date_to,
        "severities": chosen or None,
        "zone": _zone(conn),
    }


def _typed_history(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["duration_ms"] = frame["duration_ms"].astype("Int64")
    for column in ("remaining_voltage", "estimated_downtime_min"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def customer_events_in(
    conn: Connection,
    customer_id: UUID,
    date_from: date,
    date_to: date,
    *,
    severities: tuple[str, ...] | list[str] | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> HistoryPage:
    """The PQ events that hit the customer between two days (both included, in the stored time
    zone), newest first, optionally only some severities; `limit=None` returns them all."""
    if limit is not None:
        limit = inputs.integer("limit", limit, minimum=1, maximum=inputs.MAX_PAGE_ROWS)
    offset = inputs.integer("offset", offset, minimum=0, maximum=inputs.MAX_OFFSET)
    params = _history_params(conn, customer_id, date_from, date_to, severities)
    page_sql, count_sql = history_queries()
    rows = conn.execute(
        page_sql, {**params, "limit": limit if limit is not None else None, "offset": offset}
    ).fetchall()
    total = len(rows) if limit is None else conn.scalar(count_sql, params)
    return HistoryPage(_typed_history(rows), int(total), date_from, date_to)


def customer_events(
    engine: Engine,
    identity: Identity,
    customer_id: UUID,
    date_from: date,
    date_to: date,
    *,
    severities: tuple[str, ...] | list[str] | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> HistoryPage:
    """customer_events_in() as the user, page and count from one snapshot."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    with user_transaction(snapshot, identity) as conn:
        return customer_events_in(
            conn,
            customer_id,
            date_from,
            date_to,
            severities=severities,
            limit=limit,
            offset=offset,
        )


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "customer"


def history_file_name(customer: Customer, date_from: date, date_to: date) -> str:
    """The Excel download's name: the customer (account and name) and the period."""
    return (
        f"ctm_pq_history_{_file_part(customer.account_number)}_{_file_part(customer.name)}_"
        f"{date_from.isoformat()}_to_{date_to.isoformat()}.xlsx"
    )


# Writing -----------------------------------------------------------------------------------------


def _check_account_free(conn: Connection, account: str, except_id: UUID | None) -> None:
    other = conn.execute(
        sa.text(
            "SELECT name, account_number FROM public.customers"
            " WHERE lower(account_number) = lower(:a) AND id IS DISTINCT FROM :id LIMIT 1"
        ),
        {"a": account, "id": except_id},
    ).first()
    if other is not None:
        raise ValidationError(
            f"Account number {account} is already used by customer {other.name}"
            f" ({other.account_number})"
        )


def _write(conn: Connection, sql: str, params: dict):
    try:
        with conn.begin_nested():
            return conn.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as exc:
        state = sqlstate(exc)
        if state == "23505":
            raise ValidationError(
                f"Account number {params.get('account_number')} is already used by another customer"
            ) from None
        if state == "42501":
            raise PermissionDenied(EDITORS_ONLY) from None
        if state in ("23514", "22003", "22P02", "22001"):
            raise ValidationError("The customer has a value the database does not accept") from None
        raise ServiceError("The customer could not be saved; nothing was changed") from exc


def add_customer_in(conn: Connection, data: CustomerInput) -> Customer:
    """Add a customer (admins and operators); ValidationError for a bad or taken value."""
    require_in(conn, Action.EDIT_CUSTOMERS, EDITORS_ONLY)
    values = clean_customer(data)
    _check_account_free(conn, values["account_number"], None)
    new_id = _write(
        conn,
        "INSERT INTO public.customers (account_number, name, customer_type, address,"
        " contract_demand_kva, critical_customer) VALUES (:account_number, :name,"
        " :customer_type, :address, :contract_demand_kva, :critical_customer) RETURNING id",
        values,
    ).scalar_one()
    return get_customer_in(conn, new_id)


def add_customer(engine: Engine, identity: Identity, data: CustomerInput) -> Customer:
    with user_transaction(engine, identity) as conn:
        return add_customer_in(conn, data)


def update_customer_in(conn: Connection, customer_id: UUID, data: CustomerInput) -> Customer:
    """Change every field of a customer (admins and operators)."""
    customer_id = inputs.uuid_value("customer_id", customer_id)
    require_in(conn, Action.EDIT_CUSTOMERS, EDITORS_ONLY)
    values = clean_customer(data)
    exists = conn.scalar(
        sa.text("SELECT id FROM public.customers WHERE id = :id FOR UPDATE"), {"id": customer_id}
    )
    if exists is None:
        raise NotFound("That customer no longer exists; reload the list")
    _check_account_free(conn, values["account_number"], customer_id)
    result = _write(
        conn,
        "UPDATE public.customers SET account_number = :account_number, name = :name,"
        " customer_type = :customer_type, address = :address,"
        " contract_demand_kva = :contract_demand_kva, critical_customer = :critical_customer"
        " WHERE id = :id",
        {**values, "id": customer_id},
    )
    if result.rowcount == 0:
        raise PermissionDenied(EDITORS_ONLY)
    return get_customer_in(conn, customer_id)


def update_customer(
    engine: Engine, identity: Identity, customer_id: UUID, data: CustomerInput
) -> Customer:
    with user_transaction(engine, identity) as conn:
        return update_customer_in(conn, customer_id, data)


def delete_customer_in(conn: Connection, customer_id: UUID) -> None:
    """Delete a customer (admins) that no PQ event ever hit; its mappings go with it. A customer
    with impacts is refused: deleting it would erase its PQ history (close the account instead)."""
    customer_id = inputs.uuid_value("customer_id", customer_id)
    require_in(conn, Action.DELETE_CUSTOMERS, "Only admins can delete customers")
    customer = get_customer_in(conn, customer_id)
    if customer.impacts:
        noun = "PQ event" if customer.impacts == 1 else "PQ events"
        raise InUse(
            f"Customer {customer.name} ({customer.account_number}) cannot be deleted:"
            f" {customer.impacts:,} {noun} hit it and deleting would erase that history."
            " Use Close account instead: it ends the customer's mappings and keeps the history"
        )
    try:
        with conn.begin_nested():
            deleted = conn.execute(
                sa.text("DELETE FROM public.customers WHERE id = :id"), {"id": customer_id}
            ).rowcount
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) == "42501":
            raise PermissionDenied("Only admins can delete customers") from None
        raise ServiceError(f"Customer {customer.name} could not be deleted") from exc
    if deleted == 0:
        raise PermissionDenied("Only admins can delete customers")


def delete_customer(engine: Engine, identity: Identity, customer_id: UUID) -> None:
    with user_transaction(engine, identity) as conn:
        delete_customer_in(conn, customer_id)


def close_account_in(conn: Connection, customer_id: UUID) -> int:
    """End every current mapping of the customer today (admins and operators); its history and
    past impacts stay. Returns how many mappings were ended."""
    customer_id = inputs.uuid_value("customer_id", customer_id)
    require_in(conn, Action.EDIT_MAPPINGS, "Only admins and operators can close accounts")
    get_customer_in(conn, customer_id)
    try:
        with conn.begin_nested():
            # Every mapping that applies today ends today (a scheduled later end is brought
            # forward); its history and past impacts stay.
            result = conn.execute(
                sa.text(
                    "UPDATE public.customer_transformer_matching"
                    " SET disconnected_on = public.ctm_local_date(now()), active = false"
                    " WHERE customer_id = :id AND public.mapping_applies_on(active,"
                    " connected_since, disconnected_on, public.ctm_local_date(now()))"
                    " AND (connected_since IS NULL"
                    "      OR connected_since < public.ctm_local_date(now()))"
                ),
                {"id": customer_id},
            )
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) == "42501":
            raise PermissionDenied("Only admins and operators can close accounts") from None
        raise ServiceError("The account could not be closed; nothing was changed") from exc
    return result.rowcount


def close_account(engine: Engine, identity: Identity, customer_id: UUID) -> int:
    with user_transaction(engine, identity) as conn:
        return close_account_in(conn, customer_id)


def default_history_range(today: date | None = None) -> tuple[date, date]:
    """The detail's first view: the last 12 months."""
    today = today or date.today()
    return months_back(today, 12), today
