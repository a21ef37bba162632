"""One node's arithmetic: click a pixel of a trained fixed-graph net's feature map and see how its value is
computed (neighbours, edge weights, products, sum, W, bias, ReLU), checked against the network's own activation;
for a steerable net, how a quarter turn permutes a field's channels at one pixel. The digit is a test digit of the
run's data set (``nd_src=dataset``, ``nd_digit``) or one drawn on the Playground's canvas (``nd_src=draw``), which
travels in the link as ``nd_ink`` (ui/drawn_digit.py, as the Playground's ``pg_ink``).

Without ``nd_run`` the page opens on the newest graph-net run (GCN, ChebNet, learned edges), not the newest run of
any kind (``default_run_id``). Nodes are named as the map names them, "pixel (row R, column C)". The link
``?nd_run=5&nd_layer=1&nd_row=15&nd_col=6`` opens run 5's first graph layer at that pixel (``nd_out``: the output
channel, ``nd_digit``: the test digit)."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.node_arithmetic import (
    KINDS,
    RUN_MODELS,
    TERM_SHARE,
    adjacency_row,
    channel_rows,
    cheb_rows,
    default_run_id,
    edge_set_of,
    input_map,
    layer_io,
    load_node_run,
    neighbour_rows,
    node_arithmetic,
    node_of,
    pixel_name,
)
from core.analysis.node_steerable import first_conv, steerable_node
from core.analysis.results import checkpoint_version
from core.errors import UserInputError
from core.figures.node import (
    adjacency_row_figure,
    cheb_terms_figure,
    field_maps_figure,
    field_turn_figure,
    node_map_figure,
)
from core.figures.playground import digit_picture
from core.models.layer_names import layer_names
from core.training.runs import run_title
from core.training.store import CheckpointError, Run, as_run
from ui.display import guarded, labelled, plain
from ui.drawn_digit import drawn_digit
from ui.linked_runs import linked_run_shown, write_defs
from ui.nav import page
from ui.resources import RUNS, cached, dataset, from_store, store
from ui.url_state import (
    copy_link_button,
    url_choice,
    url_labelled_choice,
    url_notices,
    url_number,
    url_slider,
)

SOURCES = {"dataset": "data set", "draw": "draw"}  # the link's value (nd_src) -> what the choice shows
INK_KEY = "nd_ink"  # a drawn digit in the link: 16 grey levels, core.data.image_io.encode_digit_link


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def node_run(run_id: int, db: str, version: str, _run: Run):
    """The stored run rebuilt with its weights, once per database, checkpoint file and mtime."""
    return load_node_run(_run)


def table(rows: list[dict], **kw) -> None:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", **kw)


MATRICES = {  # what the matrix is, in one plain sentence, where it first appears
    "cheb": "L̃ is the graph's scaled Laplacian, L̃ = 2L/λmax − I (L the graph's Laplacian, λmax its largest "
    "eigenvalue, taken as 2 here, so L̃ = −D^(−1/2) A D^(−1/2)): its row for this pixel says how the pixel "
    "mixes its neighbours' values, and it has nothing on the pixel itself.",
    "gcn": "Â is the graph's adjacency matrix with a self-loop added at every pixel, each entry divided by the "
    "square roots of its two ends' degrees, Â = D̂^(−1/2) (A + I) D̂^(−1/2): its row for this pixel says how "
    "much of each neighbour's value (its own included) the pixel takes in.",
    "learned": "Â holds the edge weights this network learned (what its edge MLP predicted for each edge, then "
    "normalised): its row for this pixel says how much of each neighbour's value the pixel takes in.",
}
FORMULAS = {
    "gcn": r"x'_i=\mathrm{ReLU}\Big(W\sum_{j\in N(i)\cup\{i\}}\hat A_{ij}\,x_j+b\Big),\quad"
    r"\hat A_{ij}=\frac{a_{ij}}{\sqrt{\hat d_i\hat d_j}}",
    "cheb": r"x'_i=\mathrm{ReLU}\Big(\sum_{k=0}^{K-1}\Theta_k\,(T_kX)_i+b\Big),\quad T_0X=X,\ T_1X=\tilde LX,\ "
    r"T_kX=2\tilde L\,T_{k-1}X-T_{k-2}X",
    "learned": r"x'_i=\mathrm{ReLU}\Big(W\sum_{j}\hat A_{ij}\,x_j+b\Big),\quad \hat A_{ij}=\mathrm{norm}\big("
    r"\sigma(\mathrm{MLP}(p_i,p_j))\big)",
}
EDGE_SETS = {
    "shared": "one set of edge weights shared by every channel",
    "out": "one set per output channel",
    "pair": "one set per pair of input and output channels",
}
NORMS = {
    "rw": "each divided by the sum of the pixel's edge weights",
    "none": "used as predicted, not normalised",
    "sym": "each divided by the square roots of its two ends' sums of edge weights",
}


@dataclass(frozen=True)
class _Picked:
    """The node a fixed-graph page shows, as the sidebar and the map picked it: every section below reads it."""

    # the node's sum, every number of it: a NodeArithmetic, read as Any as the page always has (its optional arrays
    # are set for the kinds that use them; core.figures.node types its neighbours and weights as sequences)
    na: Any
    layer: int  # the graph layer, 0-based
    lname: str  # the layer as people say it, "graph conv 1"
    side: int  # the layer's map is side x side pixels
    node: int  # the pixel's node id on that map
    out_ch: int  # the output channel shown
    in_ch: int | None  # the input channel shown; None: each neighbour's whole vector through W

    @property
    def pixel(self) -> str:
        """The pixel as the map names it, "pixel (row R, column C)"."""
        return pixel_name(self.node // self.side, self.node % self.side)

    @property
    def edge_set(self) -> int:
        """Which of a learned layer's edge sets feeds the channels shown (0 for one shared set)."""
        return edge_set_of(self.na, self.out_ch, self.in_ch or 0)

    @property
    def weights(self) -> Any:
        """The neighbours' edge weights of that edge set, (M,) in the order of ``na.neighbours``."""
        w = self.na.edge_weights
        return w if w.ndim == 1 else w[:, self.edge_set]

    @property
    def matrix(self) -> str:
        """The matrix whose row the sum reads: L̃ for ChebNet, Â for the others."""
        return {"gcn": "Â", "cheb": "L̃", "learned": "Â"}[self.na.kind]


