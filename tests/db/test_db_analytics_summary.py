"""public.analytics_monthly stays exactly equal to a full recount of events and impacts, whatever
happens to them: random inserts, updates and deletes of events, backfills, a customer deletion,
impact rows added and removed on request, a status set to false, a timestamp moved across a month,
a new customers_served, a TRUNCATE and a new time zone (issue 11 "Speed and scale").

The recount here is written independently of the triggers: one GROUP BY over every event with its
impact rows counted, the thresholds from ctm.analytics and the curve verdicts from ctm.curves."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ctm import analytics, curves, db

KEY = ("month", "substation_id", "swell")


def _recount_sql() -> str:
    residual = "coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END)"
    base = (
        "(e.status <> 'false' AND (e.event_type IS NULL"
        " OR e.event_type IN ('voltage_dip', 'voltage_swell', 'interruption')))"
    )
    counted = (
        f"({base} AND {residual} IS NOT NULL AND (e.duration_ms IS NULL OR e.duration_ms <= 60000))"
    )
    placed = f"({base} AND {residual} IS NOT NULL AND e.duration_ms IS NOT NULL)"
    columns = {
        "impacts_severe": "sum(severe)",
        "impacts_moderate": "sum(moderate)",
        "impacts_minor": "sum(minor)",
        "unplaced": f"count(*) FILTER (WHERE {base} AND NOT {placed})",
        "no_residual": f"count(*) FILTER (WHERE {base} AND {residual} IS NULL)",
        "too_long": f"count(*) FILTER (WHERE {base} AND {residual} IS NOT NULL"
        " AND e.duration_ms > 60000)",
    }
    conditions = {str(x): f"{residual} {'<' if x < 100 else '>'} {x}" for x in analytics.THRESHOLDS}
    for curve in ("itic", "semi_f47"):
        conditions[curve] = (
            f"{curves.classification_sql(curve, residual, 'e.duration_ms')} = 'outside'"
        )
    for key, condition in conditions.items():
        where = f"{counted} AND {condition}"
        columns[f"events_{key}"] = f"count(*) FILTER (WHERE {where})"
        columns[f"hits_{key}"] = f"coalesce(sum(hits) FILTER (WHERE {where}), 0)"
        columns[f"served_{key}"] = f"coalesce(sum(served) FILTER (WHERE {where}), 0)"
    for name, curve, hz in (
        ("itic", "itic", 50.0),
        ("semi_f47", "semi_f47", 50.0),
        ("iec50", "iec_61000_4_34", 50.0),
        ("iec60", "iec_61000_4_34", 60.0),
    ):
        verdict = curves.classification_sql(curve, residual, "e.duration_ms", hz)
        for v in curves.Verdict:
            columns[f"rt_{name}_{v.value.replace(' ', '_')}"] = (
                f"count(*) FILTER (WHERE {placed} AND {verdict} = '{v.value}')"
            )
    select = ",\n".join(f"{expr} AS {name}" for name, expr in columns.items())
    return f"""
    SELECT date_trunc('month', e."timestamp" AT TIME ZONE public.ctm_time_zone())::date AS month,
           e.substation_id,
           coalesce(e.event_type = 'voltage_swell', false) AS swell,
           {select}
    FROM (
      SELECT e.*, coalesce(sc.customers_served, 0) AS served,
             (SELECT count(*) FROM event_customer_impact AS i WHERE i.event_id = e.id) AS hits,
             (SELECT count(*) FROM event_customer_impact AS i
              WHERE i.event_id = e.id AND i.impact_level = 'severe') AS severe,
             (SELECT count(*) FROM event_customer_impact AS i
              WHERE i.event_id = e.id AND i.impact_level = 'moderate') AS moderate,
             (SELECT count(*) FROM event_customer_impact AS i
              WHERE i.event_id = e.id AND i.impact_level = 'minor') AS minor
      FROM pq_events AS e
      LEFT JOIN substation_circuits AS sc
        ON sc.substation_id = e.substation_id AND sc.circuit_id = e.circuit_id
    ) AS e
    GROUP BY 1, 2, 3
    """


RECOUNT = _recount_sql()


def _rows(conn, sql: str) -> dict[tuple, dict]:
    result = {}
    for row in conn.execute(sa.text(sql)).mappings():
        values = {k: int(v) for k, v in row.items() if k not in KEY}
        if any(values.values()):  # a bucket emptied by deletes may stay as zeros
            result[tuple(row[k] for k in KEY)] = values
    return result


def assert_exact(engine, step: str) -> int:
    with db.owner_transaction(engine) as conn:
        summary = _rows(conn, "SELECT * FROM public.analytics_monthly")
        recount = _rows(conn, RECOUNT)
    for key in summary.keys() ^ recount.keys():
        raise AssertionError(
            f"after {step}, bucket {key}: summary {summary.get(key)}, recount {recount.get(key)}"
        )
    for key, expected in recount.items():
        differing = {k: (summary[key][k], v) for k, v in expected.items() if summary[key][k] != v}
        assert not differing, f"after {step}, bucket {key}: (summary, recount) {differing}"
    return len(recount)


def owner(engine, sql: str, params=None):
    with db.owner_transaction(engine) as conn:
        result = conn.execute(sa.text(sql), params or {})
        return result.fetchall() if result.returns_rows else None


@pytest.fixture
def world(engine):
    """Three substations with three circuits each, 30 customers mapped (some with validity
    periods), customers_served on most circuits, and 300 random events in Hong Kong time."""
    rng = random.Random(20261205)
    owner(engine, "UPDATE ctm_settings SET value = 'Asia/Hong_Kong' WHERE key = 'time_zone'")
    subs = [
        owner(engine, "INSERT INTO substations (name) VALUES (:n) RETURNING id", {"n": n})[0][0]
        for n in ("Alpha", "Beta", "Gamma")
    ]
    circuits = [(s, f"H{k}") for s in subs for k in (1, 2, 3)]
    customers = []
    for i in range(30):
        cid = owner(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:a, :a) RETURNING id",
            {"a": f"S{i:03d}"},
        )[0][0]
        customers.append(cid)
        sub, circuit = circuits[i % len(circuits)]
        since, until, active = None, None, True
        if i % 4 == 1:
            since, until, active = "2025-01-01", "2025-06-15", False
        elif i % 4 == 2:
            since = "2025-07-20"
        owner(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
            " active, connected_since, disconnected_on) VALUES (:c, :s, :k, :a, :f, :t)",
            {"c": cid, "s": sub, "k": circuit, "a": active, "f": since, "t": until},
        )
    for n, (sub, circuit) in enumerate(circuits[:-1]):
        owner(
            engine,
            "INSERT INTO substation_circuits (substation_id, circuit_id, customers_served)"
            " VALUES (:s, :c, :n) ON CONFLICT (substation_id, circuit_id)"
            " DO UPDATE SET customers_served = EXCLUDED.customers_served",
            {"s": sub, "c": circuit, "n": 50 * (n + 1)},
        )
    return {"rng": rng, "subs": subs, "circuits": circuits, "customers": customers}


START = datetime(2024, 12, 20, tzinfo=ZoneInfo("UTC"))
DURATIONS = [1, 2, 5, 10, 20, 21, 50, 150, 200, 201, 499, 500, 700, 1000, 5000, 60_000, 60_001]
TYPES = ["voltage_dip"] * 5 + ["voltage_swell", "interruption", None, "harmonic", "flicker"]


def random_event(rng: random.Random, circuits) -> dict:
    sub, circuit = rng.choice(circuits)
    kind = rng.choice(TYPES)
    residual = (
        None
        if rng.random() < 0.1
        else round(rng.uniform(100.5, 160), 2)
        if kind == "voltage_swell"
        else round(rng.uniform(0, 99.9), 2)
    )
    return {
        "s": None if rng.random() < 0.03 else sub,
        "c": circuit,
        "t": kind,
        "r": residual,
        "d": None if rng.random() < 0.05 else rng.choice(DURATIONS),
        "st": rng.choice(["new", "resolved", "false"]),
        "at": START + timedelta(hours=rng.uniform(0, 24 * 400)),
        "sev": rng.choice(["critical", "high", "medium", None]),
    }


INSERT = (
    "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage, duration_ms,"
    ' status, "timestamp", severity) VALUES (:s, :c, :t, :r, :d, :st, :at, :sev)'
)


def insert_events(engine, rows: list[dict]) -> None:
    with db.owner_transaction(engine) as conn:
        if len(rows) == 1:
            conn.execute(sa.text(INSERT), rows[0])
        else:
            # One multi-row statement: one trigger call for the batch, as ingestion does.
            values = ", ".join(
                f"(:s{i}, :c{i}, :t{i}, :r{i}, :d{i}, :st{i}, :at{i}, :sev{i})"
                for i in range(len(rows))
            )
            params = {f"{k}{i}": v for i, row in enumerate(rows) for k, v in row.items()}
            conn.execute(
                sa.text(
                    "INSERT INTO pq_events (substation_id, circuit_id, event_type,"
                    ' remaining_voltage, duration_ms, status, "timestamp", severity)'
                    f" VALUES {values}"
                ),
                params,
            )


def test_migration_fills_the_summary_from_existing_rows(engine, world):
    """The migration's recount (also the TRUNCATE / time-zone path) equals the recount here."""
    insert_events(engine, [random_event(world["rng"], world["circuits"]) for _ in range(80)])
    owner(engine, "SELECT ctm_private.analytics_monthly_rebuild()")
    assert assert_exact(engine, "rebuild") > 20


