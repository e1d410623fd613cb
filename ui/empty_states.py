"""What an empty page says: what to do first, with links to the pages where it is done (only the
pages this user's role may open, and only those the app has)."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from ctm.db import Identity
from ui import session


def first_step_pages(identity: Identity, keys: Iterable[str]) -> list[session.PageSpec]:
    """The pages among `keys` (keys of session.PAGES, in the order given) this user may open."""
    allowed = set(session.ROLE_PAGES.get(identity.role, ()))
    return [session.PAGES[k] for k in keys if k in session.PAGES and k in allowed]


def first_steps(identity: Identity, keys: Iterable[str]) -> None:
    """One link per page where the first step is taken."""
    for spec in first_step_pages(identity, keys):
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
