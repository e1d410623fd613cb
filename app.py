"""The ctm Streamlit app's router: page setup, the login gate, then the pages the user's role may
open (st.navigation). Run with `streamlit run app.py`."""

import streamlit as st

from ui import session

session.configure_page()
identity = session.login_gate()
if identity is None:
    # Registering (hidden) pages while logged out switches Streamlit from the legacy pages/ mode
    # to this router; every page URL then shows the login form and nothing else.
    st.navigation(session.logged_out_pages(), position="hidden").run()
else:
    sections = session.navigation_pages(identity.role)
    if not sections:
        st.error("Your role gives access to no page. Ask an administrator.")
        st.stop()
    navigation = st.navigation(sections)
    session.user_sidebar(identity)
    navigation.run()