def map_a_newcomer_then_move_its_past_impacts(engine, circuit, make_user, check) -> None:
    """Steps every summary must survive, with `check(step)` after each: a new customer mapped
    since 2024 on `circuit` (substation, circuit id), which has past events, then the backfill;
    then its impacts of events before December 2025 removed and added again on request, as an
    admin (apply_mapping_impacts) after its connected_since moved past them and back."""
    newcomer = owner(
        engine, "INSERT INTO customers (account_number, name) VALUES ('NEW', 'New') RETURNING id"
    )[0][0]
    sub, circuit_id = circuit
    owner(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
        " connected_since) VALUES (:c, :s, :k, '2024-01-01')",
        {"c": newcomer, "s": sub, "k": circuit_id},
    )
    assert owner(engine, "SELECT backfill_customer_impacts()")[0][0] > 0
    check("backfill")

    admin = make_user("admin")
    mapping, past = owner(
        engine,
        "SELECT m.id, array_agg(i.event_id) FROM customer_transformer_matching AS m"
        " JOIN event_customer_impact AS i ON i.customer_id = m.customer_id"
        " JOIN pq_events AS e ON e.id = i.event_id"
        " WHERE m.customer_id = :c AND e.\"timestamp\" < '2025-12-01' GROUP BY m.id",
        {"c": newcomer},
    )[0]
    for since, how, step in (
        ("2026-01-01", "remove", "past-event impacts removed"),
        ("2024-01-01", "add", "past-event impacts added"),
    ):
        owner(
            engine,
            "UPDATE customer_transformer_matching SET connected_since = :d WHERE id = :m",
            {"d": since, "m": mapping},
        )
        with db.user_transaction(engine, admin) as conn:
            changed = conn.execute(
                sa.text("SELECT apply_mapping_impacts(:m, CAST(:e AS uuid[]), :how)"),
                {"m": mapping, "e": [str(e) for e in past], "how": how},
            ).scalar()
        assert changed == len(past)
        check(step)