def render() -> None:
    st.title("One node")
    st.caption(
        "One pixel of a trained graph network, worked out by hand: its neighbours times their edge weights, "
        "summed, through the weights, plus the bias, through the ReLU — checked against the network's own value."
    )
    shown_line = st.empty()  # which run and digit are shown, and where to pick others (filled once they are known)
    notice = st.container()  # filled at the end if the opened link had invalid values
    _one_node(shown_line, notice)
    _finish(notice)


def _finish(notice) -> None:
    """Copy link in the sidebar and the opened link's notices: the last thing every way through the page draws."""
    copy_link_button(st.sidebar)
    url_notices(notice)


def _one_node(shown_line, notice) -> None:
    """The run, the digit and the node picked, then the node's sum (a fixed-graph net) or how a quarter turn moves
    its channels (a steerable net); it returns early, after one line saying why, when something cannot be shown."""
    picked = _pick_run(notice)
    if picked is None:
        return
    run, named = picked
    _show_line(shown_line, named)
    opened = _open(run)
    if opened is None:
        return
    model, cfg = opened
    digit = _pick_digit(cfg)
    if digit is None:
        return
    image, shown = digit
    _show_line(shown_line, named, shown)
    if cfg.model in KINDS:
        _fixed_graph_node(model, image)
    else:  # a steerable net (the other runs this page opens)
        _steerable_node(model, image)


def _node_runs(s) -> list[Run]:
    """The runs this page opens (GCN, ChebNet, learned edges, steerable nets) that kept their weights, newest first."""
    return sorted((as_run(r) for m in RUN_MODELS for r in s.runs_with_weights(m)), key=lambda r: -r.id)


def _run_choice(by_id: dict[int, Run], run_id: int) -> str:
    """A run as the picker lists it, with its test accuracy: "Run 5 · GCN on the 8-neighbour grid (97.1%)"."""
    run = by_id.get(run_id)
    if run is None:  # a value no run has (forged by a browser) gets a neutral title, not a KeyError
        return run_title({"id": run_id})
    acc = run.summary.test_accuracy
    return run_title(run) + (f" ({acc:.1%})" if acc is not None else "")


