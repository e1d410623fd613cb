"""Data Maintenance → Substations: the searchable list; admins add, edit and delete substations and
maintain each one's circuits. Every role reads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ctm import roles
from ctm import substations as svc
from ui import circuit_panel
from ui import reference_forms as forms
from ui.feedback import service_errors
from ui.place_filters import substation_labels
from ui.session import require_user

engine, identity = require_user()
can_edit = roles.can(identity.role, roles.Action.EDIT_SUBSTATIONS)
can_delete = roles.can(identity.role, roles.Action.DELETE_SUBSTATIONS)
# Keys double as query parameters and must not be another page's widget keys (a key reused
# with another widget kind loses its value after a page switch).
SEARCH, OPEN = "substation_search", "open_substation"
TITLES = {
    "name": "Name",
    "code": "Code",
    "voltage_level": "Voltage level",
    "region": "Region",
    "status": "Status",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "circuits": "Circuits",
    "mappings": "Current mappings",
}

st.title("Substations")
st.caption(
    "The grid's substations. Admins add and change them; a substation that circuits, meters, "
    "mappings or events still use cannot be deleted."
)
forms.show_pending_toast()

search = st.text_input(
    "Search", key=SEARCH, bind="query-params", placeholder="Name, code or region"
)
with service_errors():
    records = svc.search_substations(engine, identity, search)

if can_edit:
    with st.expander("Add substation", icon=":material/add:"):
        data = forms.substation_form("add_substation", None)
        if data is not None:
            with service_errors(stop=False):
                added = svc.add_substation(engine, identity, data)
                forms.say_after_rerun(f"Added substation {added.name}")
                st.session_state[OPEN] = added.id
                st.rerun()

if not records:
    st.info("No substation matches." if search else "No substations yet.")
    st.stop()

frame = pd.DataFrame([r.__dict__ for r in records])
st.dataframe(
    frame[list(TITLES)].rename(columns=TITLES),
    hide_index=True,
    width="stretch",
    column_config={
        "Latitude": st.column_config.NumberColumn(format="%.6f"),
        "Longitude": st.column_config.NumberColumn(format="%.6f"),
    },
)
st.caption(f"{len(records):,} substation(s)")

by_id = {r.id: r for r in records}
labels = substation_labels(records)
chosen_id = st.selectbox(
    "Open substation",
    [None, *by_id],
    format_func=lambda i: (
        "Choose a substation to see its circuits" + (" or edit it" if can_edit else "")
        if i is None
        else labels[i]
    ),
    key=OPEN,
    bind="query-params",
)
if chosen_id not in by_id:
    st.stop()

chosen = by_id[chosen_id]
st.subheader(chosen.name)
circuit_panel.show(engine, identity, chosen.id, chosen.name)
if can_edit:
    with st.expander("Edit substation", icon=":material/edit:"):
        data = forms.substation_form(f"edit_substation_{chosen.id}", chosen)
        if data is not None:
            with service_errors(stop=False):
                saved = svc.update_substation(engine, identity, chosen.id, data)
                forms.say_after_rerun(f"Saved substation {saved.name}")
                st.rerun()
if can_delete:
    with st.expander("Delete substation", icon=":material/delete:"):
        if forms.confirmed_delete(f"delete_substation_{chosen.id}", f"substation {chosen.name}"):
            with service_errors(stop=False):
                svc.delete_substation(engine, identity, chosen.id)
                forms.say_after_rerun(f"Deleted substation {chosen.name}")
                st.rerun()
