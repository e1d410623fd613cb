"""Data Maintenance → History: who changed what and when — mappings, customers, substations,
circuits and meters — filtered in the sidebar (bound to the URL, so "History" from a mapping, a
customer or an import is a link), paged, exported to Excel; admins and operators restore a
mapping's state and, filtered to an import's batch, undo that import."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import streamlit as st

from ctm import history as hist
from ctm import roles
from ctm.reference import list_substations
from ui import downloads, history_restore, import_undo
from ui.dates import day_input
from ui.feedback import service_errors
from ui.place_filters import substation_labels
from ui.session import require_user

engine, identity = require_user()
PAGE_SIZE = 50
# Widget keys double as query parameter names: /history?row=<mapping id>, /history?account=ACC-1.
# None is shared with another page's widgets (a key used on two pages keeps the first page's value).
WHO, TABLE, ACTION, SUBSTATION, CUSTOMER = "who", "table", "action", "place", "account"
DATE_FROM, DATE_TO, BATCH, ROW, PAGE = "from", "to", "batch", "row", "p"


def _reset_page() -> None:
    st.session_state[PAGE] = 1


def _uuid(text: str | None, what: str) -> UUID | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        st.error(f"{what}: {text!r} is not an id (expected something like 1b4e28ba-2fa1-…)")
        st.stop()
    raise AssertionError("unreachable")


st.title("History")
st.caption(
    "Every change to mappings, customers, substations, circuits and meters: who made it, when, "
    "from where (app, import, command line or plain SQL) and what changed. Nobody can edit it."
)

with service_errors():
    people = {str(p.id): p.name for p in hist.people(engine, identity)}
    substations = substation_labels(list_substations(engine, identity))

with st.sidebar:
    st.subheader("Filters")
    who = st.selectbox(
        "Who",
        [None, hist.SYSTEM, *people],
        format_func=lambda v: (
            "Everyone" if v is None else "System (no user)" if v == hist.SYSTEM else people[v]
        ),
        key=WHO,
        bind="query-params",
        on_change=_reset_page,
    )
    table = st.selectbox(
        "What",
        [None, *hist.TABLE_LABELS],
        format_func=lambda v: "Everything" if v is None else hist.TABLE_LABELS[v],
        key=TABLE,
        bind="query-params",
        on_change=_reset_page,
    )
    action = st.selectbox(
        "Action",
        [None, *hist.ACTIONS],
        format_func=lambda v: "Any" if v is None else hist.ACTION_LABELS[v],
        key=ACTION,
        bind="query-params",
        on_change=_reset_page,
    )
    substation_id = st.selectbox(
        "Substation",
        [None, *substations],
        format_func=lambda v: "All substations" if v is None else substations[v],
        key=SUBSTATION,
        bind="query-params",
        on_change=_reset_page,
    )
    account = st.text_input(
        "Customer account",
        key=CUSTOMER,
        bind="query-params",
        on_change=_reset_page,
        placeholder="Account number",
    )
    dates = st.columns(2)
    date_from = day_input(
        dates[0], "From", value=None, key=DATE_FROM, bind="query-params", on_change=_reset_page
    )
    date_to = day_input(
        dates[1], "To", value=None, key=DATE_TO, bind="query-params", on_change=_reset_page
    )
    batch = st.text_input("Import batch", key=BATCH, bind="query-params", on_change=_reset_page)
    row = st.text_input(
        "Row id", key=ROW, bind="query-params", on_change=_reset_page, help="A mapping's id, etc."
    )

customer_id = None
if (account or "").strip():
    with service_errors():
        customer_id = hist.customer_by_account(engine, identity, account)
filters = hist.HistoryFilter(
    who=UUID(who) if who and who != hist.SYSTEM else who,
    date_from=date_from,
    date_to=date_to,
    table_name=table,
    action=action,
    substation_id=substation_id,
    customer_id=customer_id,
    batch_id=_uuid(batch, "Import batch"),
    row_id=(row or "").strip() or None,
)


def _show_batch(batch_id: UUID) -> None:
    st.session_state[BATCH] = str(batch_id)
    _reset_page()


if filters.batch_id is not None:
    import_undo.batch_section(engine, identity, filters.batch_id, _show_batch)

requested = st.number_input(
    "Page", min_value=1, step=1, key=PAGE, bind="query-params", label_visibility="collapsed"
)
page_number = max(1, int(requested or 1))
with service_errors():
    result = hist.list_history(
        engine, identity, filters, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
    )
    if result.total and result.rows.empty:
        page_number = (result.total - 1) // PAGE_SIZE + 1
        result = hist.list_history(
            engine, identity, filters, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
        )
pages = max(1, (result.total - 1) // PAGE_SIZE + 1)
first = (page_number - 1) * PAGE_SIZE + 1 if result.total else 0
last = min(page_number * PAGE_SIZE, result.total)
bar = st.columns([4, 1.4], vertical_alignment="center")
bar[0].caption(f"Page {page_number} of {pages:,} · changes {first:,}–{last:,} of {result.total:,}")
downloads.excel_button(
    "Export to Excel",
    lambda: hist.history_xlsx(engine, identity, filters),
    f"ctm_history_{date.today().isoformat()}.xlsx",
    slot=bar[1],
    key="history_export",
    help="All changes of the current filters, not only this page",
)

if result.total == 0:
    st.info("No changes match these filters.")
    st.stop()

shown = result.rows.assign(changed_at=result.rows["changed_at"].dt.tz_convert("UTC"))
st.dataframe(
    shown,
    column_order=(
        "changed_at",
        "changed_by_name",
        "source",
        "kind",
        "action_label",
        "subject",
        "changes",
    ),
    column_config={
        "changed_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "changed_by_name": st.column_config.TextColumn("Who"),
        "source": st.column_config.TextColumn("Source", width="small"),
        "kind": st.column_config.TextColumn("What", width="small"),
        "action_label": st.column_config.TextColumn("Action", width="small"),
        "subject": st.column_config.TextColumn("Row", width="medium"),
        "changes": st.column_config.TextColumn("What changed", width="large"),
    },
    hide_index=True,
    width="stretch",
    key="history_table",
)

if roles.can(identity.role, roles.Action.EDIT_MAPPINGS):
    history_restore.restore_section(engine, identity, result.rows)
