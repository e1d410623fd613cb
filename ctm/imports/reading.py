"""Reading an import file: .xlsx (first sheet, python-calamine through pandas) or .csv (encoding
and separator detected), header row found below any title rows, values cleaned. Every refusal is
an ImportFileError whose message names the file and what is wrong with it; nothing is written."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from ctm import inputs
from ctm.errors import ValidationError
from ctm.imports.kinds import KindSpec, normalize_header

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
HEADER_SEARCH_ROWS = 30
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SEPARATORS = (",", ";", "\t")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SPACES = re.compile(r"[\s\xa0\u2007\u202f]+")
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (type, size, encoding, header); nothing was written."""


@dataclass(frozen=True)
class ImportFile:
    """The rows of an import file under their canonical column names.

    `rows` has one column per canonical column found (cleaned text, a date for real spreadsheet
    dates, None for empty) plus `row`: the row as the spreadsheet shows it (CSV: the line)."""

    file_name: str
    file_type: str  # "csv" | "xlsx"
    rows: pd.DataFrame
    columns: tuple[str, ...]  # canonical columns present, in file order
    headers: dict[str, str]  # canonical column → header text as in the file
    header_row: int
    checksum: str
    encoding: str | None = None
    separator: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    ignored_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def row_word(self) -> str:
        return "line" if self.file_type == "csv" else "row"

    def place(self, row: int, column: str | None = None) -> str:
        """'line 7, column circuit' — where a value sits, as the user's program shows it."""
        where = f"{self.row_word} {row}"
        if column:
            where += f", column {self.headers.get(column, column)}"
        return where


def clean_text(value: object) -> str | None:
    """A cell as text: surrounding and non-breaking spaces trimmed, invisible characters dropped,
    whole numbers as their digits (100234.0 → "100234"); None when empty."""
    if value is None:
        return None
    if type(value) is str and value.isascii():
        # No invisible or non-breaking characters in ASCII; str.split's whitespace is \s.
        return " ".join(value.split()) or None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if value is pd.NaT:
        return None
    text = _SPACES.sub(" ", str(value).translate(_INVISIBLE)).strip()
    return text or None


def _cell(value: object) -> object:
    """A spreadsheet cell as the import keeps it: real dates stay dates, the rest is clean text."""
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value
    if isinstance(value, date):
        return value
    return clean_text(value)


def _clean_column(values: list[object]) -> list[object]:
    """_cell over a column; columns repeat their values (substations, circuits), so each distinct
    value is cleaned once."""
    seen: dict[object, object] = {}
    out = []
    for value in values:
        try:
            cleaned = seen[value]
        except KeyError:
            cleaned = seen[value] = _cell(value)
        except TypeError:  # unhashable: never from a cell, but be safe
            cleaned = _cell(value)
        out.append(cleaned)
    return out


