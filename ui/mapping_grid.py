"""The mapping grid: one page of rows from the database, editable (circuit, active) for admins
and operators, read-only for viewers, and Save turning edits into service calls row by row.

The frame shown under one editor key is kept in the session and reused until the key changes
(filters, page, a save, Reload), so an edit position always refers to the row the user saw.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from ctm.clock import time_zone_for
from ctm.db import Identity
from ctm.errors import ServiceError
from ctm.grid_commands import UpdateCommand, edits_to_commands
from ctm.mappings import (
    MappingFilter,
    MappingStats,
    correct_mapping,
    end_mapping,
    list_mappings,
    mapping_statistics,
    move_mapping,
    reactivate_mapping,
)
from ctm.units import day_text
from ui import past_events
from ui.mapping_filters import PAGE_SIZE, filter_token

GRID_STATE = "ctm_grid"
# (filter token and generation, counted at, per-circuit counts) of the last page read: another
# page of the same filter within COUNTS_REUSE_SECONDS reuses them instead of counting every
# matching mapping again (most of a page change's time at 100,000 mappings). A change made here
# starts a new generation, so it is always counted; others' changes show within that time.
COUNTS = "ctm_grid_counts"
COUNTS_REUSE_SECONDS = 20
SAVE_COUNTER = "ctm_grid_generation"
OUTCOMES = "ctm_save_outcomes"
SHOWN_COLUMNS = (
    "customer",
    "customer_type",
    "substation_name",
    "circuit_id",
    "active",
    "connected_since",
    "disconnected_on",
    "updated_by_name",
    "updated_at",
)


@dataclass
class GridPage:
    """The rows under one editor key, as handed to the editor, and the total they belong to."""

    key: str
    view: pd.DataFrame
    total: int
    page: int


def generation() -> int:
    return int(st.session_state.get(SAVE_COUNTER, 0))


def next_generation() -> None:
    """Give the editor a new key: pending edits are dropped and the rows (and tiles) reload."""
    st.session_state[SAVE_COUNTER] = generation() + 1
    st.session_state.pop(GRID_STATE, None)
    statistics.clear()


@st.cache_data(ttl=300, show_spinner=False)
def statistics(_engine: Engine, identity: Identity) -> tuple[MappingStats, datetime]:
    """The tiles' figures and when they were counted: one grouped query over every mapping
    (1-2 s at 100,000 mappings on a busy machine), so kept five minutes per user (and dropped
    after any change made here) instead of being recounted on every deep link and rerun; the page
    says when they were counted."""
    return mapping_statistics(_engine, identity), datetime.now().astimezone()


def editor_key(filters: MappingFilter, page: int) -> str:
    digest = hashlib.sha1(filter_token(filters).encode()).hexdigest()[:10]
    return f"grid-{digest}-p{page}-g{generation()}"


def to_view(rows: pd.DataFrame, zone: ZoneInfo | None = None) -> pd.DataFrame:
    """The service's rows in the shape the grid shows (id and version kept, not shown)."""
    view = pd.DataFrame(
        {
            "id": rows["id"].astype(str),
            "version": rows["version"].astype("int64"),
            "customer": rows["customer_name"] + " (" + rows["account_number"] + ")",
            "customer_name": rows["customer_name"],
            "account_number": rows["account_number"],
            "customer_type": rows["customer_type"],
            "substation_id": rows["substation_id"].astype(str),
            "substation_name": rows["substation_name"],
            "circuit_id": rows["circuit_id"],
            "active": rows["active"].astype(bool),
            # Shown as text: an empty date would read "None" in a date column.
            "connected_since": rows["connected_since"].map(day_text),
            "disconnected_on": rows["disconnected_on"].map(day_text),
            "updated_by_name": rows["updated_by_name"].fillna("—"),
            "updated_at": pd.to_datetime(rows["updated_at"], utc=True).dt.tz_convert(
                zone or ZoneInfo("UTC")
            ),
        }
    )
    return view.reset_index(drop=True)


def load_page(engine: Engine, identity: Identity, filters: MappingFilter, page: int) -> GridPage:
    """The rows for this filter and page, from the session when the key is unchanged."""
    key = editor_key(filters, page)
    cached = st.session_state.get(GRID_STATE)
    if isinstance(cached, GridPage) and cached.key == key:
        return cached
    counts_key = (filter_token(filters), generation())
    held = st.session_state.get(COUNTS)
    reuse = (
        held[2]
        if held and held[0] == counts_key and time.monotonic() - held[1] < COUNTS_REUSE_SECONDS
        else None
    )
    with st.spinner("Loading mappings…"):
        result = list_mappings(
            engine,
            identity,
            filters,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            circuits=reuse,
        )
    if reuse is None:
        st.session_state[COUNTS] = (counts_key, time.monotonic(), result.circuits)
    if result.total and (page - 1) * PAGE_SIZE >= result.total:
        # The page asked for (e.g. from an old link) is past the end: show the last one.
        last = (result.total - 1) // PAGE_SIZE + 1
        return load_page(engine, identity, filters, last)
    zone = time_zone_for(engine, identity)
    grid = GridPage(key=key, view=to_view(result.rows, zone), total=result.total, page=page)
    st.session_state[GRID_STATE] = grid
    return grid


