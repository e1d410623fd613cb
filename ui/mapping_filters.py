"""The mapping page's sidebar filters and page number, bound to the URL query string
(bind="query-params") so a filtered view is a link that can be shared."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.mappings import MappingFilter
from ctm.reference import list_substations
from ui.place_filters import substation_and_circuit, substation_labels

PAGE_SIZE = 100
# Widget keys double as the query parameter names: /mappings?substation=North&circuit=H3&page=2
CUSTOMER, INACTIVE, PAGE = "customer", "inactive", "page"


def _reset_page() -> None:
    st.session_state[PAGE] = 1


def sidebar_filters(engine: Engine, identity: Identity) -> tuple[MappingFilter, list[str]]:
    """Draw the filters; the filter they select and the chosen substation's circuits."""
    labels = substation_labels(list_substations(engine, identity))
    with st.sidebar:
        st.subheader("Filters")
        substation_id, circuit, circuits = substation_and_circuit(
            engine, identity, labels, on_change=_reset_page
        )
        customer = st.text_input(
            "Customer",
            key=CUSTOMER,
            bind="query-params",
            on_change=_reset_page,
            placeholder="Name or account number",
        )
        include_inactive = st.checkbox(
            "Show inactive mappings", key=INACTIVE, bind="query-params", on_change=_reset_page
        )
    filters = MappingFilter(
        substation_id=substation_id,
        circuit_id=circuit,
        customer_text=(customer or "").strip() or None,
        include_inactive=bool(include_inactive),
    )
    return filters, circuits


def page_number_input() -> int:
    """The requested page (1-based, as in the URL); clamp it once the total is known."""
    value = st.number_input(
        "Page", min_value=1, step=1, key=PAGE, bind="query-params", label_visibility="collapsed"
    )
    return max(1, int(value or 1))


def filter_token(filters: MappingFilter) -> str:
    """A short stable text for the filter, used in widget keys."""
    return "|".join(
        str(v)
        for v in (
            filters.substation_id,
            filters.circuit_id,
            filters.customer_text,
            filters.include_inactive,
        )
    )
