"""Wrong input meets each service's own error, whoever calls it (a page, the CLI, a script): a
ValidationError whose message names the field and the value, and nothing written. One row per
service and kind of wrong input: NUL bytes, ids that are not UUIDs, paging of the wrong type or
absurd size, dates at the calendar's ends, booleans given as text, events outside 1990 .. now+1 day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ctm import db, events, mappings, reference, stats, substations
from ctm.errors import ServiceError, ValidationError
from ctm.events import EventFilter, NewEvent
from ctm.mappings import MappingFilter

NUL = "H1\x00"
NOT_AN_ID = "not-a-uuid"


def _event(w, **changes) -> NewEvent:
    base = {
        "substation_id": w.north,
        "circuit_id": "H1",
        "timestamp": datetime.now(UTC) - timedelta(hours=1),
        "severity": "high",
        "duration_ms": 1000,
        "magnitude": Decimal("0.5"),
    }
    return NewEvent(**{**base, **changes})


# (id, call(engine, world), field named in the message, value shown in the message)
CASES = [
    # mappings: list / export / circuits / create / update / deactivate / delete
    (
        "list NUL text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(customer_text="\x00")),
        "customer text",
        "\\x00",
    ),
    (
        "list NUL circuit",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "list substation not uuid",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "list inactive as text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(include_inactive="false")),
        "include inactive",
        "false",
    ),
    (
        "list limit as text",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit="10"),
        "limit",
        "10",
    ),
    (
        "list limit float",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit=2.5),
        "limit",
        "2.5",
    ),
    (
        "list limit absurd",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), limit=10**12),
        "limit",
        "1000000000000",
    ),
    (
        "list offset absurd",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), offset=10**30),
        "offset",
        "1000000000000000000000000000000",
    ),
    (
        "list offset negative",
        lambda e, w: mappings.list_mappings(e, w.viewer, MappingFilter(), offset=-1),
        "offset",
        "-1",
    ),
    (
        "export NUL",
        lambda e, w: mappings.export_mappings(e, w.viewer, MappingFilter(customer_text="a\x00")),
        "customer text",
        "a\\x00",
    ),
    (
        "circuits not uuid",
        lambda e, w: mappings.circuits_of_substation(e, w.viewer, "42"),
        "substation id",
        "42",
    ),
    (
        "create customer not uuid",
        lambda e, w: mappings.create_mapping(e, w.admin, NOT_AN_ID, w.north, "H1"),
        "customer id",
        NOT_AN_ID,
    ),
    (
        "create substation int",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, 7, "H1"),
        "substation id",
        "7",
    ),
    (
        "create NUL circuit",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, w.north, NUL),
        "circuit id",
        "H1\\x00",
    ),
    (
        "create circuit not text",
        lambda e, w: mappings.create_mapping(e, w.admin, w.acme, w.north, 1),
        "circuit id",
        "1",
    ),
    (
        "update active as text",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, active="false"),
        "active",
        "false",
    ),
    (
        "update active as number",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, active=0),
        "active",
        "0",
    ),
    (
        "update id not uuid",
        lambda e, w: mappings.update_mapping(e, w.admin, NOT_AN_ID, 1, active=False),
        "mapping id",
        NOT_AN_ID,
    ),
    (
        "update version text",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, "1", active=False),
        "expected version",
        "1",
    ),
    (
        "update version absurd",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 2**40, active=False),
        "expected version",
        str(2**40),
    ),
    (
        "update NUL circuit",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, circuit_id=NUL),
        "circuit id",
        "H1\\x00",
    ),
    (
        "update substation not uuid",
        lambda e, w: mappings.update_mapping(e, w.admin, w.south_h7, 1, substation_id="x"),
        "substation id",
        "x",
    ),
    (
        "deactivate id not uuid",
        lambda e, w: mappings.deactivate_mapping(e, w.admin, "1; DROP TABLE x", 1),
        "mapping id",
        "1; DROP TABLE x",
    ),
    (
        "delete version bool",
        lambda e, w: mappings.delete_mapping(e, w.admin, w.south_h7, True),
        "expected version",
        "True",
    ),
    # events: list / get / impacts / record
    (
        "events date min",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_from=date.min)),
        "date from",
        "0001-01-01",
    ),
    (
        "events date max",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_to=date.max)),
        "date to",
        "9999-12-31",
    ),
    (
        "events date as text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(date_from="2026-01-01")),
        "date from",
        "2026-01-01",
    ),
    (
        "events NUL circuit",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "events severity as text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(severities="high")),
        "severity",
        "high",
    ),
    (
        "events NUL severity",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(severities=("hi\x00",))),
        "severity",
        "hi\\x00",
    ),
    (
        "events substation not uuid",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "events limit text",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(), limit="100"),
        "limit",
        "100",
    ),
    (
        "events offset absurd",
        lambda e, w: events.list_events(e, w.viewer, EventFilter(), offset=10**19),
        "offset",
        str(10**19),
    ),
    (
        "get event not uuid",
        lambda e, w: events.get_event(e, w.viewer, NOT_AN_ID),
        "event id",
        NOT_AN_ID,
    ),
    (
        "impacts not uuid",
        lambda e, w: events.event_impacts(e, w.viewer, "\x00"),
        "event id",
        "\\x00",
    ),
    (
        "record year 1",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(1, 1, 1, tzinfo=UTC))
        ),
        "timestamp",
        "0001-01-01",
    ),
    (
        "record 1989",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(1989, 12, 31, 23, tzinfo=UTC))
        ),
        "timestamp",
        "1989-12-31",
    ),
    (
        "record year 9999",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime(9999, 12, 31, tzinfo=UTC))
        ),
        "timestamp",
        "9999-12-31",
    ),
    (
        "record 2 days ahead",
        lambda e, w: events.record_event(
            e, w.admin, _event(w, timestamp=datetime.now(UTC) + timedelta(days=2))
        ),
        "timestamp",
        str((datetime.now(UTC) + timedelta(days=2)).date()),
    ),
    (
        "record NUL circuit",
        lambda e, w: events.record_event(e, w.admin, _event(w, circuit_id=NUL)),
        "circuit id",
        "H1\\x00",
    ),
    (
        "record NUL severity",
        lambda e, w: events.record_event(e, w.admin, _event(w, severity="high\x00")),
        "severity",
        "high\\x00",
    ),
    (
        "record substation not uuid",
        lambda e, w: events.record_event(e, w.admin, _event(w, substation_id=NOT_AN_ID)),
        "substation id",
        NOT_AN_ID,
    ),
    (
        "record magnitude text",
        lambda e, w: events.record_event(e, w.admin, _event(w, magnitude="abc")),
        "magnitude",
        "abc",
    ),
    (
        "record duration text",
        lambda e, w: events.record_event(e, w.admin, _event(w, duration_ms="100")),
        "duration ms",
        "100",
    ),
    (
        "record timestamp text",
        lambda e, w: events.record_event(e, w.admin, _event(w, timestamp="2026-01-01")),
        "timestamp",
        "2026-01-01",
    ),
    # reference
    (
        "search NUL",
        lambda e, w: reference.search_customers(e, w.viewer, "ac\x00me"),
        "text",
        "ac\\x00me",
    ),
    (
        "search limit text",
        lambda e, w: reference.search_customers(e, w.viewer, "ac", limit="5"),
        "limit",
        "5",
    ),
    (
        "search limit absurd",
        lambda e, w: reference.search_customers(e, w.viewer, "ac", limit=10**9),
        "limit",
        "1000000000",
    ),
    (
        "delete substation not uuid",
        lambda e, w: substations.delete_substation(e, w.admin, NOT_AN_ID),
        "substation id",
        NOT_AN_ID,
    ),
    # statistics
    (
        "stats days text",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days="90"),
        "days",
        "90",
    ),
    (
        "stats days absurd",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days=10**9),
        "days",
        "1000000000",
    ),
    (
        "stats days bool",
        lambda e, w: stats.coverage_statistics(e, w.viewer, days=True),
        "days",
        "True",
    ),
]


def fingerprint(engine) -> dict[str, str]:
    """Every public table's rows, hashed: equal before and after means nothing was written."""
    with db.owner_transaction(engine) as conn:
        tables = conn.scalars(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
            )
        ).all()
        return {
            t: conn.scalar(
                sa.text(
                    f"SELECT count(*) || md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM public.\"{t}\" AS x"
                )
            )
            for t in tables
        }


