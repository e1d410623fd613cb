"""Every way an event arrives creates its impacts in the same transaction, and corrections of an
event's place, severity or duration keep its impacts in step."""

from __future__ import annotations

import io
from decimal import Decimal

import sqlalchemy as sa
from dbhelpers import add_event, impacts, run, scalar

from ctm import db


def all_impacts(engine) -> set[tuple]:
    rows = run(engine, "SELECT event_id, customer_id, impact_level FROM event_customer_impact")
    return {tuple(r) for r in rows}


def test_single_insert(engine, grid):
    event = add_event(engine, grid.north, "H1", severity="critical", duration_ms=90_000)
    assert impacts(engine, event) == {
        grid.a: ("severe", Decimal("1.50")),
        grid.b: ("severe", Decimal("1.50")),
    }


def test_multi_row_insert(engine, grid):
    ids = [
        r.id
        for r in run(
            engine,
            "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms) VALUES"
            " (:n, 'H1', 'critical', 1000), (:n, 'H2', 'low', 2000), (:s, 'H1', 'high', 3000),"
            " (:n, 'H1', 'medium', 4000), (NULL, 'H1', 'critical', 5000) RETURNING id",
            n=grid.north,
            s=grid.south,
        )
    ]
    assert {k: v[0] for k, v in impacts(engine, ids[0]).items()} == {
        grid.a: "severe",
        grid.b: "severe",
    }
    assert set(impacts(engine, ids[1])) == {grid.c}
    assert impacts(engine, ids[2]) == {grid.d: ("moderate", Decimal("0.05"))}
    assert set(impacts(engine, ids[3])) == {grid.a, grid.b}
    assert impacts(engine, ids[4]) == {}
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 6


def test_insert_select(engine, grid):
    run(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
        " SELECT :n, 'H' || (g % 3 + 1), 'high', g * 1000 FROM generate_series(1, 30) AS g",
        n=grid.north,
    )
    # 10 events on each of H1 (a, b), H2 (c), H3 (nobody).
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 30
    per_event = run(
        engine,
        "SELECT e.circuit_id, count(i.customer_id) AS n FROM pq_events e"
        " LEFT JOIN event_customer_impact i ON i.event_id = e.id GROUP BY e.id, e.circuit_id",
    )
    assert {(r.circuit_id, r.n) for r in per_event} == {("H1", 2), ("H2", 1), ("H3", 0)}


def test_copy(engine, grid):
    data = "".join(
        f"{grid.north}\tH1\tcritical\t{60_000 * i}\n"
        f"{grid.south}\tH1\thigh\t\\N\n"
        f"\\N\tH2\tlow\t100\n"
        for i in range(1, 101)
    )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.copy_expert(
            "COPY pq_events (substation_id, circuit_id, severity, duration_ms) FROM STDIN",
            io.StringIO(data),
        )
        raw.commit()
    finally:
        raw.close()
    assert scalar(engine, "SELECT count(*) FROM pq_events") == 300
    counts = run(
        engine,
        "SELECT customer_id, impact_level, count(*) AS n, max(estimated_downtime_min) AS longest"
        " FROM event_customer_impact GROUP BY 1, 2",
    )
    assert {(r.customer_id, r.impact_level, r.n, r.longest) for r in counts} == {
        (grid.a, "severe", 100, Decimal("100.00")),
        (grid.b, "severe", 100, Decimal("100.00")),
        (grid.d, "moderate", 100, None),
    }


def test_impacts_belong_to_the_events_transaction(engine, grid):
    with engine.connect() as conn:
        tx = conn.begin()
        event = conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity)"
                " VALUES (:n, 'H1', 'high') RETURNING id"
            ),
            {"n": grid.north},
        ).scalar()
        seen_inside = conn.execute(
            sa.text("SELECT count(*) FROM event_customer_impact WHERE event_id = :e"), {"e": event}
        ).scalar()
        tx.rollback()
    assert seen_inside == 2
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0


def test_mapping_added_after_an_event_does_not_touch_that_event(engine, grid):
    event = add_event(engine, grid.north, "H2")
    run(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H2')",
        c=grid.d,
        s=grid.north,
    )
    assert set(impacts(engine, event)) == {grid.c}
    assert set(impacts(engine, add_event(engine, grid.north, "H2"))) == {grid.c, grid.d}


# Corrections -------------------------------------------------------------------------------------


def test_moving_an_event_to_another_circuit_replaces_its_customers(engine, grid):
    event = add_event(engine, grid.north, "H1", severity="critical")
    run(engine, "UPDATE pq_events SET circuit_id = 'H2' WHERE id = :e", e=event)
    assert impacts(engine, event) == {grid.c: ("severe", Decimal("1.00"))}


