"""public.sarfi() against a hand computation on a small hand-built grid: dips, swells, an
interruption without residual, false events, events outside the counted types / durations /
period, events without a residual, a mapping that ended mid-period, one that starts later, one
inserted inactive, the substation filter, the stored time zone, bad thresholds and who may call it.

Impact rows are set by hand (owner SQL) so the expected numbers do not depend on the trigger."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from dbhelpers import pgcode, run, scalar

from ctm import db

PERIOD = ("2026-01-01 00:00+00", "2026-04-01 00:00+00")


@pytest.fixture
def sarfi_grid(engine):
    ids = {}
    ids["N"] = scalar(engine, "INSERT INTO substations (name) VALUES ('N') RETURNING id")
    ids["S"] = scalar(engine, "INSERT INTO substations (name) VALUES ('S') RETURNING id")
    ids["E"] = scalar(engine, "INSERT INTO substations (name) VALUES ('Empty') RETURNING id")
    for key in "abcdefg":
        ids[key] = scalar(
            engine,
            "INSERT INTO customers (account_number, name) VALUES (:k, :k) RETURNING id",
            k=key,
        )
    # customer, substation, circuit, active, connected_since, disconnected_on
    for key, sub, circuit, active, since, until in [
        ("a", "N", "H1", True, None, None),
        ("b", "N", "H1", False, "2025-01-01", "2026-03-15"),  # ended mid-period
        ("c", "N", "H2", True, "2026-06-01", None),  # starts after the period
        ("d", "S", "H1", True, None, None),
        ("e", "N", "H3", False, None, None),  # inserted inactive with no dates: nothing
        ("f", "N", "H1", False, "2025-06-01", "2026-01-01"),  # ended the day the period starts
        ("g", "S", "H2", False, "2025-06-01", "2026-01-01"),  # time-zone case
    ]:
        run(
            engine,
            "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id,"
            " active, connected_since, disconnected_on) VALUES (:c, :s, :k, :a, :f, :t)",
            c=ids[key],
            s=ids[sub],
            k=circuit,
            a=active,
            f=since,
            t=until,
        )
    # name, substation, circuit, type, residual, duration, status, timestamp, customers hit
    events = [
        ("E1", "N", "H1", "voltage_dip", 45, 100, "new", "2026-01-10 12:00+00", "ab"),
        ("E2", "N", "H1", "voltage_dip", 85, 200, "resolved", "2026-02-01 12:00+00", "ab"),
        ("E3", "N", "H1", "voltage_swell", 125, 50, "new", "2026-02-02 12:00+00", "ab"),
        ("E4", "N", "H1", "voltage_dip", 30, 100, "false", "2026-02-03 12:00+00", "ab"),
        ("E5", "S", "H1", "interruption", None, 1000, "new", "2026-03-01 12:00+00", "d"),
        ("E6", "N", "H1", "voltage_dip", None, 100, "new", "2026-03-02 12:00+00", "a"),
        ("E7", "N", "H1", "harmonic", 50, 100, "new", "2026-03-03 12:00+00", "a"),
        ("E8", "N", "H1", "voltage_dip", 50, 70_000, "new", "2026-03-04 12:00+00", "a"),
        ("E9", "N", "H1", "voltage_dip", 60, 100, "new", "2026-04-01 00:00+00", "a"),
        ("E10", "N", "H1", None, 65, None, "new", "2026-03-20 12:00+00", "a"),
        ("E11", "N", "H1", "voltage_dip", 70, 60_000, "new", "2026-03-21 12:00+00", "a"),
        ("E12", "N", "H1", "voltage_dip", 20, 100, "new", "2025-12-31 23:59:59+00", "a"),
    ]
    for name, sub, circuit, kind, residual, duration, status, at, hit in events:
        event_id = scalar(
            engine,
            "INSERT INTO pq_events (substation_id, circuit_id, event_type, remaining_voltage,"
            ' duration_ms, status, "timestamp", severity) VALUES (:s, :c, :t, :r, :d, :st,'
            " :at, 'high') RETURNING id",
            s=ids[sub],
            c=circuit,
            t=kind,
            r=residual,
            d=duration,
            st=status,
            at=at,
        )
        ids[name] = event_id
        run(engine, "DELETE FROM event_customer_impact WHERE event_id = :e", e=event_id)
        for key in hit:
            run(
                engine,
                "INSERT INTO event_customer_impact (event_id, customer_id) VALUES (:e, :c)",
                e=event_id,
                c=ids[key],
            )
    return ids


def sarfi(engine, x, period=PERIOD, substation=None, identity=None):
    sql = "SELECT * FROM public.sarfi(:x, CAST(:f AS timestamptz), CAST(:t AS timestamptz), :s)"
    params = {"x": x, "f": period[0], "t": period[1], "s": substation}
    if identity is None:
        with db.owner_transaction(engine) as conn:
            row = conn.execute(sa.text(sql), params).one()
    else:
        with db.user_transaction(engine, identity) as conn:
            row = conn.execute(sa.text(sql), params).one()
    value = None if row.sarfi is None else round(float(row.sarfi), 9)
    return (row.events, row.customers_hit, row.customers_mapped, value)


# Mapped in [2026-01-01, 2026-04-01): a, b (ended 15 March), d. Not c (starts in June), e (inactive
# without dates), f (ended on 1 January: the rule is day < disconnected_on), g (same, in S).
def test_dips_hand_computed(engine, sarfi_grid):
    # SARFI-70: E1 (45 %, a+b), E5 (interruption without residual = 0 %, d), E10 (65 %, type
    # NULL, duration NULL, a). E11 sits at 70 %: not below. E4 false, E6 no residual, E7
    # harmonic, E8 70 s, E9 at p_to, E12 before p_from: none counted.
    assert sarfi(engine, 70) == (3, 4, 3, round(4 / 3, 9))
    # SARFI-90 adds E2 (85 %, a+b) and E11 (70 %, a).
    events, hit, mapped, value = sarfi(engine, 90)
    assert (events, hit, mapped) == (5, 7, 3)
    assert value == round(7 / 3, 9)
    # SARFI-10: only the interruption.
    assert sarfi(engine, 10) == (1, 1, 3, round(1 / 3, 9))


def test_swells_hand_computed(engine, sarfi_grid):
    assert sarfi(engine, 110)[:3] == (1, 2, 3)
    assert sarfi(engine, 125) == (0, 0, 3, 0)  # above, not at
    assert sarfi(engine, 200) == (0, 0, 3, 0)


def test_substation_filter(engine, sarfi_grid):
    assert sarfi(engine, 50, substation=sarfi_grid["N"]) == (1, 2, 2, 1)
    assert sarfi(engine, 10, substation=sarfi_grid["S"]) == (1, 1, 1, 1)
    assert sarfi(engine, 90, substation=sarfi_grid["E"]) == (0, 0, 0, None)


def test_validity_decides_who_is_mapped(engine, sarfi_grid):
    # June 2026: a, c (from 1 June) and d; b ended in March.
    assert sarfi(engine, 90, ("2026-06-01 00:00+00", "2026-07-01 00:00+00"))[2] == 3
    # 31 December 2025 (UTC): f and g were still connected, c not yet.
    assert sarfi(engine, 90, ("2025-12-31 00:00+00", "2026-01-01 00:00+00")) == (1, 1, 5, 0.2)
    # An empty period maps nobody.
    assert sarfi(engine, 90, (PERIOD[0], PERIOD[0])) == (0, 0, 0, None)


def test_days_are_taken_in_the_stored_time_zone(engine, sarfi_grid):
    period = ("2025-12-31 20:00+00", "2025-12-31 23:00+00")
    # UTC: the period is on 31 December, when f and g were still connected.
    assert sarfi(engine, 90, period, substation=sarfi_grid["S"])[2] == 2
    run(engine, "UPDATE ctm_settings SET value = 'Asia/Hong_Kong' WHERE key = 'time_zone'")
    # Hong Kong: the same instants are 1 January, the day g's mapping ended: only d.
    assert sarfi(engine, 90, period, substation=sarfi_grid["S"])[2] == 1


@pytest.mark.parametrize("x", [0, 100, -5, 200.01, 250])
def test_thresholds_outside_the_contract_are_errors(engine, sarfi_grid, x):
    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        sarfi(engine, x)
    assert pgcode(excinfo) == "22023"
    assert "threshold" in str(excinfo.value)


def test_every_role_with_a_profile_may_call_it(engine, sarfi_grid, make_user):
    for role in ("admin", "operator", "viewer"):
        assert sarfi(engine, 70, identity=make_user(role)) == (3, 4, 3, round(4 / 3, 9))
    # A user without a profile sees no events and no mappings.
    assert sarfi(engine, 70, identity=make_user(None)) == (0, 0, 0, None)
    assert not scalar(
        engine,
        "SELECT has_function_privilege('public',"
        " 'public.sarfi(numeric, timestamptz, timestamptz, uuid)', 'EXECUTE')",
    )
