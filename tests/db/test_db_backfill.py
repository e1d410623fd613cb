"""generate_customer_impacts_for_event and the set-based backfills: each creates only the missing
impacts, so a second call creates none."""

from __future__ import annotations

from decimal import Decimal

from dbhelpers import impacts, run, scalar


def load_events_without_impacts(engine, grid) -> list:
    """Events as an old system left them: stored while the impact trigger did not exist."""
    run(engine, "ALTER TABLE pq_events DISABLE TRIGGER trigger_auto_generate_customer_impacts")
    rows = run(
        engine,
        'INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms, "timestamp")'
        " VALUES (:n, 'H1', 'critical', 90000, '2025-01-10'),"
        " (:n, 'H2', 'high', 60000, '2025-02-10'),"
        " (:s, 'H1', 'low', NULL, '2025-03-10'),"
        " (:n, 'H3', 'critical', 1000, '2025-03-20'),"
        " (NULL, 'H1', 'critical', 1000, '2025-04-10')"
        " RETURNING id",
        n=grid.north,
        s=grid.south,
    )
    run(engine, "ALTER TABLE pq_events ENABLE TRIGGER trigger_auto_generate_customer_impacts")
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    return [r.id for r in rows]


def test_generate_for_one_event_returns_rows_created_then_zero(engine, grid):
    first, second, *_ = load_events_without_impacts(engine, grid)
    call = "SELECT generate_customer_impacts_for_event(:e)"
    assert scalar(engine, call, e=first) == 2
    assert scalar(engine, call, e=first) == 0
    assert impacts(engine, first) == {
        grid.a: ("severe", Decimal("1.50")),
        grid.b: ("severe", Decimal("1.50")),
    }
    assert impacts(engine, second) == {}


def test_generate_adds_only_the_missing_customers(engine, grid):
    first, *_ = load_events_without_impacts(engine, grid)
    run(
        engine,
        "INSERT INTO event_customer_impact (event_id, customer_id, impact_level)"
        " VALUES (:e, :c, 'minor')",
        e=first,
        c=grid.a,
    )
    assert scalar(engine, "SELECT generate_customer_impacts_for_event(:e)", e=first) == 1
    assert impacts(engine, first)[grid.a] == ("minor", None)  # existing rows are not rewritten


def test_generate_for_events_without_a_place_or_unknown_id_returns_zero(engine, grid):
    *_, unmapped, no_substation = load_events_without_impacts(engine, grid)
    call = "SELECT generate_customer_impacts_for_event(:e)"
    assert scalar(engine, call, e=unmapped) == 0
    assert scalar(engine, call, e=no_substation) == 0
    assert scalar(engine, call, e="00000000-0000-0000-0000-000000000000") == 0


def test_backfill_returns_rows_created_then_zero(engine, grid):
    load_events_without_impacts(engine, grid)
    assert scalar(engine, "SELECT backfill_customer_impacts()") == 4
    assert scalar(engine, "SELECT backfill_customer_impacts()") == 0
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 4


def test_backfill_gives_the_same_impacts_as_the_trigger(engine, grid):
    load_events_without_impacts(engine, grid)
    run(engine, "SELECT backfill_customer_impacts()")
    backfilled = run(
        engine,
        "SELECT e.circuit_id, e.substation_id, i.customer_id, i.impact_level,"
        " i.estimated_downtime_min FROM event_customer_impact i JOIN pq_events e ON e.id = i.event_id",
    )
    run(engine, "TRUNCATE event_customer_impact")
    run(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
        " SELECT substation_id, circuit_id, severity, duration_ms FROM pq_events",
    )
    triggered = run(
        engine,
        "SELECT e.circuit_id, e.substation_id, i.customer_id, i.impact_level,"
        " i.estimated_downtime_min FROM event_customer_impact i JOIN pq_events e ON e.id = i.event_id",
    )
    assert sorted(map(tuple, backfilled), key=str) == sorted(map(tuple, triggered), key=str)


def test_backfill_between_counts_events_scanned_and_impacts_by_level(engine, grid):
    load_events_without_impacts(engine, grid)
    window = "SELECT * FROM backfill_customer_impacts_between(:f, :t)"
    # [Feb 1, Mar 15): the H2 event (high → c) and the south event (low → d).
    feb_to_mid_march = run(engine, window, f="2025-02-01", t="2025-03-15")[0]
    assert tuple(feb_to_mid_march) == (2, 0, 1, 1)
    assert tuple(run(engine, window, f="2025-02-01", t="2025-03-15")[0]) == (2, 0, 0, 0)
    # Open start, end before the first H1 event's successor: only the January critical event.
    assert tuple(run(engine, window, f=None, t="2025-02-01")[0]) == (1, 2, 0, 0)
    # Open both ends: the rest is already there; the event without a substation is not scanned.
    assert tuple(run(engine, window, f=None, t=None)[0]) == (4, 0, 0, 0)
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 4


def test_backfill_window_end_is_exclusive_and_start_inclusive(engine, grid):
    load_events_without_impacts(engine, grid)
    window = "SELECT * FROM backfill_customer_impacts_between(:f, :t)"
    assert tuple(run(engine, window, f="2025-02-10", t="2025-02-10")[0]) == (0, 0, 0, 0)
    assert tuple(run(engine, window, f="2025-01-11", t="2025-02-10")[0]) == (0, 0, 0, 0)
    assert tuple(run(engine, window, f="2025-02-10", t="2025-02-11")[0]) == (1, 0, 1, 0)


def test_backfill_skips_inactive_mappings_and_adds_later_mappings(engine, grid):
    first, *_ = load_events_without_impacts(engine, grid)
    run(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H1')",
        c=grid.d,
        s=grid.north,
    )
    run(engine, "SELECT backfill_customer_impacts()")
    assert set(impacts(engine, first)) == {grid.a, grid.b, grid.d}
    assert grid.e not in {r.customer_id for r in run(engine, "SELECT * FROM event_customer_impact")}


def test_functions_that_turn_a_planner_method_off_also_turn_jit_off(engine):
    """enable_nestloop = off prices a nested loop at 10^10 before PostgreSQL 18, far above
    jit_above_cost: every statement of such a function (and of the triggers it fires) was
    compiled by LLVM first, 0.85 s per backfill batch on PostgreSQL 15 whatever the batch held.
    A function that switches a planner method off must switch JIT off with it."""
    functions = run(
        engine,
        r"""
        SELECT p.oid::regprocedure::text AS name, p.proconfig AS config
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('public', 'ctm_private')
          AND EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c ~ '^enable_\w+=off$')
        """,
    )
    names = {f.name for f in functions}
    assert any(n.startswith("backfill_customer_impacts_between(") for n in names), names
    for function in functions:
        assert "jit=off" in function.config, f"{function.name} runs with {function.config}"
