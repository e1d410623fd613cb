"""public.analytics_customer_monthly and public.analytics_circuit_monthly, once refreshed, equal a
full recount of events and impacts whatever happened to them: random inserts, updates and deletes
of events, backfills, a customer deletion, past-event impacts removed and added, a status set to
false, a timestamp moved across a month, a TRUNCATE and a new time zone; and the three views that
read them (customer verdicts, most affected customers, fragile circuits) give what a direct count
over the period's events gives, for any dates. A writer's impacts not yet committed while a refresh
runs leave their month dirty, never silently stale (issue 11 "Speed and scale").

The recounts here are written independently of the migration: one GROUP BY over every impact row
with its event, the curve verdicts from ctm.curves."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from test_db_analytics_summary import (  # noqa: F401
    INSERT,
    insert_events,
    map_a_newcomer_then_move_its_past_impacts,
    owner,
    random_event,
    sessions_spoof,
    world,
)

from ctm import analytics, curves, db

RESIDUAL = "coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END)"
BASE = (
    "e.status <> 'false' AND e.substation_id IS NOT NULL AND (e.event_type IS NULL"
    " OR e.event_type IN ('voltage_dip', 'voltage_swell', 'interruption'))"
)
MONTH = "date_trunc('month', e.\"timestamp\" AT TIME ZONE public.ctm_time_zone())::date"
SWELL = "coalesce(e.event_type = 'voltage_swell', false)"


def _customer_recount_sql() -> str:
    verdicts = []
    for name, curve, hz in (
        ("itic", "itic", 50.0),
        ("semi_f47", "semi_f47", 50.0),
        ("iec50", "iec_61000_4_34", 50.0),
        ("iec60", "iec_61000_4_34", 60.0),
    ):
        sql = curves.classification_sql(curve, RESIDUAL, "e.duration_ms", hz)
        for verdict in ("within", "outside"):
            verdicts.append(f"count(*) FILTER (WHERE {sql} = '{verdict}') AS {name}_{verdict}")
    return f"""
    SELECT {MONTH} AS month, i.customer_id, e.substation_id, {SWELL} AS swell,
           count(*) AS events, count(*) FILTER (WHERE i.impact_level = 'severe') AS severe,
           coalesce(sum(e.duration_ms), 0) AS duration_ms, min({RESIDUAL}) AS lowest_residual,
           {", ".join(verdicts)}
    FROM event_customer_impact AS i JOIN pq_events AS e ON e.id = i.event_id
    WHERE {BASE}
    GROUP BY 1, 2, 3, 4
    """


CUSTOMER_RECOUNT = _customer_recount_sql()
CIRCUIT_RECOUNT = f"""
    SELECT {MONTH} AS month, e.substation_id, e.circuit_id, {SWELL} AS swell, count(*) AS events,
           sum((SELECT count(*) FROM event_customer_impact AS i WHERE i.event_id = e.id)) AS hits
    FROM pq_events AS e
    WHERE {BASE} AND e.circuit_id IS NOT NULL
    GROUP BY 1, 2, 3, 4
"""
CUSTOMER_KEY = ("month", "customer_id", "substation_id", "swell")
CIRCUIT_KEY = ("month", "substation_id", "circuit_id", "swell")


def _rows(conn, sql: str, key: tuple[str, ...]) -> dict[tuple, dict]:
    return {
        tuple(row[k] for k in key): {k: v for k, v in row.items() if k not in key}
        for row in conn.execute(sa.text(sql)).mappings()
    }


def refresh_all(engine, identity=None) -> int:
    """The readers' call over every month (as a user when given: the definer function)."""
    sql = "SELECT public.analytics_customer_refresh('-infinity', 'infinity')"
    if identity is None:
        with db.owner_transaction(engine) as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    with db.user_transaction(engine, identity) as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def compare(engine, step: str) -> int:
    """Summaries vs recounts, row for row; returns the recount's customer rows."""
    with db.owner_transaction(engine) as conn:
        pairs = [
            (
                _rows(conn, "SELECT * FROM analytics_customer_monthly", CUSTOMER_KEY),
                _rows(conn, CUSTOMER_RECOUNT, CUSTOMER_KEY),
            ),
            (
                _rows(conn, "SELECT * FROM analytics_circuit_monthly", CIRCUIT_KEY),
                _rows(conn, CIRCUIT_RECOUNT, CIRCUIT_KEY),
            ),
        ]
    for summary, recount in pairs:
        for key in summary.keys() ^ recount.keys():
            raise AssertionError(
                f"after {step}, row {key}: summary {summary.get(key)}, recount {recount.get(key)}"
            )
        for key, expected in recount.items():
            got = summary[key]
            differing = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
            assert not differing, f"after {step}, row {key}: (summary, recount) {differing}"
    return len(pairs[0][1])


