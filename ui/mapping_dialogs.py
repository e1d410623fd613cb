"""The mapping page's dialogs: add a mapping, deactivate one, delete one permanently (admins).

Each dialog opens from a session-state flag (set by a button's callback) and closes by clearing
it, so it also works in AppTest; errors are shown inside the dialog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import streamlit as st
from sqlalchemy.engine import Engine

from ctm import roles
from ctm.customers import CUSTOMER_TYPES, CustomerInput
from ctm.db import Identity
from ctm.errors import ServiceError
from ctm.mapping_setup import NewCircuit, add_mapping_with_new
from ctm.mappings import (
    circuits_of_substation,
    delete_mapping,
    end_mapping,
    reactivate_mapping,
)
from ctm.reference import list_substations, search_customers
from ctm.roles import Action, can
from ui import past_events
from ui.dates import day_input
from ui.mapping_grid import next_generation

DIALOG = "ctm_dialog"
TOAST = "ctm_toast"


@dataclass(frozen=True)
class RowAction:
    """The dialog to open and the row it is about."""

    kind: str  # "add", "deactivate", "reactivate" or "delete"
    mapping_id: str = ""
    version: int = 0
    customer: str = ""
    account_number: str = ""
    place: str = ""


def open_dialog(action: RowAction) -> None:
    st.session_state[DIALOG] = action


def close_dialog() -> None:
    st.session_state.pop(DIALOG, None)


def _done(message: str) -> None:
    """Close the dialog, reload the grid and say what happened (toast survives the rerun)."""
    close_dialog()
    next_generation()
    st.session_state[TOAST] = message
    st.rerun()


def show_pending_toast() -> None:
    message = st.session_state.pop(TOAST, None)
    if message:
        st.toast(message, icon=":material/check_circle:")


NEW_CIRCUIT = "New circuit…"  # never a real name: circuit names are stored upper-case


def _customer_choice(
    engine: Engine, identity: Identity
) -> tuple[UUID | None, CustomerInput | None]:
    """An existing customer (searched) or, with "New customer…", the new one's fields."""
    new = roles.can(identity.role, roles.Action.EDIT_CUSTOMERS) and st.toggle(
        "New customer…", key="add_new_customer", help="The customer is not in the list yet"
    )
    if new:
        cols = st.columns([1, 2, 1])
        account = cols[0].text_input("Account number", key="add_new_account")
        name = cols[1].text_input("Customer name", key="add_new_name")
        kind = cols[2].selectbox(
            "Type", CUSTOMER_TYPES, format_func=str.capitalize, key="add_new_type"
        )
        if not (account.strip() and name.strip()):
            return None, None
        return None, CustomerInput(account_number=account, name=name, customer_type=kind)
    text = st.text_input(
        "Find customer", key="add_customer_text", placeholder="Name or account number"
    )
    choices = search_customers(engine, identity, text, limit=20) if len(text.strip()) >= 2 else []
    by_id = {c.id: c for c in choices}
    customer_id = st.selectbox(
        "Customer",
        list(by_id),
        index=None,
        format_func=lambda v: (
            f"{by_id[v].name} ({by_id[v].account_number}) · {by_id[v].customer_type}"
        ),
        key="add_customer",
        placeholder="Type two or more characters above" if not choices else "Choose a customer",
    )
    return customer_id, None


@st.dialog("Add mapping", width="medium", on_dismiss=close_dialog)
def add_dialog(engine: Engine, identity: Identity, default_substation: UUID | None) -> None:
    customer_id, new_customer = _customer_choice(engine, identity)
    substations = {s.id: s.name for s in list_substations(engine, identity)}
    ids = list(substations)
    substation_id = st.selectbox(
        "Substation",
        ids,
        index=ids.index(default_substation) if default_substation in substations else None,
        format_func=lambda v: substations[v],
        key="add_substation",
        placeholder="Choose a substation",
    )
    circuits = circuits_of_substation(engine, identity, substation_id) if substation_id else []
    may_register = roles.can(identity.role, roles.Action.EDIT_SUBSTATIONS)
    options = [*circuits, NEW_CIRCUIT] if may_register and substation_id else circuits
    circuit = st.selectbox(
        "Circuit",
        options,
        index=None,
        key="add_circuit",
        placeholder=(
            "Choose a circuit"
            if options
            else "Choose a substation with registered circuits"
            if substation_id is None or not may_register
            else "Choose a substation"
        ),
        disabled=not options,
        help=(
            "The circuits registered on this substation; “New circuit…” registers another."
            if may_register
            else "The circuits registered on this substation (an admin registers new ones)."
        ),
    )
    new_circuit = None
    if circuit == NEW_CIRCUIT:
        cols = st.columns([1, 2])
        name = cols[0].text_input("New circuit name", key="add_new_circuit", placeholder="H4")
        description = cols[1].text_input("Description", key="add_new_circuit_description")
        new_circuit = NewCircuit(name, description) if name.strip() else None
    ready = (
        (customer_id or new_customer)
        and substation_id
        and (new_circuit if circuit == NEW_CIRCUIT else circuit)
    )
    since = day_input(
        st,
        "Connected since",
        value=None,
        key="add_connected_since",
        help="Empty: as long as the event history goes back",
    )
    left, right = st.columns(2)
    if left.button(
        "Add mapping", type="primary", key="add_confirm", disabled=not ready, width="stretch"
    ):
        try:
            change = add_mapping_with_new(
                engine,
                identity,
                substation_id=substation_id,
                customer_id=customer_id,
                new_customer=new_customer,
                circuit_id=None if circuit == NEW_CIRCUIT else circuit,
                new_circuit=new_circuit,
                connected_since=since,
            )
        except ServiceError as exc:
            st.error(str(exc))
        else:
            mapping = change.mapping
            past_events.offer(change.previews)
            _done(
                f"Mapped {mapping.customer_name} ({mapping.account_number}) to "
                f"{mapping.substation_name} / {mapping.circuit_id}"
            )
    if right.button("Cancel", key="add_cancel", width="stretch"):
        close_dialog()
        st.rerun()


