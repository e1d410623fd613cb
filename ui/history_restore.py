"""Restore a mapping from the History page: pick a change of a mapping on this page, say whether a
different circuit is a correction or a move, and the mapping gets that state back as a new change
(with the usual stale-edit check); past events are offered, never changed by themselves. A deleted
mapping comes back under its old id with the state chosen."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.errors import NotFound, ServiceError
from ctm.mappings import get_mapping, restore_mapping
from ui import circuit_change_question, past_events

MAPPING_TABLE = "customer_transformer_matching"


def restore_section(engine: Engine, identity: Identity, rows: pd.DataFrame) -> None:
    past_events.show_panel(engine, identity)
    candidates = rows.loc[rows["table_name"] == MAPPING_TABLE]
    if candidates.empty:
        return
    st.divider()
    st.markdown("**Restore a mapping to an earlier state**")
    labels = {
        int(r.id): f"{r.changed_at:%Y-%m-%d %H:%M} · {r.subject} · {r.action_label}: {r.changes}"
        for r in candidates.itertuples()
    }
    chosen = st.selectbox(
        "State after this change",
        list(labels),
        index=None,
        format_func=labels.get,
        key="restore_entry",
        placeholder="Choose a change of a mapping",
    )
    if chosen is None:
        return
    entry = candidates.loc[candidates["id"] == chosen].iloc[0]
    try:
        current = get_mapping(engine, identity, UUID(entry["row_id"]))
    except NotFound:
        current = None  # deleted: restoring adds it again
    except ServiceError as exc:
        st.error(str(exc))
        return
    if current is None:
        st.caption(
            "Now: deleted. Restoring adds it again under its old id with this state"
            " (a new change in the history)."
        )
        _confirm(engine, identity, int(chosen), None, None, None)
        return
    st.caption(
        f"Now: {current.substation_name} / {current.circuit_id}, "
        f"{'active' if current.active else 'inactive'}"
        + (f", connected since {current.connected_since}" if current.connected_since else "")
        + (f", disconnected on {current.disconnected_on}" if current.disconnected_on else "")
        + f" (version {current.version})"
    )
    how, moved_on = circuit_change_question.ask("If the circuit differs", "restore_how")
    _confirm(engine, identity, int(chosen), current.version, how, moved_on)


def _confirm(
    engine: Engine,
    identity: Identity,
    history_id: int,
    version: int | None,
    how: str | None,
    moved_on: date | None,
) -> None:
    """The confirm button; `version` None restores a deleted mapping."""
    if st.button("Restore this state", type="primary", key="restore_confirm"):
        try:
            change = restore_mapping(
                engine, identity, history_id, version, how=how, moved_on=moved_on
            )
        except ServiceError as exc:
            st.error(str(exc))
        else:
            past_events.offer(change.previews)
            st.session_state.pop("restore_entry", None)
            st.toast(
                f"Restored {change.mapping.customer_name} to "
                f"{change.mapping.substation_name} / {change.mapping.circuit_id}",
                icon=":material/check_circle:",
            )
            st.rerun()
