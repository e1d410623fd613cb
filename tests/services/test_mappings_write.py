"""Creating, changing, deactivating and deleting mappings as each role, and every refusal."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import mappings as svc
from ctm.errors import DuplicateMapping, NotFound, PermissionDenied, ValidationError
from ctm.mappings import MappingFilter


def stored(engine, mapping_id):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text("SELECT * FROM customer_transformer_matching WHERE id = :id"),
            {"id": mapping_id},
        ).one_or_none()


def mapping_count(engine) -> int:
    with db.owner_transaction(engine) as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM customer_transformer_matching"))


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_admins_and_operators_create_mappings_stamped_with_themselves(engine, world, who):
    identity = getattr(world, who)
    made = svc.create_mapping(engine, identity, world.acme, world.north, " H2 ")
    assert (made.customer_name, made.account_number) == ("Acme Steel", "ACC-1001")
    assert (made.substation_name, made.circuit_id, made.active, made.version) == (
        "North",
        "H2",
        True,
        1,
    )
    assert made.updated_by_name == identity.full_name
    assert stored(engine, made.id).updated_by == identity.user_id


def test_a_new_mapping_makes_later_events_hit_the_customer(engine, world):
    svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO pq_events (substation_id, circuit_id, severity, duration_ms)"
                " VALUES (:n, 'H1', 'critical', 90000)"
            ),
            {"n": world.north},
        )
        hit = conn.execute(
            sa.text("SELECT customer_id, impact_level FROM event_customer_impact")
        ).all()
    assert [(r.customer_id, r.impact_level) for r in hit] == [(world.acme, "severe")]


def test_a_viewer_cannot_create_and_is_told_why(engine, world):
    with pytest.raises(PermissionDenied, match="Viewers can look at mappings but not change them"):
        svc.create_mapping(engine, world.viewer, world.acme, world.north, "H1")
    assert mapping_count(engine) == 1


def test_a_user_without_profile_cannot_create(engine, world):
    with pytest.raises(PermissionDenied, match="no profile"):
        svc.create_mapping(engine, world.nobody, world.acme, world.north, "H1")
    assert mapping_count(engine) == 1


def test_a_second_active_mapping_to_the_same_circuit_is_a_duplicate(engine, world):
    svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    with pytest.raises(DuplicateMapping) as caught:
        svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")
    assert str(caught.value) == "Customer Acme Steel (ACC-1001) is already mapped to North / H1"
    # The same customer on another circuit is fine, and so is a repeat of an inactive mapping.
    svc.create_mapping(engine, world.admin, world.acme, world.north, "H2")
    old = svc.list_mappings(engine, world.admin, MappingFilter(circuit_id="H1")).rows.iloc[0]
    svc.deactivate_mapping(engine, world.admin, old.id, int(old.version))
    again = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    assert again.active


def test_a_circuit_not_known_for_the_substation_is_refused_with_names(engine, world):
    with pytest.raises(ValidationError, match="Circuit H7 is not known for substation North"):
        svc.create_mapping(engine, world.admin, world.acme, world.north, "H7")
    with pytest.raises(ValidationError, match="Circuit H1 is not known for substation Empty"):
        svc.create_mapping(engine, world.admin, world.acme, world.empty, "H1")
    # H7 is known at South because a mapping there names it.
    svc.create_mapping(engine, world.admin, world.acme, world.south, "H7")


@pytest.mark.parametrize("circuit", ["", "   ", None])
def test_an_empty_circuit_is_refused(engine, world, circuit):
    with pytest.raises(ValidationError, match="circuit is empty"):
        svc.create_mapping(engine, world.admin, world.acme, world.north, circuit)


def test_unknown_customer_or_substation_is_refused(engine, world):
    with pytest.raises(ValidationError, match="Unknown customer"):
        svc.create_mapping(engine, world.admin, uuid.uuid4(), world.north, "H1")
    with pytest.raises(ValidationError, match="Unknown substation"):
        svc.create_mapping(engine, world.admin, world.acme, uuid.uuid4(), "H1")
    assert mapping_count(engine) == 1


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_writers_move_a_mapping_to_another_circuit_and_substation(engine, world, who):
    identity = getattr(world, who)
    made = svc.create_mapping(engine, world.admin, world.bolt, world.north, "H1")
    moved = svc.update_mapping(engine, identity, made.id, 1, circuit_id="H10")
    assert (moved.circuit_id, moved.version, moved.updated_by_name) == (
        "H10",
        2,
        identity.full_name,
    )
    moved = svc.update_mapping(
        engine, identity, made.id, 2, substation_id=world.south, circuit_id="H1"
    )
    assert (moved.substation_name, moved.circuit_id, moved.version) == ("South", "H1", 3)
    off = svc.update_mapping(engine, identity, made.id, 3, active=False)
    assert (off.active, off.version) == (False, 4)
    on = svc.update_mapping(engine, identity, made.id, 4, active=True)
    assert (on.active, on.version) == (True, 5)


def test_update_checks_circuit_substation_and_duplicates(engine, world):
    made = svc.create_mapping(engine, world.admin, world.crane, world.north, "H1")
    with pytest.raises(ValidationError, match="Circuit H2 is not known for substation South"):
        svc.update_mapping(
            engine, world.admin, made.id, 1, substation_id=world.south, circuit_id="H2"
        )
    with pytest.raises(ValidationError, match="Unknown substation"):
        svc.update_mapping(engine, world.admin, made.id, 1, substation_id=uuid.uuid4())
    with pytest.raises(ValidationError, match="circuit is empty"):
        svc.update_mapping(engine, world.admin, made.id, 1, circuit_id=" ")
    with pytest.raises(
        DuplicateMapping, match=r"Crane Works \(ACC-2001\) is already mapped to South / H7"
    ):
        svc.update_mapping(
            engine, world.admin, made.id, 1, substation_id=world.south, circuit_id="H7"
        )
    row = stored(engine, made.id)
    assert (row.circuit_id, row.version) == ("H1", 1)


def test_reactivating_next_to_an_active_twin_is_a_duplicate(engine, world):
    first = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    first = svc.deactivate_mapping(engine, world.admin, first.id, first.version)
    svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    with pytest.raises(DuplicateMapping, match="already mapped to North / H1"):
        svc.update_mapping(engine, world.operator, first.id, first.version, active=True)


def test_update_without_changes_writes_nothing(engine, world):
    made = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    same = svc.update_mapping(engine, world.operator, made.id, 1, circuit_id="H1")
    assert same.version == 1 and same.updated_by_name == "Ada"


@pytest.mark.parametrize(
    "who, message",
    [("viewer", "Viewers can look at mappings but not change them"), ("nobody", "no profile")],
)
def test_viewers_and_users_without_profile_change_nothing(engine, world, who, message):
    identity = getattr(world, who)
    made = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    with pytest.raises(PermissionDenied, match=message):
        svc.update_mapping(engine, identity, made.id, 1, circuit_id="H2")
    with pytest.raises(PermissionDenied, match=message):
        svc.deactivate_mapping(engine, identity, made.id, 1)
    with pytest.raises(PermissionDenied):
        svc.delete_mapping(engine, identity, made.id, 1)
    row = stored(engine, made.id)
    assert (row.circuit_id, row.active, row.version) == ("H1", True, 1)


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_deactivating_keeps_the_row_but_hides_it_from_the_default_list(engine, world, who):
    made = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    off = svc.deactivate_mapping(engine, getattr(world, who), made.id, 1)
    assert (off.active, off.version) == (False, 2)
    assert svc.list_mappings(engine, world.viewer, MappingFilter(circuit_id="H1")).total == 0
    assert (
        svc.list_mappings(
            engine, world.viewer, MappingFilter(circuit_id="H1", include_inactive=True)
        ).total
        == 1
    )


def test_only_admins_delete_permanently(engine, world):
    made = svc.create_mapping(engine, world.operator, world.acme, world.north, "H1")
    with pytest.raises(PermissionDenied, match="Only admins can delete mappings permanently"):
        svc.delete_mapping(engine, world.operator, made.id, 1)
    assert stored(engine, made.id) is not None
    svc.delete_mapping(engine, world.admin, made.id, 1)
    assert stored(engine, made.id) is None


def test_a_mapping_that_is_gone_is_not_found(engine, world):
    made = svc.create_mapping(engine, world.admin, world.acme, world.north, "H1")
    svc.delete_mapping(engine, world.admin, made.id, 1)
    with pytest.raises(NotFound, match="no longer exists"):
        svc.update_mapping(engine, world.operator, made.id, 1, circuit_id="H2")
    with pytest.raises(NotFound):
        svc.deactivate_mapping(engine, world.operator, made.id, 1)
    with pytest.raises(NotFound):
        svc.delete_mapping(engine, world.admin, made.id, 1)
