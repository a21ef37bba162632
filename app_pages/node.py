"""One node's arithmetic: click a pixel of a trained fixed-graph net's feature map and see how its value is
computed (neighbours, edge weights, products, sum, W, bias, ReLU), checked against the network's own activation;
for a steerable net, how a quarter turn permutes a field's channels at one pixel. The digit is a test digit of the
run's data set (``nd_src=dataset``, ``nd_digit``) or one drawn on the Playground's canvas (``nd_src=draw``), which
travels in the link as ``nd_ink`` (ui/drawn_digit.py, as the Playground's ``pg_ink``).

Without ``nd_run`` the page opens on the newest graph-net run (GCN, ChebNet, learned edges), not the newest run of
any kind (``default_run_id``). Nodes are named as the map names them, "pixel (row R, column C)". The link
``?nd_run=5&nd_layer=1&nd_row=15&nd_col=6`` opens run 5's first graph layer at that pixel (``nd_out``: the output
channel, ``nd_digit``: the test digit)."""

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
from core.training.store import CheckpointError
from ui.display import guarded, labelled, plain
from ui.drawn_digit import drawn_digit
from ui.nav import page
from ui.resources import RUNS, cached, dataset, from_store, store
from ui.url_state import copy_link_button, url_choice, url_labelled_choice, url_notices, url_number, url_slider

SOURCES = {"dataset": "data set", "draw": "draw"}  # the link's value (nd_src) -> what the choice shows
INK_KEY = "nd_ink"  # a drawn digit in the link: 16 grey levels, core.data.image_io.encode_digit_link


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def node_run(run_id: int, db: str, version: str, _run: dict):
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


