"""The mapping page's sidebar filters and page number, bound to the URL query string
(bind="query-params") so a filtered view is a link that can be shared."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.db import Identity
from ctm.mappings import MappingFilter, circuits_of_substation
from ctm.reference import Substation, list_substations

PAGE_SIZE = 100
# Widget keys double as the query parameter names: /mappings?substation=North&circuit=H3&page=2
SUBSTATION, CIRCUIT, CUSTOMER, INACTIVE, PAGE = (
    "substation",
    "circuit",
    "customer",
    "inactive",
    "page",
)


def _reset_page() -> None:
    st.session_state[PAGE] = 1


def _substation_changed() -> None:
    st.session_state[CIRCUIT] = None
    _reset_page()


def _labels(substations: list[Substation]) -> dict[UUID, str]:
    """Names as shown (and put in the URL); a name used twice gets its code to tell them apart."""
    counts = Counter(s.name for s in substations)
    return {
        s.id: f"{s.name} ({s.code})" if counts[s.name] > 1 and s.code else s.name
        for s in substations
    }


def sidebar_filters(engine: Engine, identity: Identity) -> tuple[MappingFilter, list[str]]:
    """Draw the filters; the filter they select and the chosen substation's circuits."""
    substations = list_substations(engine, identity)
    labels = _labels(substations)
    with st.sidebar:
        st.subheader("Filters")
        substation_id = st.selectbox(
            "Substation",
            [None, *labels],
            format_func=lambda v: "All substations" if v is None else labels[v],
            key=SUBSTATION,
            bind="query-params",
            on_change=_substation_changed,
            placeholder="All substations",
        )
        circuits = circuits_of_substation(engine, identity, substation_id) if substation_id else []
        circuit = st.selectbox(
            "Circuit",
            [None, *circuits],
            format_func=lambda v: "All circuits" if v is None else v,
            key=CIRCUIT,
            bind="query-params",
            on_change=_reset_page,
            placeholder="All circuits",
            disabled=substation_id is None,
            help="Choose a substation first: circuit names repeat across substations.",
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
        circuit_id=circuit if substation_id else None,
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
