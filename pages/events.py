"""Events page (placeholder until the events helper lands the real page)."""

import streamlit as st

from ui.session import require_user

engine, identity = require_user()
st.title("Events")
st.info("This page is being built.")
