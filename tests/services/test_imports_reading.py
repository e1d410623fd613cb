"""Reading real-looking import files: encodings, separators, title rows, empty rows and columns,
merged header cells, formulas, numbers Excel made of account numbers, dates, odd spaces, limits
and broken files. Each bad file gives a message that says what is wrong; nothing is read past it."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from importfiles import HEADER, csv_text, with_cached_formula, write_csv, write_xlsx, xlsx_bytes

from ctm.imports import kinds
from ctm.imports.reading import MAX_ROWS, ImportFileError, read_import_file
from ctm.imports.values import parse_date

ROWS = [HEADER, ["ACC-1", "North", "H1", "Café Müller"], ["ACC-2", "South", "H2", "Bolt"]]


def read(source, **kw):
    return read_import_file(source, kinds.MAPPINGS, **kw)


def values(table, column):
    return list(table.rows[column])


@pytest.mark.parametrize(
    ("encoding", "bom", "reported"),
    [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8 (with BOM)"), ("cp1252", False, "cp1252")],
)
def test_csv_encodings_are_detected_and_reported(tmp_path, encoding, bom, reported):
    table = read(write_csv(tmp_path / "a.csv", ROWS, encoding=encoding, bom=bom))
    assert values(table, "customer_name") == ["Café Müller", "Bolt"]
    assert table.encoding == reported
    assert list(table.columns) == HEADER


def test_utf16_unicode_text_from_excel_tab_separated(tmp_path):
    path = tmp_path / "unicode.txt.csv"
    path.write_bytes(csv_text(ROWS, "\t").encode("utf-16"))  # BOM + little endian, as Excel
    table = read(path)
    assert table.encoding == "utf-16" and table.separator == "\t"
    assert values(table, "customer_name") == ["Café Müller", "Bolt"]


def test_big5_needs_its_name(tmp_path):
    rows = [HEADER, ["TW-1", "North", "H1", "台灣電力公司"]]
    path = write_csv(tmp_path / "big5.csv", rows, encoding="big5")
    table = read(path, encoding="big5")
    assert values(table, "customer_name") == ["台灣電力公司"] and table.encoding == "big5"
    guessed = read(path) if _decodes_cp1252(path) else None
    assert guessed is None or values(guessed, "customer_name") != ["台灣電力公司"]
    with pytest.raises(ImportFileError, match="unknown encoding 'klingon'"):
        read(path, encoding="klingon")


def _decodes_cp1252(path):
    try:
        path.read_bytes().decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separators(tmp_path, sep):
    table = read(write_csv(tmp_path / "s.csv", ROWS, sep=sep))
    assert table.separator == sep
    assert values(table, "circuit") == ["H1", "H2"]


def test_title_rows_blank_rows_and_columns_and_line_numbers(tmp_path):
    text = (
        "Customer mapping export;;;\r\n"
        "Instructions: one row per customer and circuit;;;\r\n"
        "\r\n"
        "Account Number;Substation;; Circuit ;Customer-Name\r\n"
        "ACC-1;North;;H1;A\r\n"
        ";;;;\r\n"
        "ACC-2;South;;H2;B\r\n"
    )
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    table = read(path)
    assert table.header_row == 4
    assert list(table.rows["row"]) == [5, 7]  # the lines as a text editor numbers them
    assert table.place(7, "circuit") == "line 7, column Circuit"
    assert values(table, "customer_name") == ["A", "B"]


def test_xlsx_title_merged_cells_empty_column_formula_and_numbers(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "Critical customers of the northern grid"
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["Account number", "Substation", None, "Circuit", "Customer name", None])
    sheet.merge_cells("E3:F3")  # a header cell merged over two columns
    sheet.append([100234, "North", None, "H1", "Numbered Account", None])
    sheet.append([100235.0, "North", None, "to be a formula", "Formula Circuit", None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["  ACC-7\xa0", "\xa0South ", None, "h2", "Spaced\xa0 Name ", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = with_cached_formula(buffer.getvalue(), "D5", '"H"&amp;2', "H2")
    path = tmp_path / "merged.xlsx"
    path.write_bytes(data)
    table = read(path)
    assert table.file_type == "xlsx" and table.header_row == 3
    assert list(table.rows["row"]) == [4, 5, 7]  # as Excel shows the rows
    assert values(table, "account_number") == ["100234", "100235", "ACC-7"]
    assert values(table, "circuit") == ["H1", "H2", "h2"]  # the formula's cached value
    assert values(table, "substation") == ["North", "North", "South"]
    assert values(table, "customer_name")[2] == "Spaced Name"
    assert table.place(7, "circuit") == "row 7, column Circuit"


def test_dates_excel_iso_day_first_serial_and_refusals(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*HEADER, "connected_since"])
    sheet.append(["A", "North", "H1", "x", date(2024, 3, 1)])
    sheet.append(["B", "North", "H1", "x", "2024-03-02"])
    sheet.append(["C", "North", "H1", "x", "3/4/2024"])
    sheet.append(["D", "North", "H1", "x", 45000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read(buffer.getvalue(), file_name="dates.xlsx")
    parsed = [parse_date(v) for v in values(table, "connected_since")]
    assert parsed == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 4, 3), date(2023, 3, 15)]
    for bad, why in [
        ("03/04/24", "two-digit year"),
        ("12/25/2024", "month first"),
        ("next week", "not a date"),
        ("31/02/2024", "not a valid date"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_date(bad)


def test_missing_required_column_names_it_and_lists_what_was_found(tmp_path):
    path = write_csv(
        tmp_path / "m.csv", [["Account Number", "Substation", "Customer Name"], ["A", "N", "x"]]
    )
    with pytest.raises(ImportFileError) as error:
        read(path)
    message = str(error.value)
    assert "missing required column circuit" in message
    assert "Account Number, Substation, Customer Name" in message


def test_no_header_at_all(tmp_path):
    path = write_csv(tmp_path / "n.csv", [["foo", "bar"], ["1", "2"]])
    with pytest.raises(ImportFileError, match="no header row"):
        read(path)


def test_too_big_and_too_many_rows_refused_before_reading_all(tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(21 * 1024 * 1024)
    with pytest.raises(ImportFileError, match=r"21\.0 MB; the limit is 20 MB"):
        read(big)
    many = tmp_path / "many.csv"
    many.write_text("account_number,substation,circuit\n" + "A,N,H1\n" * (MAX_ROWS + 100))
    with pytest.raises(ImportFileError, match="limit is 200,000 rows"):
        read(many)
    # A workbook that declares 300,000 rows is refused from its first bytes, before calamine.
    data = xlsx_bytes(ROWS)
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(
                    rb'<dimension ref="[^"]+"', b'<dimension ref="A1:D300000"', content
                )
            target.writestr(item, content)
    with pytest.raises(ImportFileError, match="299,999 rows"):
        read(out.getvalue(), file_name="huge.xlsx")


def test_renamed_csv_that_is_really_xlsx(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(xlsx_bytes(ROWS))
    table = read(path)
    assert table.file_type == "xlsx" and values(table, "circuit") == ["H1", "H2"]
    assert any("Excel workbook despite its name" in n for n in table.notes)


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError, match="empty.csv is empty"):
        read(empty)
    blank_sheet = write_xlsx(tmp_path / "blank.xlsx", [])
    with pytest.raises(ImportFileError, match="empty"):
        read(blank_sheet)
    header_only = write_csv(tmp_path / "h.csv", [HEADER])
    assert len(read(header_only).rows) == 0


def test_password_protected_workbook(tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes(ROWS))).encrypt("secret", encrypted)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(encrypted.getvalue())
    with pytest.raises(ImportFileError, match="password-protected"):
        read(path)


def test_old_xls_and_broken_zip(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(ImportFileError, match="cannot read broken.xlsx as an Excel workbook"):
        read(broken)


def test_the_same_header_twice_is_refused(tmp_path):
    path = write_csv(tmp_path / "d.csv", [[*HEADER, "Circuit ID"], ["A", "N", "H1", "x", "H2"]])
    with pytest.raises(ImportFileError, match="both give circuit"):
        read(path)
