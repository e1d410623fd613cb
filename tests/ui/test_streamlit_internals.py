"""Canary for the private Streamlit API ctm uses (all of it in ui/streamlit_internals.py) and for
the Streamlit features the login relies on: fails in seconds when an upgrade moves them."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_the_private_attributes_ctm_uses_still_exist():
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: F401
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
    from streamlit.runtime.scriptrunner_utils.shared_run_state import SharedRunState

    fields = {f.name for f in dataclasses.fields(ScriptRunContext)}
    assert {"shared", "context_info", "pages_manager"} <= fields
    keys = SharedRunState().widget_user_keys_this_run
    assert keys.check_and_add("x") and "x" in keys and not keys.check_and_add("x")
    for name in ("intended_page_script_hash", "main_script_hash", "set_script_intent"):
        assert hasattr(PagesManager, name), name
    assert list(inspect.signature(PagesManager.set_script_intent).parameters)[1:3] == [
        "page_script_hash",
        "page_name",
    ]


def test_the_public_features_the_login_needs_exist():
    assert "unsafe_allow_javascript" in inspect.signature(st.html).parameters
    assert hasattr(st.context, "cookies")
    assert "on_click" in inspect.signature(st.form_submit_button).parameters


def _probe() -> None:
    import streamlit as st

    from ui import streamlit_internals

    before = streamlit_internals.gate_ran_this_run()
    streamlit_internals.mark_gate_ran()
    st.write(f"before={before} after={streamlit_internals.gate_ran_this_run()}")
    st.write(f"no-page={streamlit_internals.run_names_no_page()}")


def test_the_gate_mark_lasts_exactly_one_run():
    at = AppTest.from_function(_probe, default_timeout=10).run()
    assert not at.exception, at.exception
    assert at.markdown[0].value == "before=False after=True"
    at.run()
    assert at.markdown[0].value == "before=False after=True"


def test_there_is_no_pages_folder_next_to_app_py():
    """A folder named pages/ (even empty) switches on Streamlit's legacy multipage mode on a fresh
    server, which runs pages/x.py instead of app.py — without the login. Page files go in views/."""
    assert (ROOT / "app.py").is_file()
    assert not (ROOT / "pages").exists()
