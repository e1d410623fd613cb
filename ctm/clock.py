"""The product's one time zone (stored in the database, default UTC) and dates taken in it.

Every date the app shows, filters on or exports is a date in this zone, never the server's or the
session's own TimeZone (DESIGN.md, "One time zone"). The SQL side is `public.ctm_time_zone()` and
`public.ctm_local_date(timestamptz)`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm.db import Identity, user_transaction
from ctm.errors import ValidationError

DEFAULT_TIME_ZONE = "UTC"


def time_zone_name(conn: Connection) -> str:
    """The stored IANA zone name (UTC when unset)."""
    return conn.scalar(sa.text("SELECT public.ctm_time_zone()")) or DEFAULT_TIME_ZONE


def time_zone(conn: Connection) -> ZoneInfo:
    """The stored zone as a ZoneInfo, for Python-side conversions."""
    name = time_zone_name(conn)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # PostgreSQL knows a few names Python's tz database lacks; the instant stays right in UTC.
        return ZoneInfo(DEFAULT_TIME_ZONE)


def today(conn: Connection) -> date:
    """Today's date in the stored zone."""
    return conn.scalar(sa.text("SELECT public.ctm_local_date(now())"))


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar date of an aware instant in `zone` (naive instants are taken as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo("UTC"))
    return instant.astimezone(zone).date()


def canonical_zone_name(conn: Connection, name: object) -> str:
    """The zone's name as PostgreSQL spells it ('asia/hong_kong' → 'Asia/Hong_Kong'); a
    ValidationError naming the value when it is not a zone both PostgreSQL and Python know."""
    if not isinstance(name, str):
        raise ValidationError(
            f"time zone: expected a zone name such as Asia/Hong_Kong, not {name!r}"
        )
    cleaned = name.strip()
    if not cleaned or "\x00" in cleaned or len(cleaned) > 100:
        raise ValidationError(
            f"time zone {name!r} is not a zone name: use an IANA name such as Asia/Hong_Kong"
        )
    found = conn.execute(
        sa.text(
            "SELECT name FROM pg_catalog.pg_timezone_names WHERE lower(name) = lower(:n)"
            " ORDER BY name = :n DESC, name LIMIT 1"
        ),
        {"n": cleaned},
    ).scalar()
    if found is None:
        raise ValidationError(
            f"time zone {cleaned!r} is unknown to PostgreSQL: use an IANA name such as "
            "Asia/Hong_Kong, Europe/London or UTC (see pg_timezone_names)"
        )
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"time zone {found!r} is known to PostgreSQL but not to Python's time zone database: "
            "use an IANA region/city name"
        ) from None
    return found


def set_time_zone(conn: Connection, name: object) -> str:
    """Store the product's zone (the caller's transaction: the owner's, e.g. `ctm time-zone`);
    returns the canonical name stored."""
    zone = canonical_zone_name(conn, name)
    conn.execute(
        sa.text(
            "INSERT INTO public.ctm_settings (key, value) VALUES ('time_zone', :zone)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ),
        {"zone": zone},
    )
    return zone


def time_zone_for(engine: Engine, identity: Identity) -> ZoneInfo:
    """The stored zone, read as the logged-in user (pages call this; they never run SQL)."""
    with user_transaction(engine, identity) as conn:
        return time_zone(conn)
