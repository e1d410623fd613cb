"""Forms the reference-data pages share: substation and customer add/edit fields, a confirmed
delete, and the toast that survives the rerun after a save. Each form returns what was submitted
(or None); the page calls the service and shows its ServiceError in place."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from ctm.customers import CUSTOMER_TYPES, Customer, CustomerInput
from ctm.substations import STATUSES, VOLTAGE_LEVELS, SubstationInput, SubstationRecord

TOAST = "ctm_reference_toast"


def say_after_rerun(message: str) -> None:
    st.session_state[TOAST] = message


def show_pending_toast() -> None:
    if message := st.session_state.pop(TOAST, None):
        st.toast(message, icon=":material/check_circle:")


def _number_text(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def substation_form(key: str, record: SubstationRecord | None) -> SubstationInput | None:
    """Name, code, voltage level, region, status and coordinates; the input on submit."""
    with st.form(key, clear_on_submit=record is None, border=record is not None):
        top = st.columns([2, 1, 1])
        name = top[0].text_input("Name", value=record.name if record else "", key=f"{key}_name")
        code = top[1].text_input(
            "Code",
            value=(record.code or "") if record else "",
            key=f"{key}_code",
            help="Unique; stored in upper case",
        )
        levels = list(VOLTAGE_LEVELS)
        if record and record.voltage_level and record.voltage_level not in levels:
            levels.append(record.voltage_level)
        voltage = top[2].selectbox(
            "Voltage level",
            levels,
            index=levels.index(record.voltage_level) if record and record.voltage_level else None,
            accept_new_options=True,
            key=f"{key}_voltage",
            placeholder="Choose or type",
        )
        middle = st.columns([2, 1])
        region = middle[0].text_input(
            "Region", value=(record.region or "") if record else "", key=f"{key}_region"
        )
        status = middle[1].selectbox(
            "Status",
            STATUSES,
            index=STATUSES.index(record.status) if record else 0,
            format_func=str.capitalize,
            key=f"{key}_status",
        )
        place = st.columns(2)
        latitude = place[0].text_input(
            "Latitude",
            value=_number_text(record.latitude) if record else "",
            key=f"{key}_lat",
            help="Decimal degrees, −90 to 90",
        )
        longitude = place[1].text_input(
            "Longitude",
            value=_number_text(record.longitude) if record else "",
            key=f"{key}_lon",
            help="Decimal degrees, −180 to 180",
        )
        label = "Save substation" if record else "Add substation"
        if not st.form_submit_button(label, type="primary"):
            return None
    return SubstationInput(
        name=name,
        code=code,
        voltage_level=voltage,
        region=region,
        status=status,
        latitude=latitude,
        longitude=longitude,
    )


def customer_form(key: str, record: Customer | None) -> CustomerInput | None:
    """Account number, name, type, address, contract demand and the critical flag."""
    with st.form(key, clear_on_submit=record is None, border=record is not None):
        top = st.columns([1, 2, 1])
        account = top[0].text_input(
            "Account number",
            value=record.account_number if record else "",
            key=f"{key}_account",
            help="Unique",
        )
        name = top[1].text_input("Name", value=record.name if record else "", key=f"{key}_name")
        kind = top[2].selectbox(
            "Type",
            CUSTOMER_TYPES,
            index=CUSTOMER_TYPES.index(record.customer_type) if record else 0,
            format_func=str.capitalize,
            key=f"{key}_type",
        )
        address = st.text_input(
            "Address", value=(record.address or "") if record else "", key=f"{key}_address"
        )
        bottom = st.columns([1, 1, 2], vertical_alignment="bottom")
        kva = bottom[0].text_input(
            "Contract demand (kVA)",
            value=_number_text(record.contract_demand_kva) if record else "",
            key=f"{key}_kva",
        )
        critical = bottom[1].checkbox(
            "Critical customer",
            value=record.critical_customer if record else False,
            key=f"{key}_critical",
            help="The account team's marker",
        )
        label = "Save customer" if record else "Add customer"
        if not st.form_submit_button(label, type="primary"):
            return None
    return CustomerInput(
        account_number=account,
        name=name,
        customer_type=kind,
        address=address,
        contract_demand_kva=kva,
        critical_customer=critical,
    )


def confirmed_delete(key: str, what: str, *, label: str = "Delete") -> bool:
    """A delete button that needs a ticked confirmation first; True when clicked confirmed."""
    cols = st.columns([2, 1], vertical_alignment="center")
    sure = cols[0].checkbox(f"Yes, delete {what}", key=f"{key}_sure")
    return cols[1].button(
        label, key=f"{key}_button", icon=":material/delete:", disabled=not sure, type="secondary"
    )
