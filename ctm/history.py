"""History: who changed what, when and from where — the rows of `audit_log` filtered and paged,
each with a readable "what changed" (Circuit H2 → H5, Active yes → no; names, not ids), the Excel
export of a filter, and the summary the Statistics page shows (changes of the last 30 days)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm import inputs
from ctm.db import Identity, user_transaction
from ctm.errors import ValidationError

SYSTEM = "system"  # the "who" filter value for changes without a user (owner, other systems)
ACTIONS = ("INSERT", "UPDATE", "DELETE")
ACTION_LABELS = {"INSERT": "Added", "UPDATE": "Changed", "DELETE": "Deleted"}
TABLE_LABELS = {
    "customer_transformer_matching": "Mapping",
    "customers": "Customer",
    "substations": "Substation",
    "substation_circuits": "Circuit",
    "pq_meters": "Meter",
    "event_customer_impact": "Past-event impacts",
}
SOURCES = ("app", "import", "cli", "sql")
MAX_EXPORT_ROWS = 200_000
# The History page counts matches up to this many: past it the exact figure costs a scan of up to
# a million index entries per page view (about a second) and says nothing a person needs.
COUNT_CAP = 10_000
HISTORY_COLUMNS = [
    "id",
    "changed_at",
    "changed_by",
    "changed_by_name",
    "source",
    "table_name",
    "kind",
    "action",
    "action_label",
    "row_id",
    "subject",
    "changes",
    "batch_id",
    "substation_id",
    "customer_id",
]

# Per table: the fields a person cares about, in order, with their labels. Bookkeeping fields
# (ids, version, updated_at/by, created_at) are left out of "what changed".
FIELD_LABELS: dict[str, dict[str, str]] = {
    "customer_transformer_matching": {
        "customer_id": "Customer",
        "substation_id": "Substation",
        "circuit_id": "Circuit",
        "active": "Active",
        "connected_since": "Connected since",
        "disconnected_on": "Disconnected on",
    },
    "customers": {
        "account_number": "Account",
        "name": "Name",
        "address": "Address",
        "customer_type": "Type",
        "critical_customer": "Critical customer",
        "contract_demand_kva": "Contract demand (kVA)",
        "substation_id": "Substation",
    },
    "substations": {
        "name": "Name",
        "code": "Code",
        "voltage_level": "Voltage level",
        "region": "Region",
        "status": "Status",
        "latitude": "Latitude",
        "longitude": "Longitude",
    },
    "substation_circuits": {
        "substation_id": "Substation",
        "circuit_id": "Circuit",
        "description": "Description",
        "active": "Active",
        "retired_on": "Retired on",
        "customers_served": "Customers served",
        "max_mapped_customers": "Max mapped customers",
    },
    "pq_meters": {
        "meter_id": "Meter",
        "substation_id": "Substation",
        "circuit_id": "Circuit",
        "voltage_level": "Voltage level",
        "site_id": "Site",
        "location": "Location",
        "active": "Active",
    },
}
_BOOKKEEPING = {"id", "version", "updated_at", "updated_by", "created_at"}


@dataclass(frozen=True)
class HistoryFilter:
    """Which changes to list; every field None means every change."""

    who: UUID | str | None = None  # a profile id, or SYSTEM for changes without a user
    date_from: date | None = None  # inclusive, in the stored time zone
    date_to: date | None = None  # inclusive
    table_name: str | None = None
    action: str | None = None
    substation_id: UUID | None = None
    customer_id: UUID | None = None
    batch_id: UUID | None = None
    row_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    """One page of changes (columns HISTORY_COLUMNS, newest first) and how many match in all:
    `total` is exact when `total_is_exact`, else the count stopped there ("more than")."""

    rows: pd.DataFrame
    total: int
    total_is_exact: bool = True


@dataclass(frozen=True)
class Person:
    id: UUID
    name: str


@dataclass(frozen=True)
class ChangeSummary:
    """The Statistics page's "Changes in the last N days"."""

    days: int
    total: int
    by_user: pd.DataFrame  # user, changes
    by_action: pd.DataFrame  # action, changes
    latest: pd.DataFrame  # HISTORY_COLUMNS, the newest rows


@dataclass
class _Names:
    """Names for the ids a page of history mentions."""

    substations: dict[str, str] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)


# Time zone ----------------------------------------------------------------------------------------