def read_import_file(
    source: str | Path | bytes,
    spec: KindSpec,
    *,
    file_name: str | None = None,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportFile:
    """Read a .csv or .xlsx import file for `spec`. A path is checked for size before it is read."""
    file_name = inputs.text("file_name", file_name)
    if isinstance(source, bytes):
        data = source
        name = file_name or "upload"
        size = len(data)
        check_size(name, size)
    else:
        path = Path(source)
        name = file_name or path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImportFileError(f"cannot open {name}: {exc.strerror or exc}") from None
        if path.is_dir():
            raise ImportFileError(f"{name} is a folder, not a file")
        check_size(name, size)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    checksum = hashlib.sha256(data).hexdigest()
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ImportFileError(f"{name} is empty: there is nothing to import")
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    if data.startswith(OLE_MAGIC):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in data:
            raise ImportFileError(
                f"{name} is a password-protected workbook: ctm cannot open it. In Excel, remove"
                " the password (File → Info → Protect Workbook → Encrypt with Password, clear it)"
                " and save it as .xlsx"
            )
        raise ImportFileError(
            f"{name} is an old Excel 97-2003 workbook (.xls): open it in Excel and save it as"
            " .xlsx (Excel Workbook) or .csv"
        )
    if data.startswith(ZIP_MAGIC):
        if suffix != ".xlsx":
            notes.append(f"{name} is an Excel workbook despite its name; read it as .xlsx")
        frame = _xlsx_cells(data, name)
        file_type, used_encoding, separator = "xlsx", None, None
    else:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            if b"\x00" in data[:4096] and not data[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise ImportFileError(f"{name} is not a valid Excel workbook (.xlsx)")
            notes.append(f"{name} is a text (CSV) file despite its name; read it as CSV")
        text, used_encoding = decode_csv(data, name, encoding)
        frame, separator = _csv_cells(text, name, spec)
        file_type = "csv"
    if progress:
        progress(f"read {name} ({size:,} bytes)")
    return _table(frame, spec, name, file_type, checksum, used_encoding, separator, notes)


def check_size(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise ImportFileError(
            f"{name} is {size / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB:"
            " split the file"
        )


def _too_many_rows(name: str, rows: int) -> ImportFileError:
    return ImportFileError(
        f"{name} has {rows:,} rows; the limit is {MAX_ROWS:,} rows per import: split the file"
    )


# Excel -------------------------------------------------------------------------------------------


def _first_sheet_rows(data: bytes) -> int | None:
    """The last row number the first sheet declares (<dimension>), read without parsing it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            first = re.search(r"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"", workbook)
            if not first:
                return None
            target = re.search(
                r"<Relationship\b[^>]*?Id=\"" + re.escape(first.group(1)) + r"\"[^>]*>", rels
            )
            path = re.search(r"Target=\"([^\"]+)\"", target.group(0)) if target else None
            if not path:
                return None
            member = path.group(1).lstrip("/")
            if not member.startswith("xl/"):
                member = "xl/" + member
            with archive.open(member) as sheet:
                head = sheet.read(65536).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError):
        return None
    found = re.search(r"<(?:\w+:)?dimension ref=\"[A-Z]*\d*:?[A-Z]*(\d+)\"", head)
    return int(found.group(1)) if found else None


def _xlsx_cells(data: bytes, name: str) -> pd.DataFrame:
    declared = _first_sheet_rows(data)
    if declared is not None and declared > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise _too_many_rows(name, declared - 1)
    try:
        frame = pd.read_excel(
            io.BytesIO(data), sheet_name=0, header=None, dtype=object, engine="calamine"
        )
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for every damage
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportFileError(f"cannot read {name} as an Excel workbook: {reason}") from None
    # Excel shows the pandas row i as row i + 1 (calamine keeps leading empty rows).
    frame.index = range(1, len(frame) + 1)
    return frame


# CSV ---------------------------------------------------------------------------------------------


def decode_csv(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """The text of a CSV file and the encoding used: a BOM decides (UTF-8, UTF-16); else the
    named encoding; else UTF-8 when the bytes are valid UTF-8; else cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8 (with BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ImportFileError(f"{name} starts with a UTF-16 mark but is not UTF-16") from None
    if encoding:
        import codecs

        try:
            canonical = codecs.lookup(encoding).name
        except LookupError:
            raise ImportFileError(
                f"unknown encoding {encoding!r}: use a name such as utf-8, cp1252, big5, gbk"
            ) from None
        try:
            return data.decode(canonical), canonical
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{name} is not valid {canonical}: byte {exc.start + 1:,} cannot be decoded"
                " (choose another encoding)"
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{name} is neither UTF-8 nor cp1252 (byte {exc.start + 1:,}): name its encoding,"
            " e.g. --encoding big5"
        ) from None


def _header_score(cells: list[object], spec: KindSpec) -> tuple[int, bool]:
    found = {spec.column_for(normalize_header(c)) for c in cells if clean_text(c)}
    found.discard(None)
    return len(found), all(r in found for r in spec.required)


def _csv_cells(text: str, name: str, spec: KindSpec) -> tuple[pd.DataFrame, str]:
    lines = text.count("\n")
    if lines > MAX_ROWS + HEADER_SEARCH_ROWS + 1:
        raise _too_many_rows(name, lines)
    sample = text[:65536].splitlines()[: HEADER_SEARCH_ROWS + 5]
    best, best_key = ",", (-1, False, 0)
    for separator in SEPARATORS:
        parsed = list(csv.reader(sample, delimiter=separator))
        score = max(((*_header_score(r, spec), len(r)) for r in parsed), default=(0, False, 0))
        key = (score[0], score[1], max((len(r) for r in parsed), default=0))
        if key > best_key:
            best, best_key = separator, key
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=best)
    records: list[list[str]] = []
    numbers: list[int] = []
    start = 1
    try:
        for record in reader:
            records.append(record)
            numbers.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"{name}, line {start}: {exc}") from None
    width = max((len(r) for r in records), default=0)
    frame = pd.DataFrame(
        [r + [""] * (width - len(r)) for r in records], index=numbers, dtype=object
    )
    return frame, best


# Both --------------------------------------------------------------------------------------------


def _table(
    frame: pd.DataFrame,
    spec: KindSpec,
    name: str,
    file_type: str,
    checksum: str,
    used_encoding: str | None,
    separator: str | None,
    notes: list[str],
) -> ImportFile:
    non_empty = [
        (index, list(values))
        for index, values in zip(frame.index[:200], frame.head(200).itertuples(index=False))
        if any(clean_text(v) for v in values)
    ]
    if not non_empty:
        where = "the first sheet of " + name if file_type == "xlsx" else name
        raise ImportFileError(f"{where} is empty: there is nothing to import")
    header_index = None
    for index, values in non_empty[:HEADER_SEARCH_ROWS]:
        score, has_required = _header_score(values, spec)
        if has_required or score >= 2:
            header_index, header_values = index, values
            break
    if header_index is None:
        first = ", ".join(str(clean_text(v)) for v in non_empty[0][1] if clean_text(v))
        raise ImportFileError(
            f"{name}: no header row with the {spec.name} columns in its first"
            f" {HEADER_SEARCH_ROWS} rows: expected {', '.join(spec.required)}"
            f" (first row found: {first[:200]})"
        )
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for position, raw in enumerate(header_values):
        text = clean_text(raw)
        if not text:
            continue
        column = spec.column_for(normalize_header(text))
        if column is None:
            ignored.append(text)
            continue
        if column in headers:
            raise ImportFileError(
                f"{name}: columns {headers[column]!r} and {text!r} both give {column}; keep one"
            )
        headers[column] = text
        positions[column] = position
    missing = [c for c in spec.required if c not in headers]
    if missing:
        found = ", ".join(clean_text(v) for v in header_values if clean_text(v))
        noun = "column" if len(missing) == 1 else "columns"
        raise ImportFileError(
            f"{name}: missing required {noun} {', '.join(missing)}"
            f" ({file_type == 'csv' and 'line' or 'row'} {header_index} has the columns: {found})"
        )
    body = frame.loc[frame.index > header_index]
    columns = list(headers)
    data = pd.DataFrame(
        {column: _clean_column(body.iloc[:, positions[column]].tolist()) for column in columns},
        index=body.index,
        dtype=object,
    )
    blank = data.isna().all(axis=1) if len(data) else pd.Series([], dtype=bool)
    data = data.loc[~blank]
    if len(data) > MAX_ROWS:
        raise _too_many_rows(name, len(data))
    data.insert(0, "row", data.index.astype("int64"))
    data = data.reset_index(drop=True)
    return ImportFile(
        file_name=name,
        file_type=file_type,
        rows=data,
        columns=tuple(columns),
        headers=headers,
        header_row=int(header_index),
        checksum=checksum,
        encoding=used_encoding,
        separator=separator,
        notes=tuple(notes),
        ignored_columns=tuple(ignored),
    )
