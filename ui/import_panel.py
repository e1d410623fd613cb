"""The mapping page's bulk import: template downloads, upload (.xlsx/.csv, CSV encoding), the
preview (counts, every row's outcome and reason, filterable, downloadable) and Apply, which is
enabled only when no row has an error. Opens from the page's "Bulk import" button."""

from __future__ import annotations

import hashlib
from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from ctm import roles
from ctm.db import Identity
from ctm.errors import ServiceError
from ctm.imports.kinds import MAPPINGS
from ctm.imports.reading import MAX_BYTES, read_import_file
from ctm.imports.service import ImportPreview, ImportRefused, apply_import, preview_import
from ctm.imports.workbooks import preview_xlsx, template_csv, template_xlsx
from ui import downloads
from ui.mapping_grid import next_generation

OPEN = "ctm_import_open"
PREVIEW = "ctm_import_preview"
GENERATION = "ctm_import_generation"
RESULT = "ctm_import_result"
HISTORY_PAGE = "views/history.py"
AUTOMATIC = "automatic"
ENCODINGS = {
    AUTOMATIC: "Automatic: UTF-8, UTF-16 (with BOM), else Windows-1252",
    "cp1252": "Windows-1252 (Western European)",
    "big5": "Big5 (Traditional Chinese)",
    "gbk": "GBK (Simplified Chinese)",
    "shift_jis": "Shift JIS (Japanese)",
    "euc_kr": "EUC-KR (Korean)",
    "latin-1": "ISO-8859-1",
    "utf-8": "UTF-8",
}
OUTCOME_LABELS = {"new": "New", "changed": "Changed", "unchanged": "Unchanged", "error": "Error"}


def toggle() -> None:
    st.session_state[OPEN] = not st.session_state.get(OPEN, False)


def close() -> None:
    st.session_state[OPEN] = False
    _forget_file()


def _forget_file() -> None:
    st.session_state.pop(PREVIEW, None)
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1


def show(engine: Engine, identity: Identity) -> None:
    """The import panel, when open."""
    result = st.session_state.pop(RESULT, None)
    if result:
        message, batch_id = result
        st.success(message, icon=":material/task_alt:")
        # The History filtered to this import's batch: every row it changed, and its Undo.
        st.page_link(
            HISTORY_PAGE,
            label="See this import in the History",
            icon=":material/history:",
            query_params={"batch": str(batch_id)},
        )
    if not st.session_state.get(OPEN):
        return
    with st.container(border=True, key="import_panel"):
        head = st.columns([6, 1], vertical_alignment="center")
        head[0].subheader("Bulk import of mappings")
        head[1].button("Close", key="import_close", on_click=close)
        st.caption(
            "One row per customer and circuit: account number, substation (name or code), "
            "circuit, and the customer name for accounts not known yet. Every row or none: a "
            "file with any error changes nothing."
        )
        slots = st.columns([1, 1, 3])
        downloads.excel_button(
            "Template (.xlsx)",
            lambda: template_xlsx(engine, identity),
            "ctm_mapping_template.xlsx",
            slot=slots[0],
            key="import_template_xlsx",
        )
        slots[1].download_button(
            "Template (.csv)",
            data=template_csv(),
            file_name="ctm_mapping_template.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            key="import_template_csv",
        )
        options = st.columns([3, 2], vertical_alignment="bottom")
        uploaded = options[0].file_uploader(
            "File to import (.xlsx or .csv)",
            type=["xlsx", "csv", "txt"],
            key=f"import_file_{st.session_state.get(GENERATION, 0)}",
            max_upload_size=MAX_BYTES // (1024 * 1024),
        )
        encoding = options[1].selectbox(
            "Encoding (CSV only)",
            list(ENCODINGS),
            format_func=ENCODINGS.get,
            key="import_encoding",
            help="A CSV file with a BOM, or valid UTF-8, is read as such whatever you choose.",
        )
        sync = False
        if roles.can(identity.role, roles.Action.SYNC_IMPORT):
            sync = st.checkbox(
                "Sync: also end the current mappings of the file's substations that the file "
                "does not list",
                key="import_sync",
            )
        if uploaded is None:
            st.session_state.pop(PREVIEW, None)
            return
        data = uploaded.getvalue()
        key = (uploaded.name, hashlib.sha256(data).hexdigest(), encoding, sync)
        cached = st.session_state.get(PREVIEW)
        if cached is None or cached[0] != key:
            try:
                table = read_import_file(
                    data,
                    MAPPINGS,
                    file_name=uploaded.name,
                    encoding=None if encoding == AUTOMATIC else encoding,
                )
                preview = preview_import(engine, identity, table, sync=sync)
            except ServiceError as exc:
                st.error(str(exc), icon=":material/block:")
                return
            cached = (key, preview)
            st.session_state[PREVIEW] = cached
        _show_preview(engine, identity, cached[1], sync)