@pytest.mark.parametrize(
    ("call", "field", "shown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_wrong_input_gets_a_validation_error_naming_field_and_value_and_writes_nothing(
    engine, world, call, field, shown
):
    before = fingerprint(engine)
    with pytest.raises(ValidationError) as caught:
        call(engine, world)
    message = str(caught.value)
    assert field in message.lower(), message
    assert shown in message, message
    assert "Traceback" not in message
    assert fingerprint(engine) == before


def test_active_false_as_text_never_reactivates_a_mapping(engine, world):
    """The reported bug: active="false" (truthy text) turned an inactive mapping active again."""
    m = mappings.deactivate_mapping(engine, world.admin, world.south_h7, 1)
    assert not m.active
    with pytest.raises(ValidationError):
        mappings.update_mapping(engine, world.admin, m.id, m.version, active="false")
    with db.owner_transaction(engine) as conn:
        active = conn.scalar(
            sa.text("SELECT active FROM customer_transformer_matching WHERE id = :i"), {"i": m.id}
        )
    assert active is False


def test_a_nul_byte_in_a_unit_of_work_leaves_it_usable(engine, world):
    """Refused before any SQL: the transaction can go on (no 'current transaction is aborted')."""
    with db.user_transaction(engine, world.admin) as conn:
        with pytest.raises(ServiceError):
            mappings.list_mappings_in(conn, MappingFilter(customer_text="\x00"))
        assert mappings.list_mappings_in(conn, MappingFilter()).total == 1


def test_right_input_at_the_edges_is_accepted(engine, world):
    """The bounds are not off by one: 1990-01-01 and one day ahead are fine, and so are the
    first and last filterable days, string UUIDs and a page of the largest size."""
    events.record_event(
        engine,
        world.admin,
        _event(world, timestamp=datetime(1990, 1, 1, tzinfo=UTC) + timedelta(hours=12)),
    )
    events.record_event(
        engine, world.admin, _event(world, timestamp=datetime.now(UTC) + timedelta(hours=23))
    )
    page = events.list_events(
        engine,
        world.viewer,
        EventFilter(date_from=date(1900, 1, 1), date_to=date(9999, 12, 30)),
        limit=10_000,
    )
    assert page.total >= 2
    assert mappings.circuits_of_substation(engine, world.viewer, str(world.north)) == [
        "H1",
        "H2",
        "H10",
    ]
    assert (
        mappings.list_mappings(
            engine, world.viewer, MappingFilter(substation_id=str(world.south))
        ).total
        == 1
    )
    assert events.list_events(engine, world.viewer, EventFilter(), offset=10**9).rows.empty
    assert isinstance(uuid.UUID(str(world.north)), uuid.UUID)
