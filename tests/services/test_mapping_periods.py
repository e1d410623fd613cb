"""Validity periods through the services: add with 'connected since', deactivate on a day,
re-activate as a new period, moved or corrected, restore from history, and the past-events preview
and apply (nothing happens to past events without it)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from ctm import db
from ctm import history as hist
from ctm import mappings as svc
from ctm.errors import DuplicateMapping, NotFound, PermissionDenied, StaleEdit, ValidationError


def today() -> date:
    return date.today()  # the stored zone is UTC in a fresh database


def impacts_of(engine, customer) -> int:
    with db.owner_transaction(engine) as conn:
        return conn.scalar(
            sa.text("SELECT count(*) FROM event_customer_impact WHERE customer_id = :c"),
            {"c": customer},
        )


def row(engine, mapping_id):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text("SELECT * FROM customer_transformer_matching WHERE id = :id"),
            {"id": mapping_id},
        ).one()


def test_adding_touches_no_past_event_until_the_preview_is_applied(engine, world):
    change = svc.connect_mapping(engine, world.operator, world.acme, world.north, "H1")
    (preview,) = change.previews
    assert preview.mode == "add" and preview.count == 3
    assert preview.message == (
        "3 past events on North / H1 in the whole history do not list Acme Steel (ACC-1001)"
        " yet — 0 severe, 0 moderate, 3 minor"
    )
    assert len(preview.events) == 3
    assert impacts_of(engine, world.acme) == 0
    assert svc.apply_past_events(engine, world.operator, preview) == 3
    assert impacts_of(engine, world.acme) == 3
    assert svc.apply_past_events(engine, world.operator, preview) == 0  # once only
    assert svc.past_events(engine, world.operator, change.mapping.id, "add").count == 0
    logged = hist.list_history(
        engine, world.viewer, hist.HistoryFilter(table_name="event_customer_impact")
    )
    assert logged.total == 1
    assert logged.rows.iloc[0].changes == "Added 3 past event impact(s) for Acme Steel (ACC-1001)"


def test_connected_since_limits_the_preview(engine, world):
    since = today() - timedelta(days=2)
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1", since)
    assert change.mapping.connected_since == since
    (preview,) = change.previews
    assert preview.count == 2 and f"since {since.isoformat()}" in preview.message


def test_a_viewer_cannot_add_or_apply(engine, world):
    with pytest.raises(PermissionDenied):
        svc.connect_mapping(engine, world.viewer, world.acme, world.north, "H1")
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    with pytest.raises(PermissionDenied):
        svc.apply_past_events(engine, world.viewer, change.previews[0])
    assert impacts_of(engine, world.acme) == 0


def test_deactivating_on_a_past_day_offers_to_remove_later_events(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    svc.apply_past_events(engine, world.admin, change.previews[0])
    end = today() - timedelta(days=2)
    ended = svc.end_mapping(engine, world.admin, change.mapping.id, change.mapping.version, end)
    assert (ended.mapping.active, ended.mapping.disconnected_on) == (False, end)
    (preview,) = ended.previews
    assert preview.mode == "remove" and preview.count == 2
    assert f"after {end.isoformat()}" in preview.message
    assert svc.apply_past_events(engine, world.admin, preview) == 2
    assert impacts_of(engine, world.acme) == 1


def test_deactivate_defaults_to_today_and_a_future_day_is_scheduled(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    later = today() + timedelta(days=10)
    scheduled = svc.end_mapping(engine, world.admin, change.mapping.id, 1, later)
    assert (scheduled.mapping.active, scheduled.mapping.disconnected_on) == (True, later)
    other = svc.connect_mapping(engine, world.admin, world.bolt, world.north, "H2")
    ended = svc.end_mapping(engine, world.admin, other.mapping.id, 1)
    assert (ended.mapping.active, ended.mapping.disconnected_on) == (False, today())
    with pytest.raises(ValidationError, match="already ended"):
        svc.end_mapping(engine, world.admin, other.mapping.id, ended.mapping.version)


def test_reactivating_starts_a_new_period_in_a_new_row(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    ended = svc.end_mapping(engine, world.admin, change.mapping.id, 1, today() - timedelta(days=1))
    again = svc.reactivate_mapping(engine, world.admin, change.mapping.id, ended.mapping.version)
    assert again.mapping.id != change.mapping.id
    assert (again.mapping.active, again.mapping.connected_since) == (True, today())
    assert row(engine, change.mapping.id).disconnected_on == today() - timedelta(days=1)
    with pytest.raises(ValidationError, match="before the old period's end"):
        svc.reactivate_mapping(
            engine, world.admin, change.mapping.id, ended.mapping.version, today() - timedelta(5)
        )


def test_a_move_ends_the_row_and_starts_a_new_one_on_the_new_circuit(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    svc.apply_past_events(engine, world.admin, change.previews[0])
    day = today() - timedelta(days=2)
    moved = svc.move_mapping(engine, world.operator, change.mapping.id, 1, world.north, "H2", day)
    assert (moved.mapping.circuit_id, moved.mapping.connected_since) == ("H2", day)
    old = row(engine, change.mapping.id)
    assert (old.circuit_id, old.active, old.disconnected_on) == ("H1", False, day)
    modes = {p.mode: p.count for p in moved.previews}
    assert modes == {"add": 2, "remove": 2}  # H2's events since the move; H1's events after it


def test_a_correction_changes_the_row_in_place_and_shows_both_previews(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    svc.apply_past_events(engine, world.admin, change.previews[0])
    fixed = svc.correct_mapping(engine, world.admin, change.mapping.id, 1, world.north, "H2")
    assert fixed.mapping.id == change.mapping.id and fixed.mapping.circuit_id == "H2"
    add, remove = fixed.previews
    assert (add.mode, add.count, add.place) == ("add", 3, "North / H2")
    assert (remove.mode, remove.count, remove.place) == ("remove", 3, "North / H1")
    assert svc.apply_past_events(engine, world.admin, remove) == 3
    assert svc.apply_past_events(engine, world.admin, add) == 3


def test_overlapping_periods_are_refused_naming_the_other_mapping(engine, world):
    first = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    svc.end_mapping(engine, world.admin, first.mapping.id, 1, today() - timedelta(days=1))
    with pytest.raises(ValidationError, match="overlaps The mapping of Acme Steel"):
        svc.connect_mapping(
            engine, world.admin, world.acme, world.north, "H1", today() - timedelta(days=5)
        )


def test_restore_brings_back_an_earlier_state_as_a_new_change(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    fixed = svc.correct_mapping(engine, world.admin, change.mapping.id, 1, world.north, "H2")
    entries = hist.list_history(
        engine, world.admin, hist.HistoryFilter(row_id=str(change.mapping.id))
    )
    inserted = int(entries.rows.loc[entries.rows["action"] == "INSERT", "id"].iloc[0])
    with pytest.raises(ValidationError, match="correction"):
        svc.restore_mapping(engine, world.operator, inserted, fixed.mapping.version)
    with pytest.raises(StaleEdit):
        svc.restore_mapping(engine, world.operator, inserted, 1, how="correction")
    with pytest.raises(PermissionDenied):
        svc.restore_mapping(engine, world.viewer, inserted, fixed.mapping.version, how="correction")
    restored = svc.restore_mapping(
        engine, world.operator, inserted, fixed.mapping.version, how="correction"
    )
    assert (restored.mapping.id, restored.mapping.circuit_id) == (change.mapping.id, "H1")
    after = hist.list_history(
        engine, world.admin, hist.HistoryFilter(row_id=str(change.mapping.id))
    )
    assert after.total == 3 and after.rows.iloc[0].changes == "Circuit H2 → H1"


def retire(engine, substation, circuit):
    with db.owner_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE substation_circuits SET active = false, retired_on = CURRENT_DATE"
                " WHERE substation_id = :s AND circuit_id = :c"
            ),
            {"s": substation, "c": circuit},
        )


def _deleted_mapping(engine, world):
    """Acme mapped to North / H1 since a date, then corrected to H2, then deleted by an admin:
    the history's DELETE entry (its last state) and the mapping id."""
    change = svc.connect_mapping(
        engine, world.admin, world.acme, world.north, "H1", today() - timedelta(days=2)
    )
    fixed = svc.correct_mapping(engine, world.admin, change.mapping.id, 1, world.north, "H2")
    svc.delete_mapping(engine, world.admin, change.mapping.id, fixed.mapping.version)
    entries = hist.list_history(
        engine, world.admin, hist.HistoryFilter(row_id=str(change.mapping.id))
    )
    deleted = int(entries.rows.loc[entries.rows["action"] == "DELETE", "id"].iloc[0])
    return change.mapping.id, deleted


