"""The views that read public.analytics_monthly (whole months) plus the rows of the days around
them give the figures a full count gives, for any dates: SARFI equals public.sarfi() for random
periods (month-aligned, inside one month, across years, one substation), ride-through counts equal
the events' own verdicts, and the statistics page's recent impacts equal a direct count for
windows that start mid-month."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ctm import analytics, curves, db, stats

ZONE = "Asia/Hong_Kong"


def owner(engine, sql, params=None):
    with db.owner_transaction(engine) as conn:
        result = conn.execute(sa.text(sql), params or {})
        return result.fetchall() if result.returns_rows else None


@pytest.fixture
def data(engine):
    rng = random.Random(1205)
    owner(engine, "UPDATE ctm_settings SET value = :z WHERE key = 'time_zone'", {"z": ZONE})
    subs = [
        owner(engine, "INSERT INTO substations (name) VALUES (:n) RETURNING id", {"n": n})[0][0]
        for n in ("North", "South")
    ]
    circuits = [(s, f"H{k}") for s in subs for k in (1, 2)]
    for i in range(12):
        customer = owner(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:a, :a) RETURNING id",
            {"a": f"R{i:02d}"},
        )[0][0]
        sub, circuit = circuits[i % len(circuits)]
        owner(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
            " connected_since) VALUES (:c, :s, :k, :f)",
            {"c": customer, "s": sub, "k": circuit, "f": None if i % 3 else date(2025, 4, 10)},
        )
    now = datetime.now(ZoneInfo("UTC"))
    rows = []
    for _ in range(500):
        sub, circuit = rng.choice(circuits)
        kind = rng.choice(["voltage_dip"] * 4 + ["voltage_swell", "interruption", None, "harmonic"])
        rows.append(
            {
                "s": sub,
                "c": circuit,
                "t": kind,
                "r": None
                if rng.random() < 0.1
                else round(
                    rng.uniform(101, 150) if kind == "voltage_swell" else rng.uniform(0, 99), 2
                ),
                "d": rng.choice([None, 10, 20, 100, 200, 400, 500, 900, 5000, 70_000]),
                "st": rng.choice(["new", "resolved", "false"]),
                "at": now - timedelta(hours=rng.uniform(-20, 24 * 560)),
                "sev": rng.choice(["critical", "high", "low"]),
            }
        )
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage,"
                ' duration_ms, status, "timestamp", severity) VALUES (:s, :c, :t, :r, :d, :st,'
                " :at, :sev)"
            ),
            rows,
        )
    return {"subs": subs, "rng": rng}


def scopes(rng: random.Random, subs) -> list[analytics.Scope]:
    today = date.today()
    fixed = [
        (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),  # whole months only
        (date(today.year, today.month, 1), today),  # the current month
        (date(2025, 3, 17), date(2025, 3, 17)),  # one day
        (date(2025, 2, 28), date(2025, 3, 1)),  # two partial months
        (date(2024, 6, 1), today),
    ]
    for _ in range(6):
        first = today - timedelta(days=rng.randint(0, 600))
        fixed.append((first, min(today, first + timedelta(days=rng.randint(0, 400)))))
    result = []
    for n, (first, last) in enumerate(fixed):
        subset = (subs[n % 2],) if n % 3 == 0 else ()
        result.append(analytics.Scope(first, last, substation_ids=subset))
    return result


def test_sarfi_equals_the_sql_function_for_any_period(engine, make_user, data):
    viewer = make_user("viewer")
    for scope in scopes(data["rng"], data["subs"]):
        result = analytics.sarfi(engine, viewer, scope)
        table = analytics.all_indices(result).set_index("index")
        substation = scope.substation_ids[0] if scope.substation_ids else None
        for x in analytics.THRESHOLDS:
            expected = owner(
                engine,
                "SELECT events, customers_hit FROM public.sarfi(:x,"
                " CAST(:f AS timestamp) AT TIME ZONE :z,"
                " CAST(:t AS timestamp) AT TIME ZONE :z, :s)",
                {
                    "x": x,
                    "f": scope.date_from,
                    "t": scope.date_to + timedelta(days=1),
                    "z": ZONE,
                    "s": substation,
                },
            )[0]
            row = table.loc[f"SARFI-{x}"]
            assert (row["events"], row["customer_hits"]) == tuple(expected), (scope, x)


def test_ride_through_counts_equal_each_events_verdict_for_any_period(engine, make_user, data):
    viewer = make_user("viewer")
    for scope in scopes(data["rng"], data["subs"]):
        result = analytics.ride_through(engine, viewer, scope)
        assert result.points is not None  # small data: every event is drawn
        assert result.total == len(result.points)
        for key in curves.CURVE_KEYS:
            for verdict in curves.Verdict:
                expected = sum(
                    curves.classify(key, r, d) == verdict
                    for r, d in zip(
                        result.points["residual_pct"], result.points["duration_ms"], strict=True
                    )
                )
                got = result.counts[
                    (result.counts["curve"] == curves.CURVE_LABELS[key])
                    & (result.counts["verdict"] == verdict.value)
                ]["events"].iloc[0]
                assert got == expected, (scope, key, verdict)


@pytest.mark.parametrize("days", [1, 9, 40, 100, 400])
def test_statistics_recent_impacts_equal_a_direct_count(engine, make_user, data, days):
    result = stats.coverage_statistics(engine, make_user("viewer"), days=days)
    expected = {
        (row[0], row[1]): row[2]
        for row in owner(
            engine,
            "SELECT e.substation_id, i.impact_level, count(*) FROM event_customer_impact AS i"
            " JOIN pq_events AS e ON e.id = i.event_id"
            ' WHERE e."timestamp" >= now() - make_interval(days => :d) GROUP BY 1, 2',
            {"d": days},
        )
    }
    assert expected or days == 1  # the window holds impacts
    for row in result.by_substation.itertuples():
        for level in ("severe", "moderate", "minor"):
            assert getattr(row, f"{level}_recent") == expected.get((row.substation_id, level), 0)