def exact(engine, step: str, identity=None) -> int:
    refresh_all(engine, identity)
    with db.owner_transaction(engine) as conn:
        assert not conn.execute(
            sa.text("SELECT count(*) FROM ctm_private.analytics_customer_dirty")
        ).scalar_one(), f"after {step}: marks left after a refresh of every month"
    return compare(engine, step)


# The three views as they were before the summaries: a direct count over the period's events.
def live_customer_verdicts(conn, scope: analytics.Scope, limit: int = 100) -> pd.DataFrame:
    params: dict = {"limit": limit}
    analytics._period_params(conn, scope, params)
    place = analytics._place_sql(scope, "s", params)
    dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if scope.dips_only else ""
    verdicts = analytics._verdict_columns(scope.frequency_hz, RESIDUAL, "e.duration_ms")
    parts = [
        f"count(*) FILTER (WHERE c.{k} = '{v.value}') AS \"{curves.CURVE_LABELS[k]}: {v.value}\""
        for k in curves.CURVE_KEYS
        for v in curves.Verdict
    ]
    sql = f"""
    WITH c AS (
      SELECT e.id, {verdicts}
      FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
      WHERE {analytics._PERIOD_SQL} AND {analytics._BASE_EVENT_SQL} AND {place}{dips}
    )
    SELECT cu.name AS customer, cu.account_number, count(*) AS events, {", ".join(parts)}
    FROM c JOIN public.event_customer_impact AS i ON i.event_id = c.id
    JOIN public.customers AS cu ON cu.id = i.customer_id
    GROUP BY cu.id, cu.name, cu.account_number
    ORDER BY count(*) FILTER (WHERE c.semi_f47 = 'outside') DESC, count(*) DESC, cu.name
    LIMIT :limit
    """
    return pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())


def live_most_affected(conn, scope: analytics.Scope) -> pd.DataFrame:
    params: dict = {}
    analytics._period_params(conn, scope, params)
    place = analytics._place_sql(scope, "s", params)
    dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if scope.dips_only else ""
    semi = curves.classification_sql("semi_f47", RESIDUAL, "e.duration_ms", scope.frequency_hz)
    sql = f"""
    SELECT i.customer_id, count(*) AS events,
           count(*) FILTER (WHERE i.impact_level = 'severe') AS severe_events,
           count(*) FILTER (WHERE {semi} = 'outside') AS outside_semi,
           coalesce(sum(e.duration_ms), 0) AS total_duration_ms,
           min({RESIDUAL}) AS lowest_residual_pct
    FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
    JOIN public.event_customer_impact AS i ON i.event_id = e.id
    WHERE {analytics._PERIOD_SQL} AND {analytics._BASE_EVENT_SQL} AND {place}{dips}
    GROUP BY i.customer_id
    """
    return pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())


def live_fragile(conn, scope: analytics.Scope) -> pd.DataFrame:
    params: dict = {}
    analytics._period_params(conn, scope, params)
    place = analytics._place_sql(scope, "s", params)
    dips = " AND e.event_type IS DISTINCT FROM 'voltage_swell'" if scope.dips_only else ""
    sql = f"""
    SELECT s.name AS substation, e.circuit_id, count(*) AS events,
           sum((SELECT count(*) FROM public.event_customer_impact AS i
                WHERE i.event_id = e.id)) AS customer_hits
    FROM public.pq_events AS e JOIN public.substations AS s ON s.id = e.substation_id
    WHERE {analytics._PERIOD_SQL} AND {analytics._BASE_EVENT_SQL} AND {place}{dips}
      AND e.circuit_id IS NOT NULL
    GROUP BY s.name, e.circuit_id
    """
    return pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())