def test_moving_an_event_to_another_substation_replaces_its_customers(engine, grid):
    event = add_event(engine, grid.north, "H1")
    run(engine, "UPDATE pq_events SET substation_id = :s WHERE id = :e", s=grid.south, e=event)
    assert set(impacts(engine, event)) == {grid.d}


def test_moving_to_a_circuit_sharing_a_customer_keeps_one_impact_per_customer(engine, grid):
    run(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H2')",
        c=grid.a,
        s=grid.north,
    )
    event = add_event(engine, grid.north, "H1", severity="low")
    run(engine, "UPDATE pq_events SET circuit_id = 'H2', severity = 'high' WHERE id = :e", e=event)
    assert impacts(engine, event) == {
        grid.a: ("moderate", Decimal("1.00")),
        grid.c: ("moderate", Decimal("1.00")),
    }


def test_removing_the_place_removes_the_impacts(engine, grid):
    first = add_event(engine, grid.north, "H1")
    second = add_event(engine, grid.north, "H1")
    run(engine, "UPDATE pq_events SET circuit_id = NULL WHERE id = :e", e=first)
    run(engine, "UPDATE pq_events SET substation_id = NULL WHERE id = :e", e=second)
    assert impacts(engine, first) == {}
    assert impacts(engine, second) == {}


def test_giving_a_place_to_an_event_without_one_creates_its_impacts(engine, grid):
    event = add_event(engine, None, None, severity="critical")
    run(
        engine,
        "UPDATE pq_events SET substation_id = :s, circuit_id = 'H1' WHERE id = :e",
        s=grid.south,
        e=event,
    )
    assert impacts(engine, event) == {grid.d: ("severe", Decimal("1.00"))}


def test_new_severity_or_duration_rerates_the_same_customers(engine, grid):
    event = add_event(engine, grid.north, "H1", severity="low", duration_ms=60_000)
    # Mapped after the event: it was not hit, and a re-rating must not add it.
    run(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H1')",
        c=grid.c,
        s=grid.north,
    )
    # Unmapped after the event: it was hit, and a re-rating must not drop it.
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c",
        c=grid.b,
    )
    run(engine, "UPDATE pq_events SET severity = 'Critical' WHERE id = :e", e=event)
    assert impacts(engine, event) == {
        grid.a: ("severe", Decimal("1.00")),
        grid.b: ("severe", Decimal("1.00")),
    }
    run(engine, "UPDATE pq_events SET duration_ms = 90000 WHERE id = :e", e=event)
    assert impacts(engine, event) == {
        grid.a: ("severe", Decimal("1.50")),
        grid.b: ("severe", Decimal("1.50")),
    }
    run(engine, "UPDATE pq_events SET duration_ms = NULL, severity = NULL WHERE id = :e", e=event)
    assert impacts(engine, event) == {grid.a: ("minor", None), grid.b: ("minor", None)}


def test_other_corrections_leave_impacts_untouched(engine, grid):
    event = add_event(engine, grid.north, "H1")
    before = run(
        engine,
        "SELECT customer_id, created_at, xmin::text AS x FROM event_customer_impact"
        " WHERE event_id = :e ORDER BY 1",
        e=event,
    )
    run(
        engine,
        "UPDATE pq_events SET status = 'resolved', magnitude = 42, circuit_id = 'H1',"
        " severity = 'high' WHERE id = :e",
        e=event,
    )
    after = run(
        engine,
        "SELECT customer_id, created_at, xmin::text AS x FROM event_customer_impact"
        " WHERE event_id = :e ORDER BY 1",
        e=event,
    )
    assert after == before


def test_one_update_of_many_events_regenerates_each(engine, grid):
    events = [add_event(engine, grid.north, c, severity="low") for c in ("H1", "H2", "H3")]
    run(engine, "UPDATE pq_events SET circuit_id = 'H1', severity = 'high'")
    for event in events:
        assert impacts(engine, event) == {
            grid.a: ("moderate", Decimal("1.00")),
            grid.b: ("moderate", Decimal("1.00")),
        }


def test_operator_correcting_an_event_regenerates_its_impacts(engine, grid, make_user):
    event = add_event(engine, grid.north, "H1")
    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        conn.execute(
            sa.text("UPDATE pq_events SET substation_id = :s WHERE id = :e"),
            {"s": grid.south, "e": event},
        )
    assert set(impacts(engine, event)) == {grid.d}
