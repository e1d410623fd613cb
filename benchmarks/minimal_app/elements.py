"""A page of N plain elements and a Rerun button, N from the URL (?n=25): what one more element
costs Streamlit's rerun in the browser, with no database and no ctm code.

    streamlit run benchmarks/minimal_app/elements.py   (then open /?n=50)
"""

import streamlit as st

st.set_page_config(page_title="Elements", layout="wide")
n = int(st.query_params.get("n", 5))
st.button("Rerun", key="rerun")
st.title(f"{n} elements")
# The mix a ctm page is made of: captions, metrics in columns, buttons.
for i in range(max(0, n - 2) // 4):
    left, right = st.columns(2)
    left.metric(f"Tile {i}", i)
    right.caption(f"Caption {i}")