def _audit(engine, mapping_id):
    with db.owner_transaction(engine) as conn:
        return conn.execute(
            sa.text(
                "SELECT action, changed_by, source FROM audit_log"
                " WHERE table_name = 'customer_transformer_matching' AND row_id = :id"
                " ORDER BY id"
            ),
            {"id": str(mapping_id)},
        ).all()


def test_an_operator_restores_a_deleted_mapping_under_its_old_id(engine, world):
    mapping_id, deleted = _deleted_mapping(engine, world)
    with pytest.raises(PermissionDenied):
        svc.restore_mapping(engine, world.viewer, deleted, None)
    with pytest.raises(NotFound):  # the caller thought it still existed
        svc.restore_mapping(engine, world.operator, deleted, 2)
    restored = svc.restore_mapping(engine, world.operator, deleted, None)
    assert restored.mapping.id == mapping_id
    assert (restored.mapping.circuit_id, restored.mapping.active) == ("H2", True)
    assert restored.mapping.connected_since == today() - timedelta(days=2)
    # A new change in the history, by the operator, after the delete.
    assert [(a, s) for a, _, s in _audit(engine, mapping_id)] == [
        ("INSERT", "app"),
        ("UPDATE", "app"),
        ("DELETE", "app"),
        ("INSERT", "app"),
    ]
    assert _audit(engine, mapping_id)[-1].changed_by == world.operator.user_id
    # Past events are offered, not changed: the two H2 events of its period.
    (preview,) = restored.previews
    assert (preview.mode, preview.count) == ("add", 2)
    assert impacts_of(engine, world.acme) == 0
    # A second restore from the same page is stale: it exists again.
    with pytest.raises(StaleEdit, match="exists again"):
        svc.restore_mapping(engine, world.admin, deleted, None)
    assert len(_audit(engine, mapping_id)) == 4