@pytest.fixture(params=[False, True], ids=["plain", "sessions-set-impacts-summarised"])
def sessions_spoof(request, engine):
    """With the parameter on, every session sets ctm.impacts_summarised = 'on' first — the flag
    the one-event insert path raises to count its own impact rows; no other writer of impact rows
    may be fooled by it into leaving them out of the summary."""
    if not request.param:
        yield False
        return

    def spoof(dbapi_connection, connection_record, connection_proxy):
        with dbapi_connection.cursor() as cur:
            cur.execute("SET ctm.impacts_summarised = 'on'")

    sa.event.listen(engine, "checkout", spoof)
    yield True
    sa.event.remove(engine, "checkout", spoof)
    engine.dispose()


def test_summary_equals_a_full_recount_after_random_changes(
    engine, world, make_user, sessions_spoof
):
    rng, circuits, customers = world["rng"], world["circuits"], world["customers"]
    insert_events(engine, [random_event(rng, circuits) for _ in range(300)])
    assert assert_exact(engine, "bulk insert") > 50
    insert_events(engine, [random_event(rng, circuits)])
    assert_exact(engine, "single insert")
    if sessions_spoof:
        flag = owner(engine, "SELECT current_setting('ctm.impacts_summarised', true)")[0][0]
        assert flag == "on"

    def ids(n: int) -> list:
        return [
            r[0]
            for r in owner(engine, "SELECT id FROM pq_events ORDER BY random() LIMIT :n", {"n": n})
        ]

    columns = {
        "status": lambda: rng.choice(["new", "false", "resolved"]),
        "remaining_voltage": lambda: rng.choice(
            [None, 5, 9.99, 10, 55.5, 89.99, 90, 99.9, 110, 110.01, 145]
        ),
        "event_type": lambda: rng.choice(TYPES),
        "duration_ms": lambda: rng.choice([None, 3, 20, 200, 500, 1000, 60_000, 60_001]),
        "circuit_id": lambda: rng.choice(["H1", "H2", "H3", "H9"]),
        "severity": lambda: rng.choice(["critical", "low"]),
    }
    for round_ in range(12):
        column = rng.choice(list(columns))
        with db.owner_transaction(engine) as conn:
            for event_id in ids(rng.randint(1, 25)):
                conn.execute(
                    sa.text(f"UPDATE pq_events SET {column} = :v WHERE id = :id"),
                    {"v": columns[column](), "id": event_id},
                )
        assert_exact(engine, f"update {round_} of {column}")
    # Several events in one statement, every column at once (place and timestamp move impacts).
    owner(
        engine,
        'UPDATE pq_events SET "timestamp" = "timestamp" + interval \'9 days\','
        " substation_id = :s, remaining_voltage = 42, status = 'new'"
        " WHERE id = ANY(CAST(:ids AS uuid[]))",
        {"s": world["subs"][1], "ids": [str(i) for i in ids(20)]},
    )
    assert_exact(engine, "multi-row update of place and time")

    # A status set to false; a timestamp moved across a month (local time: HK is UTC+8).
    one = owner(
        engine,
        "SELECT id FROM pq_events WHERE status <> 'false' AND remaining_voltage < 50"
        " AND duration_ms <= 1000 LIMIT 1",
    )[0][0]
    owner(engine, "UPDATE pq_events SET status = 'false' WHERE id = :id", {"id": one})
    assert_exact(engine, "status set to false")
    moved = ids(1)[0]
    # In Hong Kong: 1 April 00:30, then 31 March 23:30.
    for instant in ("2025-03-31 16:30+00", "2025-03-31 15:30+00"):
        owner(
            engine,
            'UPDATE pq_events SET "timestamp" = CAST(:t AS timestamptz) WHERE id = :id',
            {"t": instant, "id": moved},
        )
    assert_exact(engine, "timestamps moved across a month")

    # Deletes: events (impacts cascade), impact rows alone, a customer (its impacts cascade).
    owner(
        engine,
        "DELETE FROM pq_events WHERE id = ANY(CAST(:ids AS uuid[]))",
        {"ids": [str(i) for i in ids(15)]},
    )
    assert_exact(engine, "events deleted")
    owner(
        engine,
        "DELETE FROM event_customer_impact WHERE ctid IN"
        " (SELECT ctid FROM event_customer_impact ORDER BY random() LIMIT 7)",
    )
    assert_exact(engine, "impact rows deleted")
    owner(engine, "DELETE FROM customers WHERE id = :c", {"c": customers[0]})
    assert_exact(engine, "customer deleted")

    map_a_newcomer_then_move_its_past_impacts(
        engine, circuits[0], make_user, lambda step: assert_exact(engine, step)
    )

    # Today's customers_served changes the system-SARFI weights of past events.
    owner(engine, "UPDATE substation_circuits SET customers_served = customers_served * 3 + 1")
    owner(
        engine,
        "UPDATE substation_circuits SET customers_served = 77 WHERE customers_served IS NULL",
    )
    assert_exact(engine, "customers_served changed")

    # An event inserted as a user (row-level security on, definer triggers), then another zone.
    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        conn.execute(sa.text(INSERT), random_event(rng, circuits))
    assert_exact(engine, "insert by an operator")
    owner(engine, "UPDATE ctm_settings SET value = 'America/New_York' WHERE key = 'time_zone'")
    assert_exact(engine, "time zone changed")
    owner(engine, "TRUNCATE event_customer_impact")
    assert_exact(engine, "impacts truncated")


