"""Streamlit-only code shared by app.py and the page files (login gate, feedback, widgets)."""
