"""Start here: the three steps of the app (a digit as a graph, train, play with rotations), each a link."""

import streamlit as st

from core.config import QUICK_EPOCHS, quick_mode
from core.training.store import StoreError
from ui.nav import page
from ui.resources import store


def render() -> None:
    if st.query_params:  # a link from before this page existed: "/" was the Graph Builder, and its settings still are
        st.switch_page(page("graph"), query_params=st.query_params.to_dict())

    st.title("GraphConv Lab")
    st.markdown(
        "Learn convolutions on graphs and on groups by training real models on real MNIST digits, here in "
        "your browser. Three steps, each a page; every setting lives in the address bar, so a copied link "
        "reopens what you see."
    )

    one, two, three = st.columns(3, border=True)
    with one:
        st.subheader("1 · See a digit as a graph")
        st.write(
            "Pixels become nodes; a builder decides the edges (grid, k nearest neighbours, Gaussian kernel, "
            "superpixels) and a normalisation decides how a node mixes its neighbours: X' = Â X W."
        )
        st.page_link(page("graph"), label="Graph Builder", icon=":material/hub:")
        st.page_link(page("spectral"), label="…and its frequencies (Spectral view)", icon=":material/graphic_eq:")
    with two:
        st.subheader("2 · Train a model")
        st.write(
            "Pick a layer type and press Start: it trains in the background and the curves draw live"
            + (f" (quick mode: {QUICK_EPOCHS} epochs on 1,000 digits, seconds per run)." if quick_mode() else ".")
        )
        st.page_link(
            page("train"),
            label="A CNN (the baseline)",
            icon=":material/model_training:",
            query_params={"model": "cnn"},
        )
        st.page_link(
            page("train"), label="A ChebNet (graph layers)", icon=":material/hub:", query_params={"model": "cheb"}
        )
        # the starter set's C8 recipe (core/training/starter.py): 20 epochs reach ~91% on quick mnist-rot, 3 reached 66%
        st.page_link(
            page("train"),
            label="A C8 net, rotated digits (about 2 minutes)",
            icon=":material/rotate_right:",
            query_params={"model": "escnn", "group": "C8", "data": "mnist-rot", "epochs": "20"},
        )
    with three:
        st.subheader("3 · Play with rotations")
        st.write(
            "Draw a digit, turn it, and watch trained nets answer: a CNN's answer flips as the digit turns, a "
            "steerable net's stays put."
        )
        st.page_link(page("playground"), label="Playground", icon=":material/draw:")
        st.page_link(page("equivariance"), label="Equivariance, measured", icon=":material/rotate_right:")

    st.page_link(page("results"), label="Results of a run", icon=":material/analytics:")
    st.page_link(page("compare"), label="Compare runs and sweeps", icon=":material/compare_arrows:")
    try:
        finished = len(store().runs_with_weights(limit=50))  # a run store that cannot be opened: one message, below
    except StoreError:
        finished = None
    if finished == 0:
        st.info(
            "No trained run on this server yet: the Playground answers with trained runs, so start with step 2 "
            "(one of each of the three takes a minute or two).",
            icon=":material/info:",
        )
    elif finished:
        st.caption(
            f"{finished}{'+' if finished >= 50 else ''} finished run(s) with weights on this server: open them "
            "on the insight pages."
        )


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