def _zone(conn: Connection) -> ZoneInfo:
    """The stored time zone (ctm.clock) when that part is installed, else UTC."""
    try:
        from ctm import clock
    except ImportError:
        return ZoneInfo("UTC")
    try:
        with conn.begin_nested():
            return clock.time_zone(conn)
    except Exception:  # noqa: BLE001 - a database without the setting yet means UTC
        return ZoneInfo("UTC")


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


# Reading ------------------------------------------------------------------------------------------


def checked_filter(filters: HistoryFilter) -> HistoryFilter:
    """The filter with every value checked (ValidationError naming the field and the value): ids
    that are UUIDs, days within the calendar the app filters on, text without NUL bytes."""
    who = filters.who
    if who is not None and who != SYSTEM:
        who = inputs.uuid_value("who", who)
    return replace(
        filters,
        who=who,
        date_from=inputs.day("date_from", filters.date_from),
        date_to=inputs.day("date_to", filters.date_to),
        table_name=inputs.text("table_name", filters.table_name),
        action=inputs.text("action", filters.action),
        substation_id=inputs.optional_uuid("substation_id", filters.substation_id),
        customer_id=inputs.optional_uuid("customer_id", filters.customer_id),
        batch_id=inputs.optional_uuid("batch_id", filters.batch_id),
        row_id=inputs.text("row_id", None if filters.row_id is None else str(filters.row_id)),
        source=inputs.text("source", filters.source),
    )


def _where(filters: HistoryFilter, zone: ZoneInfo | Connection) -> tuple[list[str], dict]:
    filters = checked_filter(filters)
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.who == SYSTEM:
        clauses.append("a.changed_by IS NULL")
    elif filters.who is not None:
        clauses.append("a.changed_by = :who")
        params["who"] = filters.who
    if (
        filters.date_from is not None
        and filters.date_to is not None
        and filters.date_to < filters.date_from
    ):
        raise ValidationError(f"Dates: 'to' {filters.date_to} is before 'from' {filters.date_from}")
    if isinstance(zone, Connection) and (filters.date_from or filters.date_to):
        zone = _zone(zone)
    if filters.date_from is not None:
        clauses.append("a.changed_at >= :since")
        params["since"] = _day_start(filters.date_from, zone)
    if filters.date_to is not None:
        clauses.append("a.changed_at < :until")
        params["until"] = _day_start(filters.date_to + timedelta(days=1), zone)
    if filters.table_name:
        if filters.table_name not in TABLE_LABELS:
            raise ValidationError(
                f"Table {filters.table_name!r} is not recorded in the history"
                f" (one of {', '.join(TABLE_LABELS)})"
            )
        clauses.append("a.table_name = :table_name")
        params["table_name"] = filters.table_name
    if filters.action:
        action = filters.action.upper()
        if action not in ACTIONS:
            raise ValidationError(f"Action {filters.action!r}: use INSERT, UPDATE or DELETE")
        clauses.append("a.action = :action")
        params["action"] = action
    if filters.source:
        if filters.source not in SOURCES:
            raise ValidationError(f"Source {filters.source!r}: use one of {', '.join(SOURCES)}")
        clauses.append("a.source = :source")
        params["source"] = filters.source
    if filters.substation_id is not None:
        clauses.append("a.substation_id = :substation_id")
        params["substation_id"] = filters.substation_id
    if filters.customer_id is not None:
        clauses.append("a.customer_id = :customer_id")
        params["customer_id"] = filters.customer_id
    if filters.batch_id is not None:
        clauses.append("a.batch_id = :batch_id")
        params["batch_id"] = filters.batch_id
    if filters.row_id:
        clauses.append("a.row_id = :row_id")
        params["row_id"] = str(filters.row_id).strip()
    return clauses, params


_SELECT = """
    SELECT a.id, a.changed_at, a.changed_by, a.source, a.table_name, a.action, a.row_id,
           a.old_values, a.new_values, a.batch_id, a.substation_id, a.customer_id
    FROM public.audit_log AS a
"""


def _raw_rows(
    conn: Connection, filters: HistoryFilter, limit: int | None, offset: int
) -> list[sa.Row]:
    clauses, params = _where(filters, conn)
    sql = _SELECT + (" WHERE " + " AND ".join(clauses) if clauses else "")
    sql += " ORDER BY a.changed_at DESC, a.id DESC"
    if limit is not None:
        sql += " LIMIT :limit OFFSET :offset"
        params.update(limit=limit, offset=offset)
    return conn.execute(sa.text(sql), params).fetchall()


