"""The circuit registry as the pages use it: natural order, add with name checks, describe and
limit, retire on a date (refused while mappings apply, or ending them), delete while unused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from ctm import circuits as svc
from ctm import db, mappings
from ctm.errors import CircuitFull, InUse, PermissionDenied, ValidationError


def scalar(engine, sql: str, **params):
    with db.owner_transaction(engine) as conn:
        return conn.execute(sa.text(sql), params).scalar()


def registered(engine, substation) -> list[str]:
    with db.owner_transaction(engine) as conn:
        return sorted(
            conn.scalars(
                sa.text("SELECT circuit_id FROM substation_circuits WHERE substation_id = :s"),
                {"s": substation},
            )
        )


def test_circuits_are_listed_naturally_with_their_mappings(engine, world):
    listed = svc.list_circuits(engine, world.viewer, world.north)
    assert [c.circuit_id for c in listed] == ["H1", "H2", "H10"]
    south = svc.list_circuits(engine, world.viewer, world.south)
    assert [(c.circuit_id, c.current_mappings) for c in south] == [("H1", 0), ("H7", 1)]


def test_admin_adds_a_circuit_with_description_served_and_limit(engine, world):
    added = svc.add_circuit(
        engine,
        world.admin,
        world.empty,
        " h3 ",
        description="Tower block feeder",
        customers_served="420",
        max_mapped_customers=2,
    )
    assert (added.circuit_id, added.description, added.customers_served) == (
        "H3",
        "Tower block feeder",
        420,
    )
    assert added.max_mapped_customers == 2 and added.source == "app"
    # The pickers offer it at once: a mapping on it is accepted.
    assert mappings.circuits_of_substation(engine, world.operator, world.empty) == ["H3"]
    mappings.create_mapping(engine, world.operator, world.acme, world.empty, "H3")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("  ", "Circuit name is empty"),
        ("h1 ", "Circuit 'h1 ' is H1 .* which North already has"),
        ("H 10", "Circuit 'H 10' differs only by spaces from H10, which North already has"),
    ],
)
def test_blank_or_case_duplicate_circuit_names_are_refused(engine, world, name, message):
    with pytest.raises(ValidationError, match=message):
        svc.add_circuit(engine, world.admin, world.north, name)
    assert registered(engine, world.north) == ["H1", "H10", "H2"]


@pytest.mark.parametrize("who", ["operator", "viewer", "nobody"])
def test_only_admins_maintain_circuits(engine, world, who):
    identity = getattr(world, who)
    with pytest.raises(PermissionDenied):
        svc.add_circuit(engine, identity, world.empty, "H1")
    with pytest.raises(PermissionDenied):
        svc.update_circuit(engine, identity, world.north, "H1", description="x")
    with pytest.raises(PermissionDenied):
        svc.retire_circuit(engine, identity, world.north, "H1")
    assert registered(engine, world.empty) == []


def test_bad_counts_are_refused(engine, world):
    with pytest.raises(ValidationError, match="Customers served 'many' is not a whole number"):
        svc.update_circuit(engine, world.admin, world.north, "H1", customers_served="many")
    with pytest.raises(ValidationError, match="Maximum mapped customers -1 must be between"):
        svc.update_circuit(engine, world.admin, world.north, "H1", max_mapped_customers=-1)
    with pytest.raises(ValidationError, match="H7 has 1 current mappings: a limit of 0"):
        svc.update_circuit(engine, world.admin, world.south, "H7", max_mapped_customers=0)


def test_retire_is_refused_while_a_mapping_applies_then_ends_them_on_that_date(engine, world):
    on = date.today() + timedelta(days=10)
    with pytest.raises(
        svc.CircuitInUse, match=r"H7 cannot be retired on .*1 mapping still applies"
    ):
        svc.retire_circuit(engine, world.admin, world.south, "H7", on)
    assert (
        scalar(engine, "SELECT retired_on FROM substation_circuits WHERE circuit_id = 'H7'") is None
    )
    assert svc.retire_circuit(engine, world.admin, world.south, "H7", on, end_mappings=True) == 1
    assert (
        scalar(
            engine,
            "SELECT disconnected_on FROM customer_transformer_matching WHERE id = :id",
            id=world.south_h7,
        )
        == on
    )
    # Scheduled to retire: no new mapping is put on it any more.
    assert "H7" not in mappings.circuits_of_substation(engine, world.viewer, world.south)


def test_a_retired_circuit_leaves_the_pickers_and_a_stale_choice_is_refused(engine, world):
    svc.retire_circuit(engine, world.admin, world.north, "H2")
    assert mappings.circuits_of_substation(engine, world.viewer, world.north) == ["H1", "H10"]
    options = svc.circuit_options(engine, world.viewer, world.north)
    assert [o.label for o in options] == ["H1", "H2 (retired)", "H10"]
    # A mapping dialog opened before the retirement (an old browser tab) still offers H2.
    with pytest.raises(ValidationError, match="Circuit H2 of substation North was retired on"):
        mappings.create_mapping(engine, world.operator, world.acme, world.north, "H2")
    assert scalar(engine, "SELECT count(*) FROM customer_transformer_matching") == 1
    svc.reinstate_circuit(engine, world.admin, world.north, "H2")
    assert mappings.circuits_of_substation(engine, world.viewer, world.north) == ["H1", "H2", "H10"]


def test_delete_only_while_nothing_names_the_circuit(engine, world):
    with pytest.raises(InUse, match="H1 cannot be deleted: 3 PQ events still name it"):
        svc.delete_circuit(engine, world.admin, world.north, "H1")
    svc.add_circuit(engine, world.admin, world.empty, "T9")
    svc.delete_circuit(engine, world.admin, world.empty, "t9")
    assert registered(engine, world.empty) == []


def test_a_full_circuit_refuses_one_more_mapping_with_one_clear_error(engine, world):
    svc.update_circuit(engine, world.admin, world.south, "H7", max_mapped_customers=1)
    with pytest.raises(CircuitFull, match=r"Circuit South / H7 is full: it allows at most 1"):
        mappings.connect_mapping(engine, world.operator, world.acme, world.south, "H7")
    # The grid's path (a circuit changed in place) gets the very same error.
    moved = mappings.connect_mapping(engine, world.operator, world.acme, world.south, "H1")
    with pytest.raises(CircuitFull, match=r"South / H7 is full"):
        mappings.update_mapping(
            engine, world.operator, moved.mapping.id, moved.mapping.version, circuit_id="H7"
        )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM customer_transformer_matching WHERE circuit_id = 'H7'",
        )
        == 1
    )
