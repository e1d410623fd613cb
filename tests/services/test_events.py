"""Event services against a real PostgreSQL, as admin, operator, viewer and a user without profile:
list filters and paging, details, impacts (made by the trigger), recording and its validation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ctm import clock, events
from ctm.db import owner_transaction, user_transaction
from ctm.errors import NotFound, PermissionDenied, ValidationError
from ctm.events import EventFilter, NewEvent

NOW = datetime.now(UTC).replace(microsecond=0)


def _count(engine, sql: str) -> int:
    with owner_transaction(engine) as conn:
        return conn.scalar(sa.text(sql))


def _insert(conn, table: str, **values) -> uuid.UUID:
    cols = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join(f":{c}" for c in values)
    return conn.scalar(
        sa.text(f"INSERT INTO public.{table} ({cols}) VALUES ({marks}) RETURNING id"), values
    )


@pytest.fixture
def grid(engine):
    """Two substations sharing circuit name H1; three customers; four events (one with impacts)."""
    with owner_transaction(engine) as conn:
        north = _insert(conn, "substations", name="North", code="N")
        south = _insert(conn, "substations", name="South", code="S")
        zed = _insert(
            conn, "customers", account_number="A-3", name="Zed Works", customer_type="industrial"
        )
        alpha = _insert(
            conn, "customers", account_number="A-1", name="Alpha Clinic", customer_type="commercial"
        )
        homes = _insert(conn, "customers", account_number="A-2", name="Homes Ltd")
        for cust in (zed, alpha):
            conn.execute(
                sa.text(
                    "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                    " circuit_id) VALUES (:c, :s, 'H1')"
                ),
                {"c": cust, "s": north},
            )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id) VALUES (:c, :s, 'H1')"
            ),
            {"c": homes, "s": south},
        )
        ev = {}
        ev["north_h1_critical"] = _insert(
            conn,
            "pq_events",
            substation_id=north,
            circuit_id="H1",
            timestamp=NOW - timedelta(hours=1),
            severity="critical",
            duration_ms=90_000,
            magnitude=Decimal("0.45"),
            event_type="voltage_dip",
            remaining_voltage=Decimal("45.5"),
        )
        ev["north_h2_low"] = _insert(
            conn,
            "pq_events",
            substation_id=north,
            circuit_id="H2",
            timestamp=NOW - timedelta(days=2),
            severity="low",
            duration_ms=100,
        )
        ev["south_h1_high"] = _insert(
            conn,
            "pq_events",
            substation_id=south,
            circuit_id="H1",
            timestamp=NOW - timedelta(days=10),
            severity="high",
            duration_ms=30_000,
        )
        ev["south_old_medium"] = _insert(
            conn,
            "pq_events",
            substation_id=south,
            circuit_id="H3",
            timestamp=NOW - timedelta(days=400),
            severity="medium",
            duration_ms=None,
        )
    return {
        "north": north,
        "south": south,
        "events": ev,
        "customers": {"zed": zed, "alpha": alpha, "homes": homes},
    }


def _ids(page) -> list:
    return list(page.rows["id"])


def test_list_is_newest_first_with_impact_counts_and_exact_total(engine, make_user, grid):
    viewer = make_user("viewer")
    page = events.list_events(engine, viewer, EventFilter())
    ev = grid["events"]
    assert _ids(page) == [
        ev["north_h1_critical"],
        ev["north_h2_low"],
        ev["south_h1_high"],
        ev["south_old_medium"],
    ]
    assert page.total == 4 and page.total_is_exact
    assert list(page.rows.columns) == events.EVENT_COLUMNS
    first = page.rows.iloc[0]
    assert first["substation_name"] == "North"
    assert first["customers_affected"] == 2
    assert first["magnitude"] == pytest.approx(0.45)
    assert first["remaining_voltage"] == pytest.approx(45.5)
    assert list(page.rows["customers_affected"]) == [2, 0, 1, 0]


def test_filters_narrow_the_list_and_the_count(engine, make_user, grid):
    user = make_user("operator")
    ev = grid["events"]
    by_place = events.list_events(
        engine, user, EventFilter(substation_id=grid["south"], circuit_id="H1")
    )
    assert _ids(by_place) == [ev["south_h1_high"]] and by_place.total == 1

    # The same circuit name on another substation is another circuit.
    north_h1 = events.list_events(
        engine, user, EventFilter(substation_id=grid["north"], circuit_id="H1")
    )
    assert _ids(north_h1) == [ev["north_h1_critical"]]

    severities = events.list_events(engine, user, EventFilter(severities=("low", "high")))
    assert _ids(severities) == [ev["north_h2_low"], ev["south_h1_high"]]

    today = NOW.date()
    last_week = events.list_events(
        engine, user, EventFilter(date_from=today - timedelta(days=7), date_to=today)
    )
    assert set(_ids(last_week)) == {ev["north_h1_critical"], ev["north_h2_low"]}
    assert last_week.total == 2

    none = events.list_events(engine, user, EventFilter(date_to=date(2000, 1, 1)))
    assert none.total == 0 and none.rows.empty
    assert list(none.rows.columns) == events.EVENT_COLUMNS


def _store_zone(engine, zone: str) -> str:
    with owner_transaction(engine) as conn:
        clock.set_time_zone(conn, zone)
    return zone


@pytest.mark.parametrize("zone", ["Asia/Hong_Kong", "America/Los_Angeles"])
def test_date_to_includes_the_whole_last_day_of_the_stored_zone(engine, make_user, zone):
    """Days are days in the stored zone (`ctm time-zone`), not the server's or session's."""
    admin = make_user("admin")
    with owner_transaction(engine) as conn:
        sub = _insert(conn, "substations", name="Day")
    tz = _store_zone(engine, zone)
    with owner_transaction(engine) as conn:
        late = conn.scalar(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, timestamp, severity, duration_ms)"
                " VALUES (:s, 'H1', ('2025-03-10 23:59:30'::timestamp AT TIME ZONE :tz), 'low', 1)"
                " RETURNING id"
            ),
            {"s": sub, "tz": tz},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, timestamp, severity, duration_ms)"
                " VALUES (:s, 'H1', ('2025-03-11 00:00:00'::timestamp AT TIME ZONE :tz), 'low', 1)"
            ),
            {"s": sub, "tz": tz},
        )
    page = events.list_events(
        engine, admin, EventFilter(date_from=date(2025, 3, 10), date_to=date(2025, 3, 10))
    )
    assert _ids(page) == [late]


def test_paging_walks_every_event_once(engine, make_user):
    admin = make_user("admin")
    with owner_transaction(engine) as conn:
        sub = _insert(conn, "substations", name="Paged")
        # Equal timestamps on purpose: the order must still be total, so pages never overlap.
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, timestamp, severity, duration_ms)"
                " SELECT :s, 'H' || (g % 3), now() - (g / 2) * interval '1 minute', 'low', g"
                " FROM generate_series(1, 25) AS g"
            ),
            {"s": sub},
        )
    seen = []
    for offset in range(0, 30, 10):
        page = events.list_events(engine, admin, EventFilter(), limit=10, offset=offset)
        assert page.total == 25
        seen += _ids(page)
    assert len(seen) == 25 and len(set(seen)) == 25
    stamps = events.list_events(engine, admin, EventFilter(), limit=25).rows["timestamp"]
    assert stamps.is_monotonic_decreasing


def test_total_is_capped_past_the_count_cap(engine, make_user, monkeypatch):
    admin = make_user("admin")
    with owner_transaction(engine) as conn:
        sub = _insert(conn, "substations", name="Busy")
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, timestamp, severity, duration_ms)"
                " SELECT :s, 'H1', now() - g * interval '1 minute', 'low', g"
                " FROM generate_series(1, 12) AS g"
            ),
            {"s": sub},
        )
    monkeypatch.setattr(events, "COUNT_CAP", 10)
    page = events.list_events(engine, admin, EventFilter(), limit=5)
    assert page.total == 10 and not page.total_is_exact
    assert len(page.rows) == 5
    monkeypatch.setattr(events, "COUNT_CAP", 12)
    exact = events.list_events(engine, admin, EventFilter(), limit=5)
    assert exact.total == 12 and exact.total_is_exact


def test_bad_filters_are_refused_with_a_message(engine, make_user, grid):
    user = make_user("viewer")
    with pytest.raises(ValidationError, match="'extreme'"):
        events.list_events(engine, user, EventFilter(severities=("extreme",)))
    with pytest.raises(ValidationError, match="ends before it starts"):
        events.list_events(
            engine, user, EventFilter(date_from=date(2025, 2, 1), date_to=date(2025, 1, 1))
        )
    with pytest.raises(ValidationError, match="Limit 0"):
        events.list_events(engine, user, EventFilter(), limit=0)


def test_user_without_profile_sees_no_events(engine, make_user, grid):
    nobody = make_user(None)
    page = events.list_events(engine, nobody, EventFilter())
    assert page.total == 0 and page.rows.empty
    with pytest.raises(NotFound):
        events.get_event(engine, nobody, grid["events"]["north_h1_critical"])
    assert events.event_impacts(engine, nobody, grid["events"]["north_h1_critical"]).empty


def test_get_event_has_fields_substation_and_impact_counts(engine, make_user, grid):
    viewer = make_user("viewer")
    detail = events.get_event(engine, viewer, grid["events"]["north_h1_critical"])
    assert detail.substation_name == "North" and detail.substation_id == grid["north"]
    assert detail.circuit_id == "H1" and detail.severity == "critical"
    assert detail.duration_ms == 90_000 and detail.magnitude == Decimal("0.450")
    assert detail.remaining_voltage == Decimal("45.50") and detail.status == "new"
    assert detail.timestamp == NOW - timedelta(hours=1)
    assert (detail.customers_affected, detail.severe, detail.moderate, detail.minor) == (2, 2, 0, 0)
    assert detail.total_downtime_min == Decimal("3.00")

    quiet = events.get_event(engine, viewer, grid["events"]["south_old_medium"])
    assert quiet.customers_affected == 0 and quiet.total_downtime_min is None

    with pytest.raises(NotFound, match="does not exist"):
        events.get_event(engine, viewer, uuid.uuid4())


def test_impacts_list_severe_first_then_by_name(engine, make_user, grid):
    viewer = make_user("viewer")
    with owner_transaction(engine) as conn:
        # A second event on North/H1 at high severity, then raise Zed's row to severe by hand so
        # the list has two levels to order.
        event = _insert(
            conn,
            "pq_events",
            substation_id=grid["north"],
            circuit_id="H1",
            timestamp=NOW - timedelta(minutes=5),
            severity="high",
            duration_ms=60_000,
        )
        conn.execute(
            sa.text(
                "UPDATE event_customer_impact SET impact_level = 'severe'"
                " WHERE event_id = :e AND customer_id = :c"
            ),
            {"e": event, "c": grid["customers"]["zed"]},
        )
    frame = events.event_impacts(engine, viewer, event)
    assert list(frame.columns) == events.IMPACT_COLUMNS
    assert list(frame["customer_name"]) == ["Zed Works", "Alpha Clinic"]
    assert list(frame["impact_level"]) == ["severe", "moderate"]
    assert list(frame["estimated_downtime_min"]) == [1.0, 1.0]

    same_level = events.event_impacts(engine, viewer, grid["events"]["north_h1_critical"])
    assert list(same_level["customer_name"]) == ["Alpha Clinic", "Zed Works"]
    assert list(same_level["account_number"]) == ["A-1", "A-3"]
    assert list(same_level["customer_type"]) == ["commercial", "industrial"]
    assert list(same_level["estimated_downtime_min"]) == [1.5, 1.5]


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_recording_an_event_creates_its_impacts_through_the_trigger(engine, make_user, grid, role):
    user = make_user(role)
    new_id = events.record_event(
        engine,
        user,
        NewEvent(
            substation_id=grid["north"],
            circuit_id=" H1 ",
            timestamp=NOW - timedelta(minutes=3),
            severity="High",
            duration_ms=150_000,
            magnitude=0.7,
            remaining_voltage=70,
        ),
    )
    detail = events.get_event(engine, user, new_id)
    assert detail.circuit_id == "H1" and detail.severity == "high"
    assert detail.event_type == "voltage_dip" and detail.magnitude == Decimal("0.700")
    assert (detail.customers_affected, detail.moderate) == (2, 2)
    impacts = events.event_impacts(engine, user, new_id)
    assert list(impacts["customer_name"]) == ["Alpha Clinic", "Zed Works"]
    assert list(impacts["estimated_downtime_min"]) == [2.5, 2.5]
    assert events.list_events(engine, user, EventFilter()).rows.iloc[0]["id"] == new_id


def test_recording_on_a_new_circuit_is_allowed_and_hits_nobody(engine, make_user, grid):
    operator = make_user("operator")
    new_id = events.record_event(
        engine,
        operator,
        NewEvent(
            substation_id=grid["south"],
            circuit_id="H9",
            timestamp=NOW - timedelta(days=1),
            severity="critical",
            duration_ms=0,
            magnitude=None,
        ),
    )
    assert events.get_event(engine, operator, new_id).customers_affected == 0


def test_recording_on_a_retired_circuit_is_refused_naming_circuit_and_date(engine, make_user, grid):
    """The form refuses an event on or after its circuit's retirement day; an earlier event (the
    circuit was still in service) is recorded, and other systems' inserts stay accepted."""
    operator = make_user("operator")
    retired_on = (NOW - timedelta(days=10)).date()
    with owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE substation_circuits SET retired_on = :d"
                " WHERE substation_id = :s AND circuit_id = 'H2'"
            ),
            {"d": retired_on, "s": grid["north"]},
        )
    before = _count(engine, "SELECT count(*) FROM pq_events")

    def record(when: datetime) -> uuid.UUID:
        return events.record_event(
            engine,
            operator,
            NewEvent(
                substation_id=grid["north"],
                circuit_id=" h2 ",
                timestamp=when,
                severity="high",
                duration_ms=100,
                magnitude=None,
            ),
        )

    for when in (NOW - timedelta(days=5), datetime.combine(retired_on, time(0, 30), UTC)):
        with pytest.raises(ValidationError) as refused:
            record(when)
        assert str(refused.value) == (
            f"Circuit H2 of substation North was retired on {retired_on:%Y-%m-%d}: an event of"
            f" {when:%Y-%m-%d} cannot be recorded on it; choose a circuit in service"
        )
    assert _count(engine, "SELECT count(*) FROM pq_events") == before
    earlier = record(NOW - timedelta(days=20))
    assert events.get_event(engine, operator, earlier).circuit_id == "H2"
    with owner_transaction(engine) as conn:  # another system's insert is stored as it comes
        _insert(
            conn,
            "pq_events",
            substation_id=grid["north"],
            circuit_id="H2",
            timestamp=NOW - timedelta(days=1),
            severity="low",
            duration_ms=5,
        )
    assert _count(engine, "SELECT count(*) FROM pq_events") == before + 2


