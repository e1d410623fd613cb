"""The ctm Streamlit app's router: page setup, the login gate, then the pages the user's role may
open (st.navigation). Run with `streamlit run app.py`."""

import streamlit as st

from ui import session

session.configure_page()
identity = session.login_gate()
if identity is None:
    # Registering a (hidden) page while logged out still switches Streamlit from the legacy pages/
    # mode to this router, and every other URL then lands here, on the login form.
    st.navigation([st.Page(session.run_login_page(), title="Log in")], position="hidden").run()
else:
    navigation = st.navigation(session.navigation_pages(identity.role))
    session.user_sidebar(identity)
    navigation.run()
