"""Every use of Streamlit's private API in ctm, in one place.

Streamlit's public API has no way to (1) tell whether app.py's login gate ran in the current run
(a page file run on its own must guard itself) or (2) keep the page a browser's URL names when a
run arrives before the browser knows that page's hash (a reload or a new tab of /events would
otherwise open the default page). Both need the script run context. tests/ui/test_streamlit_internals.py
checks each attribute used here, so an upgrade that moves them fails in seconds, not only in the
browser suite. Reading and writing the login cookie uses public API only (st.context.cookies,
st.html), see ui/login.py.
"""

from __future__ import annotations

from streamlit.runtime.scriptrunner import get_script_run_ctx

# Not a widget: a name put into the run's set of widget keys, which Streamlit empties every run.
GATE_MARK = "ctm-login-gate-ran"


def mark_gate_ran() -> None:
    """Remember, for this run only, that app.py's login gate ran."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.shared.widget_user_keys_this_run.check_and_add(GATE_MARK)


def gate_ran_this_run() -> bool:
    ctx = get_script_run_ctx()
    return ctx is not None and GATE_MARK in ctx.shared.widget_user_keys_this_run


def browser_url() -> str | None:
    """The URL the browser shows, as it sent it with this run (None outside a browser run)."""
    ctx = get_script_run_ctx()
    if ctx is None or ctx.context_info is None or not ctx.context_info.HasField("url"):
        return None
    return ctx.context_info.url


def run_names_no_page() -> bool:
    """True when this run asks for the main script itself, i.e. the browser did not say which
    page (it has not seen the first navigation message yet)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return False
    manager = ctx.pages_manager
    return manager.intended_page_script_hash == manager.main_script_hash


def ask_for_page(url_path: str) -> None:
    """Make the coming st.navigation open the page registered under url_path."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.pages_manager.set_script_intent("", url_path)