def test_naive_timestamp_is_read_in_the_stored_time_zone(engine, make_user, grid):
    """A hand-entered time without a zone is a time in the product's zone."""
    admin = make_user("admin")
    tz = _store_zone(engine, "Asia/Hong_Kong")
    naive = datetime(2025, 6, 1, 12, 30)
    new_id = events.record_event(
        engine,
        admin,
        NewEvent(
            substation_id=grid["south"],
            circuit_id="H1",
            timestamp=naive,
            severity="low",
            duration_ms=10,
            magnitude=1,
        ),
    )
    with owner_transaction(engine) as conn:
        local = conn.scalar(
            sa.text("SELECT timestamp AT TIME ZONE :tz FROM pq_events WHERE id = :id"),
            {"tz": tz, "id": new_id},
        )
    assert local == naive


def _event(grid, **changes) -> NewEvent:
    base = {
        "substation_id": grid["north"],
        "circuit_id": "H1",
        "timestamp": NOW - timedelta(hours=2),
        "severity": "medium",
        "duration_ms": 1_000,
        "magnitude": 0.5,
    }
    base.update(changes)
    return NewEvent(**base)


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"substation_id": uuid.UUID(int=7)}, "substation_id", "no such substation"),
        ({"circuit_id": "   "}, "circuit_id", "required"),
        ({"circuit_id": "X" * 65}, "circuit_id", "longer than"),
        ({"duration_ms": -5}, "duration_ms", "cannot be negative"),
        ({"duration_ms": 2.5}, "duration_ms", "whole number"),
        ({"severity": "extreme"}, "severity", "critical, high, medium, low"),
        ({"event_type": "storm"}, "event_type", "choose from"),
        ({"timestamp": NOW + timedelta(hours=25)}, "timestamp", "more than one day ahead"),
        ({"timestamp": datetime(1989, 12, 31, tzinfo=UTC)}, "timestamp", "before 1990-01-01"),
        ({"magnitude": -1}, "magnitude", "between 0"),
        ({"magnitude": float("nan")}, "magnitude", "not a number"),
        ({"remaining_voltage": 100_000}, "remaining_voltage", "between 0"),
    ],
)
def test_bad_events_are_refused_naming_field_and_value(
    engine, make_user, grid, changes, field, text
):
    operator = make_user("operator")
    with pytest.raises(ValidationError, match=text) as caught:
        events.record_event(engine, operator, _event(grid, **changes))
    assert caught.value.field == field
    value = next(iter(changes.values()))
    assert str(value).strip()[:10] in str(caught.value) or field == "timestamp"
    with owner_transaction(engine) as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM pq_events")) == 4


def test_viewer_and_user_without_profile_cannot_record(engine, make_user, grid):
    with pytest.raises(PermissionDenied, match="Viewers can look at events but not record them"):
        events.record_event(engine, make_user("viewer"), _event(grid))
    with pytest.raises(PermissionDenied, match="admin or operator profile"):
        events.record_event(engine, make_user(None), _event(grid))
    with owner_transaction(engine) as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM pq_events")) == 4


def test_viewer_cannot_insert_events_even_with_raw_sql(engine, make_user, grid):
    viewer = make_user("viewer")
    with (
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
        user_transaction(engine, viewer) as conn,
    ):
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity)"
                " VALUES (:s, 'H1', 'low')"
            ),
            {"s": grid["north"]},
        )
