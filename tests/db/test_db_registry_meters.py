"""Circuit registry, canonical circuit names and meters (DESIGN.md "Contracts added in the second
round"): every way an event or mapping arrives registers its circuit, names are trimmed and
upper-cased everywhere, and an event takes the place it lacks from its meter."""

from __future__ import annotations

import io
import uuid

import pytest
import sqlalchemy as sa
from dbhelpers import add_event, impacts, pgcode, run, scalar

from ctm import db


def registry(engine) -> dict[tuple, str]:
    rows = run(engine, "SELECT substation_id, circuit_id, source FROM substation_circuits")
    return {(r.substation_id, r.circuit_id): r.source for r in rows}


def add_meter(engine, name, substation, circuit, **extra) -> uuid.UUID:
    cols = "".join(f", {k}" for k in extra)
    vals = "".join(f", :{k}" for k in extra)
    return scalar(
        engine,
        f"INSERT INTO pq_meters (meter_id, substation_id, circuit_id{cols})"
        f" VALUES (:m, :s, :c{vals}) RETURNING id",
        m=name,
        s=substation,
        c=circuit,
        **extra,
    )


def event_place(engine, event_id) -> tuple:
    return tuple(
        run(engine, "SELECT substation_id, circuit_id FROM pq_events WHERE id = :e", e=event_id)[0]
    )


# Registry ----------------------------------------------------------------------------------------


def test_mappings_register_their_circuits(engine, grid):
    assert registry(engine) == {
        (grid.north, "H1"): "mapping",
        (grid.north, "H2"): "mapping",
        (grid.south, "H1"): "mapping",
    }


def test_a_single_event_on_an_unregistered_circuit_registers_it(engine, grid):
    add_event(engine, grid.north, "h7 ")
    assert registry(engine)[(grid.north, "H7")] == "event"


def test_multi_row_insert_registers_each_new_circuit_once(engine, grid):
    run(
        engine,
        "INSERT INTO pq_events (substation_id, circuit_id, severity) VALUES"
        " (:n, 'H8', 'low'), (:n, 'h8', 'low'), (:s, 'H8', 'low'), (:n, 'H1', 'low'),"
        " (NULL, 'H9', 'low'), (:n, NULL, 'low')",
        n=grid.north,
        s=grid.south,
    )
    reg = registry(engine)
    assert reg[(grid.north, "H8")] == reg[(grid.south, "H8")] == "event"
    assert reg[(grid.north, "H1")] == "mapping"  # already registered: untouched
    assert not any(c == "H9" for _, c in reg)  # no substation: nothing to register
    assert len(reg) == 5


def test_copy_registers_new_circuits(engine, grid):
    data = f"{grid.north}\tH11\tcritical\n{grid.south}\tH12\thigh\n{grid.south}\th12 \tlow\n"
    raw = engine.raw_connection()
    try:
        raw.cursor().copy_expert(
            "COPY pq_events (substation_id, circuit_id, severity) FROM STDIN", io.StringIO(data)
        )
        raw.commit()
    finally:
        raw.close()
    reg = registry(engine)
    assert reg[(grid.north, "H11")] == reg[(grid.south, "H12")] == "event"
    assert scalar(engine, "SELECT count(*) FROM pq_events WHERE circuit_id = 'H12'") == 2


def test_moving_an_event_or_mapping_to_a_new_circuit_registers_it(engine, grid):
    event = add_event(engine, grid.north, "H1")
    run(engine, "UPDATE pq_events SET circuit_id = 'H20' WHERE id = :e", e=event)
    run(
        engine,
        "UPDATE customer_transformer_matching SET circuit_id = 'h21' WHERE customer_id = :c",
        c=grid.c,
    )
    reg = registry(engine)
    assert reg[(grid.north, "H20")] == "event"
    assert reg[(grid.north, "H21")] == "mapping"


def test_registration_needs_no_rights_on_the_registry(engine, grid, make_user):
    """An operator may record an event (or map a customer) on a circuit only an admin could
    register: the trigger registers it with definer rights, nothing is refused."""
    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        conn.execute(
            sa.text("INSERT INTO pq_events (substation_id, circuit_id) VALUES (:s, 'H30')"),
            {"s": grid.south},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id)"
                " VALUES (:c, :s, 'H31')"
            ),
            {"c": grid.a, "s": grid.south},
        )
    reg = registry(engine)
    assert reg[(grid.south, "H30")] == "event"
    assert reg[(grid.south, "H31")] == "mapping"