def test_events_inserted_one_by_one_are_counted_with_their_impact_rows(engine, world):
    """A live monitor's feed: one event per statement (the path that counts an event and its
    impact rows in one upsert) gives the summary a bulk load gives — including events without a
    substation, on a circuit not registered yet, false, swells and interruptions without a
    residual — and registers the new circuit."""
    rng, circuits = world["rng"], world["circuits"]
    sub = world["subs"][0]
    odd = [
        {**random_event(rng, circuits), "s": None},
        {**random_event(rng, circuits), "s": sub, "c": "h7 "},
        {**random_event(rng, circuits), "t": "interruption", "r": None, "st": "new"},
        {**random_event(rng, circuits), "t": "voltage_swell", "r": 131.5, "st": "new"},
        {**random_event(rng, circuits), "st": "false"},
        {**random_event(rng, circuits), "t": "harmonic"},
    ]
    for row in odd + [random_event(rng, circuits) for _ in range(80)]:
        insert_events(engine, [row])
    assert assert_exact(engine, "86 single inserts") > 20
    hits = owner(engine, "SELECT sum(hits_90) FROM analytics_monthly")[0][0]
    assert hits > 0, "the impact rows of single inserts are counted"
    registered = owner(
        engine,
        "SELECT source FROM substation_circuits WHERE substation_id = :s AND circuit_id = 'H7'",
        {"s": sub},
    )
    assert registered == [("event",)]


