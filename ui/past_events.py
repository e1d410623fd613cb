"""The past-events panel: after a mapping change reaches (or stops reaching) past events, the page
says how many and which, and one button applies exactly those impacts. Nothing happens to past
events without that click. Previews wait in the session until applied or dismissed."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.errors import ServiceError
from ctm.mappings import PastEvents, apply_past_events

PENDING = "ctm_past_events"
DONE = "ctm_past_events_done"


def offer(previews: tuple[PastEvents, ...] | list[PastEvents]) -> None:
    """Keep these previews for the panel (replacing older ones)."""
    st.session_state[PENDING] = [p for p in previews if p.count]


def _dismiss(index: int) -> None:
    pending = list(st.session_state.get(PENDING) or [])
    if 0 <= index < len(pending):
        pending.pop(index)
    st.session_state[PENDING] = pending


def show_panel(engine: Engine, identity: Identity) -> None:
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    pending: list[PastEvents] = list(st.session_state.get(PENDING) or [])
    for index, preview in enumerate(pending):
        with st.container(border=True, key=f"past_events_{index}"):
            st.warning(preview.message, icon=":material/history:")
            shown = preview.events.rename(
                columns={
                    "timestamp": "When",
                    "severity": "Severity",
                    "duration_ms": "Duration (ms)",
                    "impact_level": "Impact",
                }
            ).drop(columns=["id"])
            with st.expander(
                f"The {preview.count:,} event(s)"
                + (f" (newest {len(shown):,} shown)" if len(shown) < preview.count else "")
            ):
                st.dataframe(shown, hide_index=True, width="stretch")
            verb = "Add" if preview.mode == "add" else "Remove"
            left, right = st.columns([2, 1])
            if left.button(
                f"{verb} these {preview.count:,} impact(s)",
                type="primary",
                key=f"apply_past_events_{index}",
            ):
                try:
                    changed = apply_past_events(engine, identity, preview)
                except ServiceError as exc:
                    st.error(str(exc))
                else:
                    _dismiss(index)
                    past = "added to" if preview.mode == "add" else "removed from"
                    st.session_state[DONE] = (
                        f"{changed:,} past event(s) {past} {preview.customer}'s impacts"
                        + ("" if changed == preview.count else " (the others were already done)")
                    )
                    st.rerun()
            right.button(
                "Leave past events as they are",
                key=f"dismiss_past_events_{index}",
                on_click=_dismiss,
                args=(index,),
            )