def count_history_in(conn: Connection, filters: HistoryFilter, cap: int | None = None) -> int:
    """How many changes match; with `cap`, counting stops at cap + 1 (= "more than cap")."""
    clauses, params = _where(filters, conn)
    sql = "SELECT 1 FROM public.audit_log AS a"
    sql += " WHERE " + " AND ".join(clauses) if clauses else ""
    if cap is not None:
        sql += " LIMIT :cap"
        params["cap"] = cap + 1
    return int(conn.scalar(sa.text(f"SELECT count(*) FROM ({sql}) AS matches"), params))


def _names(conn: Connection, rows: list[sa.Row]) -> _Names:
    """Look up the substations, customers and people the rows mention, in three queries."""
    substations: set[str] = set()
    customers: set[str] = set()
    people: set[str] = set()
    for r in rows:
        if r.changed_by:
            people.add(str(r.changed_by))
        for values in (r.old_values, r.new_values):
            if not values:
                continue
            if r.table_name == "substations":
                substations.add(values.get("id"))
            elif values.get("substation_id"):
                substations.add(values["substation_id"])
            if r.table_name == "customers":
                customers.add(values.get("id"))
            elif values.get("customer_id"):
                customers.add(values["customer_id"])
            if r.table_name == "event_customer_impact" and values.get("customer_id"):
                customers.add(values["customer_id"])
    names = _Names()
    substations.discard(None)
    customers.discard(None)
    if substations:
        names.substations = {
            str(i): n
            for i, n in conn.execute(
                sa.text(
                    "SELECT id, name FROM public.substations WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": sorted(substations)},
            )
        }
    if customers:
        names.customers = {
            str(i): f"{n} ({a})"
            for i, n, a in conn.execute(
                sa.text(
                    "SELECT id, name, account_number FROM public.customers"
                    " WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": sorted(customers)},
            )
        }
    if people:
        names.people = {
            str(i): (n or e or str(i)[:8])
            for i, n, e in conn.execute(
                sa.text(
                    "SELECT id, full_name, email FROM public.profiles"
                    " WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": sorted(people)},
            )
        }
    # Deleted rows still name themselves through their recorded values.
    for r in rows:
        values = r.old_values or r.new_values or {}
        if r.table_name == "substations" and values.get("id"):
            names.substations.setdefault(values["id"], values.get("name") or "(deleted)")
        if r.table_name == "customers" and values.get("id"):
            names.customers.setdefault(
                values["id"], f"{values.get('name')} ({values.get('account_number')})"
            )
    return names


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _field_value(table: str, key: str, value: Any, names: _Names) -> str:
    if value is not None and key == "substation_id":
        return names.substations.get(str(value), "(deleted substation)")
    if value is not None and key == "customer_id" and table != "customers":
        return names.customers.get(str(value), "(deleted customer)")
    return _show(value)


def _label(key: str, table: str) -> str:
    return FIELD_LABELS.get(table, {}).get(key) or key.replace("_", " ").capitalize()


def describe_change(
    table: str, action: str, old: dict | None, new: dict | None, names: _Names | None = None
) -> str:
    """What changed, for people: 'Circuit H2 → H5; Active yes → no' for an update, the row's main
    fields for an insert or delete; names instead of ids where the names are known."""
    names = names or _Names()
    if table == "event_customer_impact":
        events = (new or {}).get("event_ids") or (old or {}).get("event_ids") or []
        mode = (new or {}).get("mode", "add")
        verb = "Added" if mode == "add" else "Removed"
        customer = names.customers.get(str((new or {}).get("customer_id")), "the customer")
        return f"{verb} {len(events)} past event impact(s) for {customer}"
    labels = FIELD_LABELS.get(table)
    if action == "UPDATE":
        keys = list(labels) if labels else []
        keys += sorted(
            k
            for k in set(old or {}) | set(new or {})
            if k not in keys and k not in _BOOKKEEPING and not k.endswith("_search")
        )
        parts = []
        for key in keys:
            before, after = (old or {}).get(key), (new or {}).get(key)
            if before == after:
                continue
            parts.append(
                f"{_label(key, table)} {_field_value(table, key, before, names)}"
                f" → {_field_value(table, key, after, names)}"
            )
        return "; ".join(parts) if parts else "(bookkeeping only)"
    values = new if action == "INSERT" else old
    parts = []
    for key in labels or {}:
        if key == "customer_id" and table == "customer_transformer_matching":
            continue  # already in the subject
        value = (values or {}).get(key)
        if value is None or (table == "customer_transformer_matching" and key == "substation_id"):
            continue
        parts.append(f"{_label(key, table)} {_field_value(table, key, value, names)}")
    return ", ".join(parts)


