"""Administration → Users (admins only): every login with its state and last login; add a user,
change a role, reset a password, disable or enable, end sessions, unlock, remove. The rules (the
last administrator stays, every change ends the user's sessions) live in ctm/users.py."""

import pandas as pd
import streamlit as st

from ctm import users
from ctm.clock import time_zone_for
from ctm.roles import ROLE_LABELS, ROLES, Action, roles_that_can
from ui.feedback import service_errors
from ui.session import require_user

engine, identity = require_user(set(roles_that_can(Action.MANAGE_USERS)))

st.title("Users")
st.caption(
    "Who can log in, and with which role. A new password, a new role, disabling or removing a "
    "user ends all of that user's sessions at once."
)

done = st.session_state.pop("ctm_users_done", None)
if done:
    st.success(done)


def _after(message: str) -> None:
    st.session_state["ctm_users_done"] = message
    st.rerun()


def _state(record: users.UserRecord) -> str:
    if record.disabled:
        return "Disabled"
    if record.locked_until is not None:
        return f"Locked until {record.locked_until:%Y-%m-%d %H:%M} UTC"
    return "Active"


with service_errors():
    records = users.list_users(engine, actor=identity)
    zone = time_zone_for(engine, identity)


def _last_login(instant) -> str:
    """In the product's zone, like every time the app shows; "never" rather than a blank cell."""
    return "never" if instant is None else f"{instant.astimezone(zone):%Y-%m-%d %H:%M}"


table = pd.DataFrame(
    {
        "Username": [r.username for r in records],
        "Name": [r.full_name for r in records],
        "Role": [ROLE_LABELS.get(r.role, r.role) for r in records],
        "State": [_state(r) for r in records],
        f"Last login ({zone.key})": [_last_login(r.last_login_at) for r in records],
        "Open sessions": [r.open_sessions for r in records],
    }
)
st.dataframe(table, hide_index=True)

by_name = {r.username: r for r in records}
chosen = st.selectbox(
    "Change a user", options=list(by_name), index=None, placeholder="Choose a user", key="ctm_user"
)
if chosen:
    record = by_name[chosen]
    role_col, password_col, access_col = st.columns(3)
    with role_col, st.form("ctm_user_role"):
        st.markdown("**Role**")
        new_role = st.selectbox(
            "Role", ROLES, index=ROLES.index(record.role), format_func=ROLE_LABELS.get
        )
        if st.form_submit_button("Change role"):
            with service_errors(stop=False):
                users.set_role(engine, chosen, new_role, actor=identity)
                _after(f"{chosen} is now {ROLE_LABELS[new_role]}; their sessions ended.")
    with password_col, st.form("ctm_user_password", clear_on_submit=True):
        st.markdown("**Reset password**")
        first = st.text_input("New password", type="password")
        second = st.text_input("Repeat the new password", type="password")
        if st.form_submit_button("Set password"):
            if first != second:
                st.error("The two passwords differ.")
            else:
                with service_errors(stop=False):
                    users.set_password(engine, chosen, first, actor=identity)
                    _after(f"Password of {chosen} changed; their sessions ended.")
    with access_col:
        st.markdown("**Access**")
        if record.disabled:
            if st.button("Enable", key="ctm_user_enable"):
                with service_errors(stop=False):
                    users.enable_user(engine, chosen, actor=identity)
                    _after(f"{chosen} can log in again.")
        elif st.button("Disable", key="ctm_user_disable"):
            with service_errors(stop=False):
                users.disable_user(engine, chosen, actor=identity)
                _after(f"{chosen} is disabled; their sessions ended.")
        if st.button(
            f"End sessions ({record.open_sessions})",
            key="ctm_user_end_sessions",
            disabled=record.open_sessions == 0,
        ):
            with service_errors(stop=False):
                ended = users.end_sessions(engine, chosen, actor=identity)
                _after(f"Ended {ended} session(s) of {chosen}.")
        if record.locked_until is not None and st.button("Unlock", key="ctm_user_unlock"):
            with service_errors(stop=False):
                users.unlock_user(engine, chosen, actor=identity)
                _after(f"{chosen} is unlocked.")
        confirm = st.checkbox(f"Yes, remove {chosen}", key="ctm_user_remove_confirm")
        if st.button("Remove user", key="ctm_user_remove", disabled=not confirm):
            with service_errors(stop=False):
                users.remove_user(engine, chosen, actor=identity)
                st.session_state.pop("ctm_user", None)
                _after(f"{chosen} is removed.")

with (
    st.expander("Add a user", expanded=not records),
    st.form("ctm_user_add", clear_on_submit=False),
):
    username = st.text_input("Username", help=users.USERNAME_HELP)
    full_name = st.text_input("Full name")
    email = st.text_input("Email")
    role = st.selectbox("Role", ROLES, index=ROLES.index("viewer"), format_func=ROLE_LABELS.get)
    password = st.text_input("Password", type="password")
    again = st.text_input("Repeat the password", type="password")
    if st.form_submit_button("Add user", type="primary"):
        if password != again:
            st.error("The two passwords differ.")
        else:
            with service_errors(stop=False):
                users.add_user(
                    engine,
                    username.strip(),
                    role,
                    password,
                    full_name.strip() or None,
                    email.strip() or None,
                    actor=identity,
                )
                _after(f"Added {username.strip()} ({ROLE_LABELS[role]}).")
