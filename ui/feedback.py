"""How pages report failures: a service's own message as it is, anything unexpected as one plain
sentence (details go to the server log, never a traceback in the browser)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import streamlit as st

from ctm.db import DatabaseUnavailable
from ctm.errors import ServiceError

log = logging.getLogger("ctm.app")

UNEXPECTED = "Something went wrong on the server. Please try again; if it keeps happening, tell us."


def fail_plainly(exc: BaseException, message: str = UNEXPECTED) -> NoReturn:
    """Log the exception with its traceback, show one sentence, stop the page."""
    log.exception("unexpected error: %s", exc, exc_info=exc)
    st.error(message, icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable")


@contextmanager
def service_errors(stop: bool = True) -> Iterator[None]:
    """Show a ServiceError's message (and stop the page unless stop=False); anything else plainly."""
    try:
        yield
    except ServiceError as exc:
        st.error(str(exc), icon=":material/block:")
        if stop:
            st.stop()
    except DatabaseUnavailable as exc:
        st.error(str(exc), icon=":material/database:")
        st.stop()
    except Exception as exc:  # noqa: BLE001
        fail_plainly(exc)