def _subject(table: str, row_id: str, old: dict | None, new: dict | None, names: _Names) -> str:
    """The changed thing, named: 'Acme Steel (ACC-1) · North / H1', 'Customer Acme Steel'."""
    values = new or old or {}
    if table == "customer_transformer_matching":
        customer = names.customers.get(str(values.get("customer_id")), "(deleted customer)")
        substation = names.substations.get(str(values.get("substation_id")), "?")
        return f"{customer} · {substation} / {values.get('circuit_id')}"
    if table == "customers":
        return (
            names.customers.get(row_id) or f"{values.get('name')} ({values.get('account_number')})"
        )
    if table == "substations":
        return names.substations.get(row_id) or str(values.get("name"))
    if table == "substation_circuits":
        substation = names.substations.get(str(values.get("substation_id")), "?")
        return f"{substation} / {values.get('circuit_id')}"
    if table == "pq_meters":
        return str(values.get("meter_id"))
    if table == "event_customer_impact":
        customer = names.customers.get(str(values.get("customer_id")), "(customer)")
        place = names.substations.get(str(values.get("substation_id")), "?")
        return f"{customer} · {place} / {values.get('circuit_id')}"
    return row_id


@dataclass(frozen=True)
class _Entry:
    table_name: str
    row_id: str
    old_values: dict | None
    new_values: dict | None
    changed_by: UUID | None = None


def name_rows_in(
    conn: Connection, entries: list[tuple[str, str, dict | None, dict | None]]
) -> list[str]:
    """The rows of (table, row id, old values, new values) named as the History page names them:
    'Acme Steel (ACC-1) · North / H1' for a mapping, 'North / H1' for a circuit."""
    rows = [_Entry(t.split(".")[-1], r, o, n) for t, r, o, n in entries]
    names = _names(conn, rows)  # type: ignore[arg-type]
    return [
        f"{TABLE_LABELS.get(e.table_name, e.table_name)} "
        f"{_subject(e.table_name, e.row_id, e.old_values, e.new_values, names)}"
        for e in rows
    ]


def _frame(conn: Connection, rows: list[sa.Row]) -> pd.DataFrame:
    names = _names(conn, rows)
    records = []
    for r in rows:
        records.append(
            {
                "id": r.id,
                "changed_at": r.changed_at,
                "changed_by": r.changed_by,
                "changed_by_name": (
                    names.people.get(str(r.changed_by), "(removed user)")
                    if r.changed_by
                    else f"System ({r.source})"
                ),
                "source": r.source,
                "table_name": r.table_name,
                "kind": TABLE_LABELS.get(r.table_name, r.table_name),
                "action": r.action,
                "action_label": ACTION_LABELS.get(r.action, r.action),
                "row_id": r.row_id,
                "subject": _subject(r.table_name, r.row_id, r.old_values, r.new_values, names),
                "changes": describe_change(
                    r.table_name, r.action, r.old_values, r.new_values, names
                ),
                "batch_id": r.batch_id,
                "substation_id": r.substation_id,
                "customer_id": r.customer_id,
            }
        )
    frame = pd.DataFrame(records, columns=HISTORY_COLUMNS)
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
    return frame


def list_history_in(
    conn: Connection, filters: HistoryFilter, *, limit: int = 50, offset: int = 0
) -> HistoryPage:
    limit, offset = inputs.page(limit, offset)
    rows = _raw_rows(conn, filters, limit, offset)
    total = count_history_in(conn, filters, cap=max(COUNT_CAP, offset + limit))
    exact = total <= max(COUNT_CAP, offset + limit)
    return HistoryPage(
        rows=_frame(conn, rows), total=total if exact else total - 1, total_is_exact=exact
    )


def list_history(
    engine: Engine, identity: Identity, filters: HistoryFilter, *, limit: int = 50, offset: int = 0
) -> HistoryPage:
    """One page of changes, newest first, and how many match the filter in all."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    with user_transaction(snapshot, identity) as conn:
        return list_history_in(conn, filters, limit=limit, offset=offset)


def export_history_in(conn: Connection, filters: HistoryFilter) -> pd.DataFrame:
    count = count_history_in(conn, filters, cap=MAX_EXPORT_ROWS)
    if count > MAX_EXPORT_ROWS:
        raise ValidationError(
            f"More than {MAX_EXPORT_ROWS:,} changes match: narrow the filter (dates, table) to at most"
            " that many for one workbook"
        )
    return _frame(conn, _raw_rows(conn, filters, None, 0))


def export_history(engine: Engine, identity: Identity, filters: HistoryFilter) -> pd.DataFrame:
    """Every change matching the filter (newest first), for download."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    with user_transaction(snapshot, identity) as conn:
        return export_history_in(conn, filters)