def column_config(circuits: list[str] | None) -> dict:
    """Column titles and kinds; the circuit is a dropdown of the filtered substation's circuits."""
    config = {
        # Widths in pixels that fit 1400 px with the sidebar open: "large" for the customer
        # squeezed Type and Updated at off the right edge.
        "customer": st.column_config.TextColumn("Customer", width=190),
        "customer_type": st.column_config.TextColumn("Type", width=85),
        "substation_name": st.column_config.TextColumn("Substation", width=110),
        "circuit_id": st.column_config.TextColumn("Circuit", width=55),
        "active": st.column_config.CheckboxColumn("Active", width=65),
        "connected_since": st.column_config.TextColumn(
            "Connected since", help="Empty: as far back as the events go", width=100
        ),
        "disconnected_on": st.column_config.TextColumn(
            "Disconnected on",
            help="First day it no longer applies; empty: still applies",
            width=105,
        ),
        "updated_by_name": st.column_config.TextColumn("Updated by", width=95),
        "updated_at": st.column_config.DatetimeColumn(
            "Updated at", format="YYYY-MM-DD HH:mm", width=120
        ),
    }
    if circuits is not None:
        config["circuit_id"] = st.column_config.SelectboxColumn(
            "Circuit", options=circuits, required=True, width=55
        )
    return config


def show_read_only(grid: GridPage) -> None:
    st.dataframe(
        grid.view,
        column_order=SHOWN_COLUMNS,
        column_config=column_config(None),
        hide_index=True,
        width="stretch",
    )


def show_editor(grid: GridPage, circuits: list[str] | None) -> None:
    """The editable grid; edits stay in the browser until Save (on_change="ignore")."""
    disabled = [
        "customer",
        "customer_type",
        "substation_name",
        "connected_since",
        "disconnected_on",
        "updated_by_name",
        "updated_at",
    ]
    if circuits is None:
        disabled.append("circuit_id")
    st.data_editor(
        grid.view,
        key=grid.key,
        column_order=SHOWN_COLUMNS,
        column_config=column_config(circuits),
        disabled=disabled,
        hide_index=True,
        num_rows="fixed",
        on_change="ignore",
        width="stretch",
    )


def _describe(command: UpdateCommand, circuit_change: str, moved_on: date | None) -> str:
    changes = []
    if command.circuit_id is not None:
        how = (
            f"moved on {(moved_on or date.today()).isoformat()}"
            if circuit_change == "moved"
            else "corrected"
        )
        changes.append(f"circuit → {command.circuit_id or '(empty)'} ({how})")
    if command.active is not None:
        changes.append("re-activated (new period)" if command.active else "deactivated today")
    return ", ".join(changes)


def save_edits(
    engine: Engine,
    identity: Identity,
    grid: GridPage,
    *,
    circuit_change: str = "correction",
    moved_on: date | None = None,
) -> list[dict] | None:
    """Send every edited row to the services; one outcome per row (None: nothing edited).

    A new circuit is a correction (the row changes in place) or a move on `moved_on` (the row ends
    that day and a new row starts on the new circuit); unticking Active ends the mapping today,
    ticking it starts a new period. Past events the changes reach are offered on the page."""
    commands = edits_to_commands(grid.view, st.session_state.get(grid.key))
    if not commands:
        return None
    outcomes = []
    previews = []
    with st.spinner(f"Saving {len(commands)} change(s)…"):
        for command in commands:
            try:
                previews.extend(
                    _save_one(engine, identity, grid, command, circuit_change, moved_on)
                )
                result, reason = "Saved", _describe(command, circuit_change, moved_on)
            except ServiceError as exc:
                result, reason = "Refused", str(exc)
            outcomes.append({"Mapping": command.label, "Result": result, "Details": reason})
    past_events.offer(previews)
    return outcomes


def _save_one(
    engine: Engine,
    identity: Identity,
    grid: GridPage,
    command: UpdateCommand,
    circuit_change: str,
    moved_on: date | None,
) -> list:
    previews: list = []
    mapping_id, version = command.mapping_id, command.expected_version
    if command.circuit_id is not None:
        row = grid.view.loc[grid.view["id"] == str(mapping_id)].iloc[0]
        substation_id = UUID(str(row["substation_id"]))
        if circuit_change == "moved":
            change = move_mapping(
                engine, identity, mapping_id, version, substation_id, command.circuit_id, moved_on
            )
        else:
            change = correct_mapping(
                engine, identity, mapping_id, version, substation_id, command.circuit_id
            )
        previews.extend(change.previews)
        mapping_id, version = change.mapping.id, change.mapping.version
    if command.active is False:
        previews.extend(end_mapping(engine, identity, mapping_id, version).previews)
    elif command.active is True:
        previews.extend(reactivate_mapping(engine, identity, mapping_id, version).previews)
    return previews


def show_outcomes() -> None:
    """The last Save's outcome, said once after the grid reloaded: a toast when every change was
    saved; a warning and the refused rows with their reasons when something was refused."""
    outcomes = st.session_state.pop(OUTCOMES, None)
    if not outcomes:
        return
    refused = [o for o in outcomes if o["Result"] == "Refused"]
    saved = len(outcomes) - len(refused)
    if not refused:
        st.toast(f"Saved {saved} change(s)", icon=":material/check_circle:")
        return
    st.warning(f"Saved {saved} change(s); {len(refused)} refused:")
    st.dataframe(pd.DataFrame(refused), hide_index=True, width="stretch")
