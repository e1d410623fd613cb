"""Data Maintenance → Customer Transformer Matching: which critical customer hangs off which
substation circuit. Filters in the sidebar (and the URL), one page of rows at a time; admins and
operators edit circuit and Active inline and Save, add, deactivate (and admins delete)."""

import functools
from dataclasses import replace
from datetime import date

import streamlit as st

from ctm.imports.workbooks import mappings_export_xlsx
from ctm.mappings import MappingFilter, circuits_of_substation
from ctm.roles import Action, can
from ui import circuit_change_question, downloads, import_panel, past_events
from ui import mapping_dialogs as dialogs
from ui import mapping_grid as grid_ui
from ui.empty_states import first_steps
from ui.feedback import service_errors
from ui.mapping_filters import PAGE_SIZE, page_number_input, sidebar_filters
from ui.session import require_user, user_fragment

engine, identity = require_user()
can_edit = can(identity.role, Action.EDIT_MAPPINGS)

st.title("Customer Transformer Matching")
st.caption(
    "Every customer listed here is a critical customer: when a PQ event hits a substation "
    "circuit, the active mappings on it decide which customers the event is shown against."
)
dialogs.show_pending_toast()

with service_errors():
    filters, _circuits = sidebar_filters(engine, identity)
    stats, stats_time = grid_ui.statistics(engine, identity)

# The tiles count every mapping (not the filtered rows): one grouped query, kept a few minutes.
st.caption(f"All mappings, whatever the filters · counted at {stats_time:%H:%M}")
tiles = st.columns(4)
tiles[0].metric("Active mappings", f"{stats.active_mappings:,}")
tiles[1].metric("Mapped customers", f"{stats.mapped_customers:,}")
tiles[2].metric("Circuits covered", f"{stats.circuits_covered:,}")
tiles[3].metric(
    "Substations with mappings",
    f"{int((stats.by_substation['active_mappings'] > 0).sum()):,} of {len(stats.by_substation):,}",
)


def build_export(filters: MappingFilter) -> bytes:
    # Sheet 1 is an import file (current mappings), sheet 2 the ended periods.
    return mappings_export_xlsx(engine, identity, filters)


def pick_row(slot, grid: grid_ui.GridPage):
    """A mapping of this page to act on (or None)."""
    rows = grid.view
    labels = dict(
        zip(
            rows["id"],
            rows["customer"]
            + " — "
            + rows["substation_name"]
            + " / "
            + rows["circuit_id"]
            + rows["active"].map({True: "", False: " (inactive)"}),
            strict=True,
        )
    )
    target = slot.selectbox(
        "Mapping on this page",
        list(labels),
        index=None,
        format_func=labels.get,
        key=f"target-{grid.key}",
        placeholder="Choose a mapping",
    )
    return rows.loc[rows["id"] == target].iloc[0] if target else None


def history_links(chosen) -> None:
    """Open the History page filtered to the chosen mapping, or to its customer."""
    if chosen is None:
        return
    links = st.columns([1, 1.4, 4])
    links[0].page_link(
        "views/history.py",
        label="History",
        icon=":material/history:",
        query_params={"row": chosen["id"]},
    )
    links[1].page_link(
        "views/history.py",
        label="Customer history",
        icon=":material/person_search:",
        query_params={"account": chosen["account_number"]},
    )


@user_fragment
def toolbar_section(filters: MappingFilter) -> None:
    """Add mapping with its dialog, Bulk import with its panel, Export: opening the dialog or the
    panel reruns only this part (a finished dialog or import reruns the page, so the tiles and
    the grid show the change)."""
    toolbar = st.columns(
        [1.2, 1.2, 1.4, 4] if can_edit else [1.4, 6.6], vertical_alignment="center"
    )
    export_slot = toolbar[2] if can_edit else toolbar[0]
    if can_edit:
        toolbar[0].button(
            "Add mapping",
            icon=":material/add:",
            key="open_add",
            on_click=dialogs.open_dialog,
            args=(dialogs.RowAction("add"),),
        )
        toolbar[1].button(
            "Bulk import",
            icon=":material/upload_file:",
            key="bulk_import",
            on_click=import_panel.toggle,
            help="Add or change many mappings from an Excel or CSV file",
        )
    downloads.excel_button(
        "Export to Excel",
        functools.partial(build_export, filters),
        f"ctm_mappings_{date.today().isoformat()}.xlsx",
        slot=export_slot,
        key="export",
        help="All rows of the current filters, not only this page",
    )

    if can_edit:
        import_panel.show(engine, identity)
        with service_errors():
            dialogs.show_open_dialog(engine, identity, filters.substation_id, dialogs.ADD_KINDS)


