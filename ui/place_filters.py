"""The substation → circuit filter pair both list pages put in their sidebars, bound to the URL
(?substation=North&circuit=H3); circuit names repeat across substations, so a circuit is chosen
only within a substation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from uuid import UUID

import streamlit as st
from sqlalchemy.engine import Engine

from ctm.circuits import circuit_options
from ctm.db import Identity
from ctm.reference import Substation

# Widget keys double as the query parameter names.
SUBSTATION, CIRCUIT = "substation", "circuit"
# "All …" is a real option, not an empty box: with None as its value the browser showed a clear (×)
# button next to "All substations" after a rerun that set the value (a save, an event selection).
ALL = ""


def substation_labels(substations: list[Substation]) -> dict[UUID, str]:
    """Names as shown (and put in the URL); a name used twice gets its code to tell them apart."""
    counts = Counter(s.name for s in substations)
    return {
        s.id: f"{s.name} ({s.code})" if counts[s.name] > 1 and s.code else s.name
        for s in substations
    }


def substation_and_circuit(
    engine: Engine,
    identity: Identity,
    labels: dict[UUID, str],
    on_change: Callable[[], None],
) -> tuple[UUID | None, str | None, list[str]]:
    """Draw the pair (inside the caller's sidebar); the chosen substation, circuit (None unless a
    substation is chosen) and that substation's registered circuits (retired ones included and
    marked "(retired)": their events and mappings are still worth finding). `on_change` runs after either changes;
    a new substation also clears the circuit."""

    def substation_changed() -> None:
        st.session_state[CIRCUIT] = ALL
        on_change()

    if st.session_state.get(SUBSTATION, ALL) is None:
        st.session_state[SUBSTATION] = ALL  # an older session's "all"
    if st.session_state.get(CIRCUIT, ALL) is None:
        st.session_state[CIRCUIT] = ALL
    chosen = st.selectbox(
        "Substation",
        [ALL, *labels],
        format_func=lambda v: "All substations" if v == ALL else labels[v],
        key=SUBSTATION,
        bind="query-params",
        on_change=substation_changed,
    )
    substation_id = chosen if chosen != ALL else None
    options = circuit_options(engine, identity, substation_id) if substation_id else []
    circuits = [o.circuit_id for o in options]
    circuit_labels = {o.circuit_id: o.label for o in options}
    circuit = st.selectbox(
        "Circuit",
        [ALL, *circuits],
        format_func=lambda v: "All circuits" if v == ALL else circuit_labels.get(v, v),
        key=CIRCUIT,
        bind="query-params",
        on_change=on_change,
        disabled=substation_id is None,
        help="Choose a substation first: circuit names repeat across substations.",
    )
    return substation_id, (circuit or None) if substation_id else None, circuits