@st.dialog("Deactivate mapping", on_dismiss=close_dialog)
def deactivate_dialog(engine: Engine, identity: Identity, action: RowAction) -> None:
    st.markdown(
        f"Deactivate the mapping of **{action.customer}** to **{action.place}**?\n\n"
        "It stays in the list (Show inactive) but no longer puts this customer on events from "
        "the day below on. A later day schedules the end."
    )
    day = day_input(st, "Disconnected on", value=date.today(), key="deactivate_on")
    left, right = st.columns(2)
    if left.button("Deactivate", type="primary", key="deactivate_confirm", width="stretch"):
        try:
            change = end_mapping(engine, identity, UUID(action.mapping_id), action.version, day)
        except ServiceError as exc:
            st.error(str(exc))
        else:
            past_events.offer(change.previews)
            _done(f"Deactivated {action.customer} on {action.place} from {day.isoformat()}")
    if right.button("Cancel", key="deactivate_cancel", width="stretch"):
        close_dialog()
        st.rerun()


@st.dialog("Re-activate mapping", on_dismiss=close_dialog)
def reactivate_dialog(engine: Engine, identity: Identity, action: RowAction) -> None:
    st.markdown(
        f"Map **{action.customer}** to **{action.place}** again? A new period starts on the day "
        "below; the ended one stays as history."
    )
    day = day_input(st, "Connected since", value=date.today(), key="reactivate_since")
    left, right = st.columns(2)
    if left.button("Re-activate", type="primary", key="reactivate_confirm", width="stretch"):
        try:
            change = reactivate_mapping(
                engine, identity, UUID(action.mapping_id), action.version, day
            )
        except ServiceError as exc:
            st.error(str(exc))
        else:
            past_events.offer(change.previews)
            _done(f"Re-activated {action.customer} on {action.place} from {day.isoformat()}")
    if right.button("Cancel", key="reactivate_cancel", width="stretch"):
        close_dialog()
        st.rerun()


@st.dialog("Delete mapping permanently", on_dismiss=close_dialog)
def delete_dialog(engine: Engine, identity: Identity, action: RowAction) -> None:
    st.markdown(
        f"Permanently delete the mapping of **{action.customer}** to **{action.place}**? "
        "This cannot be undone; deactivating keeps the history.\n\n"
        f"Type the account number **{action.account_number}** to confirm."
    )
    typed = st.text_input("Account number", key="delete_account")
    left, right = st.columns(2)
    if left.button(
        "Delete permanently",
        type="primary",
        key="delete_confirm",
        disabled=typed.strip() != action.account_number,
        width="stretch",
    ):
        try:
            delete_mapping(engine, identity, UUID(action.mapping_id), action.version)
        except ServiceError as exc:
            st.error(str(exc))
        else:
            _done(f"Deleted the mapping of {action.customer} on {action.place}")
    if right.button("Cancel", key="delete_cancel", width="stretch"):
        close_dialog()
        st.rerun()


# The page opens the add dialog from its toolbar and the others from the row actions, each part
# rerunning on its own (st.fragment): each shows only the dialogs its buttons open.
ADD_KINDS = frozenset({"add"})
ROW_KINDS = frozenset({"deactivate", "reactivate", "delete"})


def show_open_dialog(
    engine: Engine,
    identity: Identity,
    default_substation: UUID | None,
    kinds: frozenset[str],
) -> None:
    """Open the dialog the session flag asks for when it is one of `kinds` (at most one per run)."""
    action = st.session_state.get(DIALOG)
    if not isinstance(action, RowAction) or action.kind not in kinds:
        return
    if action.kind == "add":
        add_dialog(engine, identity, default_substation)
    elif action.kind == "deactivate":
        deactivate_dialog(engine, identity, action)
    elif action.kind == "reactivate":
        reactivate_dialog(engine, identity, action)
    elif action.kind == "delete" and can(identity.role, Action.DELETE_MAPPINGS):
        delete_dialog(engine, identity, action)
    else:
        close_dialog()
