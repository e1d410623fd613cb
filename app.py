"""The ctm Streamlit app's router: page setup, the login gate, then the pages the user's role may
open (st.navigation). Run with `streamlit run app.py`. Page files live in views/: a folder named
pages/ next to this file would switch on Streamlit's legacy multipage mode (no login)."""

import streamlit as st

from ui import login, navigation

navigation.configure_page()
# A run that does not know its page yet (a new tab or a reload of /events) keeps the URL's page.
navigation.keep_requested_page()
identity = login.login_gate()
if identity is None:
    # Every page URL is registered (hidden) while logged out, so it shows the login form and
    # nothing else, and the same URL opens the page after logging in.
    st.navigation(navigation.logged_out_pages(), position="hidden").run()
else:
    sections = navigation.navigation_pages(identity.role)
    if not sections:
        st.error("Your role gives access to no page. Ask an administrator.")
        st.stop()
    pages = st.navigation(sections)
    login.user_sidebar(identity)
    pages.run()
