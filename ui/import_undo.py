"""The History page filtered to an import's batch: what the import was (file, who, when, counts),
whether it was undone, and — for whoever may import that kind — "Undo this import", a dialog that
previews the rows removed, restored and kept, then applies it and says what happened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.imports.undo import ImportRun, import_run, may_undo, preview_undo, undo_import
from ui.feedback import service_errors

DIALOG = "ctm_undo_batch"  # the batch whose undo dialog is open
OUTCOME = "ctm_undo_outcome"  # what the last undo did, shown once after the rerun
PLAN = "ctm_undo_plan"  # the dialog's preview, kept while it is open (the undo checks again)


def _close() -> None:
    st.session_state.pop(DIALOG, None)
    st.session_state.pop(PLAN, None)


def _open(batch_id: UUID) -> None:
    st.session_state[DIALOG] = batch_id


def batch_section(
    engine: Engine, identity: Identity, batch_id: UUID, show: Callable[[UUID], None]
) -> None:
    """Above the History's rows when it is filtered to `batch_id`; `show` switches the page's
    filter to another batch (the undo of this import, or the import an undo reverted)."""
    outcome = st.session_state.pop(OUTCOME, None)
    if outcome:
        st.success(outcome, icon=":material/undo:")
    with service_errors():
        run = import_run(engine, identity, batch_id)
    if run is None:
        return  # a batch without an import record (e.g. written by SQL): just its rows

    with st.container(border=True, key="import_batch"):
        bar = st.columns([5, 1.6], vertical_alignment="center")
        bar[0].markdown(_describe(run))
        other = None  # the batch of the undone import, or of this import's undo
        if run.is_undo and run.undoes_batch is not None:
            other = ("See the undone import", "undo_see_original", run.undoes_batch)
        elif run.undone_by_batch is not None:
            bar[0].caption(
                f"Undone on {_utc(run.undone_at)} by {run.undone_by}:"
                " its rows are back as they were before it."
            )
            other = ("See the undo", "undo_see_undo", run.undone_by_batch)
        if other:
            label, key, batch = other
            bar[1].button(label, key=key, on_click=show, args=(batch,), icon=":material/history:")
        elif may_undo(identity.role, run):
            bar[1].button(
                "Undo this import",
                key="undo_import",
                on_click=_open,
                args=(batch_id,),
                icon=":material/undo:",
                help="Puts every row this import touched back as it was before it",
            )
    if st.session_state.get(DIALOG) == batch_id and may_undo(identity.role, run):
        _undo_dialog(engine, identity, batch_id)


def _utc(instant: datetime) -> str:
    """As the History's table shows times."""
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} (UTC)"


def _describe(run: ImportRun) -> str:
    when = _utc(run.imported_at)
    if run.is_undo:
        return (
            f"**Undo** of the import of **{run.file_name}**, by {run.imported_by} on {when}: "
            f"{run.rows_changed:,} rows removed or restored, {run.rows_unchanged:,} kept."
        )
    return (
        f"**Import of {run.kind}** from **{run.file_name}**, by {run.imported_by} on {when}: "
        f"{run.rows_total:,} rows — {run.rows_new:,} new, {run.rows_changed:,} changed, "
        f"{run.rows_unchanged:,} unchanged."
    )


@st.dialog("Undo this import", width="medium", on_dismiss=_close)
def _undo_dialog(engine: Engine, identity: Identity, batch_id: UUID) -> None:
    plan = st.session_state.get(PLAN)
    if plan is None or plan.batch_id != batch_id:
        with service_errors():
            plan = preview_undo(engine, identity, batch_id)
        st.session_state[PLAN] = plan
    st.markdown(
        f"Put every row the import of **{plan.file_name}** touched back as it was before it. "
        "This is one change of its own in the History; nothing else is touched."
    )
    tiles = st.columns(3)
    tiles[0].metric("Rows removed", f"{plan.total_removed:,}")
    tiles[1].metric("Rows restored", f"{plan.total_restored:,}")
    tiles[2].metric("Rows kept", f"{len(plan.kept):,}")
    st.caption(f"The undo {plan.summary_line()}.")
    if plan.kept:
        st.info(
            "Kept because other rows refer to them now (they stay as the import made them): "
            + "; ".join(plan.kept)
        )
    left, right = st.columns(2)
    if left.button("Undo import", type="primary", key="undo_confirm", width="stretch"):
        with service_errors():
            done = undo_import(engine, identity, batch_id)
        _close()
        st.session_state[OUTCOME] = (
            f"Undid the import of {done.file_name}: {done.summary_line()}"
            f" (batch {done.undo_batch_id})"
        )
        st.rerun()
    if right.button("Cancel", key="undo_cancel", width="stretch"):
        _close()
        st.rerun()
