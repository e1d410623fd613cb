"""public.apply_mapping_impacts: past events change only on request, only by admins and operators,
only for events the mapping's validity reaches ('add') or no longer reaches ('remove'); idempotent,
recorded in the history, and two users applying the same preview at once create each impact once."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa
from dbhelpers import pgcode, run, scalar

from ctm import db


def apply_as(engine, identity, mapping, events, mode):
    with db.user_transaction(engine, identity) as conn:
        return conn.scalar(
            sa.text("SELECT apply_mapping_impacts(:m, CAST(:e AS uuid[]), :mode)"),
            {"m": mapping, "e": [str(e) for e in events], "mode": mode},
        )


def impact_count(engine, customer) -> int:
    return scalar(
        engine, "SELECT count(*) FROM event_customer_impact WHERE customer_id = :c", c=customer
    )


@pytest.fixture
def past(engine):
    """Events on North/H1 on 2024-01-10, 2024-06-10 (critical) and 2025-01-10, then Acme mapped
    from 2024-05-01: the mapping reaches the last two events, which do not list Acme yet."""
    north = scalar(engine, "INSERT INTO substations (name) VALUES ('North') RETURNING id")
    acme = scalar(
        engine, "INSERT INTO customers (account_number, name) VALUES ('A1', 'Acme') RETURNING id"
    )
    events = {}
    for day, severity in (
        ("2024-01-10", "low"),
        ("2024-06-10", "critical"),
        ("2025-01-10", "high"),
    ):
        events[day] = scalar(
            engine,
            'INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms, "timestamp")'
            " VALUES (:s, 'H1', :sev, 90000, CAST(:t AS timestamptz)) RETURNING id",
            s=north,
            sev=severity,
            t=f"{day} 12:00+00",
        )
    mapping = scalar(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
        " connected_since) VALUES (:c, :s, 'H1', '2024-05-01') RETURNING id",
        c=acme,
        s=north,
    )
    return {"north": north, "acme": acme, "events": events, "mapping": mapping}


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_add_creates_exactly_the_reached_impacts_once_and_records_it(engine, make_user, past, role):
    user = make_user(role)
    assert impact_count(engine, past["acme"]) == 0  # adding the mapping touched no past event
    reached = [past["events"]["2024-06-10"], past["events"]["2025-01-10"]]
    assert apply_as(engine, user, past["mapping"], reached, "add") == 2
    rows = run(
        engine,
        "SELECT event_id, impact_level, estimated_downtime_min FROM event_customer_impact"
        " WHERE customer_id = :c ORDER BY impact_level",
        c=past["acme"],
    )
    assert [(r.impact_level, str(r.estimated_downtime_min)) for r in rows] == [
        ("moderate", "1.50"),
        ("severe", "1.50"),
    ]
    assert apply_as(engine, user, past["mapping"], reached, "add") == 0  # idempotent
    history = run(engine, "SELECT * FROM audit_log WHERE table_name = 'event_customer_impact'")
    assert len(history) == 1
    entry = history[0]
    assert (entry.row_id, entry.changed_by, entry.customer_id) == (
        str(past["mapping"]),
        user.user_id,
        past["acme"],
    )
    assert sorted(entry.new_values["event_ids"]) == sorted(str(e) for e in reached)


@pytest.mark.parametrize("role", ["viewer", None])
def test_viewers_and_users_without_a_profile_are_refused(engine, make_user, past, role):
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        apply_as(engine, make_user(role), past["mapping"], [past["events"]["2025-01-10"]], "add")
    assert pgcode(excinfo) == "42501"
    assert impact_count(engine, past["acme"]) == 0


def test_an_event_the_mapping_does_not_reach_is_refused_and_nothing_is_written(
    engine, make_user, past
):
    admin = make_user("admin")
    before = past["events"]["2024-01-10"]  # before connected_since
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        apply_as(engine, admin, past["mapping"], [past["events"]["2025-01-10"], before], "add")
    assert pgcode(excinfo) == "22023" and str(before) in str(excinfo.value)
    assert impact_count(engine, past["acme"]) == 0
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        apply_as(engine, admin, past["mapping"], [past["events"]["2025-01-10"]], "replace")
    assert pgcode(excinfo) == "22023"
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        apply_as(engine, admin, uuid.uuid4(), [past["events"]["2025-01-10"]], "add")
    assert pgcode(excinfo) == "P0002"


def test_remove_takes_only_events_the_mapping_no_longer_reaches(engine, make_user, past):
    admin = make_user("admin")
    reached = [past["events"]["2024-06-10"], past["events"]["2025-01-10"]]
    apply_as(engine, admin, past["mapping"], reached, "add")
    run(
        engine,
        "UPDATE customer_transformer_matching SET disconnected_on = '2024-12-01', active = false"
        " WHERE id = :id",
        id=past["mapping"],
    )
    with pytest.raises(sa.exc.DBAPIError) as excinfo:  # still within the period
        apply_as(engine, admin, past["mapping"], [past["events"]["2024-06-10"]], "remove")
    assert pgcode(excinfo) == "22023"
    assert apply_as(engine, admin, past["mapping"], [past["events"]["2025-01-10"]], "remove") == 1
    assert apply_as(engine, admin, past["mapping"], [past["events"]["2025-01-10"]], "remove") == 0
    assert impact_count(engine, past["acme"]) == 1
    actions = [
        r.action
        for r in run(
            engine,
            "SELECT action FROM audit_log WHERE table_name = 'event_customer_impact' ORDER BY id",
        )
    ]
    assert actions == ["INSERT", "DELETE"]


def test_two_users_applying_the_same_preview_at_once_create_each_impact_once(
    engine, make_user, past
):
    first, second = make_user("admin"), make_user("operator")
    reached = [str(past["events"]["2024-06-10"]), str(past["events"]["2025-01-10"])]
    sql = sa.text("SELECT apply_mapping_impacts(:m, CAST(:e AS uuid[]), 'add')")
    params = {"m": past["mapping"], "e": reached}
    results: dict[str, int] = {}

    def as_user(conn, identity):
        conn.execute(sa.text("SET LOCAL ROLE authenticated"))
        conn.execute(
            sa.text("SELECT set_config('request.jwt.claims', :c, true)"),
            {"c": json.dumps({"sub": str(identity.user_id), "role": "authenticated"})},
        )

    with engine.connect() as one, engine.connect() as two:
        one.begin()
        as_user(one, first)
        results["first"] = one.scalar(sql, params)  # holds its new rows, uncommitted

        def second_user():
            two.begin()
            as_user(two, second)
            results["second"] = two.scalar(sql, params)  # waits for the first to finish
            two.commit()

        thread = threading.Thread(target=second_user)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second call should wait for the first's rows"
        one.commit()
        thread.join(timeout=30)
    assert (results["first"], results["second"]) == (2, 0)
    assert impact_count(engine, past["acme"]) == 2
    assert (
        scalar(engine, "SELECT count(*) FROM audit_log WHERE table_name = 'event_customer_impact'")
        == 1
    )
