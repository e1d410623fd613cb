"""Checks for values that come from people, URLs, files and scripts, before they reach SQL: each
refusal is a ValidationError whose message names the field and the value, so a service meets wrong
input with its own error and writes nothing (a NUL byte or a non-UUID id would otherwise surface
as a driver traceback, and a string "false" would read as true)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from ctm.errors import ValidationError

# DESIGN.md "Event values": services refuse events before this day or more than a day ahead.
EARLIEST_EVENT = datetime(1990, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=1)
# Day filters: any real calendar day except the calendar's very ends (a filter adds a day to its
# last day, and year 1 or 9999 in another zone falls off PostgreSQL's and Python's calendars).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9999, 12, 30)
MAX_PAGE_ROWS = 10_000
MAX_OFFSET = 1_000_000_000
MAX_TEXT = 1_000


def invalid(field: str, value: object, reason: str) -> ValidationError:
    """A ValidationError saying `Field 'value': reason`; field and value kept for callers."""
    shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
    error = ValidationError(f"{field.replace('_', ' ').capitalize()} {shown!r}: {reason}")
    error.field = field  # type: ignore[attr-defined]
    error.value = value  # type: ignore[attr-defined]
    return error


def text(field: str, value: Any, *, max_length: int = MAX_TEXT) -> str | None:
    """A text input, surrounding spaces removed; None stays None. Refuses non-text, NUL bytes
    (PostgreSQL cannot store them) and absurd lengths."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, value, "must be text")
    if "\x00" in value:
        raise invalid(field, value, "contains a NUL character (\\x00), which text cannot hold")
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise invalid(field, value, f"longer than {max_length} characters")
    return cleaned


def required_text(field: str, value: Any, *, max_length: int = MAX_TEXT) -> str:
    cleaned = text(field, value, max_length=max_length)
    if not cleaned:
        raise invalid(field, value, "is required")
    return cleaned


def uuid_value(field: str, value: Any) -> UUID:
    """An id: a UUID, or text that spells one."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and "\x00" not in value:
        try:
            return UUID(value.strip())
        except ValueError:
            pass
    raise invalid(
        field, value, "is not an id (a UUID such as 123e4567-e89b-12d3-a456-426614174000)"
    )


def optional_uuid(field: str, value: Any) -> UUID | None:
    return None if value is None else uuid_value(field, value)


def integer(field: str, value: Any, *, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]; bools, floats and digit strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, value, "must be a whole number")
    if not minimum <= value <= maximum:
        raise invalid(field, value, f"must be between {minimum:,} and {maximum:,}")
    return value


def page(limit: Any, offset: Any, *, max_rows: int = MAX_PAGE_ROWS) -> tuple[int, int]:
    """A page's size and start row."""
    return (
        integer("limit", limit, minimum=1, maximum=max_rows),
        integer("offset", offset, minimum=0, maximum=MAX_OFFSET),
    )


def boolean(field: str, value: Any) -> bool | None:
    """A yes/no: only True, False or None. The text "false" is refused rather than read as true."""
    if value is None or isinstance(value, bool):
        return value
    # numpy.bool_ from a data frame cell is a real boolean too.
    if type(value).__name__ in ("bool_", "bool") and value in (True, False):
        return bool(value)
    raise invalid(field, value, "must be true or false (a boolean, not text or a number)")


def day(field: str, value: Any) -> date | None:
    """A calendar day for a filter, within [EARLIEST_DAY, LATEST_DAY]."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise invalid(field, value, "must be a date (yyyy-mm-dd)")
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise invalid(field, value.isoformat(), f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


def event_time(field: str, value: Any, now: datetime) -> datetime:
    """An event's instant (aware): not before 1990-01-01 and not more than a day after `now`."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise invalid(field, value, "a date and time with its time zone is required")
    if value < EARLIEST_EVENT:
        raise invalid(field, value.isoformat(), "events before 1990-01-01 are not accepted")
    if value > now + MAX_AHEAD:
        raise invalid(field, value.isoformat(), "is more than one day ahead (in the future)")
    return value
