"""Real-looking import files for the import tests (built with openpyxl and plain bytes), and a
small grid to import into."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import sqlalchemy as sa

from ctm import db

HEADER = ["account_number", "substation", "circuit", "customer_name"]


def xlsx_bytes(rows: list[list], *, above: list[list] | None = None, sheet="Data") -> bytes:
    workbook = openpyxl.Workbook()
    sheet_ = workbook.active
    sheet_.title = sheet
    for row in (above or []) + rows:
        sheet_.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_xlsx(path: Path, rows: list[list], **kwargs) -> Path:
    path.write_bytes(xlsx_bytes(rows, **kwargs))
    return path


def csv_text(rows: list[list], sep: str = ",") -> str:
    return "".join(sep.join("" if v is None else str(v) for v in row) + "\r\n" for row in rows)


def write_csv(path: Path, rows: list[list], *, sep=",", encoding="utf-8", bom=False) -> Path:
    data = csv_text(rows, sep).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def with_cached_formula(data: bytes, cell: str, formula: str, cached: str) -> bytes:
    """The workbook with `cell` holding a formula and the value Excel cached for it (openpyxl
    cannot write cached values; Excel always does)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                text, n = re.subn(
                    rf'<c r="{cell}"[^>]*?(?:/>|>.*?</c>)',
                    f'<c r="{cell}" t="str"><f>{formula}</f><v>{cached}</v></c>',
                    text,
                )
                assert n == 1, f"cell {cell} not found"
                content = text.encode()
            target.writestr(item, content)
    return out.getvalue()


@dataclass(frozen=True)
class Grid:
    north: uuid.UUID  # North (code NTH): circuits H1, H2, H10
    south: uuid.UUID  # South (code STH): circuit H1
    zeros: uuid.UUID  # customer 00123 "Zero Padded Ltd", no mapping
    acme: uuid.UUID  # customer ACC-1 "Acme Steel", mapped North/H1 (current)
    bolt: uuid.UUID  # customer ACC-2 "Bolt Foods", mapped North/H2 (current)


def make_grid(engine) -> Grid:
    north, south = uuid.uuid4(), uuid.uuid4()
    zeros, acme, bolt = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.owner_transaction(engine, source="sql") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO substations (id, name, code) VALUES"
                " (:n, 'North', 'NTH'), (:s, 'South', 'STH')"
            ),
            {"n": north, "s": south},
        )
        conn.execute(
            sa.text(
                "INSERT INTO substation_circuits (substation_id, circuit_id) VALUES"
                " (:n, 'H1'), (:n, 'H2'), (:n, 'H10'), (:s, 'H1')"
            ),
            {"n": north, "s": south},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers (id, account_number, name, customer_type) VALUES"
                " (:z, '00123', 'Zero Padded Ltd', 'commercial'),"
                " (:a, 'ACC-1', 'Acme Steel', 'industrial'),"
                " (:b, 'ACC-2', 'Bolt Foods', 'commercial')"
            ),
            {"z": zeros, "a": acme, "b": bolt},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:a, :n, 'H1'), (:b, :n, 'H2')"
            ),
            {"a": acme, "b": bolt, "n": north},
        )
    return Grid(north, south, zeros, acme, bolt)


def counts(engine) -> tuple[int, int, int]:
    """(customers, mappings, current mappings) — to prove nothing was written."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM customers), "
                    "(SELECT count(*) FROM customer_transformer_matching), "
                    "(SELECT count(*) FROM customer_transformer_matching WHERE active)"
                )
            ).one()
        )
