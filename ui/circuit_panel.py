"""The circuits of one substation on the Substations page: the registry in natural order (retired
ones marked), and for admins add, describe / customers served / limit, retire on a date (with
"end them on that date" when mappings still apply), reinstate and delete."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from ctm import circuits as svc
from ctm import roles
from ctm.db import Identity
from ui import reference_forms as forms
from ui.dates import day_input
from ui.feedback import service_errors

PENDING_RETIRE = "ctm_pending_retire"
TITLES = {
    "label": "Circuit",
    "description": "Description",
    "customers_served": "Customers served",
    "max_mapped_customers": "Max mapped customers",
    "current_mappings": "Current mappings",
    "meters": "Meters",
    "source": "Registered by",
}


def _frame(circuits: list[svc.Circuit]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [c.label for c in circuits],
            "description": [c.description or "" for c in circuits],
            "customers_served": pd.array([c.customers_served for c in circuits], dtype="Int64"),
            "max_mapped_customers": pd.array(
                [c.max_mapped_customers for c in circuits], dtype="Int64"
            ),
            "current_mappings": [c.current_mappings for c in circuits],
            "meters": [c.meters for c in circuits],
            "source": [c.source for c in circuits],
        }
    )


def _text_count(value: int | None) -> str:
    return "" if value is None else str(value)


def show(engine: Engine, identity: Identity, substation_id: UUID, substation_name: str) -> None:
    st.markdown(f"**Circuits of {substation_name}**")
    with service_errors():
        circuits = svc.list_circuits(engine, identity, substation_id)
    if circuits:
        st.dataframe(
            _frame(circuits).rename(columns=TITLES),
            hide_index=True,
            width="stretch",
            key=f"circuits_{substation_id}",
        )
    else:
        st.info("No circuits registered on this substation yet.")
    if not roles.can(identity.role, roles.Action.EDIT_SUBSTATIONS):
        return
    _add_form(engine, identity, substation_id)
    if circuits:
        _change(engine, identity, substation_id, circuits)


def _add_form(engine: Engine, identity: Identity, substation_id: UUID) -> None:
    with (
        st.expander("Add circuit", icon=":material/add:"),
        st.form(f"add_circuit_{substation_id}", clear_on_submit=True, border=False),
    ):
        cols = st.columns([1, 2, 1, 1])
        name = cols[0].text_input("Circuit name", key=f"new_circuit_name_{substation_id}")
        description = cols[1].text_input(
            "Description", key=f"new_circuit_description_{substation_id}"
        )
        served = cols[2].text_input(
            "Customers served",
            key=f"new_circuit_served_{substation_id}",
            help="All customers behind the circuit, mapped or not (weights system SARFI)",
        )
        limit = cols[3].text_input(
            "Max mapped customers",
            key=f"new_circuit_limit_{substation_id}",
            help="Optional: one more current mapping is refused",
        )
        if st.form_submit_button("Add circuit", type="primary"):
            with service_errors(stop=False):
                added = svc.add_circuit(
                    engine,
                    identity,
                    substation_id,
                    name,
                    description=description,
                    customers_served=served,
                    max_mapped_customers=limit,
                )
                forms.say_after_rerun(f"Added circuit {added.circuit_id}")
                st.rerun()


def _change(
    engine: Engine, identity: Identity, substation_id: UUID, circuits: list[svc.Circuit]
) -> None:
    by_name = {c.circuit_id: c for c in circuits}
    with st.expander("Change, retire or delete a circuit", icon=":material/edit:"):
        name = st.selectbox(
            "Circuit",
            [None, *by_name],
            format_func=lambda n: "Choose a circuit" if n is None else by_name[n].label,
            key=f"change_circuit_{substation_id}",
        )
        if name is None:
            return
        circuit = by_name[name]
        key = f"circuit_{substation_id}_{circuit.circuit_id}"
        with st.form(f"{key}_form", border=False):
            cols = st.columns([2, 1, 1])
            description = cols[0].text_input(
                "Description", value=circuit.description or "", key=f"{key}_description"
            )
            served = cols[1].text_input(
                "Customers served", value=_text_count(circuit.customers_served), key=f"{key}_served"
            )
            limit = cols[2].text_input(
                "Max mapped customers",
                value=_text_count(circuit.max_mapped_customers),
                key=f"{key}_limit",
            )
            if st.form_submit_button("Save circuit", type="primary"):
                with service_errors(stop=False):
                    svc.update_circuit(
                        engine,
                        identity,
                        substation_id,
                        circuit.circuit_id,
                        description=description,
                        customers_served=served,
                        max_mapped_customers=limit,
                    )
                    forms.say_after_rerun(f"Saved circuit {circuit.circuit_id}")
                    st.rerun()
        if circuit.retired_on is None:
            _retire(engine, identity, substation_id, circuit, key)
        else:
            st.caption(f"Retired on {circuit.retired_on:%Y-%m-%d}.")
            if st.button("Reinstate circuit", key=f"{key}_reinstate"):
                with service_errors(stop=False):
                    svc.reinstate_circuit(engine, identity, substation_id, circuit.circuit_id)
                    forms.say_after_rerun(f"Reinstated circuit {circuit.circuit_id}")
                    st.rerun()
        if forms.confirmed_delete(f"{key}_delete", f"circuit {circuit.circuit_id}"):
            with service_errors(stop=False):
                svc.delete_circuit(engine, identity, substation_id, circuit.circuit_id)
                forms.say_after_rerun(f"Deleted circuit {circuit.circuit_id}")
                st.rerun()


def _retire(
    engine: Engine, identity: Identity, substation_id: UUID, circuit: svc.Circuit, key: str
) -> None:
    cols = st.columns([1, 1, 2], vertical_alignment="bottom")
    on = day_input(cols[0], "Retire on", value=date.today(), key=f"{key}_retire_on")
    if cols[1].button("Retire circuit", key=f"{key}_retire"):
        with service_errors(stop=False):
            try:
                svc.retire_circuit(engine, identity, substation_id, circuit.circuit_id, on)
            except svc.CircuitInUse as refusal:
                st.session_state[PENDING_RETIRE] = (key, refusal.on, refusal.mappings, str(refusal))
            else:
                forms.say_after_rerun(f"Retired circuit {circuit.circuit_id} on {on:%Y-%m-%d}")
                st.rerun()
    pending = st.session_state.get(PENDING_RETIRE)
    if pending and pending[0] == key:
        _, pending_on, count, message = pending
        st.warning(message)
        if st.button(
            f"End the {count} mapping(s) on {pending_on:%Y-%m-%d} and retire",
            key=f"{key}_end_and_retire",
            type="primary",
        ):
            with service_errors(stop=False):
                ended = svc.retire_circuit(
                    engine,
                    identity,
                    substation_id,
                    circuit.circuit_id,
                    pending_on,
                    end_mappings=True,
                )
                st.session_state.pop(PENDING_RETIRE, None)
                forms.say_after_rerun(
                    f"Ended {ended} mapping(s) and retired circuit {circuit.circuit_id}"
                    f" on {pending_on:%Y-%m-%d}"
                )
                st.rerun()
