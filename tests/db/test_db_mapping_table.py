"""customer_transformer_matching and its neighbours: minimal rows, one active mapping per customer
and circuit, cascade and restrict, and the stamps (updated_at, version, updated_by) the database
sets itself."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from dbhelpers import add_event, pgcode, run, scalar

from ctm import db

MAP = (
    "INSERT INTO customer_transformer_matching (customer_id, substation_id, circuit_id{extra})"
    " VALUES (:c, :s, :k{values}) RETURNING id"
)


def add_mapping(engine, customer, substation, circuit, **extra):
    sql = MAP.format(
        extra="".join(f", {k}" for k in extra), values="".join(f", :{k}" for k in extra)
    )
    return scalar(engine, sql, c=customer, s=substation, k=circuit, **extra)


def mapping(engine, mapping_id) -> sa.Row:
    return run(engine, "SELECT * FROM customer_transformer_matching WHERE id = :i", i=mapping_id)[0]


# Minimal rows other systems insert --------------------------------------------------------------


def test_minimal_rows_of_every_table_are_accepted(engine):
    substation = scalar(engine, "INSERT INTO substations (name) VALUES ('Bare') RETURNING id")
    customer = scalar(
        engine, "INSERT INTO customers (account_number, name) VALUES ('1', 'C') RETURNING id"
    )
    profile = uuid.uuid4()
    run(engine, "INSERT INTO profiles (id, role) VALUES (:i, 'viewer')", i=profile)
    run(
        engine,
        'INSERT INTO pq_events ("timestamp", substation_id, circuit_id, severity, duration_ms)'
        " VALUES (now(), :s, 'H9', NULL, NULL)",
        s=substation,
    )
    mapping_id = add_mapping(engine, customer, substation, "H9")
    row = mapping(engine, mapping_id)
    assert (row.active, row.updated_by, row.version) == (True, None, 1)
    assert scalar(engine, "SELECT count(*) FROM event_customer_impact") == 0
    stored = run(engine, "SELECT customer_type, critical_customer FROM customers")[0]
    assert tuple(stored) == ("residential", False)
    assert scalar(engine, "SELECT role FROM profiles WHERE id = :i", i=profile) == "viewer"


def test_profiles_accept_only_the_three_roles(engine):
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(engine, "INSERT INTO profiles (id, role) VALUES (gen_random_uuid(), 'superuser')")
    assert pgcode(err) == "23514"


def test_customers_no_longer_have_a_transformer_id(engine):
    columns = {
        r.column_name
        for r in run(
            engine,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'",
        )
    }
    assert "transformer_id" not in columns
    assert {"account_number", "name", "customer_type", "critical_customer"} <= columns


def test_any_circuit_text_is_accepted_before_its_first_event(engine, grid):
    mapping_id = add_mapping(engine, grid.a, grid.south, "Feeder 7/B")
    assert mapping(engine, mapping_id).circuit_id == "FEEDER 7/B"


@pytest.mark.parametrize("circuit", ["", "   "])
def test_blank_circuit_ids_are_refused(engine, grid, circuit):
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.a, grid.south, circuit)
    assert pgcode(err) == "23514"


@pytest.mark.parametrize("circuit", [" h5", "H5 ", "h5", "\th5 "])
def test_padded_or_lower_case_circuit_ids_are_stored_canonical(engine, grid, circuit):
    mapping_id = add_mapping(engine, grid.a, grid.south, circuit)
    assert mapping(engine, mapping_id).circuit_id == "H5"


# One active mapping per customer and circuit ----------------------------------------------------


def test_second_active_mapping_of_a_customer_to_a_circuit_is_refused(engine, grid):
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.a, grid.north, "H1")
    assert pgcode(err) == "23505"
    assert "idx_customer_transformer_unique" in str(err.value)


def test_same_customer_may_hang_off_another_circuit_or_substation(engine, grid):
    add_mapping(engine, grid.a, grid.north, "H2")
    add_mapping(engine, grid.a, grid.south, "H1")
    count = "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :c AND active"
    assert scalar(engine, count, c=grid.a) == 3


def test_soft_delete_then_remap_keeps_the_history(engine, grid):
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false"
        " WHERE customer_id = :c AND circuit_id = 'H1'",
        c=grid.a,
    )
    add_mapping(engine, grid.a, grid.north, "H1")
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE customer_id = :c AND active",
        c=grid.a,
    )
    add_mapping(engine, grid.a, grid.north, "H1")
    rows = run(
        engine,
        "SELECT active FROM customer_transformer_matching WHERE customer_id = :c",
        c=grid.a,
    )
    assert sorted(r.active for r in rows) == [False, False, True]


def test_reactivating_a_duplicate_is_refused(engine, grid):
    inactive = scalar(
        engine, "SELECT id FROM customer_transformer_matching WHERE customer_id = :c", c=grid.e
    )
    add_mapping(engine, grid.e, grid.north, "H1")
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "UPDATE customer_transformer_matching SET active = true WHERE id = :i",
            i=inactive,
        )
    assert pgcode(err) == "23505"


def test_mapping_needs_an_existing_customer_and_substation(engine, grid):
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, uuid.uuid4(), grid.north, "H1")
    assert pgcode(err) == "23503"
    with pytest.raises(sa.exc.IntegrityError) as err:
        add_mapping(engine, grid.a, uuid.uuid4(), "H1")
    assert pgcode(err) == "23503"


# Cascade and restrict ---------------------------------------------------------------------------


def test_deleting_a_customer_removes_its_mappings_and_impacts(engine, grid):
    event = add_event(engine, grid.north, "H1")
    run(engine, "DELETE FROM customers WHERE id = :c", c=grid.a)
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :c",
            c=grid.a,
        )
        == 0
    )
    remaining = run(
        engine, "SELECT customer_id FROM event_customer_impact WHERE event_id = :e", e=event
    )
    assert [r.customer_id for r in remaining] == [grid.b]


def test_deleting_an_event_removes_its_impacts(engine, grid):
    gone = add_event(engine, grid.north, "H1")
    kept = add_event(engine, grid.north, "H1")
    run(engine, "DELETE FROM pq_events WHERE id = :e", e=gone)
    events = {r.event_id for r in run(engine, "SELECT event_id FROM event_customer_impact")}
    assert events == {kept}


def test_deleting_a_substation_with_mappings_is_refused(engine, grid):
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(engine, "DELETE FROM substations WHERE id = :s", s=grid.south)
    # ON DELETE RESTRICT: restrict_violation since PostgreSQL 18, foreign_key_violation before.
    assert pgcode(err) in {"23001", "23503"}
    assert "customer_transformer_matching" in str(err.value)
    assert scalar(engine, "SELECT count(*) FROM substations") == 2


def test_deleting_a_substation_with_only_inactive_mappings_is_refused_too(engine, grid):
    run(
        engine,
        "UPDATE customer_transformer_matching SET active = false WHERE substation_id = :s",
        s=grid.south,
    )
    with pytest.raises(sa.exc.IntegrityError):
        run(engine, "DELETE FROM substations WHERE id = :s", s=grid.south)


def test_deleting_a_substation_without_mappings_or_events_works(engine, grid):
    spare = scalar(engine, "INSERT INTO substations (name) VALUES ('Spare') RETURNING id")
    run(engine, "DELETE FROM substations WHERE id = :s", s=spare)
    assert scalar(engine, "SELECT count(*) FROM substations") == 2


def test_impacts_are_unique_per_event_and_customer(engine, grid):
    event = add_event(engine, grid.north, "H1")
    with pytest.raises(sa.exc.IntegrityError) as err:
        run(
            engine,
            "INSERT INTO event_customer_impact (event_id, customer_id) VALUES (:e, :c)",
            e=event,
            c=grid.a,
        )
    assert pgcode(err) == "23505"


# Stamps -----------------------------------------------------------------------------------------


def test_update_bumps_version_and_updated_at(engine, grid):
    mapping_id = add_mapping(engine, grid.c, grid.south, "H5")
    before = mapping(engine, mapping_id)
    time.sleep(0.01)
    run(
        engine,
        "UPDATE customer_transformer_matching SET circuit_id = 'H6' WHERE id = :i",
        i=mapping_id,
    )
    after = mapping(engine, mapping_id)
    assert after.version == before.version + 1 == 2
    assert after.updated_at > before.updated_at
    assert after.created_at == before.created_at


def test_caller_cannot_choose_version_or_updated_at(engine, grid):
    mapping_id = add_mapping(engine, grid.c, grid.south, "H5", version=99)
    assert mapping(engine, mapping_id).version == 1
    run(
        engine,
        "UPDATE customer_transformer_matching SET version = 50, updated_at = '2000-01-01'"
        " WHERE id = :i",
        i=mapping_id,
    )
    row = mapping(engine, mapping_id)
    assert row.version == 2
    assert row.updated_at.year > 2000


def test_updated_by_is_the_acting_user_whatever_the_caller_sends(engine, grid, make_user):
    operator = make_user("operator")
    admin = make_user("admin")
    with db.user_transaction(engine, operator) as conn:
        mapping_id = conn.execute(
            sa.text(
                "INSERT INTO customer_transformer_matching"
                " (customer_id, substation_id, circuit_id, updated_by)"
                " VALUES (:c, :s, 'H7', :someone_else) RETURNING id"
            ),
            {"c": grid.c, "s": grid.south, "someone_else": admin.user_id},
        ).scalar()
    assert mapping(engine, mapping_id).updated_by == operator.user_id
    with db.user_transaction(engine, admin) as conn:
        conn.execute(
            sa.text(
                "UPDATE customer_transformer_matching SET active = false, updated_by = :o"
                " WHERE id = :i"
            ),
            {"o": operator.user_id, "i": mapping_id},
        )
    row = mapping(engine, mapping_id)
    assert (row.updated_by, row.version, row.active) == (admin.user_id, 2, False)


def test_system_loads_keep_the_updated_by_they_send(engine, grid, make_user):
    loader = make_user("admin")
    mapping_id = add_mapping(engine, grid.c, grid.south, "H8", updated_by=loader.user_id)
    assert mapping(engine, mapping_id).updated_by == loader.user_id
    run(
        engine,
        "UPDATE customer_transformer_matching SET circuit_id = 'H9' WHERE id = :i",
        i=mapping_id,
    )
    assert mapping(engine, mapping_id).updated_by == loader.user_id
    unsigned = add_mapping(engine, grid.d, grid.north, "H8")
    assert mapping(engine, unsigned).updated_by is None


def test_deleting_the_editors_profile_keeps_the_mapping(engine, grid, make_user):
    editor = make_user("operator")
    mapping_id = add_mapping(engine, grid.c, grid.south, "H8", updated_by=editor.user_id)
    run(engine, "DELETE FROM profiles WHERE id = :i", i=editor.user_id)
    assert mapping(engine, mapping_id).updated_by is None


def test_profiles_updated_at_is_bumped(engine, make_user):
    user = make_user("viewer")
    before = scalar(engine, "SELECT updated_at FROM profiles WHERE id = :i", i=user.user_id)
    time.sleep(0.01)
    run(engine, "UPDATE profiles SET department = 'Grid' WHERE id = :i", i=user.user_id)
    after = scalar(engine, "SELECT updated_at FROM profiles WHERE id = :i", i=user.user_id)
    assert after > before
