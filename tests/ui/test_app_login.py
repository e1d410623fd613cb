"""app.py as a user meets it: the login gate, the sidebar, the pages each role gets."""

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.errors import StreamlitAPIException

from ctm import db, demo, users
from ctm.migrate import migrate
from tests.ui.conftest import PASSWORD, logged_in, new_app, texts
from ui import session


def login_form_only(at) -> bool:
    labels = [t.label for t in at.text_input]
    return labels == ["Username", "Password"] and not at.get("arrow_data_frame")


def test_logged_out_visitor_sees_only_the_login_form(login_user):
    login_user("admin")
    at = new_app().run()
    assert not at.exception
    assert login_form_only(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert "Demo logins" not in texts(at) and not at.expander
    assert not at.sidebar.button


def test_wrong_password_says_so_plainly_for_unknown_users_too(login_user):
    admin = login_user("admin")
    for username, password in ((admin.username, "wrong password"), ("nobody", PASSWORD)):
        at = new_app().run()
        at.text_input[0].input(username)
        at.text_input[1].input(password)
        at.button[0].click().run()
        assert not at.exception
        assert [e.value for e in at.error] == ["Username or password is incorrect"]
        assert login_form_only(at)


def test_login_opens_the_app_with_name_role_and_logout_in_the_sidebar(login_user):
    operator = login_user("operator")
    at = new_app().run()
    at.text_input[0].input(operator.username)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and not at.error
    sidebar = "\n".join(str(e.value) for e in [*at.sidebar.markdown, *at.sidebar.caption])
    assert "Operator Person" in sidebar and "Operator" in sidebar
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    assert "Customer Transformer Matching" in [t.value for t in at.title]
    assert not at.text_input or login_form_only(at) is False

    at.run()
    at.button(key="ctm_logout").click().run()
    # Logging out shows the login form again, saying so (docs/PROJECT_FUNCTION_DESIGN.md).
    assert [i.value for i in at.info] == ["You are logged out."]
    assert login_form_only(at)
    assert not at.get("data_editor") and not at.metric


def test_no_sidebar_section_repeats_its_only_page():
    """The sidebar never reads "Events › Events": a section is named for what it groups."""
    for role, keys in session.ROLE_PAGES.items():
        titles: dict[str, list[str]] = {}
        for key in keys:
            spec = session.PAGES[key]
            titles.setdefault(spec.section, []).append(spec.title)
        for section, pages in titles.items():
            assert pages != [section], (role, section)


def test_every_role_gets_its_pages_and_only_admins_the_users_page(login_user):
    for role in ("admin", "operator", "viewer"):
        at = logged_in(login_user(role)).run()
        assert not at.exception
        for page in ("views/mappings.py", "views/events.py", "views/statistics.py"):
            at.switch_page(page).run()
            assert not at.exception, (role, page, at.exception)
        if role == "admin":
            at.switch_page("views/users.py").run()
            assert not at.exception and "Users" in [t.value for t in at.title]
        else:
            with pytest.raises((StreamlitAPIException, ValueError, KeyError, RuntimeError)):
                at.switch_page("views/users.py").run()


def test_a_page_not_registered_for_a_role_cannot_be_opened(login_user, monkeypatch):
    monkeypatch.setitem(session.ROLE_PAGES, "viewer", ("mappings",))
    at = logged_in(login_user("viewer")).run()
    with pytest.raises((StreamlitAPIException, ValueError, KeyError, RuntimeError)):
        at.switch_page("views/statistics.py").run()


def test_page_file_run_directly_shows_only_the_login_form(login_user, grid_data):
    login_user("admin")
    for page in ("views/mappings.py", "views/events.py", "views/statistics.py"):
        at = new_app(page).run()
        assert not at.exception, (page, at.exception)
        assert login_form_only(at), page
        assert not at.get("data_editor") and not at.metric


def test_page_file_run_directly_still_guards_by_role(login_user, grid_data):
    at = logged_in(login_user("viewer"), "views/mappings.py").run()
    assert not at.exception
    assert not at.get("data_editor")
    assert [b.label for b in at.sidebar.button] == ["Log out"]


def test_demo_logins_are_listed_only_on_a_demo_database(engine, app_env):
    demo.load_demo_data(engine)
    at = new_app().run()
    assert not at.exception
    shown = str(at.table[0].value)
    for username, password, _role, _name in demo.DEMO_USERS:
        assert username in shown and password in shown
    at.text_input[0].input("viewer")
    at.text_input[1].input("viewer-demo")
    at.button[0].click().run()
    assert not at.error and "Vera Viewer" in texts(at)


def test_login_pause_applies_only_to_a_failed_attempt(login_user, monkeypatch):
    """The pause slows a guesser; a visitor who merely opens the login page does not wait."""
    admin = login_user("admin")
    monkeypatch.setenv("CTM_LOGIN_SLEEP_SECONDS", "8")
    new_app().run()  # warm: engine opened, caches filled
    start = time.perf_counter()
    at = new_app().run()
    assert time.perf_counter() - start < 8
    at.text_input[0].input(admin.username)
    at.text_input[1].input("wrong password")
    start = time.perf_counter()
    at.button[0].click().run()
    assert time.perf_counter() - start >= 8
    assert [e.value for e in at.error] == ["Username or password is incorrect"]


def test_without_a_database_the_page_says_so_in_one_line(monkeypatch, app_env):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    at = new_app().run()
    assert not at.exception
    [error] = at.error
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/none" in error.value
    assert not at.text_input


def test_database_url_without_migrations_says_to_run_ctm_migrate(server_url, monkeypatch, app_env):
    name = f"ctm_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(db._sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(db._sqlalchemy_url(server_url)).set(database=name)
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        at = new_app().run()
        assert not at.exception
        [error] = at.error
        assert "run `ctm migrate` first" in error.value
        assert not at.text_input
        with db.owner_transaction(db.get_engine(os.environ["DATABASE_URL"])) as conn:
            assert conn.scalar(sa.text("SELECT to_regclass('public.customers')")) is None
    finally:
        db.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def embedded_dir(monkeypatch, app_env):
    """A data folder for the embedded default outside pytest's basetemp (which a concurrent
    pytest run may prune while the server runs), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ctm-embedded-test-"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CTM_DATA_DIR", str(folder))
    yield folder
    db.dispose_engines()
    st.cache_resource.clear()
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_default_opens_on_demo_data(embedded_dir, capfd):
    """No DATABASE_URL: the embedded server is migrated and filled with the demo, so a fresh
    machine opens on the login page with the demo logins; each step of that first start is said
    in the browser and on the terminal."""
    at = new_app()
    at.default_timeout = 180
    at.run()
    assert not at.exception
    assert "admin-demo" in str(at.table[0].value)
    said = texts(at)
    for step in ("Starting the embedded PostgreSQL", "Applying the database migrations"):
        assert step in said
    assert "Demo data: loading" in said and "events (the trigger creates" in said
    terminal = capfd.readouterr().err
    assert "ctm: starting the embedded PostgreSQL" in terminal
    assert (
        "ctm: demo data: loading" in terminal and "ctm: Database ready with demo data" in terminal
    )
    at.text_input[0].input("admin")
    at.text_input[1].input("admin-demo")
    at.button[0].click().run()
    assert not at.error and "Ada Admin" in texts(at)


def test_embedded_default_with_a_real_user_gets_no_demo_data(embedded_dir):
    """`ctm migrate` and `ctm users add alice --role admin` on the embedded default, then the app:
    no demo admin with a published password, no demo grid — only alice can log in."""
    engine = db.get_engine(db.embedded_server_url())
    migrate(engine, log=lambda _line: None)
    users.add_user(engine, "alice", "admin", PASSWORD)
    at = new_app()
    at.default_timeout = 180
    at.run()
    assert not at.exception
    assert not at.table and "admin-demo" not in texts(at)
    with db.owner_transaction(engine) as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM public.substations")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM ctm_private.user_credentials")) == 1
    at.text_input[0].input("admin")
    at.text_input[1].input("admin-demo")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Username or password is incorrect"]


def test_only_an_entirely_empty_database_counts_as_empty(engine, make_user):
    assert demo.database_is_empty(engine)
    users.add_user(engine, "alice", "admin", PASSWORD)
    assert not demo.database_is_empty(engine)
    with db.owner_transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM ctm_private.user_credentials"))
        conn.execute(sa.text("DELETE FROM public.profiles"))
    assert demo.database_is_empty(engine)
    make_user("viewer")  # a profile without a login (e.g. a Supabase user)
    assert not demo.database_is_empty(engine)