def test_restoring_a_deleted_mapping_follows_the_period_rules(engine, world):
    mapping_id, deleted = _deleted_mapping(engine, world)
    other = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H2")
    with pytest.raises(DuplicateMapping, match="already mapped to North / H2"):
        svc.restore_mapping(engine, world.operator, deleted, None)
    svc.delete_mapping(engine, world.admin, other.mapping.id, other.mapping.version)
    retire(engine, world.north, "H2")
    with pytest.raises(ValidationError, match="H2 of substation North was retired"):
        svc.restore_mapping(engine, world.operator, deleted, None)
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM customers WHERE id = :c"), {"c": world.acme})
    with pytest.raises(ValidationError, match="customer of this mapping was deleted too"):
        svc.restore_mapping(engine, world.operator, deleted, None)
    with db.owner_transaction(engine) as conn:
        assert not conn.scalar(
            sa.text("SELECT count(*) FROM customer_transformer_matching WHERE id = :id"),
            {"id": mapping_id},
        )


def test_restore_onto_a_retired_circuit_is_refused(engine, world):
    change = svc.connect_mapping(engine, world.admin, world.acme, world.north, "H1")
    fixed = svc.correct_mapping(engine, world.admin, change.mapping.id, 1, world.north, "H2")
    retire(engine, world.north, "H1")
    entries = hist.list_history(
        engine, world.admin, hist.HistoryFilter(row_id=str(change.mapping.id))
    )
    inserted = int(entries.rows.loc[entries.rows["action"] == "INSERT", "id"].iloc[0])
    with pytest.raises(ValidationError, match="retired"):
        svc.restore_mapping(engine, world.admin, inserted, fixed.mapping.version, how="correction")
    assert row(engine, change.mapping.id).circuit_id == "H2"


def test_two_users_restoring_one_deleted_mapping_at_once_get_one_mapping(engine, world):
    """A race: the operator's restore is written but not committed when the admin's starts. The
    admin waits on the row, then is told it exists again; one mapping, one history entry."""
    import threading

    mapping_id, deleted = _deleted_mapping(engine, world)
    written, finish = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def operator_restores() -> None:
        with db.user_transaction(engine, world.operator) as conn:
            outcome["operator"] = svc.restore_mapping_in(conn, deleted, None)
            written.set()
            finish.wait(timeout=30)

    def admin_restores() -> None:
        try:
            outcome["admin"] = svc.restore_mapping(engine, world.admin, deleted, None)
        except (StaleEdit, DuplicateMapping) as exc:
            outcome["admin"] = exc

    first = threading.Thread(target=operator_restores)
    first.start()
    assert written.wait(timeout=30)
    second = threading.Thread(target=admin_restores)
    second.start()
    second.join(timeout=1.0)
    assert second.is_alive(), "the second restore must wait for the first one's transaction"
    finish.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert outcome["operator"].mapping.id == mapping_id
    assert isinstance(outcome["admin"], StaleEdit), outcome["admin"]
    assert "exists again" in str(outcome["admin"])
    with db.owner_transaction(engine) as conn:
        assert (
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM customer_transformer_matching WHERE customer_id = :c"
                ),
                {"c": world.acme},
            )
            == 1
        )
    assert [a for a, _, _ in _audit(engine, mapping_id)] == ["INSERT", "UPDATE", "DELETE", "INSERT"]
