"""Each kind's matching and writing. A handler reads the file's rows, validates values in Python,
loads the rows into a temporary table, matches them against the database with joins, and — when
applying without errors — writes them with a few set-based statements."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ctm import roles
from ctm.imports.matching import CircuitNames, SubstationNames, canonical_circuit, name_key
from ctm.imports.reading import ImportFile
from ctm.imports.service import (
    ImportPreview,
    _Context,
    _copy,
    _lower_choice,
    _Rows,
    _text,
    today_in,
)
from ctm.imports.values import (
    check_account,
    parse_count,
    parse_date,
    parse_decimal,
    parse_flag,
)

CUSTOMER_TYPES = ("residential", "commercial", "industrial")
SUBSTATION_STATUSES = ("operational", "maintenance", "offline")
_LIVE = (
    "(m.disconnected_on IS NULL OR m.disconnected_on > :today)"
    " AND (m.active OR m.disconnected_on IS NOT NULL)"
)


def _say(ctx: _Context, message: str) -> None:
    if ctx.progress:
        ctx.progress(message)


def _substations(
    rows: _Rows, conn: Connection, texts: list[str | None], column: str = "substation"
) -> list[UUID | None]:
    names = SubstationNames(conn)
    found: dict[str, tuple[UUID | None, str | None]] = {}
    ids: list[UUID | None] = []
    for i, text in enumerate(texts):
        if text is None:
            ids.append(None)
            continue
        if text not in found:
            ref, problem = names.find(text)
            found[text] = (ref.id if ref else None, problem)
        substation_id, problem = found[text]
        if problem:
            rows.error(i, column, problem)
        ids.append(substation_id)
    return ids


def _circuits(
    rows: _Rows,
    conn: Connection,
    ctx: _Context,
    substation_ids: list[UUID | None],
    circuits: list[str | None],
    substation_texts: list[str | None],
) -> None:
    """Unknown circuits: registered for admins (a note), a row error for everyone else."""
    registry = CircuitNames(conn, sorted({s for s in substation_ids if s}, key=str))
    may_register = roles.can(ctx.role, roles.Action.SYNC_IMPORT)
    known: dict[tuple, bool] = {}
    for i, pair in enumerate(zip(substation_ids, circuits, strict=True)):
        substation_id, circuit = pair
        if substation_id is None or circuit is None:
            continue
        if pair not in known:
            known[pair] = registry.known(substation_id, circuit)
        if known[pair]:
            continue
        where = substation_texts[i]
        if may_register:
            rows.note(i, f"circuit {circuit} of {where} will be registered")
        else:
            rows.error(
                i,
                "circuit",
                f"circuit {circuit} is not registered for substation {where}"
                f"{registry.suggestion(substation_id, circuit)}; an admin can register it",
            )


# Mappings ----------------------------------------------------------------------------------------

_MAPPING_TEMP = """
CREATE TEMPORARY TABLE ctm_import_mappings (
  row_no              integer PRIMARY KEY,
  account_number      text,
  substation_id       uuid,
  circuit             text,
  customer_name       text,
  customer_type       text,
  critical_customer   boolean,
  address             text,
  contract_demand_kva numeric,
  active              boolean,
  connected_since     date,
  disconnected_on     date,
  usable              boolean NOT NULL,
  customer_id         uuid,
  mapping_id          uuid,
  action              text
) ON COMMIT DROP
"""


def import_mappings(conn: Connection, file: ImportFile, ctx: _Context) -> ImportPreview:
    rows = _Rows(file)
    has = set(file.columns)
    accounts = rows.parsed("account_number", lambda v: check_account(v) if v else None)
    rows.require("account_number", accounts)
    substation_texts = [_text(v) for v in rows.values("substation")]
    rows.require("substation", substation_texts)
    circuits = [canonical_circuit(_text(v)) if v else None for v in rows.values("circuit")]
    rows.require("circuit", circuits)
    names = [_text(v) for v in rows.values("customer_name")]
    types = rows.parsed("customer_type", _lower_choice(CUSTOMER_TYPES))
    critical = rows.parsed("critical_customer", parse_flag)
    addresses = [_text(v) for v in rows.values("address")]
    demand = rows.parsed("contract_demand_kva", parse_decimal)
    active = rows.parsed("active", lambda v: parse_flag(v, True))
    since = rows.parsed("connected_since", parse_date)
    until = rows.parsed("disconnected_on", parse_date)
    today = today_in(conn)
    for i in range(len(rows.numbers)):
        if since[i] and until[i] and since[i] >= until[i]:
            rows.error(i, "disconnected_on", f"{until[i]} is not after connected_since {since[i]}")
        elif active[i] and until[i] and until[i] <= today:
            rows.error(
                i,
                "disconnected_on",
                f"{until[i]} is not in the future: the mapping has ended, so set active to false",
            )
    substation_ids = _substations(rows, conn, substation_texts)
    _circuits(rows, conn, ctx, substation_ids, circuits, substation_texts)
    rows.duplicates(
        [
            (name_key(a), s, c) if a and s and c else None
            for a, s, c in zip(accounts, substation_ids, circuits, strict=True)
        ],
        "account_number, substation and circuit",
    )
    _say(ctx, f"matching {len(rows.numbers):,} rows")

    conn.execute(sa.text(_MAPPING_TEMP))
    columns = [
        "row_no",
        "account_number",
        "substation_id",
        "circuit",
        "customer_name",
        "customer_type",
        "critical_customer",
        "address",
        "contract_demand_kva",
        "active",
        "connected_since",
        "disconnected_on",
        "usable",
    ]
    records = [
        (
            rows.numbers[i],
            accounts[i],
            substation_ids[i],
            circuits[i],
            names[i],
            types[i],
            critical[i],
            addresses[i],
            demand[i],
            active[i],
            since[i],
            until[i],
            not rows.failed[i] and bool(accounts[i] and substation_ids[i] and circuits[i]),
        )
        for i in range(len(rows.numbers))
    ]
    _copy(conn, "ctm_import_mappings", columns, records)
    conn.execute(sa.text("ANALYZE ctm_import_mappings"))
    conn.execute(
        sa.text(
            "UPDATE ctm_import_mappings AS r SET customer_id = c.id FROM public.customers AS c"
            " WHERE c.account_number = r.account_number"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE ctm_import_mappings AS r SET mapping_id = live.id FROM ("
            " SELECT DISTINCT ON (r2.row_no) r2.row_no, m.id"
            " FROM ctm_import_mappings AS r2"
            " JOIN public.customer_transformer_matching AS m ON m.customer_id = r2.customer_id"
            "  AND m.substation_id = r2.substation_id AND m.circuit_id = r2.circuit"
            f" WHERE r2.usable AND {_LIVE}"
            " ORDER BY r2.row_no, m.connected_since NULLS FIRST) AS live"
            " WHERE live.row_no = r.row_no"
        ),
        {"today": today},
    )
    matched = conn.execute(
        sa.text(
            "SELECT r.row_no, r.customer_id IS NOT NULL AS known, c.name, c.customer_type,"
            " c.critical_customer, c.address, c.contract_demand_kva,"
            " r.mapping_id IS NOT NULL AS mapped, m.active AS m_active,"
            " m.connected_since AS m_since, m.disconnected_on AS m_until"
            " FROM ctm_import_mappings AS r"
            " LEFT JOIN public.customers AS c ON c.id = r.customer_id"
            " LEFT JOIN public.customer_transformer_matching AS m ON m.id = r.mapping_id"
            " ORDER BY r.row_no"
        )
    ).all()
    padded = dict(
        conn.execute(
            sa.text(
                "SELECT DISTINCT ON (r.row_no) r.row_no, c.account_number"
                " FROM ctm_import_mappings AS r JOIN public.customers AS c"
                "  ON ltrim(c.account_number, '0') = ltrim(r.account_number, '0')"
                " WHERE r.customer_id IS NULL AND r.account_number ~ '^[0-9]+$'"
                "  AND c.account_number ~ '^[0-9]+$' AND c.account_number <> r.account_number"
                " ORDER BY r.row_no, c.account_number"
            )
        ).all()
    )
    index = {n: i for i, n in enumerate(rows.numbers)}
    actions: dict[int, str] = {}
    for m in matched:
        i = index[m.row_no]
        if not m.known and m.row_no in padded:
            rows.error(
                i,
                "account_number",
                f"account {accounts[i]} is not known but {padded[m.row_no]} is: Excel may have"
                f" dropped leading zeros; write {padded[m.row_no]} (format the column as Text)",
            )
            continue
        if rows.failed[i]:
            continue
        if not m.known:
            if not active[i]:
                rows.note(i, "not mapped: nothing to end")
                continue
            if names[i] is None:
                rows.error(
                    i,
                    "customer_name" if "customer_name" in has else "account_number",
                    f"account {accounts[i]} is not known: give customer_name to create it",
                )
                continue
            rows.outcome[i] = "new"
            rows.note(i, "new customer and mapping")
            actions[m.row_no] = "insert"
            continue
        for column, given, stored in (
            ("customer_name", names[i], m.name),
            ("customer_type", types[i], m.customer_type),
            ("critical_customer", critical[i], m.critical_customer),
            ("address", addresses[i], m.address),
            ("contract_demand_kva", demand[i], m.contract_demand_kva),
        ):
            if given is not None and given != stored:
                header = file.headers.get(column, column)
                rows.note(i, f"{header} differs from the stored {stored!r} (not changed)")
        if not m.mapped:
            if active[i]:
                rows.outcome[i] = "new"
                rows.note(i, "new mapping")
                actions[m.row_no] = "insert"
            else:
                rows.note(i, "no current mapping: nothing to end")
            continue
        if not active[i]:
            rows.outcome[i] = "changed"
            rows.note(i, "ends the mapping")
            actions[m.row_no] = "end"
            continue
        changes = []
        if "connected_since" in has and since[i] != m.m_since:
            changes.append(f"connected_since {m.m_since or 'empty'} → {since[i] or 'empty'}")
        if "disconnected_on" in has and until[i] != m.m_until:
            changes.append(f"disconnected_on {m.m_until or 'empty'} → {until[i] or 'empty'}")
        if changes:
            rows.outcome[i] = "changed"
            rows.note(i, "; ".join(changes))
            actions[m.row_no] = "update"
        else:
            rows.note(i, "already mapped")

    ended = pd.DataFrame(columns=["account_number", "customer_name", "substation", "circuit"])
    sync_ids: list[UUID] = []
    if ctx.sync:
        present = sorted({s for s in substation_ids if s}, key=str)
        found = conn.execute(
            sa.text(
                "SELECT m.id, c.account_number, c.name, s.name AS substation, m.circuit_id"
                " FROM public.customer_transformer_matching AS m"
                " JOIN public.customers AS c ON c.id = m.customer_id"
                " JOIN public.substations AS s ON s.id = m.substation_id"
                f" WHERE m.substation_id = ANY(CAST(:present AS uuid[])) AND {_LIVE}"
                " AND NOT EXISTS (SELECT 1 FROM ctm_import_mappings AS r"
                "  WHERE r.customer_id = m.customer_id AND r.substation_id = m.substation_id"
                "  AND r.circuit = m.circuit_id)"
                " ORDER BY s.name, m.circuit_id, c.account_number"
            ),
            {"present": [str(p) for p in present], "today": today},
        ).all()
        sync_ids = [r.id for r in found]
        ended = pd.DataFrame(
            [tuple(r)[1:] for r in found],
            columns=["account_number", "customer_name", "substation", "circuit"],
        )
    preview = rows.preview("mappings", sync=ctx.sync, ended_by_sync=ended)
    if ctx.apply and not preview.error_rows:
        _say(ctx, f"writing {len(actions):,} changes")
        _apply_mappings(conn, actions, has, sync_ids)
    return preview


def _apply_mappings(
    conn: Connection, actions: dict[int, str], has: set[str], sync_ids: list[UUID]
) -> None:
    if actions:
        conn.execute(
            sa.text(
                "CREATE TEMPORARY TABLE ctm_import_actions"
                " (row_no integer PRIMARY KEY, action text NOT NULL) ON COMMIT DROP"
            )
        )
        _copy(conn, "ctm_import_actions", ["row_no", "action"], list(actions.items()))
        conn.execute(
            sa.text(
                "UPDATE ctm_import_mappings AS r SET action = a.action"
                " FROM ctm_import_actions AS a WHERE r.row_no = a.row_no"
            )
        )
    conn.execute(
        sa.text(
            "INSERT INTO public.customers (account_number, name, customer_type,"
            " critical_customer, address, contract_demand_kva)"
            " SELECT DISTINCT ON (account_number) account_number, customer_name,"
            "  coalesce(customer_type, 'residential'), coalesce(critical_customer, true),"
            "  address, contract_demand_kva"
            " FROM ctm_import_mappings WHERE action = 'insert' AND customer_id IS NULL"
            " ORDER BY account_number, row_no"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE ctm_import_mappings AS r SET customer_id = c.id FROM public.customers AS c"
            " WHERE r.action = 'insert' AND r.customer_id IS NULL"
            " AND c.account_number = r.account_number"
        )
    )
    since = "r.connected_since" if "connected_since" in has else "m.connected_since"
    until = "r.disconnected_on" if "disconnected_on" in has else "m.disconnected_on"
    conn.execute(
        sa.text(
            "UPDATE public.customer_transformer_matching AS m"
            f" SET connected_since = {since}, disconnected_on = {until}"
            " FROM ctm_import_mappings AS r WHERE r.action = 'update' AND m.id = r.mapping_id"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE public.customer_transformer_matching AS m"
            f" SET active = false, connected_since = {since},"
            " disconnected_on = coalesce(r.disconnected_on, m.disconnected_on)"
            " FROM ctm_import_mappings AS r WHERE r.action = 'end' AND m.id = r.mapping_id"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO public.customer_transformer_matching"
            " (customer_id, substation_id, circuit_id, active, connected_since, disconnected_on)"
            " SELECT customer_id, substation_id, circuit, true, connected_since, disconnected_on"
            " FROM ctm_import_mappings WHERE action = 'insert' ORDER BY row_no"
        )
    )
    if sync_ids:
        conn.execute(
            sa.text(
                "UPDATE public.customer_transformer_matching SET active = false"
                " WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": [str(i) for i in sync_ids]},
        )


# Substations, circuits, meters: small reference tables, matched in Python, written set-based ----


def _differences(given: dict[str, Any], stored: Any, headers: dict[str, str]) -> list[str]:
    """'column old → new' for every given (non-empty) value that differs from the stored one."""
    changes = []
    for column, value in given.items():
        if value is None:
            continue
        old = getattr(stored, column)
        if isinstance(old, Decimal) or isinstance(value, Decimal):
            same = old is not None and Decimal(str(old)) == Decimal(str(value))
        else:
            same = old == value
        if not same:
            changes.append(
                f"{headers.get(column, column)} {old if old is not None else 'empty'} → {value}"
            )
    return changes


def _write_changes(
    conn: Connection,
    table: str,
    key_columns: list[str],
    columns: list[str],
    records: list[tuple],
    defaults: dict[str, str] | None = None,
) -> None:
    """INSERT the rows marked 'insert' and UPDATE (keeping stored values where the file gives
    none) the rows marked 'update', with one statement each, from a temporary table."""
    if not records:
        return
    temp = f"ctm_import_{table.split('.')[-1]}"
    all_columns = ["action", *key_columns, *columns]
    conn.execute(
        sa.text(
            f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS"
            f" SELECT ''::text AS action, {', '.join(key_columns + columns)} FROM {table} LIMIT 0"
        )
    )
    _copy(conn, temp, all_columns, records)
    sets = ", ".join(f"{c} = coalesce(r.{c}, t.{c})" for c in columns)
    on = " AND ".join(f"t.{k} = r.{k}" for k in key_columns)
    if columns:
        conn.execute(
            sa.text(
                f"UPDATE {table} AS t SET {sets} FROM {temp} AS r WHERE r.action = 'update' AND {on}"
            )
        )
    defaults = defaults or {}
    inserted = key_columns + columns
    values = ", ".join(
        f"coalesce(r.{c}, {defaults[c]})" if c in defaults else f"r.{c}" for c in inserted
    )
    conn.execute(
        sa.text(
            f"INSERT INTO {table} ({', '.join(inserted)}) SELECT {values} FROM {temp} AS r"
            " WHERE r.action = 'insert'"
        )
    )


def _text_values(rows: _Rows, column: str) -> list[str | None]:
    return [_text(v) for v in rows.values(column)]


def import_substations(conn: Connection, file: ImportFile, ctx: _Context) -> ImportPreview:
    rows = _Rows(file)
    names = _text_values(rows, "name")
    rows.require("name", names)
    codes = _text_values(rows, "code")
    given = {
        "voltage_level": _text_values(rows, "voltage_level"),
        "region": _text_values(rows, "region"),
        "latitude": rows.parsed("latitude", lambda v: _bounded(v, 90)),
        "longitude": rows.parsed("longitude", lambda v: _bounded(v, 180)),
        "status": rows.parsed("status", _lower_choice(SUBSTATION_STATUSES)),
    }
    stored = conn.execute(
        sa.text(
            "SELECT id, name, code, voltage_level, region, latitude, longitude, status"
            " FROM public.substations"
        )
    ).all()
    by_code = {name_key(s.code): s for s in stored if s.code}
    by_name: dict[str, list] = {}
    for s in stored:
        by_name.setdefault(name_key(s.name), []).append(s)
    rows.duplicates(
        [
            ("code", name_key(c)) if c else ("name", name_key(n)) if n else None
            for n, c in zip(names, codes, strict=True)
        ],
        "substation (code, or name without a code)",
    )
    records = []
    for i, name in enumerate(names):
        if rows.failed[i]:
            continue
        code = codes[i]
        match = by_code.get(name_key(code)) if code else None
        if match is None:
            same_name = by_name.get(name_key(name), [])
            if code:
                same_name = [s for s in same_name if not s.code]
            if len(same_name) > 1:
                rows.error(
                    i,
                    "name",
                    f"{len(same_name)} substations are named {name!r}: add the code column",
                )
                continue
            match = same_name[0] if same_name else None
        values = {"name": name, "code": code, **{c: v[i] for c, v in given.items()}}
        if match is None:
            rows.outcome[i] = "new"
            rows.note(i, "new substation")
            records.append(("insert", None, *values.values()))
            continue
        changes = _differences(values, match, file.headers)
        if changes:
            rows.outcome[i] = "changed"
            rows.note(i, "; ".join(changes))
            records.append(("update", match.id, *values.values()))
        else:
            rows.note(i, "already as in the file")
    preview = rows.preview("substations")
    if ctx.apply and not preview.error_rows:
        _write_changes(
            conn,
            "public.substations",
            ["id"],
            ["name", "code", *given],
            records,
            defaults={"id": "gen_random_uuid()", "status": "'operational'"},
        )
    return preview


def _bounded(value: Any, limit: int) -> Decimal | None:
    number = parse_decimal(value, minimum=None)
    if number is not None and abs(number) > limit:
        raise ValueError(f"{value!r} is outside −{limit} … {limit}")
    return number


def import_circuits(conn: Connection, file: ImportFile, ctx: _Context) -> ImportPreview:
    rows = _Rows(file)
    substation_texts = _text_values(rows, "substation")
    rows.require("substation", substation_texts)
    circuits = [canonical_circuit(v) if v else None for v in _text_values(rows, "circuit")]
    rows.require("circuit", circuits)
    given = {
        "description": _text_values(rows, "description"),
        "customers_served": rows.parsed("customers_served", parse_count),
        "max_mapped_customers": rows.parsed("max_mapped_customers", parse_count),
        "active": rows.parsed("active", parse_flag),
        "retired_on": rows.parsed("retired_on", parse_date),
    }
    substation_ids = _substations(rows, conn, substation_texts)
    rows.duplicates(
        [(s, c) if s and c else None for s, c in zip(substation_ids, circuits, strict=True)],
        "substation and circuit",
    )
    stored = {
        (r.substation_id, r.circuit_id): r
        for r in conn.execute(
            sa.text(
                "SELECT substation_id, circuit_id, description, customers_served,"
                " max_mapped_customers, active, retired_on FROM public.substation_circuits"
            )
        )
    }
    records = []
    for i, circuit in enumerate(circuits):
        if rows.failed[i]:
            continue
        values = {c: v[i] for c, v in given.items()}
        match = stored.get((substation_ids[i], circuit))
        if match is None:
            rows.outcome[i] = "new"
            rows.note(i, f"registers circuit {circuit}")
            records.append(("insert", substation_ids[i], circuit, *values.values()))
            continue
        changes = _differences(values, match, file.headers)
        if changes:
            rows.outcome[i] = "changed"
            rows.note(i, "; ".join(changes))
            records.append(("update", substation_ids[i], circuit, *values.values()))
        else:
            rows.note(i, "already registered as in the file")
    preview = rows.preview("circuits")
    if ctx.apply and not preview.error_rows:
        _write_changes(
            conn,
            "public.substation_circuits",
            ["substation_id", "circuit_id"],
            list(given),
            records,
            defaults={"active": "true"},
        )
    return preview


def import_meters(conn: Connection, file: ImportFile, ctx: _Context) -> ImportPreview:
    rows = _Rows(file)
    meters = _text_values(rows, "meter_id")
    rows.require("meter_id", meters)
    substation_texts = _text_values(rows, "substation")
    rows.require("substation", substation_texts)
    circuits = [canonical_circuit(v) if v else None for v in _text_values(rows, "circuit")]
    given = {
        "voltage_level": _text_values(rows, "voltage_level"),
        "site_id": _text_values(rows, "site_id"),
        "location": _text_values(rows, "location"),
        "active": rows.parsed("active", parse_flag),
    }
    substation_ids = _substations(rows, conn, substation_texts)
    _circuits(rows, conn, ctx, substation_ids, circuits, substation_texts)
    rows.duplicates(meters, "meter name")
    stored = {
        r.meter_id: r
        for r in conn.execute(
            sa.text(
                "SELECT id, meter_id, substation_id, circuit_id, voltage_level, site_id,"
                " location, active FROM public.pq_meters"
            )
        )
    }
    records = []
    for i, meter in enumerate(meters):
        if rows.failed[i]:
            continue
        values = {
            "meter_id": meter,
            "substation_id": substation_ids[i],
            "circuit_id": circuits[i],
            **{c: v[i] for c, v in given.items()},
        }
        match = stored.get(meter)
        if match is None:
            rows.outcome[i] = "new"
            rows.note(i, "new meter")
            records.append(("insert", None, *values.values()))
            continue
        changes = _differences(values, match, {**file.headers, "substation_id": "substation"})
        if changes:
            rows.outcome[i] = "changed"
            rows.note(
                i,
                "; ".join(c for c in changes if not c.startswith("substation "))
                or "moved to another substation",
            )
            records.append(("update", match.id, *values.values()))
        else:
            rows.note(i, "already as in the file")
    preview = rows.preview("meters")
    if ctx.apply and not preview.error_rows:
        _write_changes(
            conn,
            "public.pq_meters",
            ["id"],
            ["meter_id", "substation_id", "circuit_id", *given],
            records,
            defaults={"id": "gen_random_uuid()", "active": "true"},
        )
    return preview


HANDLERS: dict[str, Any] = {
    "mappings": import_mappings,
    "substations": import_substations,
    "circuits": import_circuits,
    "meters": import_meters,
}
