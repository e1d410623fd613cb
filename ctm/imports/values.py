"""Cell values as the import reads them: yes/no flags, dates (ISO, day-first, real spreadsheet
dates and Excel serial numbers), numbers. Each parser returns the value or raises ValueError with
a message fit for the row error ("… is not a date: …")."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

TRUE_WORDS = {"true", "yes", "y", "1", "t", "x"}
FALSE_WORDS = {"false", "no", "n", "0", "f"}
EXCEL_EPOCH = date(1899, 12, 30)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_SHORT_YEAR = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}$")
_SERIAL = re.compile(r"^\d{1,7}(?:\.0+)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE][+]?\d+$")
FIRST_YEAR, LAST_YEAR = 1900, 2200


def parse_flag(value: object, default: bool | None = None) -> bool | None:
    """true/false, yes/no, y/n, 1/0 in any case; empty gives `default`."""
    if value is None or value == "":
        return default
    text = str(value).strip().casefold()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a yes/no value: write true/false, yes/no, y/n or 1/0")


def _checked(year: int, month: int, day: int, value: object) -> date:
    try:
        result = date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date") from None
    if not FIRST_YEAR <= result.year <= LAST_YEAR:
        raise ValueError(f"{value!r} is outside the years {FIRST_YEAR}–{LAST_YEAR}")
    return result


def parse_date(value: object) -> date | None:
    """A date from a real spreadsheet date, yyyy-mm-dd, yyyy/mm/dd, d/m/yyyy (day first; also
    with dots or hyphens), yyyymmdd or an Excel serial number; None when empty. A two-digit year,
    a month-first date that cannot be day-first, or anything else is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.hour or value.minute or value.second:
            raise ValueError(f"{value:%Y-%m-%d %H:%M} has a time of day: give the date only")
        return _checked(value.year, value.month, value.day, value)
    if isinstance(value, date):
        return _checked(value.year, value.month, value.day, value)
    text = str(value).strip()
    if m := _ISO.match(text) or _YMD_SLASH.match(text):
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    if m := _DAY_FIRST.match(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if month > 12 and day <= 12:
            raise ValueError(
                f"{text!r} reads as month first; write dates day first (d/m/yyyy) or yyyy-mm-dd"
            )
        return _checked(year, month, day, text)
    if _SHORT_YEAR.match(text):
        raise ValueError(f"{text!r} has a two-digit year and is ambiguous: write yyyy-mm-dd")
    if m := _COMPACT.match(text):
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    if _SERIAL.match(text):
        serial = int(float(text))
        if 1 <= serial <= 120000:
            return EXCEL_EPOCH + timedelta(days=serial)
    raise ValueError(f"{text!r} is not a date: write yyyy-mm-dd or d/m/yyyy")


def parse_decimal(value: object, *, minimum: Decimal | None = Decimal(0)) -> Decimal | None:
    """A plain number (dot as decimal mark, spaces and thousands commas before it allowed)."""
    if value is None or value == "":
        return None
    text = str(value).strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if minimum is not None and number < minimum:
        raise ValueError(f"{value!r} is below {minimum}")
    return number


def parse_count(value: object) -> int | None:
    """A whole number of 0 or more (100 or 100.0)."""
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    if number > 2_000_000_000:
        raise ValueError(f"{value!r} is too large")
    return int(number)


def check_account(value: str) -> str:
    """An account number as text; refuses what Excel turned into scientific notation."""
    if _SCIENTIFIC.match(value):
        raise ValueError(
            f"{value!r} is an account number Excel shortened to scientific notation: format the"
            " column as Text and type the full number"
        )
    if len(value) > 100:
        raise ValueError("is longer than 100 characters")
    return value
