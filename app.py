"""GraphConv Lab: the navigation registry and shared frame (pages live in pages/)."""

import streamlit as st

st.set_page_config(page_title="GraphConv Lab", page_icon="🕸️", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/graph_builder.py", title="Graph Builder", icon="🕸️", default=True, url_path="graphs"),
    ],
    "Train": [
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    ],
}

nav = st.navigation(PAGES)
st.sidebar.caption("GraphConv Lab — convolutions on graphs and groups, trained in your browser.")
nav.run()
