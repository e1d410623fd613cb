"""Administration → Users through AppTest: admins manage logins without a shell; the last admin
stays; a viewer cannot open the page."""

from __future__ import annotations

import re

from ctm import sessions, users
from tests.ui.conftest import PASSWORD, logged_in, texts

PAGE = "views/users.py"


def open_users(identity):
    at = logged_in(identity).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_admin_sees_every_login_with_state_and_adds_one(engine, login_user):
    admin = login_user("admin")
    login_user("viewer", "vera")
    users.disable_user(engine, "vera")
    assert sessions.log_in(engine, admin.username, PASSWORD, "k" * 40).ok
    at = open_users(admin)
    frame = at.dataframe[0].value
    assert set(frame["Username"]) == {admin.username, "vera"}
    assert dict(zip(frame["Username"], frame["State"], strict=True))["vera"] == "Disabled"
    # Never logged in reads "never" (not a blank "None"); a login shows in the product's zone.
    logins = dict(zip(frame["Username"], frame["Last login (UTC)"], strict=True))
    assert logins["vera"] == "never"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", logins[admin.username])

    form = at.get("form")
    assert form  # the add form is there
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input("newbie")
    inputs["Full name"].input("New Person")
    inputs["Password"].input(PASSWORD)
    inputs["Repeat the password"].input(PASSWORD)
    [add] = [b for b in at.button if b.label == "Add user"]
    add.click().run()
    assert not at.exception, at.exception
    assert "Added newbie (Viewer)." in texts(at)
    assert users.identity_for(engine, "newbie").role == "viewer"


def test_changing_a_role_ends_sessions_and_the_last_admin_is_kept(engine, login_user):
    admin = login_user("admin")
    login_user("operator", "olga")
    token = sessions.log_in(engine, "olga", PASSWORD, "k" * 40).token
    at = open_users(admin)
    at.selectbox(key="ctm_user").select("olga").run()
    [role] = [s for s in at.selectbox if s.label == "Role" and s.value == "operator"]
    role.select("viewer")  # a form: the value is sent with the submit button
    [change] = [b for b in at.button if b.label == "Change role"]
    change.click().run()
    assert not at.exception, at.exception
    assert "olga is now Viewer; their sessions ended." in texts(at)
    assert sessions.resolve(engine, token, "k" * 40) is None

    at.selectbox(key="ctm_user").select(admin.username).run()
    at.button(key="ctm_user_disable").click().run()
    assert not at.exception
    assert "last administrator" in texts(at)
    assert users.identity_for(engine, admin.username).role == "admin"
