"""`ctm time-zone [ZONE]`: prints the stored zone, sets it (case-insensitive, stored canonically),
refuses unknown zones with one line and exit 2, and the database itself refuses them too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from clihelpers import run_ctm, scalar

from ctm import clock, db
from ctm.errors import ValidationError


def test_default_is_utc_and_a_set_zone_is_stored_and_printed(db_url):
    assert run_ctm("time-zone", url=db_url).stdout.strip() == "UTC"
    result = run_ctm("time-zone", "asia/hong_kong", url=db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Asia/Hong_Kong"
    assert "Asia/Hong_Kong" in result.stderr and "was UTC" in result.stderr
    engine = db.get_engine(db_url)
    assert scalar(engine, "SELECT public.ctm_time_zone()") == "Asia/Hong_Kong"
    assert run_ctm("time-zone", url=db_url).stdout.strip() == "Asia/Hong_Kong"


def test_a_new_zone_recounts_the_analytics_summary_by_its_months(db_url):
    """An event at 20:00 UTC on 31 January is in February in Hong Kong: after the change the
    monthly summary counts it there (the database recounts in the same transaction)."""
    engine = db.get_engine(db_url)
    with db.owner_transaction(engine) as conn:
        sub = conn.scalar(sa.text("INSERT INTO substations (name) VALUES ('N') RETURNING id"))
        conn.execute(
            sa.text(
                'INSERT INTO pq_events (substation_id, circuit_id, "timestamp", event_type,'
                " remaining_voltage, duration_ms) VALUES (:s, 'H1', '2026-01-31 20:00+00',"
                " 'voltage_dip', 40, 100)"
            ),
            {"s": sub},
        )
    months = "SELECT string_agg(month::text, ',') FROM analytics_monthly WHERE events_50 > 0"
    assert scalar(engine, months) == "2026-01-01"
    result = run_ctm("time-zone", "Asia/Hong_Kong", url=db_url)
    assert result.returncode == 0, result.stderr
    assert "analytics summary recounted" in result.stderr
    assert scalar(engine, months) == "2026-02-01"


@pytest.mark.parametrize("zone", ["Mars/Olympus", " ", "UTC\x01", "x" * 300])
def test_unknown_zone_is_one_line_exit_2_and_nothing_changes(db_url, zone):
    result = run_ctm("time-zone", zone, url=db_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "time zone" in result.stderr.strip().splitlines()[-1]
    assert scalar(db.get_engine(db_url), "SELECT public.ctm_time_zone()") == "UTC"


def test_the_database_refuses_an_unknown_zone_whoever_writes(engine):
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE ctm_settings SET value = 'Nowhere/Land' WHERE key = 'time_zone'")
        )
    assert caught.value.orig.pgcode == "22023"
    assert "Nowhere/Land" in str(caught.value.orig)


def test_local_date_follows_the_stored_zone(engine):
    instant = "2026-03-01 20:30:00+00"
    with db.owner_transaction(engine) as conn:
        q = sa.text("SELECT public.ctm_local_date(CAST(:t AS timestamptz))")
        assert str(conn.scalar(q, {"t": instant})) == "2026-03-01"
        clock.set_time_zone(conn, "Asia/Hong_Kong")
        assert str(conn.scalar(q, {"t": instant})) == "2026-03-02"  # 04:30 next day in HK
        assert clock.time_zone(conn).key == "Asia/Hong_Kong"
        # The session's own TimeZone does not matter.
        conn.execute(sa.text("SET LOCAL TimeZone = 'America/Los_Angeles'"))
        assert str(conn.scalar(q, {"t": instant})) == "2026-03-02"


def test_users_read_the_zone_and_cannot_change_it(engine, make_user):
    admin = make_user("admin")
    with db.user_transaction(engine, admin) as conn:
        assert (
            conn.scalar(sa.text("SELECT value FROM ctm_settings WHERE key = 'time_zone'")) == "UTC"
        )
        assert clock.time_zone_name(conn) == "UTC"
    with (
        pytest.raises(sa.exc.ProgrammingError) as caught,
        db.user_transaction(engine, admin) as conn,
    ):
        conn.execute(sa.text("UPDATE ctm_settings SET value = 'Europe/London'"))
    assert caught.value.orig.pgcode == "42501"


def test_set_time_zone_names_the_bad_value(engine):
    with db.owner_transaction(engine) as conn, pytest.raises(ValidationError, match="Atlantis"):
        clock.set_time_zone(conn, "Atlantis/City")