def test_every_writer_of_impact_rows_ignores_a_session_impacts_summarised_flag(engine):
    """Only the one-event branch of the insert trigger may raise ctm.impacts_summarised (and only
    around its own insert): every other function that inserts impact rows runs with it 'off', so
    the summary's impact trigger counts what they write whatever a session set."""
    writers = owner(
        engine,
        r"""
        SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}')
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('public', 'ctm_private')
          AND p.prosrc ~* 'insert\s+into\s+public\.event_customer_impact'
        """,
    )
    names = {name for name, _ in writers}
    assert "trigger_generate_customer_impacts()" in names and len(names) >= 5, names
    for name, config in writers:
        assert "ctm.impacts_summarised=off" in config, f"{name} runs with {config}"


def test_verdict_functions_classify_as_the_curves_module(engine):
    """The migration's verdict functions are ctm.curves' rules: every curve on a grid of points
    around each corner, at 50 and 60 Hz."""
    # fmt: off
    durations = [0.0, 0.5, 1.0, 2.0, 3.0, 10.0, 16.67, 20.0, 20.01, 49.99, 50.0, 166.67, 200.0,
                 200.01, 416.67, 500.0, 500.01, 999.99, 1000.0, 1000.01, 4166.67, 5000.0,
                 10_000.0, 10_000.01]
    residuals = [0.0, 39.99, 40.0, 49.99, 50.0, 69.99, 70.0, 79.99, 80.0, 89.99, 90.0, 100.0,
                 109.99, 110.0, 110.01, 120.0, 120.01, 139.99, 140.0, 170.0, 199.99, 200.0, 200.01]
    # fmt: on
    points = [(r, d) for r in residuals for d in durations]
    with db.owner_transaction(engine) as conn:
        got = conn.execute(
            sa.text(
                "SELECT ctm_private.verdict_itic(r, d), ctm_private.verdict_semi_f47(r, d),"
                " ctm_private.verdict_iec_61000_4_34(r, d, 50),"
                " ctm_private.verdict_iec_61000_4_34(r, d, 60)"
                " FROM unnest(CAST(:r AS float8[]), CAST(:d AS float8[])) WITH ORDINALITY"
                " AS p(r, d, n) ORDER BY n"
            ),
            {"r": [p[0] for p in points], "d": [p[1] for p in points]},
        ).fetchall()
    for (r, d), row in zip(points, got, strict=True):
        expected = (
            curves.classify("itic", r, d),
            curves.classify("semi_f47", r, d),
            curves.classify("iec_61000_4_34", r, d, 50.0),
            curves.classify("iec_61000_4_34", r, d, 60.0),
        )
        assert tuple(row) == tuple(v.value for v in expected), (r, d)
