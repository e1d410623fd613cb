"""The ctm Streamlit app's router: page setup, the login gate, then the pages the user's role may
open (st.navigation). Run with `streamlit run app.py`."""

import streamlit as st

from ui import session

session.configure_page()
# A run that does not know its page yet (a new tab or a reload of /events) keeps the URL's page.
session.keep_requested_page()
identity = session.login_gate()
if identity is None:
    # Every page URL is registered (hidden) while logged out, so it shows the login form and
    # nothing else, and the same URL opens the page after logging in.
    st.navigation(session.logged_out_pages(), position="hidden").run()
else:
    sections = session.navigation_pages(identity.role)
    if not sections:
        st.error("Your role gives access to no page. Ask an administrator.")
        st.stop()
    navigation = st.navigation(sections)
    session.user_sidebar(identity)
    navigation.run()
