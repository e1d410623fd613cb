"""Each kind's matching and writing. A handler reads the file's rows, validates values in Python,
loads the rows into a temporary table, matches them against the database with joins, and — when
applying without errors — writes them with a few set-based statements."""

from __future__ import annotations

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
from ctm.imports.values import check_account, parse_date, parse_decimal, parse_flag

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
    for i, (substation_id, circuit) in enumerate(zip(substation_ids, circuits, strict=True)):
        if substation_id is None or circuit is None or registry.known(substation_id, circuit):
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
            "SELECT r.row_no, r.customer_id, c.name, c.customer_type, c.critical_customer,"
            " c.address, c.contract_demand_kva, r.mapping_id, m.active AS m_active,"
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
        if m.customer_id is None and m.row_no in padded:
            rows.error(
                i,
                "account_number",
                f"account {accounts[i]} is not known but {padded[m.row_no]} is: Excel may have"
                f" dropped leading zeros; write {padded[m.row_no]} (format the column as Text)",
            )
            continue
        if rows.failed[i]:
            continue
        if m.customer_id is None:
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
        if m.mapping_id is None:
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
                "UPDATE ctm_import_mappings AS r SET action = a.action"
                " FROM unnest(CAST(:rows AS integer[]), CAST(:actions AS text[]))"
                "  AS a (row_no, action) WHERE r.row_no = a.row_no"
            ),
            {"rows": list(actions), "actions": list(actions.values())},
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


HANDLERS: dict[str, Any] = {"mappings": import_mappings}