def scopes(subs) -> list[analytics.Scope]:
    today = date.today()
    return [
        analytics.Scope(date(2025, 1, 1), date(2025, 12, 31)),  # whole months only
        analytics.Scope(date(2024, 12, 20), date(2026, 2, 3)),  # both edges and months between
        analytics.Scope(date(2025, 3, 5), date(2025, 3, 27)),  # inside one month
        analytics.Scope(date(2025, 2, 27), date(2025, 4, 2), dips_only=True),
        analytics.Scope(date(2025, 1, 1), date(2025, 6, 30), frequency_hz=60.0),
        analytics.Scope(date(2025, 1, 10), today, substation_ids=(subs[0],)),
        analytics.Scope(today - timedelta(days=3), today),
    ]


def assert_views_equal_live(engine, identity, subs, step: str) -> None:
    for scope in scopes(subs):
        with db.user_transaction(engine, identity) as conn:
            got = analytics.customer_verdicts_in(conn, scope, limit=1000)
            expected = live_customer_verdicts(conn, scope, limit=1000)
            affected = analytics.most_affected_in(conn, scope, top=1000)
            affected_live = live_most_affected(conn, scope)
            fragile = analytics.fragile_circuits_in(conn, scope, top=1000)
            fragile_live = live_fragile(conn, scope)
        where = f"after {step}, {scope}"
        # Same rows in the same order (names are unique here, so the order is total).
        if expected.empty:
            assert got.empty, where
        else:
            pd.testing.assert_frame_equal(
                got.reset_index(drop=True), expected.astype(got.dtypes), obj=where
            )
        assert len(affected) == len(affected_live), where
        if not affected_live.empty:
            by_id = affected_live.set_index("customer_id")
            for row in affected.itertuples():
                want = by_id.loc[row.customer_id]
                for column in ("events", "severe_events", "outside_semi", "total_duration_ms"):
                    assert getattr(row, column) == want[column], (where, column)
                low = want["lowest_residual_pct"]
                assert (pd.isna(row.lowest_residual_pct) and pd.isna(low)) or float(
                    row.lowest_residual_pct
                ) == float(low), where
        live = {
            (r.substation, r.circuit_id): (r.events, r.customer_hits)
            for r in fragile_live.itertuples()
        }
        for row in fragile.itertuples():
            assert (row.events, row.customer_hits) == live[(row.substation, row.circuit_id)], where


def test_migration_fills_the_summaries_from_existing_rows(engine, world):  # noqa: F811
    insert_events(engine, [random_event(world["rng"], world["circuits"]) for _ in range(80)])
    owner(engine, "UPDATE ctm_private.analytics_customer_state SET time_zone = NULL")
    assert exact(engine, "rebuild") > 20