def _show_preview(engine: Engine, identity: Identity, preview: ImportPreview, sync: bool) -> None:
    file = preview.file
    how = f"{file.file_type.upper()}, header on {file.row_word} {file.header_row}"
    if file.encoding:
        how += f", encoding {file.encoding}"
    st.caption(f"{file.file_name}: {preview.total:,} rows ({how})")
    for note in file.notes:
        st.info(note)
    if file.ignored_columns:
        st.caption(f"Ignored columns: {', '.join(file.ignored_columns)}")
    tiles = st.columns(5 if sync else 4)
    tiles[0].metric("New", f"{preview.new:,}")
    tiles[1].metric("Changed", f"{preview.changed:,}")
    tiles[2].metric("Unchanged", f"{preview.unchanged:,}")
    tiles[3].metric("Errors", f"{preview.error_rows:,}")
    if sync:
        tiles[4].metric("Ended by sync", f"{len(preview.ended_by_sync):,}")
    shown = st.multiselect(
        "Show rows",
        list(OUTCOME_LABELS),
        default=["error"] if preview.error_rows else list(OUTCOME_LABELS),
        format_func=OUTCOME_LABELS.get,
        key="import_filter",
    )
    frame = preview.outcomes.loc[preview.outcomes["outcome"].isin(shown)]
    frame = frame.rename(
        columns={"row": file.row_word.title(), "outcome": "Outcome", "reason": "Reason"}
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    if sync and len(preview.ended_by_sync):
        with st.expander(f"Mappings sync would end ({len(preview.ended_by_sync):,})"):
            st.dataframe(preview.ended_by_sync, hide_index=True, width="stretch")
    actions = st.columns([1.3, 1.6, 3], vertical_alignment="center")
    apply_clicked = actions[0].button(
        "Apply import",
        type="primary",
        icon=":material/upload:",
        key="import_apply",
        disabled=preview.error_rows > 0
        or preview.new + preview.changed + len(preview.ended_by_sync) == 0,
        help="Writes every row in one transaction"
        if not preview.error_rows
        else "Fix the rows with errors first (download the preview, fix them, upload again)",
    )
    downloads.excel_button(
        "Preview (.xlsx)",
        lambda: preview_xlsx(preview),
        f"ctm_import_preview_{date.today().isoformat()}.xlsx",
        slot=actions[1],
        key="import_preview_download",
    )
    if preview.error_rows:
        actions[2].caption(
            f"{preview.error_rows:,} row(s) have errors: fix them in the file and upload it again."
        )
    if apply_clicked:
        try:
            done = apply_import(engine, identity, file, sync=sync)
        except ImportRefused as refused:
            # The data changed since the preview: show the new errors.
            st.session_state[PREVIEW] = (st.session_state[PREVIEW][0], refused.preview)
            st.error(str(refused), icon=":material/block:")
            return
        except ServiceError as exc:
            st.error(str(exc), icon=":material/block:")
            return
        st.session_state[RESULT] = (
            f"Imported {file.file_name}: {done.summary_line()} (batch {done.batch_id})",
            done.batch_id,
        )
        st.session_state[OPEN] = False
        _forget_file()
        next_generation()
        st.rerun()