def _pick_run(notice) -> tuple[Run, str] | None:
    """(the run picked in the sidebar, how the page's line names it: its title, and why when the page chose it);
    None, after a line and a link to the Train page, when no run can be shown, or when the link's run cannot be
    shown yet (``ui.linked_runs.linked_run_shown``)."""
    runs = from_store(_node_runs, then=lambda: _finish(notice))
    by_id = {r.id: r for r in runs}
    if not linked_run_shown("nd_run", notice, by_id, once=True):
        return None
    if not runs:
        st.info(
            "No finished GCN, ChebNet, learned-edge or steerable run with a checkpoint yet. Train one on the Train "
            "page: its pixels' arithmetic will appear here.",
            icon=":material/model_training:",
        )
        st.page_link(
            page("train"), label="Train a GCN", icon=":material/model_training:", query_params={"model": "gcn"}
        )
        return None
    # default_run_id reads the dict form (core/analysis/node_arithmetic.py)
    default = default_run_id([r.to_dict() for r in runs])
    run_id = url_labelled_choice(
        st.sidebar,
        "Run",
        list(by_id),
        default,
        "nd_run",
        format_func=lambda i: _run_choice(by_id, i),
        help="Graph networks (GCN, ChebNet, learned edges) show the arithmetic; a steerable "
        "net shows how a quarter turn moves its channels.",
    )
    write_defs([run_id])  # a copied link carries what the run is (ui/linked_runs.py)
    run = by_id[run_id]
    why = ("the newest graph network" if run.model in KINDS else "the newest run") if run_id == default else ""
    return run, f"**{_run_choice(by_id, run_id)}**" + (f", {why}" if why else "")


def _show_line(shown_line, named: str, digit: str = "") -> None:
    """One line: the run shown (``named``), the digit, and where to pick others."""
    shown_line.caption(
        f"Showing {named}" + (f", on {digit}" if digit else "") + ". Pick another run — steerable nets too — or digit "
        "in the sidebar (» at the top left on a phone)."
    )


def _open(run: Run):
    """(the run's model with its weights, its RunConfig); None after one line saying why it cannot be opened."""
    try:
        return node_run(run.id, store().location, checkpoint_version(run), run)
    except (CheckpointError, UserInputError, OSError) as err:
        st.error(f"Cannot open run {run.id} — {plain(err)}")
        return None


def _pick_digit(cfg) -> tuple[np.ndarray, str] | None:
    """(the digit, (28, 28) in [0, 1], and what it is): a test digit of the run's data set or a drawn one; None
    when there is none yet (a blank canvas, said beside it) or the data set cannot be read (said in one line)."""
    source = url_labelled_choice(
        st.sidebar,
        "Digit",
        list(SOURCES),
        "dataset",
        "nd_src",
        format_func=labelled(SOURCES),
        help="data set: a test digit of the run's data set. draw: your own digit, with the mouse or a finger.",
    )
    if source == "draw":
        image, shown = _drawn_input()
        return None if image is None else (image, shown)
    st.query_params.pop(INK_KEY, None)  # a drawing's link value means nothing beside a data-set digit
    ds = guarded(lambda: dataset(cfg.data))
    if ds is None:
        return None
    digit = url_slider(st.sidebar, "Test digit #", 0, len(ds.y_test) - 1, 0, "nd_digit")
    return ds.x_test[digit].numpy(), f"test digit #{digit} (label {ds.classes[int(ds.y_test[digit])]})"


def _drawn_input() -> tuple[np.ndarray | None, str]:
    """(the drawn digit (28, 28) in [0, 1] or None, what it is): the canvas, and beside it the digit the net
    reads."""
    left, right = st.columns([1, 2])
    left.markdown("**Draw a digit** (white on black)")
    drawn, _, what = drawn_digit(left, "nd_canvas", INK_KEY)
    if drawn is None:
        right.info(
            "Draw a digit with the mouse or a finger: its arithmetic appears below when you lift it. Or pick "
            "a test digit of the run's data set (Digit: data set in the sidebar).",
            icon=":material/draw:",
        )
        return None, ""
    right.image(
        digit_picture(drawn, scale=4),
        caption="The digit the network reads: 28×28, prepared as MNIST prepares digits, on 16 grey levels",
    )
    if what == "link":
        right.caption(
            "This digit came with the link (on 16 grey levels). A new stroke on the canvas replaces it; "
            "Clear removes it."
        )
    return drawn, "the digit in the link" if what == "link" else "your drawing"


