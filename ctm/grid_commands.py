"""Turn st.data_editor's edit state (keyed by row *position*) into update commands keyed by row id
and the version the user saw. Pure: no Streamlit, no database, so it is tested on its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pandas as pd

EDITABLE_COLUMNS = ("circuit_id", "active")


@dataclass(frozen=True)
class UpdateCommand:
    """One row's change: None means "leave as is"; an empty circuit means the user cleared it
    (the service refuses that with a message, so the user sees why nothing was saved)."""

    mapping_id: UUID
    expected_version: int
    circuit_id: str | None
    active: bool | None
    label: str


def _as_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        return None
    return bool(value)


def _as_circuit(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def _label(row: pd.Series) -> str:
    if "customer_name" in row.index:
        customer = f"{row['customer_name']} ({row.get('account_number', '')})"
    else:
        customer = str(row.get("customer", ""))
    place = " / ".join(
        str(row[c]) for c in ("substation_name", "circuit_id") if c in row.index and row[c]
    )
    return f"{customer} — {place}" if place else customer


def edits_to_commands(
    frame: pd.DataFrame, editor_state: Mapping[str, Any] | None
) -> list[UpdateCommand]:
    """Commands for every row whose circuit or active flag really changed.

    `frame` must be the very frame handed to st.data_editor in this run (positions index it, even
    when the user sorted the grid); it needs the columns id, version, circuit_id and active.
    Unchanged values, edits of other columns, positions outside the frame, added and deleted rows
    are ignored. Commands come in row order.
    """
    if not editor_state:
        return []
    edited = editor_state.get("edited_rows") or {}
    commands: list[UpdateCommand] = []
    for position in sorted(int(p) for p in edited):
        if not 0 <= position < len(frame):
            continue
        changes = edited.get(position, edited.get(str(position))) or {}
        row = frame.iloc[position]
        circuit: str | None = None
        active: bool | None = None
        if "circuit_id" in changes:
            new_circuit = _as_circuit(changes["circuit_id"])
            if new_circuit != _as_circuit(row["circuit_id"]):
                circuit = new_circuit
        if "active" in changes:
            new_active = _as_bool(changes["active"])
            if new_active is not None and new_active != bool(row["active"]):
                active = new_active
        if circuit is None and active is None:
            continue
        commands.append(
            UpdateCommand(
                mapping_id=row["id"] if isinstance(row["id"], UUID) else UUID(str(row["id"])),
                expected_version=int(row["version"]),
                circuit_id=circuit,
                active=active,
                label=_label(row),
            )
        )
    return commands