def test_summaries_equal_a_full_recount_after_random_changes(
    engine,
    world,  # noqa: F811
    make_user,
    sessions_spoof,  # noqa: F811
):
    rng, circuits, customers, subs = (
        world["rng"],
        world["circuits"],
        world["customers"],
        world["subs"],
    )
    viewer = make_user("viewer")
    insert_events(engine, [random_event(rng, circuits) for _ in range(300)])
    assert exact(engine, "bulk insert", viewer) > 50
    assert_views_equal_live(engine, viewer, subs, "bulk insert")
    insert_events(engine, [random_event(rng, circuits)])
    exact(engine, "single insert")
    # More than 1,000 rows in one statement: marks for every substation of their months.
    owner(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage,"
        ' duration_ms, status, "timestamp", severity)'
        " SELECT (CAST(:subs AS uuid[]))[1 + g % 3], 'H' || (1 + g % 3),"
        " (ARRAY['voltage_dip', 'voltage_swell', 'interruption', NULL])[1 + g % 4],"
        " CASE WHEN g % 4 = 1 THEN 110 + g % 40 WHEN g % 7 = 0 THEN NULL ELSE g % 97 END,"
        " (ARRAY[5, 20, 150, 499, 900, 5000, NULL])[1 + g % 7],"
        " (ARRAY['new', 'resolved', 'false'])[1 + g % 3],"
        " timestamptz '2024-12-20' + g * interval '7 hours',"
        " (ARRAY['critical', 'high', 'low'])[1 + g % 3]"
        " FROM generate_series(1, 1100) AS g",
        {"subs": [str(s) for s in subs]},
    )
    exact(engine, "insert of 1,100 events in one statement")
    owner(engine, "UPDATE pq_events SET remaining_voltage = remaining_voltage / 2 + 1")
    exact(engine, "update of every event in one statement")

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
        "event_type": lambda: rng.choice(["voltage_dip", "voltage_swell", None, "harmonic"]),
        "duration_ms": lambda: rng.choice([None, 3, 20, 200, 500, 1000, 60_000, 60_001]),
        "circuit_id": lambda: rng.choice(["H1", "H2", "H3", "H9"]),
        "severity": lambda: rng.choice(["critical", "low"]),
        "substation_id": lambda: rng.choice([*subs, None]),
    }
    for round_ in range(10):
        column = rng.choice(list(columns))
        with db.owner_transaction(engine) as conn:
            for event_id in ids(rng.randint(1, 25)):
                conn.execute(
                    sa.text(f"UPDATE pq_events SET {column} = :v WHERE id = :id"),
                    {"v": columns[column](), "id": event_id},
                )
        exact(engine, f"update {round_} of {column}")
    owner(
        engine,
        'UPDATE pq_events SET "timestamp" = "timestamp" + interval \'40 days\','
        " substation_id = :s, remaining_voltage = 42, status = 'new'"
        " WHERE id = ANY(CAST(:ids AS uuid[]))",
        {"s": subs[1], "ids": [str(i) for i in ids(20)]},
    )
    exact(engine, "multi-row update of place and time")

    one = owner(
        engine,
        "SELECT id FROM pq_events WHERE status <> 'false' AND remaining_voltage < 50"
        " AND duration_ms <= 1000 AND substation_id IS NOT NULL LIMIT 1",
    )[0][0]
    owner(engine, "UPDATE pq_events SET status = 'false' WHERE id = :id", {"id": one})
    exact(engine, "status set to false")
    moved = ids(1)[0]
    # In Hong Kong: 1 April 00:30, then 31 March 23:30 (a refresh between the two).
    for instant in ("2025-03-31 16:30+00", "2025-03-31 15:30+00"):
        owner(
            engine,
            'UPDATE pq_events SET "timestamp" = CAST(:t AS timestamptz) WHERE id = :id',
            {"t": instant, "id": moved},
        )
        exact(engine, f"timestamp moved to {instant}")

    owner(
        engine,
        "DELETE FROM pq_events WHERE id = ANY(CAST(:ids AS uuid[]))",
        {"ids": [str(i) for i in ids(15)]},
    )
    exact(engine, "events deleted")
    owner(
        engine,
        "DELETE FROM event_customer_impact WHERE ctid IN"
        " (SELECT ctid FROM event_customer_impact ORDER BY random() LIMIT 7)",
    )
    exact(engine, "impact rows deleted")
    owner(engine, "UPDATE event_customer_impact SET impact_level = 'severe' WHERE random() < 0.2")
    exact(engine, "impact levels changed")
    owner(engine, "DELETE FROM customers WHERE id = :c", {"c": customers[0]})
    exact(engine, "customer deleted")
    assert_views_equal_live(engine, viewer, subs, "customer deleted")

    map_a_newcomer_then_move_its_past_impacts(
        engine, circuits[0], make_user, lambda step: exact(engine, step)
    )
    assert_views_equal_live(engine, viewer, subs, "past-event impacts added")

    # Several statements in one transaction: events, then impacts of other events (the insert's
    # "already marked" setting must not outlive its own statement).
    late = owner(
        engine, "INSERT INTO customers (account_number, name) VALUES ('LATE', 'Late') RETURNING id"
    )[0][0]
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text(INSERT), random_event(rng, circuits))
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
                " circuit_id, connected_since) VALUES (:c, :s, :k, '2024-01-01')"
            ),
            {"c": late, "s": circuits[4][0], "k": circuits[4][1]},
        )
        assert conn.execute(sa.text("SELECT backfill_customer_impacts()")).scalar() > 0
    exact(engine, "insert, then a backfill in the same transaction")

    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        conn.execute(sa.text(INSERT), random_event(rng, circuits))
    exact(engine, "insert by an operator")
    owner(engine, "UPDATE ctm_settings SET value = 'America/New_York' WHERE key = 'time_zone'")
    exact(engine, "time zone changed", viewer)
    assert_views_equal_live(engine, viewer, subs, "time zone changed")
    owner(engine, "TRUNCATE event_customer_impact")
    exact(engine, "impacts truncated")
    owner(engine, "TRUNCATE pq_events CASCADE")
    assert exact(engine, "events truncated") == 0


