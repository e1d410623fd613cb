"""Analytics services against independent computations on a random grid (stored zone Hong Kong so
months differ from UTC): critical-customer SARFI per month, year-to-date and substation equals
public.sarfi() for every threshold; system SARFI equals customers_served arithmetic; ride-through
counts equal ctm.curves.classify on each event; most-affected and fragile-circuit rankings equal
counts made in Python from the rows themselves."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ctm import analytics, curves, db
from ctm.errors import ValidationError

ZONE = "Asia/Hong_Kong"


def owner(engine, sql, **params):
    with db.owner_transaction(engine) as conn:
        result = conn.execute(sa.text(sql), params)
        return result.fetchall() if result.returns_rows else None


@pytest.fixture
def random_grid(engine):
    rng = random.Random(11)
    owner(engine, "UPDATE ctm_settings SET value = :z WHERE key = 'time_zone'", z=ZONE)
    subs = []
    for name, region, level in (
        ("Alpha", "East", "11kV"),
        ("Beta", "East", "22kV"),
        ("Gamma", "West", "11kV"),
    ):
        subs.append(
            owner(
                engine,
                "INSERT INTO substations (name, region, voltage_level)"
                " VALUES (:n, :r, :v) RETURNING id",
                n=name,
                r=region,
                v=level,
            )[0][0]
        )
    customers = [
        owner(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:a, :a) RETURNING id",
            a=f"C{i:03d}",
        )[0][0]
        for i in range(40)
    ]
    circuits = [(s, f"H{k}") for s in subs for k in (1, 2, 3)]
    for index, customer in enumerate(customers):
        sub, circuit = circuits[index % len(circuits)]
        kind = index % 5
        since, until, active = None, None, True
        if kind == 1:
            since, until, active = date(2025, 1, 1), date(2025, 5, 17), False
        elif kind == 2:
            since = date(2025, 8, 3)
        elif kind == 3:
            active = False  # inserted inactive without dates: never applies
        owner(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id,"
            " circuit_id, active, connected_since, disconnected_on) VALUES (:c, :s, :k, :a,"
            " :f, :t)",
            c=customer,
            s=sub,
            k=circuit,
            a=active,
            f=since,
            t=until,
        )
    for n, (sub, circuit) in enumerate(circuits):
        if n != 4:  # one circuit without a customers_served count
            owner(
                engine,
                "INSERT INTO substation_circuits (substation_id, circuit_id,"
                " customers_served) VALUES (:s, :c, :n) ON CONFLICT (substation_id, circuit_id)"
                " DO UPDATE SET customers_served = EXCLUDED.customers_served",
                s=sub,
                c=circuit,
                n=100 * (n + 1),
            )
    start = datetime(2024, 12, 31, 15, 0, tzinfo=ZoneInfo("UTC"))
    types = ["voltage_dip"] * 6 + ["voltage_swell"] * 2 + ["interruption", None, "harmonic"]
    rows = []
    for _ in range(400):
        sub, circuit = rng.choice(circuits)
        kind = rng.choice(types)
        residual = (
            None
            if rng.random() < 0.08
            else (
                round(rng.uniform(100.5, 150), 1)
                if kind == "voltage_swell"
                else round(rng.uniform(0, 99), 1)
            )
        )
        rows.append(
            {
                "s": sub,
                "c": circuit,
                "t": kind,
                "r": residual,
                "d": None
                if rng.random() < 0.05
                else rng.choice([5, 15, 20, 60, 150, 200, 350, 500, 800, 1000, 3000, 61_000]),
                "st": "false" if rng.random() < 0.1 else "new",
                "at": start + timedelta(hours=rng.uniform(0, 24 * 420)),
                "sev": rng.choice(["critical", "high", "low"]),
            }
        )
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage,"
                ' duration_ms, status, "timestamp", severity) VALUES (:s, :c, :t, :r, :d, :st, :at,'
                " :sev)"
            ),
            rows,
        )
    return {"subs": subs}


def sql_sarfi(engine, x, first: date, last: date, substation=None):
    rows = owner(
        engine,
        "SELECT * FROM public.sarfi(:x, CAST(:f AS timestamp) AT TIME ZONE :z,"
        " CAST(:t AS timestamp) AT TIME ZONE :z, :s)",
        x=x,
        f=first,
        t=last + timedelta(days=1),
        z=ZONE,
        s=substation,
    )
    return rows[0]


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-9


def test_critical_sarfi_equals_the_sql_function(engine, make_user, random_grid):
    viewer = make_user("viewer")
    scope = analytics.Scope(date(2025, 1, 1), date(2026, 2, 10))
    result = analytics.sarfi(engine, viewer, scope)
    for x in (10, 50, 70, 90, 110, 140):
        monthly = analytics.monthly_indices(result, str(x))
        assert len(monthly) == 14
        for row in monthly.itertuples():
            last = min(analytics._month_end(row.month), scope.date_to)
            expected = sql_sarfi(engine, x, row.month, last)
            assert (row.events, row.customer_hits, row.customers_mapped) == tuple(expected[:3])
            assert close(row.critical_sarfi, expected.sarfi)
            ytd = sql_sarfi(engine, x, date(row.year, 1, 1), last)
            assert close(row.ytd_critical_sarfi, ytd.sarfi), (x, row.month)
        table = analytics.per_substation(result, str(x))
        for sub, line in zip(random_grid["subs"], table.iloc[:-1].itertuples(), strict=True):
            expected = sql_sarfi(engine, x, scope.date_from, scope.date_to, sub)
            assert (line.events, line.customer_hits, line.customers_mapped) == tuple(expected[:3])
        total = sql_sarfi(engine, x, scope.date_from, scope.date_to)
        assert table.iloc[-1]["substation"] == "Total"
        assert table.iloc[-1]["customer_hits"] == total.customers_hit
        assert table.iloc[-1]["customers_mapped"] == total.customers_mapped


def test_system_sarfi_weights_events_by_customers_served(engine, make_user, random_grid):
    viewer = make_user("viewer")
    scope = analytics.Scope(date(2025, 1, 1), date(2025, 12, 31), regions=("East",))
    result = analytics.sarfi(engine, viewer, scope)
    expected = owner(
        engine,
        "SELECT coalesce(sum(sc.customers_served), 0) FROM pq_events e"
        " JOIN substations s ON s.id = e.substation_id AND s.region = 'East'"
        " LEFT JOIN substation_circuits sc ON (sc.substation_id, sc.circuit_id) ="
        " (e.substation_id, e.circuit_id)"
        " WHERE e.timestamp >= '2025-01-01'::timestamp AT TIME ZONE :z"
        " AND e.timestamp < '2026-01-01'::timestamp AT TIME ZONE :z AND e.status <> 'false'"
        " AND (e.event_type IS NULL OR e.event_type IN ('voltage_dip','voltage_swell',"
        "'interruption')) AND (e.duration_ms IS NULL OR e.duration_ms <= 60000)"
        " AND coalesce(e.remaining_voltage, CASE WHEN e.event_type = 'interruption' THEN 0 END)"
        " < 70",
        z=ZONE,
    )[0][0]
    served = owner(
        engine,
        "SELECT sum(customers_served) FROM substation_circuits sc JOIN"
        " substations s ON s.id = sc.substation_id WHERE s.region = 'East'",
    )[0][0]
    line = analytics.per_substation(result, "70").iloc[-1]
    assert line["served_hits"] == expected
    assert line["customers_served"] == served
    assert close(line["system_sarfi"], expected / served)
    assert result.events_without_residual > 0


def test_ride_through_counts_equal_python_classification(engine, make_user, random_grid):
    viewer = make_user("viewer")
    scope = analytics.Scope(date(2025, 1, 1), date(2026, 3, 1))
    ride = analytics.ride_through(engine, viewer, scope)
    assert ride.points is not None and ride.total == len(ride.points)
    for key in curves.CURVE_KEYS:
        python = Counter(
            curves.classify(key, p.residual_pct, p.duration_ms).value
            for p in ride.points.itertuples()
        )
        assert Counter(ride.points[key]) == python
        for verdict in curves.Verdict:
            got = ride.counts[
                (ride.counts["curve"] == curves.CURVE_LABELS[key])
                & (ride.counts["verdict"] == verdict.value)
            ]["events"].iloc[0]
            assert got == python.get(verdict.value, 0)


def test_density_replaces_points_above_the_limit(engine, make_user, random_grid, monkeypatch):
    viewer = make_user("viewer")
    monkeypatch.setattr(analytics, "POINTS_LIMIT", 10)
    ride = analytics.ride_through(
        engine, viewer, analytics.Scope(date(2025, 1, 1), date(2026, 3, 1))
    )
    assert ride.points is None
    assert ride.density["events"].sum() == ride.total > 10
    assert set(ride.density["residual_to_pct"] - ride.density["residual_from_pct"]) == {5}


def test_most_affected_and_fragile_circuits(engine, make_user, random_grid):
    viewer = make_user("viewer")
    scope = analytics.Scope(date(2025, 1, 1), date(2026, 3, 1))
    top = analytics.most_affected(engine, viewer, scope, rank_by="events", top=5)
    rows = owner(
        engine,
        "SELECT i.customer_id, i.impact_level, e.remaining_voltage,"
        " e.event_type, e.duration_ms FROM event_customer_impact i JOIN pq_events e"
        " ON e.id = i.event_id WHERE e.status <> 'false' AND (e.event_type IS NULL OR"
        " e.event_type IN ('voltage_dip','voltage_swell','interruption'))",
    )
    counts = Counter(r.customer_id for r in rows)
    assert list(top["events"]) == sorted(counts.values(), reverse=True)[:5]
    assert counts[top.iloc[0]["customer_id"]] == top.iloc[0]["events"]
    semi = analytics.most_affected(engine, viewer, scope, rank_by="outside_semi", top=3)
    outside = Counter(
        r.customer_id
        for r in rows
        if curves.classify(
            "semi_f47",
            r.remaining_voltage
            if r.remaining_voltage is not None
            else (0 if r.event_type == "interruption" else None),
            r.duration_ms,
        )
        is curves.Verdict.OUTSIDE
    )
    assert list(semi["outside_semi"]) == sorted(outside.values(), reverse=True)[:3]
    fragile = analytics.fragile_circuits(engine, viewer, scope, top=3)
    assert len(fragile) == 3
    assert list(fragile["hits_per_customer"]) == sorted(fragile["hits_per_customer"], reverse=True)
    first = fragile.iloc[0]
    assert close(
        first["hits_per_customer"], round(first["customer_hits"] / first["customers_mapped"], 3)
    )


def test_bad_scopes_are_refused_with_a_sentence(engine, make_user):
    viewer = make_user("viewer")
    with pytest.raises(ValidationError, match="end is before the start"):
        analytics.sarfi(engine, viewer, analytics.Scope(date(2026, 2, 1), date(2026, 1, 1)))
    with pytest.raises(ValidationError, match="at most 10 years"):
        analytics.sarfi(engine, viewer, analytics.Scope(date(2000, 1, 1), date(2026, 1, 1)))
    with pytest.raises(ValidationError, match="Ranking"):
        analytics.most_affected(
            engine, viewer, analytics.Scope(date(2026, 1, 1), date(2026, 1, 2)), rank_by="x"
        )