def render() -> None:
    st.title("One node")
    st.caption(
        "One pixel of a trained graph network, worked out by hand: its neighbours times their edge weights, "
        "summed, through the weights, plus the bias, through the ReLU — checked against the network's own value."
    )
    shown_line = st.empty()  # which run and digit are shown, and where to pick others (filled once they are known)
    notice = st.container()  # filled at the end if the opened link had invalid values
    sb = st.sidebar

    def finish() -> None:
        copy_link_button(sb)
        url_notices(notice)

    def clicked_cell(state) -> tuple[int, int] | None:
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

    def pick_cell(side: int, default: tuple[int, int]) -> tuple[int, int]:
        """Row and column inputs (URL-bound); a click on the map (``nd_map``) sets them before they are drawn."""
        cell = clicked_cell(st.session_state.get("nd_map"))
        if cell is None:  # nothing selected (a second click deselects): the next click counts, even on the same cell
            st.session_state.pop("_nd_click", None)
        elif cell != st.session_state.get("_nd_click"):
            st.session_state["_nd_click"] = cell
            if 0 <= cell[0] < side and 0 <= cell[1] < side:
                st.session_state["nd_row"], st.session_state["nd_col"] = cell
        for key in ("nd_row", "nd_col"):  # a coarser layer: keep the choice on its grid
            if isinstance(st.session_state.get(key), int) and st.session_state[key] > side - 1:
                st.session_state[key] = side - 1
        rc, cc = sb.columns(2)
        row = url_number(rc, "Row", 0, side - 1, default[0], "nd_row")
        col = url_number(cc, "Column", 0, side - 1, default[1], "nd_col")
        return int(row), int(col)

    runs = from_store(
        lambda s: sorted((r for m in RUN_MODELS for r in s.runs_with_weights(m)), key=lambda r: -int(r["id"])),
        then=finish,
    )
    if not runs:
        st.info(
            "No finished GCN, ChebNet, learned-edge or steerable run with a checkpoint yet. Train one on the Train "
            "page: its pixels' arithmetic will appear here.",
            icon=":material/model_training:",
        )
        st.page_link(
            page("train"), label="Train a GCN", icon=":material/model_training:", query_params={"model": "gcn"}
        )
        finish()
        st.stop()

    by_id = {int(r["id"]): r for r in runs}

    def run_choice(i: int) -> str:
        r = by_id.get(i, {"id": i})  # a value no run has (forged by a browser) gets a neutral title, not a KeyError
        acc = (r.get("summary") or {}).get("test_accuracy")
        return run_title(r) + (f" ({acc:.1%})" if isinstance(acc, (int, float)) else "")

    default = default_run_id(runs)
    run_id = url_labelled_choice(
        sb,
        "Run",
        list(by_id),
        default,
        "nd_run",
        format_func=run_choice,
        help="Graph networks (GCN, ChebNet, learned edges) show the arithmetic; a steerable "
        "net shows how a quarter turn moves its channels.",
    )
    run = by_id[run_id]
    why = (
        "the newest graph network"
        if run_id == default and (run.get("config") or {}).get("model") in KINDS
        else "the newest run"
        if run_id == default
        else ""
    )

    def show_line(digit: str = "") -> None:
        """One line: the run shown (and why, when the page chose it), the digit, and where to pick others."""
        shown_line.caption(
            f"Showing **{run_choice(run_id)}**{', ' + why if why else ''}"
            + (f", on {digit}" if digit else "")
            + ". Pick another run — steerable nets too — or digit "
            "in the sidebar (» at the top left on a phone)."
        )

    show_line()
    try:
        model, cfg = node_run(run_id, str(store().path), checkpoint_version(run), run)
    except (CheckpointError, UserInputError, OSError) as err:
        st.error(f"Cannot open run {run_id} — {plain(err)}")
        finish()
        st.stop()

    def drawn_input() -> tuple[np.ndarray | None, str]:
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

    source = url_labelled_choice(
        sb,
        "Digit",
        list(SOURCES),
        "dataset",
        "nd_src",
        format_func=labelled(SOURCES),
        help="data set: a test digit of the run's data set. draw: your own digit, with the mouse or a finger.",
    )
    if source == "draw":
        image, shown = drawn_input()
        if image is None:
            finish()
            st.stop()
    else:
        st.query_params.pop(INK_KEY, None)  # a drawing's link value means nothing beside a data-set digit
        ds = guarded(lambda: dataset(cfg.data))
        if ds is None:
            finish()
            st.stop()
        digit = url_slider(sb, "Test digit #", 0, len(ds.y_test) - 1, 0, "nd_digit")
        image = ds.x_test[digit].numpy()  # (28, 28)
        shown = f"test digit #{digit} (label {ds.classes[int(ds.y_test[digit])]})"
    show_line(shown)

    # ---------------------------------------------------------------- a steerable net
    if cfg.model not in KINDS:  # a steerable net (the other runs this page opens)
        size, ftype = int(model.size), first_conv(model).out_type
        row, col = pick_cell(size, (size // 2 - 6, size // 2 + 4))
        n_fields = len(ftype)
        field = url_slider(sb, "Field", 0, n_fields - 1, 0, "nd_field") if n_fields > 1 else 0
        sn = guarded(lambda: steerable_node(model, image, (row, col), int(field)))
        if sn is None:
            finish()
            st.stop()
        tr, tc = sn.turned_pixel
        conv_name = next(
            (n for p, n in layer_names(model).items() if n.startswith("steerable conv")), "steerable conv 1"
        )
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
        finish()
        st.stop()

    # ---------------------------------------------------------------- a fixed-graph net
    n_layers = len(model.convs)
    names = layer_names(model)
    conv_names = {i + 1: names.get(f"convs.{i}", f"graph conv {i + 1}") for i in range(n_layers)}
    layer = url_labelled_choice(sb, "Graph layer", list(conv_names), 1, "nd_layer", format_func=conv_names.get) - 1
    lname = conv_names[layer + 1]
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
    row, col = pick_cell(side, (brightest // side, brightest % side))
    node = node_of(row, col, side)
    pixel = pixel_name(row, col)
    na = guarded(lambda: node_arithmetic(model, image, layer, node))
    if na is None:
        finish()
        st.stop()
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{lname} output, channel {out_ch}: click a pixel**")  # above: Plotly's toolbar covers a title
        st.plotly_chart(
            node_map_figure(outputs[:, out_ch].reshape(side, side), node),
            width="stretch",
            key="nd_map",
            on_select="rerun",
            selection_mode="points",
        )
    s = edge_set_of(na, out_ch, in_ch or 0)
    w_shown = na.edge_weights if na.edge_weights.ndim == 1 else na.edge_weights[:, s]
    in_map, in_name = input_map(na, inputs, out_ch, in_ch)
    in_name = "the digit" if layer == 0 and in_ch is not None else in_name
    with right:
        st.markdown(f"**Its input: {in_name}**")
        st.plotly_chart(
            node_map_figure(
                in_map.reshape(side, side), node, na.neighbours, w_shown, window=3, clickable=False, height=480
            ),
            width="stretch",
            key="nd_inputs",
        )
    st.caption(
        f"Left: the layer's output; click a pixel to pick it (or set the row and column in the sidebar). Right: "
        f"the layer's input around {pixel} (red square), its neighbours outlined and labelled with their edge "
        "weights."
    )
    name = {"gcn": "Â", "cheb": "L̃", "learned": "Â"}[na.kind]
    st.markdown(f"**The row of {name} for {pixel}: its {len(na.neighbours)} neighbours**")
    st.caption(MATRICES[na.kind])
    st.plotly_chart(
        adjacency_row_figure(adjacency_row(na, s), node, side, name=name), width="stretch", key="nd_row_fig"
    )

    st.subheader(f"The node at {pixel} · {lname}, output channel {out_ch}")
    st.latex(FORMULAS[na.kind])
    st.caption(
        f"i is {pixel}, j runs over its neighbours; x is the layer's input, "
        + ("Θₖ the layer's weight matrix for order k" if na.kind == "cheb" else "W the layer's weight matrix")
        + ", b its bias."
    )

    st.markdown("**1 · The neighbours** — each neighbour's input value times its edge weight:")
    rows = neighbour_rows(na, out_ch, in_ch)
    table(
        rows,
        column_config={
            "weight": st.column_config.NumberColumn(f"weight ({name} entry)", format="%.5f"),
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
        raw = na.raw_edge_weights if na.raw_edge_weights.ndim == 1 else na.raw_edge_weights[:, s]
        table(
            [
                {
                    "row": int(j) // side,
                    "column": int(j) % side,
                    **{n: float(v) for n, v in zip(na.edge_input_names, feats, strict=False)},
                    "predicted": float(p),
                    "normalised": float(q),
                }
                for j, feats, p, q in zip(na.neighbours, na.edge_inputs, raw, w_shown, strict=False)
            ]
        )

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
                {"channel": o, "pre-activation": float(p), "output": float(v), "network": float(n), "bias": float(b)}
                for o, (p, v, n, b) in enumerate(zip(na.pre_activation, na.output, na.network, na.bias, strict=False))
            ]
        )
        if na.weight is not None:
            st.caption(
                f"W ({na.weight.shape[0]} × {na.weight.shape[1]}){' = Θ₀' if na.kind == 'cheb' else ''}: row o "
                "is output channel o."
            )
            st.dataframe(pd.DataFrame(np.round(na.weight, 6)), width="stretch")
    finish()


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
