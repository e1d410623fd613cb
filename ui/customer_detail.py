"""One customer's detail on the Customers page: its figures, edit / close account / delete for the
roles that may, its mappings, and its PQ event history (presets, severity, paging, Excel)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from ctm import customers as svc
from ctm import roles
from ctm.db import Identity
from ctm.excel import dataframe_to_xlsx
from ctm.units import day_text
from ui import customer_pq_report, downloads
from ui import reference_forms as forms
from ui.dates import day_input
from ui.feedback import service_errors

HISTORY_PAGE_SIZE = 50
PRESET, RANGE, SEVERITY, HISTORY_PAGE = (
    "history_preset",
    "history_range",
    "history_severity",
    "history_page",
)
MAPPING_TITLES = {
    "substation_name": "Substation",
    "circuit_id": "Circuit",
    "active": "Current",
    "connected_since": "Connected since",
    "disconnected_on": "Disconnected on",
    "updated_at": "Updated at",
}


def _reset_history_page() -> None:
    st.session_state[HISTORY_PAGE] = 1


def show(engine: Engine, identity: Identity, customer: svc.Customer) -> None:
    """Draw the detail of `customer` (after a delete, the next run finds it gone)."""
    st.subheader(f"{customer.name} ({customer.account_number})")
    tiles = st.columns(5)
    tiles[0].metric("Type", customer.customer_type.capitalize())
    tiles[1].metric(
        "Contract demand (kVA)",
        "—" if customer.contract_demand_kva is None else f"{customer.contract_demand_kva:,.2f}",
    )
    tiles[2].metric("Critical flag", "Yes" if customer.critical_customer else "No")
    tiles[3].metric("Current mappings", f"{customer.current_mappings:,}")
    tiles[4].metric("PQ events that hit it", f"{customer.impacts:,}")
    if customer.address:
        st.caption(customer.address)
    _maintenance(engine, identity, customer)
    mappings_tab, history_tab, report_tab = st.tabs(["Mappings", "PQ event history", "PQ report"])
    with mappings_tab:
        _mappings(engine, identity, customer)
    with history_tab:
        period = history(engine, identity, customer)
    with report_tab:
        if period is None:
            st.info("Choose a period in the PQ event history tab.")
        else:
            customer_pq_report.show(engine, identity, customer.id, *period)


def _maintenance(engine: Engine, identity: Identity, customer: svc.Customer) -> None:
    if roles.can(identity.role, roles.Action.EDIT_CUSTOMERS):
        with st.expander("Edit customer", icon=":material/edit:"):
            data = forms.customer_form(f"edit_customer_{customer.id}", customer)
            if data is not None:
                with service_errors(stop=False):
                    saved = svc.update_customer(engine, identity, customer.id, data)
                    forms.say_after_rerun(f"Saved customer {saved.name}")
                    st.rerun()
    if roles.can(identity.role, roles.Action.EDIT_MAPPINGS) and customer.current_mappings:
        with st.expander("Close account", icon=":material/block:"):
            st.markdown(
                f"Ends the customer's {customer.current_mappings} current mapping(s) today: new "
                "events no longer list it; its PQ history stays."
            )
            if st.button("Close account", key=f"close_account_{customer.id}"):
                with service_errors(stop=False):
                    ended = svc.close_account(engine, identity, customer.id)
                    forms.say_after_rerun(
                        f"Closed the account of {customer.name}: {ended} mapping(s) ended"
                    )
                    st.rerun()
    if roles.can(identity.role, roles.Action.DELETE_CUSTOMERS):
        with st.expander("Delete customer", icon=":material/delete:"):
            st.caption(
                "Only a customer that no PQ event hit can be deleted; its mappings go with it."
            )
            if forms.confirmed_delete(
                f"delete_customer_{customer.id}", f"customer {customer.name}"
            ):
                with service_errors(stop=False):
                    svc.delete_customer(engine, identity, customer.id)
                    forms.say_after_rerun(f"Deleted customer {customer.name}")
                    st.rerun()


def _mappings(engine: Engine, identity: Identity, customer: svc.Customer) -> None:
    with service_errors():
        frame = svc.customer_mappings(engine, identity, customer.id)
    if frame.empty:
        st.info("This customer is not mapped to any circuit.")
        return
    for column in ("connected_since", "disconnected_on"):  # empty, not "None"
        frame[column] = frame[column].map(day_text)
    st.dataframe(
        frame[list(MAPPING_TITLES)].rename(columns=MAPPING_TITLES),
        hide_index=True,
        width="stretch",
        column_config={"Updated at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
        key=f"customer_mappings_{customer.id}",
    )


def history_period(today: date) -> tuple[date, date] | None:
    """The preset (and, for Custom, the date range) widgets; the chosen days or None."""
    cols = st.columns([1, 2, 2])
    preset = cols[0].selectbox(
        "Period",
        list(svc.PRESETS),
        index=list(svc.PRESETS).index("Last 12 months"),
        key=PRESET,
        on_change=_reset_history_page,
    )
    period = svc.preset_range(preset, today)
    if period is None:
        picked = day_input(
            cols[1],
            "From – to",
            value=svc.default_history_range(today),
            max_value=today,
            key=RANGE,
            on_change=_reset_history_page,
        )
        picked = tuple(picked) if picked else ()
        if len(picked) < 2:
            cols[1].caption("Choose the last day too.")
            return None
        period = (picked[0], picked[1])
    severities = cols[2].multiselect(
        "Severity",
        list(svc.SEVERITIES),
        format_func=str.capitalize,
        key=SEVERITY,
        on_change=_reset_history_page,
        placeholder="All severities",
    )
    st.session_state["_history_severities"] = tuple(severities)
    return period


def history(engine: Engine, identity: Identity, customer: svc.Customer) -> tuple[date, date] | None:
    """The events that hit the customer in the chosen period, one page at a time, and the Excel
    download of the whole period (file name: customer and dates); returns the period."""
    period = history_period(date.today())
    if period is None:
        return None
    severities = st.session_state.get("_history_severities", ())
    pager = st.columns([1, 3, 2], vertical_alignment="center")
    requested = pager[0].number_input(
        "History page", min_value=1, step=1, key=HISTORY_PAGE, label_visibility="collapsed"
    )
    requested = max(1, int(requested or 1))
    with service_errors():
        page = svc.customer_events(
            engine,
            identity,
            customer.id,
            *period,
            severities=severities,
            limit=HISTORY_PAGE_SIZE,
            offset=(requested - 1) * HISTORY_PAGE_SIZE,
        )
    pages = max(1, (page.total - 1) // HISTORY_PAGE_SIZE + 1)
    first = (requested - 1) * HISTORY_PAGE_SIZE + 1 if len(page.rows) else 0
    last = first + len(page.rows) - 1 if len(page.rows) else 0
    pager[1].caption(
        f"{period[0]:%Y-%m-%d} – {period[1]:%Y-%m-%d} · page {requested} of {pages:,} · "
        f"events {first:,}–{last:,} of {page.total:,}"
    )

    def build() -> bytes:
        everything = svc.customer_events(
            engine, identity, customer.id, *period, severities=severities, limit=None
        )
        frame = everything.rows.drop(columns=["event_id"])
        return dataframe_to_xlsx(frame, "PQ event history", column_titles=svc.HISTORY_TITLES)

    downloads.excel_button(
        "Download Excel",
        build,
        svc.history_file_name(customer, *period),
        slot=pager[2],
        key="history_download",
        disabled=page.total == 0,
    )
    if page.rows.empty:
        st.info("No PQ event hit this customer in this period.")
        return period
    shown = page.rows.drop(columns=["event_id"]).rename(columns=svc.HISTORY_TITLES)
    shown["Time"] = pd.to_datetime(shown["Time"], utc=True)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "Time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Estimated downtime (min)": st.column_config.NumberColumn(format="%.2f"),
        },
        key=f"customer_history_{customer.id}_{requested}",
    )
    return period