@user_fragment
def rows_section(filters: MappingFilter) -> None:
    """The pager, the grid and what acts on its rows: a page change, an edit, a picked row or a
    row's dialog reruns only this part (a save or a finished dialog reruns the page)."""
    pager = st.columns([1, 5], vertical_alignment="center")
    with pager[0]:
        requested_page = page_number_input()
    with service_errors():
        grid = grid_ui.load_page(engine, identity, filters, requested_page)
    pages = max(1, (grid.total - 1) // PAGE_SIZE + 1)
    first = (grid.page - 1) * PAGE_SIZE + 1 if grid.total else 0
    last = min(grid.page * PAGE_SIZE, grid.total)
    pager[1].caption(f"Page {grid.page} of {pages:,} · rows {first:,}–{last:,} of {grid.total:,}")
    grid_ui.show_outcomes()
    if can_edit:
        # After an add, re-activation, move, correction or a past end: the past events it concerns.
        with service_errors(stop=False):
            past_events.show_panel(engine, identity)
    if grid.total == 0 and filters != MappingFilter():
        st.info("No mappings match these filters.")
    elif grid.total == 0:
        st.info(
            "No active mappings yet. A mapping says which critical customer hangs off which substation "
            "circuit: "
            + (
                "add the first one with Add mapping above, or load many at once from a file."
                if can_edit
                else "an administrator or operator adds them."
            )
        )
        first_steps(identity, ("substations", "circuits", "customers", "import"))
    elif not can_edit:
        st.caption("Read-only: viewers can look at mappings but not change them.")
        grid_ui.show_read_only(grid)
        history_links(pick_row(st, grid))
    else:
        # The grid offers the circuits a mapping may use: registered and not retired.
        editable_circuits = (
            circuits_of_substation(engine, identity, filters.substation_id)
            if filters.substation_id
            else None
        )
        if editable_circuits is None:
            st.caption(
                "To change circuits, choose a substation in the sidebar: circuit names repeat "
                "across substations. Active can be changed here."
            )
        grid_ui.show_editor(grid, editable_circuits)
        circuit_change, moved_on = "correction", None
        if editable_circuits is not None:
            how = st.columns([2.2, 1, 1.8], vertical_alignment="bottom")
            circuit_change, moved_on = circuit_change_question.ask(
                "A changed circuit is", "circuit_change", radio_slot=how[0], date_slot=how[1]
            )
        actions = st.columns([1.3, 1, 3.2], vertical_alignment="bottom")
        if actions[0].button("Save changes", type="primary", icon=":material/save:", key="save"):
            with service_errors():
                outcomes = grid_ui.save_edits(
                    engine, identity, grid, circuit_change=circuit_change, moved_on=moved_on
                )
            if outcomes is None:
                st.info("Nothing to save: change a circuit or an Active box in the grid first.")
            else:
                st.session_state[grid_ui.OUTCOMES] = outcomes
                grid_ui.next_generation()
                st.rerun()
        actions[1].button(
            "Discard edits",
            key="reload",
            on_click=grid_ui.next_generation,
            help="Drop unsaved edits and reload the rows from the database",
        )

        st.divider()
        st.markdown("**Deactivate, re-activate, delete a mapping or see its history**")
        row_cols = st.columns([4, 1.2, 1.2, 1.6], vertical_alignment="bottom")
        chosen = pick_row(row_cols[0], grid)
        action = None
        if chosen is not None:
            action = dialogs.RowAction(
                "deactivate",
                mapping_id=chosen["id"],
                version=int(chosen["version"]),
                customer=chosen["customer"],
                account_number=chosen["account_number"],
                place=f"{chosen['substation_name']} / {chosen['circuit_id']}",
            )
        row_cols[1].button(
            "Deactivate…",
            key="open_deactivate",
            disabled=chosen is None or not bool(chosen["active"]),
            on_click=dialogs.open_dialog,
            args=(action,),
        )
        row_cols[2].button(
            "Re-activate…",
            key="open_reactivate",
            disabled=chosen is None or bool(chosen["active"]),
            on_click=dialogs.open_dialog,
            args=(replace(action, kind="reactivate") if action else None,),
            help="Map the customer to this circuit again from a day on (a new period)",
        )
        history_links(chosen)
        if can(identity.role, Action.DELETE_MAPPINGS):
            row_cols[3].button(
                "Delete permanently…",
                key="open_delete",
                icon=":material/delete_forever:",
                disabled=chosen is None,
                on_click=dialogs.open_dialog,
                args=(replace(action, kind="delete") if action else None,),
            )

    if can_edit:
        with service_errors():
            dialogs.show_open_dialog(engine, identity, filters.substation_id, dialogs.ROW_KINDS)


toolbar_section(filters)
rows_section(filters)

with st.expander("Mappings by substation"):
    by_substation = stats.by_substation.rename(
        columns={
            "substation_name": "Substation",
            "active_mappings": "Active mappings",
            "mapped_customers": "Mapped customers",
            "circuits_covered": "Circuits covered",
        }
    )
    st.dataframe(
        by_substation.drop(columns=["substation_id"], errors="ignore"),
        hide_index=True,
        width="stretch",
    )
