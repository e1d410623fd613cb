"""The browser benchmark's baseline: the least a Streamlit app with ctm's three URLs can do.
st.navigation over /mappings, /events and /statistics; each page a title and a 100-row dataframe,
plus the widgets the benchmark's interactions need (a sidebar filter, a page number, a dialog and
a selectable table), so every ctm action has a counterpart that costs Streamlit alone.

    streamlit run benchmarks/minimal_app/app.py
"""

import pandas as pd
import streamlit as st

st.set_page_config(page_title="Minimal", layout="wide")

ROWS = pd.DataFrame(
    {
        "name": [f"Customer {i}" for i in range(100)],
        "substation": [f"Substation {i % 30:02d}" for i in range(100)],
        "circuit": [f"H{1 + i % 12}" for i in range(100)],
        "value": [i * 1.5 for i in range(100)],
    }
)


@st.dialog("A dialog")
def dialog() -> None:
    st.write("Dialog content")


def page(title: str) -> None:
    st.title(title)
    with st.sidebar:
        choice = st.selectbox("Filter", ["All", "Substation 07", "Substation 08"], key="filter")
    page_number = st.number_input("Page", min_value=1, step=1, key="page")
    if st.button("Open dialog", key="open_dialog"):
        dialog()
    rows = ROWS if choice == "All" else ROWS[ROWS["substation"] == choice]
    state = st.dataframe(
        rows, on_select="rerun", selection_mode="single-row", key=f"table-{page_number}"
    )
    if state.selection.rows:
        st.subheader(f"Selected row {state.selection.rows[0]}")


def mappings() -> None:
    page("Mappings")


def events() -> None:
    page("Events")


def statistics() -> None:
    page("Statistics")


def start() -> None:
    st.switch_page(first)


first = st.Page(mappings, title="Mappings", url_path="mappings")
# As in ctm, a hidden default page at "/" keeps the three real pages on their own URLs.
st.navigation(
    [
        st.Page(start, title="Start", default=True, visibility="hidden", url_path="start"),
        first,
        st.Page(events, title="Events", url_path="events"),
        st.Page(statistics, title="Statistics", url_path="statistics"),
    ]
).run()
