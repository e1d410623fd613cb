"""Data Maintenance → Customers: search by name or account number, type and critical flag (in the
sidebar and the URL), one page at a time; admins and operators add and edit customers; each
customer's detail shows its mappings and the PQ events that hit it."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

from ctm import customers as svc
from ctm import roles
from ui import customer_detail
from ui import reference_forms as forms
from ui.feedback import service_errors
from ui.session import require_user

engine, identity = require_user()
can_edit = roles.can(identity.role, roles.Action.EDIT_CUSTOMERS)
PAGE_SIZE = 50
# Widget keys double as query parameter names: /customers?customer_search=acme&customer_type=industrial&page=2
# (not another page's keys: a key reused by another kind of widget loses its value on a switch)
TEXT, TYPE, CRITICAL, PAGE = "customer_search", "customer_type", "critical", "page"
OPEN = "open_customer"
LABEL_SEPARATOR = " · "
JUST_ADDED = "ctm_customer_just_added"
CRITICAL_CHOICES = {"all": "All customers", "yes": "Critical only", "no": "Not critical"}
TITLES = {
    "account_number": "Account number",
    "name": "Name",
    "customer_type": "Type",
    "critical_customer": "Critical",
    "contract_demand_kva": "Contract demand (kVA)",
    "current_mappings": "Current mappings",
    "address": "Address",
}


def customer_label(account_number: str, name: str) -> str:
    """How a customer is named in the picker and the URL (?customer=ACC-1 · Name)."""
    return f"{account_number}{LABEL_SEPARATOR}{name}"


def _reset_page() -> None:
    st.session_state[PAGE] = 1


st.title("Customers")
st.caption(
    "Every customer account. A customer with a current mapping is a critical customer for the "
    "event pages; the Critical flag is the account team's own marker."
)
forms.show_pending_toast()

with st.sidebar:
    st.subheader("Filters")
    text = st.text_input(
        "Customer",
        key=TEXT,
        bind="query-params",
        on_change=_reset_page,
        placeholder="Name or account number",
    )
    kind = st.selectbox(
        "Type",
        [None, *svc.CUSTOMER_TYPES],
        format_func=lambda v: "All types" if v is None else v.capitalize(),
        key=TYPE,
        bind="query-params",
        on_change=_reset_page,
    )
    critical = st.selectbox(
        "Critical flag",
        list(CRITICAL_CHOICES),
        format_func=CRITICAL_CHOICES.get,
        key=CRITICAL,
        bind="query-params",
        on_change=_reset_page,
    )
filters = svc.CustomerFilter(
    text=(text or "").strip() or None,
    customer_type=kind,
    critical={"yes": True, "no": False}.get(critical or "all"),
)

if can_edit:
    with st.expander("Add customer", icon=":material/person_add:"):
        data = forms.customer_form("add_customer", None)
        if data is not None:
            with service_errors(stop=False):
                added = svc.add_customer(engine, identity, data)
                forms.say_after_rerun(f"Added customer {added.name} ({added.account_number})")
                st.session_state[OPEN] = added.id
                st.session_state[JUST_ADDED] = added.account_number
                st.rerun()

pager = st.columns([1, 5], vertical_alignment="center")
requested = pager[0].number_input(
    "Page", min_value=1, step=1, key=PAGE, bind="query-params", label_visibility="collapsed"
)
requested = max(1, int(requested or 1))
with service_errors():
    page = svc.list_customers(
        engine, identity, filters, limit=PAGE_SIZE, offset=(requested - 1) * PAGE_SIZE
    )
    if page.rows.empty and page.total and requested > 1:
        requested = (page.total - 1) // PAGE_SIZE + 1
        page = svc.list_customers(
            engine, identity, filters, limit=PAGE_SIZE, offset=(requested - 1) * PAGE_SIZE
        )
pages = max(1, (page.total - 1) // PAGE_SIZE + 1)
first = (requested - 1) * PAGE_SIZE + 1 if len(page.rows) else 0
last = first + len(page.rows) - 1 if len(page.rows) else 0
total = f"{page.total:,}" if page.total_is_exact else f"more than {page.total:,}"
pages_text = f"{pages:,}" if page.total_is_exact else f"{pages:,}+"
pager[1].caption(f"Page {requested} of {pages_text} · customers {first:,}–{last:,} of {total}")

if page.rows.empty:
    st.info("No customer matches these filters." if page.total == 0 else "No customers here.")
else:
    st.dataframe(
        page.rows[list(TITLES)].rename(columns=TITLES),
        hide_index=True,
        width="stretch",
        column_config={
            "Contract demand (kVA)": st.column_config.NumberColumn(format="%.2f"),
        },
        key=f"customers_{requested}_{hash(filters)}",
    )

options: dict[UUID, str] = {
    row.id: customer_label(row.account_number, row.name) for row in page.rows.itertuples()
}
wanted = st.session_state.pop(JUST_ADDED, None) or st.query_params.get(OPEN)
if wanted and wanted not in options.values():
    # A link (or a customer just added) names a customer that is not on this page.
    with service_errors():
        linked = svc.find_customer(engine, identity, wanted.split(LABEL_SEPARATOR)[0])
    if linked is not None:
        options[linked.id] = customer_label(linked.account_number, linked.name)
chosen = st.selectbox(
    "Open customer",
    [None, *options],
    format_func=lambda i: (
        "Choose a customer on this page to see its mappings and PQ history"
        if i is None
        else options[i]
    ),
    key=OPEN,
    bind="query-params",
)
if chosen in options:
    with service_errors():
        customer = svc.get_customer(engine, identity, chosen)
    st.divider()
    customer_detail.show(engine, identity, customer)
