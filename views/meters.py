"""Data Maintenance → Meters: the PQ monitors and the substation circuit each one measures. Admins
register and edit meters; registering one offers to place the earlier events that named it."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

from ctm import circuits, roles
from ctm import meters as svc
from ctm.reference import list_substations
from ctm.substations import VOLTAGE_LEVELS
from ui import reference_forms as forms
from ui.feedback import service_errors
from ui.place_filters import substation_labels
from ui.session import require_user

engine, identity = require_user()
can_edit = roles.can(identity.role, roles.Action.EDIT_SUBSTATIONS)
# Keys double as query parameters and differ from other pages' widget keys.
SEARCH, PLACE, OPEN = "meter_search", "meter_substation", "open_meter"
PLACE_OFFER = "ctm_place_offer"
TITLES = {
    "meter_id": "Meter",
    "substation_name": "Substation",
    "circuit_id": "Circuit",
    "voltage_level": "Voltage level",
    "site_id": "Site id",
    "location": "Location",
    "active": "Active",
}

st.title("Meters")
st.caption(
    "PQ monitors and where they hang. An event that arrives with only a meter name takes its "
    "substation and circuit from the meter."
)
forms.show_pending_toast()

with service_errors():
    labels = substation_labels(list_substations(engine, identity))

filters = st.columns([2, 2])
search = filters[0].text_input(
    "Search", key=SEARCH, bind="query-params", placeholder="Meter name, site id or location"
)
place = filters[1].selectbox(
    "Substation",
    [None, *labels],
    format_func=lambda v: "All substations" if v is None else labels[v],
    key=PLACE,
    bind="query-params",
)


def meter_fields(key: str, meter: svc.Meter | None) -> svc.MeterInput:
    """The meter's fields (not a form: the circuit list follows the chosen substation)."""
    top = st.columns([2, 2, 1])
    name = top[0].text_input(
        "Meter name",
        value=meter.meter_id if meter else "",
        key=f"{key}_name",
        placeholder="PQMS_11KV.APA0042_H3",
    )
    ids = list(labels)
    substation_id = top[1].selectbox(
        "Substation",
        ids,
        index=ids.index(meter.substation_id) if meter and meter.substation_id in ids else None,
        format_func=labels.get,
        key=f"{key}_substation",
        placeholder="Choose a substation",
    )
    names = []
    if substation_id is not None:
        with service_errors():
            names = circuits.list_circuits(engine, identity, substation_id, include_retired=False)
    options = [c.circuit_id for c in names]
    if meter and meter.circuit_id and meter.circuit_id not in options:
        options.append(meter.circuit_id)  # kept visible so the refusal can say why
    circuit = top[2].selectbox(
        "Circuit",
        options,
        index=options.index(meter.circuit_id) if meter and meter.circuit_id in options else None,
        key=f"{key}_circuit|{substation_id}",
        placeholder="Choose a circuit" if options else "No circuits registered",
    )
    middle = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    levels = list(VOLTAGE_LEVELS)
    if meter and meter.voltage_level and meter.voltage_level not in levels:
        levels.append(meter.voltage_level)
    voltage = middle[0].selectbox(
        "Voltage level",
        levels,
        index=levels.index(meter.voltage_level) if meter and meter.voltage_level else None,
        accept_new_options=True,
        key=f"{key}_voltage",
        placeholder="Choose or type",
    )
    site = middle[1].text_input(
        "Site id", value=(meter.site_id or "") if meter else "", key=f"{key}_site"
    )
    location = middle[2].text_input(
        "Location", value=(meter.location or "") if meter else "", key=f"{key}_location"
    )
    active = middle[3].checkbox(
        "Active", value=meter.active if meter else True, key=f"{key}_active"
    )
    return svc.MeterInput(
        meter_id=name,
        substation_id=substation_id,
        circuit_id=circuit,
        voltage_level=voltage,
        site_id=site,
        location=location,
        active=active,
    )


def offer_placing(meter_uuid: UUID, meter_name: str) -> None:
    """After a meter is registered: place the earlier events that named it, if any."""
    with service_errors():
        count = svc.unplaced_events(engine, identity, meter_uuid)
    if not count:
        st.session_state.pop(PLACE_OFFER, None)
        return
    st.info(
        f"{count:,} earlier event(s) named meter {meter_name} but have no place (or no circuit)."
        " Placing them gives them the meter's substation and circuit, and their customer impacts"
        " follow."
    )
    cols = st.columns([2, 1, 3])
    if cols[0].button(
        f"Place the {count:,} earlier events of this meter",
        key="place_meter_events",
        type="primary",
    ):
        with service_errors(stop=False):
            placed = svc.place_meter_events(engine, identity, meter_uuid)
            st.session_state.pop(PLACE_OFFER, None)
            forms.say_after_rerun(f"Placed {placed:,} event(s) of meter {meter_name}")
            st.rerun()
    if cols[1].button("Not now", key="place_meter_later"):
        st.session_state.pop(PLACE_OFFER, None)
        st.rerun()


if can_edit:
    offer = st.session_state.get(PLACE_OFFER)
    if offer:
        offer_placing(*offer)
    with st.expander("Register meter", icon=":material/add:", expanded=False):
        data = meter_fields("new_meter", None)
        if st.button("Register meter", type="primary", key="new_meter_save"):
            with service_errors(stop=False):
                added = svc.add_meter(engine, identity, data)
                st.session_state[PLACE_OFFER] = (added.id, added.meter_id)
                forms.say_after_rerun(f"Registered meter {added.meter_id}")
                st.rerun()

with service_errors():
    frame = svc.list_meters(engine, identity, substation_id=place, text=search)
if frame.empty:
    st.info("No meter matches." if (search or place) else "No meters registered yet.")
    st.stop()
st.dataframe(frame[list(TITLES)].rename(columns=TITLES), hide_index=True, width="stretch")
st.caption(f"{len(frame):,} meter(s)")

if can_edit:
    names = dict(zip(frame["id"], frame["meter_id"], strict=True))
    chosen = st.selectbox(
        "Edit meter",
        [None, *names],
        format_func=lambda v: "Choose a meter to edit" if v is None else names[v],
        key=OPEN,
    )
    if chosen is not None:
        with service_errors():
            meter = svc.get_meter(engine, identity, chosen)
        data = meter_fields(f"edit_meter_{meter.id}", meter)
        if st.button("Save meter", type="primary", key=f"edit_meter_{meter.id}_save"):
            with service_errors(stop=False):
                saved = svc.update_meter(engine, identity, meter.id, data)
                st.session_state[PLACE_OFFER] = (saved.id, saved.meter_id)
                forms.say_after_rerun(f"Saved meter {saved.meter_id}")
                st.rerun()