def test_a_refresh_never_reads_months_partly(engine, world):  # noqa: F811
    """A month refreshed for one reader leaves the other months' marks alone, and a refresh of a
    range recounts only what is dirty there."""
    rng, circuits = world["rng"], world["circuits"]
    insert_events(engine, [random_event(rng, circuits) for _ in range(100)])
    refresh_all(engine)
    row = dict(random_event(rng, circuits), st="new", t="voltage_dip", r=30, d=100)
    row["s"] = circuits[0][0]
    for at in ("2025-03-10 12:00+00", "2025-07-10 12:00+00"):
        insert_events(engine, [dict(row, at=at)])
    with db.owner_transaction(engine) as conn:
        assert (
            conn.execute(
                sa.text("SELECT public.analytics_customer_refresh('2025-03-01', '2025-03-01')")
            ).scalar_one()
            == 1
        )
        assert (
            conn.execute(
                sa.text("SELECT public.analytics_customer_refresh('2025-01-01', '2025-05-01')")
            ).scalar_one()
            == 0
        )
        left = conn.execute(
            sa.text("SELECT count(*) FROM ctm_private.analytics_customer_dirty")
        ).scalar_one()
    assert left == 1  # July's
    compare_month = exact(engine, "two months marked, refreshed one by one")
    assert compare_month > 0


def test_a_writer_not_yet_committed_leaves_its_month_dirty(engine, world):  # noqa: F811
    """A writer adds an event (and its impacts) in a month; before it commits, a reader refreshes
    that month. After both commit the month is still marked, and the next refresh is exact."""
    rng, circuits = world["rng"], world["circuits"]
    insert_events(engine, [random_event(rng, circuits) for _ in range(60)])
    refresh_all(engine)
    sub, circuit = circuits[0]
    writer = engine.connect()
    reader = engine.connect()
    try:
        writer.begin()
        writer.execute(
            sa.text(INSERT),
            {
                "s": sub,
                "c": circuit,
                "t": "voltage_dip",
                "r": 20,
                "d": 100,
                "st": "new",
                "at": "2025-05-15 12:00+00",
                "sev": "critical",
            },
        )
        assert (
            writer.execute(
                sa.text(
                    "SELECT count(*) FROM event_customer_impact AS i JOIN pq_events AS e"
                    " ON e.id = i.event_id WHERE e.\"timestamp\" = '2025-05-15 12:00+00'"
                )
            ).scalar_one()
            > 0
        )
        reader.begin()
        reader.execute(
            sa.text("SELECT public.analytics_customer_refresh('2025-05-01', '2025-05-01')")
        )
        reader.commit()
        writer.commit()
    finally:
        writer.close()
        reader.close()
    with db.owner_transaction(engine) as conn:
        marks = conn.execute(
            sa.text(
                "SELECT count(*) FROM ctm_private.analytics_customer_dirty"
                " WHERE to_at >= '2025-05-01' AND from_at < '2025-06-01'"
            )
        ).scalar_one()
    assert marks == 1
    exact(engine, "a writer committed after a refresh")


def test_a_second_refresher_waits_for_the_first(engine, world):  # noqa: F811
    """Two readers refreshing the same dirty month: the second waits for the first's transaction
    (here: times out waiting), then finds nothing left to do."""
    rng, circuits = world["rng"], world["circuits"]
    insert_events(engine, [random_event(rng, circuits) for _ in range(40)])
    first = engine.connect()
    second = engine.connect()
    try:
        first.begin()
        assert (
            first.execute(
                sa.text("SELECT public.analytics_customer_refresh('-infinity', 'infinity')")
            ).scalar_one()
            > 0
        )
        second.begin()
        second.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            second.execute(
                sa.text("SELECT public.analytics_customer_refresh('-infinity', 'infinity')")
            )
        second.rollback()
        first.commit()
        second.begin()
        assert (
            second.execute(
                sa.text("SELECT public.analytics_customer_refresh('-infinity', 'infinity')")
            ).scalar_one()
            == 0
        )
        second.commit()
    finally:
        first.close()
        second.close()
    compare(engine, "two refreshers")