def test_registry_row_defaults_and_canonical_name(engine, grid):
    run(
        engine,
        "INSERT INTO substation_circuits (substation_id, circuit_id) VALUES (:s, ' h40 ')",
        s=grid.south,
    )
    row = run(
        engine,
        "SELECT * FROM substation_circuits WHERE substation_id = :s AND circuit_id = 'H40'",
        s=grid.south,
    )[0]
    assert (row.active, row.retired_on, row.customers_served, row.max_mapped_customers) == (
        True,
        None,
        None,
        None,
    )
    assert row.source == "cli"  # the owner's unit of work of the helpers says cli
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "INSERT INTO substation_circuits (substation_id, circuit_id) VALUES (:s, 'H40')",
            s=grid.south,
        )
    assert pgcode(err) == "23505"  # "h40 " and H40 are one circuit


def test_registry_source_follows_the_unit_of_work(engine, grid, make_user):
    admin = make_user("admin")
    with db.user_transaction(engine, admin, source="import") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO substation_circuits (substation_id, circuit_id) VALUES (:s, 'X1')"
            ),
            {"s": grid.south},
        )
    assert registry(engine)[(grid.south, "X1")] == "import"


def test_substation_with_registered_circuits_cannot_be_deleted(engine):
    spare = scalar(engine, "INSERT INTO substations (name) VALUES ('Spare') RETURNING id")
    run(
        engine,
        "INSERT INTO substation_circuits (substation_id, circuit_id) VALUES (:s, 'H1')",
        s=spare,
    )
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(engine, "DELETE FROM substations WHERE id = :s", s=spare)
    assert pgcode(err) in {"23001", "23503"}


@pytest.mark.parametrize("table", ["substation_circuits", "pq_meters"])
def test_every_profile_reads_and_only_admins_write_registry_and_meters(
    engine, grid, make_user, table
):
    add_meter(engine, "M-RLS", grid.north, "H1")
    values = {
        "substation_circuits": "(substation_id, circuit_id) VALUES (:s, 'R9')",
        "pq_meters": "(meter_id, substation_id, circuit_id) VALUES ('M-NEW', :s, 'H1')",
    }[table]
    for role in ("viewer", "operator"):
        who = make_user(role)
        with db.user_transaction(engine, who) as conn:
            assert conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) > 0
        with (
            pytest.raises(sa.exc.ProgrammingError) as err,
            db.user_transaction(engine, who) as conn,
        ):
            conn.execute(sa.text(f"INSERT INTO {table} {values}"), {"s": grid.north})
        assert pgcode(err) == "42501"
        with db.user_transaction(engine, who) as conn:
            deleted = conn.execute(sa.text(f"DELETE FROM {table} WHERE true")).rowcount
        assert deleted == 0
    nobody = make_user(None)
    with db.user_transaction(engine, nobody) as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) == 0
    admin = make_user("admin")
    with db.user_transaction(engine, admin) as conn:
        conn.execute(sa.text(f"INSERT INTO {table} {values}"), {"s": grid.north})


# Canonical names ----------------------------------------------------------------------------------


def test_blank_event_circuit_is_no_circuit(engine, grid):
    event = add_event(engine, grid.north, "   ")
    assert event_place(engine, event) == (grid.north, None)


def test_correcting_an_event_circuit_is_canonical_too(engine, grid):
    event = add_event(engine, grid.north, "H2")
    run(engine, "UPDATE pq_events SET circuit_id = ' h1' WHERE id = :e", e=event)
    assert event_place(engine, event) == (grid.north, "H1")
    assert set(impacts(engine, event)) == {grid.a, grid.b}


# Meters -------------------------------------------------------------------------------------------


def test_meter_minimal_insert_and_canonical_circuit(engine, grid):
    meter = add_meter(engine, "PQMS_11KV.APA0042_H3", grid.north, " h3")
    row = run(engine, "SELECT * FROM pq_meters WHERE id = :i", i=meter)[0]
    assert (row.circuit_id, row.active, row.site_id, row.location) == ("H3", True, None, None)
    assert registry(engine)[(grid.north, "H3")] == "meter"
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_meter(engine, "PQMS_11KV.APA0042_H3", grid.south, "H1")
    assert pgcode(err) == "23505"