def _clicked_cell(state) -> tuple[int, int] | None:
    """(row, col) of the map's last clicked cell, from st.plotly_chart's selection state."""
    try:
        points = state["selection"]["points"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    p = points[0]
    try:
        return round(float(p["y"])), round(float(p["x"]))
    except (KeyError, TypeError, ValueError):
        return None


def _pick_cell(side: int, default: tuple[int, int]) -> tuple[int, int]:
    """Row and column inputs (URL-bound); a click on the map (``nd_map``) sets them before they are drawn."""
    cell = _clicked_cell(st.session_state.get("nd_map"))
    if cell is None:  # nothing selected (a second click deselects): the next click counts, even on the same cell
        st.session_state.pop("_nd_click", None)
    elif cell != st.session_state.get("_nd_click"):
        st.session_state["_nd_click"] = cell
        if 0 <= cell[0] < side and 0 <= cell[1] < side:
            st.session_state["nd_row"], st.session_state["nd_col"] = cell
    for key in ("nd_row", "nd_col"):  # a coarser layer: keep the choice on its grid
        if isinstance(st.session_state.get(key), int) and st.session_state[key] > side - 1:
            st.session_state[key] = side - 1
    rc, cc = st.sidebar.columns(2)
    row = url_number(rc, "Row", 0, side - 1, default[0], "nd_row")
    col = url_number(cc, "Column", 0, side - 1, default[1], "nd_col")
    return int(row), int(col)


# ---------------------------------------------------------------- a steerable net
def _steerable_node(model, image: np.ndarray) -> None:
    """A steerable net has no graph to sum over: what a quarter turn of the digit does to one pixel's channels."""
    size, ftype = int(model.size), first_conv(model).out_type
    row, col = _pick_cell(size, (size // 2 - 6, size // 2 + 4))
    n_fields = len(ftype)
    field = url_slider(st.sidebar, "Field", 0, n_fields - 1, 0, "nd_field") if n_fields > 1 else 0
    sn = guarded(lambda: steerable_node(model, image, (row, col), int(field)))
    if sn is None:
        return
    tr, tc = sn.turned_pixel
    conv_name = next((n for p, n in layer_names(model).items() if n.startswith("steerable conv")), "steerable conv 1")
    st.subheader(f"Field {field} of {conv_name} at {pixel_name(row, col)}")
    st.caption(
        "A steerable net has no graph to sum over: here is what a quarter turn of the digit does to one "
        "pixel's channels. Pick a graph network (GCN, ChebNet) under Run for the arithmetic."
    )
    st.caption(
        f"The digit is resampled to {size}×{size} (so the centre stays a pixel); {conv_name} gives "
        f"{sn.channels.shape[0]} field(s) of {sn.field_size} channels ({sn.group}). Click a pixel to pick it."
    )
    st.plotly_chart(
        node_map_figure(sn.maps[0], row * size + col, title=f"field {field}, channel 0"),
        width="stretch",
        key="nd_map",
        on_select="rerun",
        selection_mode="points",
    )
    st.plotly_chart(
        field_turn_figure(
            sn.channels[field],
            sn.turned_channels[field],
            sn.permutation,
            title=f"A 90° turn moves {pixel_name(row, col)} to (row {tr}, column {tc})",
        ),
        width="stretch",
        key="nd_turn",
    )
    if sn.permutation is not None:
        moves = ", ".join(f"{c}→{p}" for c, p in enumerate(sn.permutation))
        shift = f" — a cyclic shift by {sn.shift} place(s)" if sn.shift is not None else ""
        st.markdown(
            f"The quarter turn permutes the field's channels: {moves}{shift}. "
            f"Largest difference from ρ(90°) applied to the original channels: **{sn.error:.1e}**."
        )
    else:
        st.markdown(
            f"{sn.group} fields are Fourier fields: the quarter turn rotates their coefficients by ρ(90°) "
            f"instead of permuting them. Largest difference from ρ(90°) f: **{sn.error:.1e}**."
        )
    table(
        [
            {"channel": c, "digit": float(a), "turned digit, turned pixel": float(b), "ρ(90°) f": float(e)}
            for c, (a, b, e) in enumerate(
                zip(sn.channels[field], sn.turned_channels[field], sn.expected[field], strict=False)
            )
        ]
    )
    st.plotly_chart(
        field_maps_figure(sn.maps, (row, col), title="the digit: the field's channels"),
        width="stretch",
        key="nd_maps",
    )
    st.plotly_chart(
        field_maps_figure(sn.turned_maps, (tr, tc), title="the turned digit: the same field"),
        width="stretch",
        key="nd_turned_maps",
    )


# ---------------------------------------------------------------- a fixed-graph net
def _fixed_graph_node(model, image: np.ndarray) -> None:
    """A fixed-graph net (GCN, ChebNet, learned edges): the layer, channels and pixel picked, then the pixel's
    value written out as the sum its layer computes, checked against the network's own."""
    sb = st.sidebar
    names = layer_names(model)
    conv_names = {i + 1: names.get(f"convs.{i}", f"graph conv {i + 1}") for i in range(len(model.convs))}
    layer = url_labelled_choice(sb, "Graph layer", list(conv_names), 1, "nd_layer", format_func=conv_names.get) - 1
    conv = model.convs[layer]
    side = round(model.graphs[layer].num_nodes ** 0.5)
    c_in, c_out = int(conv.in_channels), int(conv.out_channels)
    inputs, outputs = layer_io(model, image, layer)  # (N, C_in), (N, C_out): the maps drawn
    busiest = int(np.argmax(outputs.sum(axis=0)))  # the channel this digit lights up most
    out_ch = (
        url_slider(
            sb,
            "Output channel",
            0,
            c_out - 1,
            busiest,
            "nd_out",
            help="Starts at the channel this digit lights up most.",
        )
        if c_out > 1
        else 0
    )
    in_options = ["through W"] + [f"channel {c}" for c in range(c_in)]
    in_pick = url_choice(
        sb,
        "Neighbour values",
        in_options,
        "through W" if c_in > 1 else "channel 0",
        "nd_in",
        help="through W: each neighbour's whole vector times W's column for the output channel; "
        "channel c: one input channel's value.",
    )
    in_ch = None if in_pick == "through W" else int(in_pick.split()[1])
    brightest = int(np.argmax(outputs[:, out_ch]))  # start where this channel is busiest, not on a blank pixel
    row, col = _pick_cell(side, (brightest // side, brightest % side))
    node = node_of(row, col, side)
    na = guarded(lambda: node_arithmetic(model, image, layer, node))
    if na is None:
        return
    picked = _Picked(na, layer, conv_names[layer + 1], side, node, out_ch, in_ch)
    _maps(picked, inputs, outputs)
    _neighbours(picked, conv)
    _to_the_output(picked)


def _maps(p: _Picked, inputs: np.ndarray, outputs: np.ndarray) -> None:
    """The layer's output map (click a pixel), its input around the pixel, and the pixel's row of Â (L̃)."""
    na = p.na
    left, right = st.columns(2)
    with left:
        st.markdown(
            f"**{p.lname} output, channel {p.out_ch}: click a pixel**"
        )  # above: Plotly's toolbar covers a title
        st.plotly_chart(
            node_map_figure(outputs[:, p.out_ch].reshape(p.side, p.side), p.node),
            width="stretch",
            key="nd_map",
            on_select="rerun",
            selection_mode="points",
        )
    in_map, in_name = input_map(na, inputs, p.out_ch, p.in_ch)
    in_name = "the digit" if p.layer == 0 and p.in_ch is not None else in_name
    with right:
        st.markdown(f"**Its input: {in_name}**")
        st.plotly_chart(
            node_map_figure(
                in_map.reshape(p.side, p.side), p.node, na.neighbours, p.weights, window=3, clickable=False, height=480
            ),
            width="stretch",
            key="nd_inputs",
        )
    st.caption(
        f"Left: the layer's output; click a pixel to pick it (or set the row and column in the sidebar). Right: "
        f"the layer's input around {p.pixel} (red square), its neighbours outlined and labelled with their edge "
        "weights."
    )
    st.markdown(f"**The row of {p.matrix} for {p.pixel}: its {len(na.neighbours)} neighbours**")
    st.caption(MATRICES[na.kind])
    st.plotly_chart(
        adjacency_row_figure(adjacency_row(na, p.edge_set), p.node, p.side, name=p.matrix),
        width="stretch",
        key="nd_row_fig",
    )


def _neighbours(p: _Picked, conv) -> None:
    """The node's formula, then step 1: each neighbour's value times its edge weight, and their sum (a learned
    layer: what its edge MLP predicted for those edges too)."""
    na, out_ch, in_ch = p.na, p.out_ch, p.in_ch
    st.subheader(f"The node at {p.pixel} · {p.lname}, output channel {out_ch}")
    st.latex(FORMULAS[na.kind])
    st.caption(
        f"i is {p.pixel}, j runs over its neighbours; x is the layer's input, "
        + ("Θₖ the layer's weight matrix for order k" if na.kind == "cheb" else "W the layer's weight matrix")
        + ", b its bias."
    )

    st.markdown("**1 · The neighbours** — each neighbour's input value times its edge weight:")
    rows = neighbour_rows(na, out_ch, in_ch)
    table(
        rows,
        column_config={
            "weight": st.column_config.NumberColumn(f"weight ({p.matrix} entry)", format="%.5f"),
            "input": st.column_config.NumberColumn(format="%.5f"),
            "product": st.column_config.NumberColumn(format="%.5f"),
        },
    )
    total = sum(r["product"] for r in rows)
    through = in_ch is None
    if na.kind == "cheb":
        what = f"the k = 1 term Θ₁ (T₁X)ᵢ, output channel {out_ch}" if through else f"(T₁X)ᵢ of channel {in_ch}"
    else:
        what = (
            f"Σⱼ Âᵢⱼ (W xⱼ) of output channel {out_ch}, the pre-activation without the bias"
            if through
            else f"(ÂX)ᵢ of channel {in_ch}"
        )
    st.markdown(f"Sum of the products = **{total:.6f}** = {what}.")

    if na.raw_edge_weights is not None:
        st.markdown(
            f"**The learned edges** — what the edge MLP predicted for the pixel's edges "
            f"({EDGE_SETS.get(na.edge_sets, na.edge_sets)}; {conv.activation} activation), then normalised "
            f"({NORMS.get(na.norm, na.norm)}):"
        )
        raw = na.raw_edge_weights if na.raw_edge_weights.ndim == 1 else na.raw_edge_weights[:, p.edge_set]
        table(
            [
                {
                    "row": int(j) // p.side,
                    "column": int(j) % p.side,
                    **{n: float(v) for n, v in zip(na.edge_input_names, feats, strict=False)},
                    "predicted": float(q_raw),
                    "normalised": float(q),
                }
                for j, feats, q_raw, q in zip(na.neighbours, na.edge_inputs, raw, p.weights, strict=False)
            ]
        )


def _to_the_output(p: _Picked) -> None:
    """Steps 2 and 3: through W (ChebNet: its terms), plus the bias, through the ReLU; then the network's own value
    beside it, and the whole output vector and W."""
    na, out_ch, in_ch = p.na, p.out_ch, p.in_ch
    bias, pre, out = float(na.bias[out_ch]), float(na.pre_activation[out_ch]), float(na.output[out_ch])
    if na.kind == "cheb":
        st.markdown(
            f"**2 · The {len(na.cheb_terms)} Chebyshev terms at the pixel** — each through its Θₖ column "
            f"for output channel {out_ch}. The terms added, plus the bias, make the pre-activation; the share is "
            "each term's size against all of them, |term| ÷ Σ |terms|:"
        )
        table(cheb_rows(na, out_ch, in_ch), column_config={TERM_SHARE: st.column_config.NumberColumn(format="percent")})
        st.markdown("**Σₖ Θₖ (TₖX)ᵢ + b = pre-activation**")
        waterfall = cheb_terms_figure(na.cheb_parts[:, out_ch], bias)
        st.plotly_chart(waterfall, width="stretch", key="nd_cheb")
    elif na.aggregate is not None:
        st.markdown(f"**2 · Through W** — the aggregated vector (ÂX)ᵢ times W's column for output channel {out_ch}:")
        table(channel_rows(na, out_ch))
    else:
        shares = float(na.contributions[:, out_ch].sum())
        st.markdown(
            f"**2 · Per-channel edge sets** — each neighbour's term above already went through its own edge "
            f"set{' and W' if na.weight is not None else ''}; their sum is {shares:.6f}."
        )
    st.markdown(
        f"**3 · Bias and ReLU** — pre-activation = {pre - bias:.6f} + b ({bias:.6f}) = **{pre:.6f}**; "
        f"{na.activation}: max(0, {pre:.6f}) = **{out:.6f}**."
    )
    net = float(na.network[out_ch])
    st.success(
        f"The network's own activation: {net:.6f}, difference {abs(out - net):.1e} "
        f"(largest over all {na.out_channels} output channels: {na.difference:.1e}).",
        icon=":material/check:",
    )
    with st.expander("The whole output vector and W"):
        table(
            [
                {"channel": o, "pre-activation": float(pr), "output": float(v), "network": float(n), "bias": float(b)}
                for o, (pr, v, n, b) in enumerate(zip(na.pre_activation, na.output, na.network, na.bias, strict=False))
            ]
        )
        if na.weight is not None:
            st.caption(
                f"W ({na.weight.shape[0]} × {na.weight.shape[1]}){' = Θ₀' if na.kind == 'cheb' else ''}: row o "
                "is output channel o."
            )
            st.dataframe(pd.DataFrame(np.round(na.weight, 6)), width="stretch")


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
