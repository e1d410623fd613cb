"""The two impact rules (severity → level, duration → minutes) and which customers an event hits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from dbhelpers import add_event, impacts, run


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        ("critical", "severe"),
        ("high", "moderate"),
        ("medium", "minor"),
        ("low", "minor"),
        (None, "minor"),
        ("catastrophic", "minor"),
        ("", "minor"),
        ("CRITICAL", "severe"),
        ("High", "moderate"),
        (" critical ", "severe"),
    ],
)
def test_severity_sets_the_impact_level_of_every_customer_hit(engine, grid, severity, level):
    event = add_event(engine, grid.north, "H1", severity=severity)
    assert impacts(engine, event) == {
        grid.a: (level, Decimal("1.00")),
        grid.b: (level, Decimal("1.00")),
    }


@pytest.mark.parametrize(
    ("duration_ms", "minutes"),
    [
        (90_000, Decimal("1.50")),
        (1, Decimal("0.00")),
        (None, None),
        (0, Decimal("0.00")),
        (299, Decimal("0.00")),
        (300, Decimal("0.01")),  # half a hundredth rounds up
        (3_599_999, Decimal("60.00")),
        (2_147_483_647, Decimal("35791.39")),  # the largest duration still fits numeric(10,2)
    ],
)
def test_downtime_is_duration_in_minutes_rounded_to_hundredths(engine, grid, duration_ms, minutes):
    event = add_event(engine, grid.north, "H2", duration_ms=duration_ms)
    assert impacts(engine, event) == {grid.c: ("moderate", minutes)}


def test_downtime_column_keeps_two_decimals(engine):
    row = run(
        engine,
        "SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns"
        " WHERE table_name = 'event_customer_impact' AND column_name = 'estimated_downtime_min'",
    )[0]
    assert tuple(row) == ("numeric", 10, 2)


def test_same_circuit_id_in_two_substations_hits_only_the_events_substation(engine, grid):
    north_event = add_event(engine, grid.north, "H1")
    south_event = add_event(engine, grid.south, "H1")
    assert set(impacts(engine, north_event)) == {grid.a, grid.b}
    assert set(impacts(engine, south_event)) == {grid.d}


def test_inactive_mapping_yields_no_impact(engine, grid):
    event = add_event(engine, grid.north, "H1")
    assert grid.e not in impacts(engine, event)


def test_circuit_whose_mappings_are_all_inactive_yields_nothing(engine, grid):
    run(engine, "UPDATE customer_transformer_matching SET active = false WHERE circuit_id = 'H1'")
    event = add_event(engine, grid.north, "H1")
    assert impacts(engine, event) == {}


@pytest.mark.parametrize("place", ["no substation", "no circuit", "neither", "unmapped circuit"])
def test_event_without_a_mapped_place_is_stored_with_no_impacts(engine, grid, place):
    substation, circuit = {
        "no substation": (None, "H1"),
        "no circuit": (grid.north, None),
        "neither": (None, None),
        "unmapped circuit": (grid.north, "H3"),
    }[place]
    event = add_event(engine, substation, circuit, severity="critical")
    assert run(engine, "SELECT count(*) FROM pq_events WHERE id = :e", e=event)[0][0] == 1
    assert impacts(engine, event) == {}


def test_circuit_ids_are_canonical_so_h1_with_spaces_is_h1(engine, grid):
    """The database trims and upper-cases circuit ids: an ingest sending 'h1 ' lands on H1."""
    for sent in ("h1", "H1 ", " h1\t"):
        event = add_event(engine, grid.north, sent)
        assert run(engine, "SELECT circuit_id FROM pq_events WHERE id = :e", e=event)[0][0] == "H1"
        assert set(impacts(engine, event)) == {grid.a, grid.b}


def test_one_customer_on_two_circuits_is_hit_by_events_on_either(engine, grid):
    run(
        engine,
        "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
        " VALUES (:c, :s, 'H2')",
        c=grid.a,
        s=grid.north,
    )
    assert set(impacts(engine, add_event(engine, grid.north, "H2"))) == {grid.a, grid.c}
    assert set(impacts(engine, add_event(engine, grid.north, "H1"))) == {grid.a, grid.b}
