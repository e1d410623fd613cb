"""edits_to_commands: editor positions become commands for the right row id and version."""

from uuid import UUID, uuid4

import pandas as pd

from ctm.grid_commands import UpdateCommand, edits_to_commands


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [str(uuid4()) for _ in range(3)],
            "version": [1, 4, 2],
            "customer_name": ["Alpha", "Beta", "Gamma"],
            "account_number": ["A1", "B2", "C3"],
            "substation_name": ["North", "North", "South"],
            "circuit_id": ["H1", "H2", "H3"],
            "active": [True, True, False],
        }
    )


def state(edited: dict) -> dict:
    return {"edited_rows": edited, "added_rows": [], "deleted_rows": []}


def test_no_state_or_no_edits_gives_no_commands():
    assert edits_to_commands(frame(), None) == []
    assert edits_to_commands(frame(), state({})) == []


def test_a_circuit_edit_targets_the_row_at_that_position_with_its_version():
    f = frame()
    [command] = edits_to_commands(f, state({1: {"circuit_id": "H7"}}))
    assert command == UpdateCommand(
        mapping_id=UUID(f.loc[1, "id"]),
        expected_version=4,
        circuit_id="H7",
        active=None,
        label="Beta (B2) — North / H2",
    )


def test_positions_index_the_frame_passed_in_even_when_the_user_sorted_the_grid():
    # The user sorted by customer descending and edited the first visible row (Gamma); the editor
    # still reports Gamma's position in the frame it was given: 2.
    f = frame()
    [command] = edits_to_commands(f, state({"2": {"active": True}}))
    assert command.mapping_id == UUID(f.loc[2, "id"])
    assert command.expected_version == 2
    assert command.active is True and command.circuit_id is None


def test_edits_back_to_the_original_value_are_no_ops():
    edits = {0: {"circuit_id": " H1 "}, 1: {"active": True}, 2: {"active": False}}
    assert edits_to_commands(frame(), state(edits)) == []


def test_a_cleared_circuit_is_sent_as_empty_so_the_service_refuses_it_visibly():
    [command] = edits_to_commands(frame(), state({0: {"circuit_id": None}}))
    assert command.circuit_id == ""


def test_a_cleared_active_cell_changes_nothing():
    assert edits_to_commands(frame(), state({0: {"active": None}})) == []


def test_string_booleans_and_several_rows_come_in_row_order():
    commands = edits_to_commands(
        frame(), state({2: {"active": "true"}, 0: {"active": "false", "circuit_id": "H2"}})
    )
    assert [(c.circuit_id, c.active) for c in commands] == [("H2", False), (None, True)]


def test_other_columns_added_rows_deleted_rows_and_stale_positions_are_ignored():
    editor = {
        "edited_rows": {0: {"customer_name": "Hacked"}, 9: {"circuit_id": "H9"}},
        "added_rows": [{"circuit_id": "H5"}],
        "deleted_rows": [1],
    }
    assert edits_to_commands(frame(), editor) == []
