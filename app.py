"""GraphConv Lab: the navigation registry and shared frame (pages live in pages/)."""

import streamlit as st

st.set_page_config(page_title="GraphConv Lab", page_icon=":material/hub:", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/graph_builder.py", title="Graph Builder", icon=":material/hub:", default=True, url_path="graphs"),
    ],
    "Train": [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    ],
}

nav = st.navigation(PAGES)
st.sidebar.caption("GraphConv Lab — convolutions on graphs and groups, trained in your browser.")
nav.run()