def insert_event(engine, meter, substation=None, circuit=None) -> uuid.UUID:
    return scalar(
        engine,
        "INSERT INTO pq_events (meter_id, substation_id, circuit_id, severity)"
        " VALUES (:m, :s, :c, 'critical') RETURNING id",
        m=meter,
        s=substation,
        c=circuit,
    )


def test_event_with_only_a_meter_takes_substation_and_circuit_and_its_impacts(engine, grid):
    add_meter(engine, "M1", grid.north, "H1")
    event = insert_event(engine, "M1")
    assert event_place(engine, event) == (grid.north, "H1")
    assert set(impacts(engine, event)) == {grid.a, grid.b}


def test_event_with_the_meters_substation_takes_the_meters_circuit(engine, grid):
    add_meter(engine, "M1", grid.north, "H2")
    event = insert_event(engine, "M1", grid.north)
    assert event_place(engine, event) == (grid.north, "H2")
    assert set(impacts(engine, event)) == {grid.c}


def test_event_values_always_win_over_the_meter(engine, grid):
    add_meter(engine, "M1", grid.north, "H2")
    other_substation = insert_event(engine, "M1", grid.south)
    other_circuit = insert_event(engine, "M1", grid.north, "H1")
    circuit_only = insert_event(engine, "M1", None, "H1")
    assert event_place(engine, other_substation) == (grid.south, None)
    assert event_place(engine, other_circuit) == (grid.north, "H1")
    assert event_place(engine, circuit_only) == (None, "H1")
    assert set(impacts(engine, other_circuit)) == {grid.a, grid.b}


def test_event_of_an_unknown_meter_is_stored_as_it_came(engine, grid):
    event = insert_event(engine, "NOBODY-KNOWS")
    assert event_place(engine, event) == (None, None)
    assert impacts(engine, event) == {}


def test_meter_fill_needs_no_rights_on_meters(engine, grid, make_user):
    add_meter(engine, "M1", grid.south, "H1")
    operator = make_user("operator")
    with db.user_transaction(engine, operator) as conn:
        event = conn.execute(
            sa.text("INSERT INTO pq_events (meter_id) VALUES ('M1') RETURNING id")
        ).scalar()
    assert event_place(engine, event) == (grid.south, "H1")
    assert set(impacts(engine, event)) == {grid.d}


def test_meter_circuit_needs_a_substation_and_a_meter_keeps_its_circuit_registered(engine, grid):
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_meter(engine, "M-X", None, "H1")
    assert pgcode(err) == "23514"
    add_meter(engine, "M-Y", grid.south, "H50")
    with pytest.raises(sa.exc.IntegrityError):
        run(
            engine,
            "DELETE FROM substation_circuits WHERE substation_id = :s AND circuit_id = 'H50'",
            s=grid.south,
        )


def test_place_issues_count_unknown_meters_disagreements_and_retired_circuits(engine, grid):
    add_meter(engine, "M1", grid.north, "H2")
    insert_event(engine, "M1")  # agrees (filled)
    insert_event(engine, "M1", grid.south)  # other substation: disagrees
    insert_event(engine, "M1", grid.north, "H1")  # other circuit: disagrees
    insert_event(engine, "UNKNOWN-1")
    insert_event(engine, "UNKNOWN-2", grid.north, "H1")
    run(
        engine,
        "UPDATE substation_circuits SET retired_on = '2026-01-01'"
        " WHERE substation_id = :s AND circuit_id = 'H1'",
        s=grid.south,
    )
    run(
        engine,
        'INSERT INTO pq_events (substation_id, circuit_id, "timestamp") VALUES'
        " (:s, 'H1', '2025-12-31 12:00Z'), (:s, 'H1', '2026-01-01 00:00Z'),"
        " (:s, 'H1', '2026-03-01 00:00Z')",
        s=grid.south,
    )
    row = run(engine, "SELECT * FROM event_place_issues()")[0]
    assert (row.on_retired_circuits, row.unknown_meters, row.meter_disagreements) == (2, 2, 2)
    window = run(
        engine,
        "SELECT * FROM event_place_issues('2026-02-01', '2026-04-01')",
    )[0]
    assert window.on_retired_circuits == 1