EXPORT_TITLES = {
    "changed_at": "Changed at",
    "changed_by_name": "Changed by",
    "source": "Source",
    "kind": "What",
    "action_label": "Action",
    "subject": "Row",
    "changes": "What changed",
    "row_id": "Row id",
    "batch_id": "Batch",
}


def history_xlsx(engine: Engine, identity: Identity, filters: HistoryFilter) -> bytes:
    """The filter's changes as an .xlsx workbook (one sheet, readable columns)."""
    from ctm.excel import dataframe_to_xlsx

    frame = export_history(engine, identity, filters)
    frame = frame.assign(
        batch_id=frame["batch_id"].map(lambda v: str(v) if v else ""),
    )
    from ctm.clock import time_zone_for

    # Times in the stored zone; the header names it ("Changed at (Asia/Hong_Kong)").
    zone = time_zone_for(engine, identity)
    return dataframe_to_xlsx(frame, "History", column_titles=EXPORT_TITLES, time_zone=zone)


def people_in(conn: Connection) -> list[Person]:
    """Everyone the "who" filter can offer: users with a profile, by name."""
    rows = conn.execute(
        sa.text(
            "SELECT id, coalesce(full_name, email, id::text) FROM public.profiles ORDER BY 2, id"
        )
    )
    return [Person(r[0], r[1]) for r in rows]


def people(engine: Engine, identity: Identity) -> list[Person]:
    with user_transaction(engine, identity) as conn:
        return people_in(conn)


def change_summary_in(conn: Connection, *, days: int = 30, latest: int = 10) -> ChangeSummary:
    days = inputs.integer("days", days, minimum=1, maximum=36_600)
    latest = inputs.integer("latest", latest, minimum=1, maximum=inputs.MAX_PAGE_ROWS)
    since = datetime.now(UTC) - timedelta(days=days)
    grouped = conn.execute(
        sa.text(
            "SELECT a.changed_by, a.action, count(*) FROM public.audit_log AS a"
            " WHERE a.changed_at >= :since GROUP BY 1, 2"
        ),
        {"since": since},
    ).fetchall()
    people_names = {str(p.id): p.name for p in people_in(conn)}
    by_user: dict[str, int] = {}
    by_action: dict[str, int] = {label: 0 for label in ACTION_LABELS.values()}
    for who, action, n in grouped:
        name = people_names.get(str(who), "(removed user)") if who else "System"
        by_user[name] = by_user.get(name, 0) + int(n)
        label = ACTION_LABELS.get(action, action)
        by_action[label] = by_action.get(label, 0) + int(n)
    user_frame = pd.DataFrame(
        sorted(by_user.items(), key=lambda kv: (-kv[1], kv[0])), columns=["user", "changes"]
    )
    action_frame = pd.DataFrame(list(by_action.items()), columns=["action", "changes"])
    newest = _frame(conn, _raw_rows(conn, HistoryFilter(), latest, 0))
    return ChangeSummary(
        days=days,
        total=int(sum(by_user.values())),
        by_user=user_frame,
        by_action=action_frame,
        latest=newest,
    )


def change_summary(
    engine: Engine, identity: Identity, *, days: int = 30, latest: int = 10
) -> ChangeSummary:
    """Changes of the last `days` days by user and by action, and the `latest` newest changes."""
    with user_transaction(engine, identity) as conn:
        return change_summary_in(conn, days=days, latest=latest)


def customer_by_account(engine: Engine, identity: Identity, account_number: str) -> UUID:
    """The id of the customer with this account number (any case), for the customer filter."""
    account = inputs.text("account_number", account_number) or ""
    with user_transaction(engine, identity) as conn:
        found = conn.scalar(
            sa.text(
                "SELECT id FROM public.customers WHERE lower(account_number) = lower(:a)"
                " ORDER BY account_number = :a DESC LIMIT 1"
            ),
            {"a": account},
        )
    if found is None:
        raise ValidationError(f"Customer: no customer has the account number {account!r}")
    return found
