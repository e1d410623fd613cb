"""Customer Transformer Matching page (placeholder; the grid lands shortly)."""

import streamlit as st

from ui.session import require_user

engine, identity = require_user()
st.title("Customer Transformer Matching")
