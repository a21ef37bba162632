"""Filters: rows of a graph's normalised adjacency as images — a fixed graph's, a learned-edge run's learned
filters beside the Gaussian kernel, a GAT run's attention for one digit, a superpixel run's filters on one
digit's own graph — and the filter moving across the pixels (GIF)."""

import json

import numpy as np
import streamlit as st

from core.analysis.digit_filters import attention_filter, attention_frames, gat_attention, load_gat_run, run_problem
from core.analysis.filters import (
    FULL_SIDE,
    PATHS,
    drift_summary,
    filter_drift,
    filter_stats,
    gaussian_filter,
    graph_filter,
    graph_frames,
    layer_pixel,
    learned_filter,
    learned_frames,
    load_learned_run,
    pixel_path,
)
from core.analysis.results import checkpoint_version
from core.analysis.superpixel_filters import (
    MIXING_TEXT,
    SUPERPIXEL_MIXING,
    load_superpixel_run,
    superpixel_digit,
    superpixel_filter,
)
from core.errors import UserInputError
from core.figures.filters import (
    comparison_figure,
    digit_filter_figure,
    filter_animation_figure,
    superpixel_filter_figure,
)
from core.figures.filters_gif import filters_gif
from core.figures.graphs import graph_figure, superpixel_boundaries
from core.graphs import FORMULAS, GRAPH_PARAMS, NORMS
from core.models import MODELS
from core.training.runs import run_title
from core.training.store import ACTIVE_STATUSES, CheckpointError, Run, StoreError, as_run
from ui.display import guarded, plain
from ui.linked_runs import checked, watch_link, write_defs
from ui.nav import page
from ui.page_queries import FiltersQuery, TrainQuery
from ui.resources import GIFS, RUNS, cached, dataset, from_store, graph, store
from ui.url_state import (
    copy_link_button,
    graph_param_widgets,
    parse_run_id,
    shown_link_value,
    url_choice,
    url_notices,
    url_slider,
    url_toggle,
)

PIXEL_KINDS = [k for k in GRAPH_PARAMS if k != "superpixels"]
SPEEDS = [60, 100, 150, 250, 400, 700]  # ms per animation frame
PLAIN_NORMS = {"rw": "D⁻¹A: every row sums to 1", "sym": "D^-½ A D^-½"}
GIF_PIXELS = 224  # the GIF's side in pixels (each filter pixel upscaled to fill it)


def finish(notice) -> None:
    """The copy-link control and the notice about invalid link values (in ``notice``, near the top): call when a
    source's view ends early."""
    copy_link_button(st.sidebar)
    url_notices(notice)


def source_model(source: str) -> tuple[str, str]:
    """(the model whose runs the Filters source ``source`` shows, the URL key of its run): read from the spec that
    names the source (``ModelSpec.filters``), so no model's name is written here."""
    return next((spec.name, spec.filters[1]) for spec in MODELS.specs() if spec.filters and spec.filters[0] == source)


def choose_run(notice, where, source: str, label: str, empty: str, **settings: str):
    """(run store, the stored runs with weights of the model behind the Filters source ``source`` by id, the chosen
    id), the choice bound to the URL key its spec names (``ModelSpec.filters``); None when there is no such run, or
    nothing to show for the link's run yet (``linked_run``).

    A link naming a run that cannot be shown (no such run, another model, no checkpoint) gets a warning saying
    why, and the newest run instead; no run at all: ``empty`` and a link to the Train page set up for the model
    (with its ``settings``, by their RunConfig names).
    """
    model, key = source_model(source)
    problem = None
    run_store = store()
    runs = [as_run(r) for r in from_store(lambda s: s.runs_with_weights(model), then=lambda: finish(notice))]
    said = linked_run(notice, key, {r.id: r for r in runs})
    if said is None:
        finish(notice)
        return None
    raw = st.query_params.get(key)
    if raw is not None and raw not in {str(r.id) for r in runs} and not said:
        reason = from_store(lambda s: run_problem(parse_run_id(raw), model, s), then=lambda: finish(notice))
        problem = f"{key}={shown_link_value(raw)}: " + (
            plain(reason) if reason else "not a finished run with a checkpoint"
        )
    if not runs:
        if problem:
            notice.warning(f"The linked run cannot be shown here — {problem}.", icon=":material/link_off:")
        st.info(empty, icon=":material/model_training:")
        train = TrainQuery(model, settings)
        st.page_link(page("train"), label="Train", icon=":material/model_training:", query_params=train.to_query())
        finish(notice)
        return None
    by_id = {r.id: r for r in runs}
    run_id = url_choice(where, label, list(by_id), next(iter(by_id)), key)
    write_defs([run_id])  # a copied link carries what the run is (ui/linked_runs.py)
    if problem:
        notice.warning(
            f"The linked run cannot be shown here — {problem}. Showing run {run_id} instead.",
            icon=":material/link_off:",
        )
    return run_store, by_id, run_id


def linked_run(notice, key: str, by_id: dict[int, Run]) -> bool | None:
    """Check the link's run (URL ``key``) against what the link says it was (ui/linked_runs.py), until its choice is
    drawn (then bound to the URL, which the page no longer sets): a run here with the link's settings and seed takes
    its place (said in one line, in ``notice``). True when that line said why the link's run is not shown (so no
    other notice says it again); None when the view has nothing to show for it yet: the link's run is not here (one
    line and **Rebuild** say so; no other run is shown in its place until a button asks, so the link stays as it is
    and a click on Rebuild is read), or the run in its place is queued or training (a link to watch it on the Train
    page); else False."""
    raw = st.query_params.get(key)
    asked = st.session_state.pop(f"_{key}_asked", None)  # the link's id, when the run before put another in its place
    asked = parse_run_id(raw) if asked is None else asked
    if asked is None or key in st.session_state:
        return False
    ((check, shown),) = checked([asked], notice)
    if shown is None:  # a bare id this store lacks (the notice below says why too), or the link's run is not here
        if not check.rebuildable:
            return False
        if by_id and st.button("Show the runs stored here instead", key=f"{key}_instead", icon=":material/list:"):
            st.query_params.pop(key, None)
            write_defs([])
            st.rerun()
        return None if by_id else True  # none here at all: the view's own "no run yet" line and Train link follow
    if shown != asked:  # the run here with the link's settings and seed: the link names it now
        if raw != str(shown):  # a choice bound to the URL reads it as a run starts: the next run checks the link again
            st.query_params[key] = str(shown)
            st.session_state[f"_{key}_asked"] = asked
            st.rerun()
        write_defs([shown])
    waiting = None if shown in by_id else from_store(lambda s: s.run(shown))
    if waiting is not None and waiting.status in ACTIVE_STATUSES:
        watch_link(shown, waiting.status, "its filters show here when it finishes")
        return None
    return False


def pick_digit(notice, where, data: str) -> tuple[np.ndarray, int, int] | None:
    """(image (28, 28) in [0, 1], its index, its label): a test digit of data set ``data`` chosen by a slider; None
    when the data set cannot be loaded (said on the page)."""
    ds = guarded(lambda: dataset(data))
    if ds is None:
        finish(notice)
        return None
    index = url_slider(
        where,
        "Test digit #",
        0,
        len(ds.y_test) - 1,
        0,
        "f_digit",
        help=f"A digit of the {data} test set: the filters below are computed from it.",
    )
    return ds.x_test[index].numpy(), index, int(ds.y_test[index])


def answer(run_id: int, index: int, label: int, probabilities: np.ndarray) -> str:
    """One line: what the run makes of the digit."""
    pred = int(np.argmax(probabilities))
    return (
        f"Test digit #{index} (label {label}): run {run_id} answers **{pred}** "
        f"({float(probabilities[pred]):.0%}){'' if pred == label else ', wrongly'}."
    )


def head_choice(where, heads: int, key: str) -> int | None:
    """One attention head (0-based) or None for the mean over heads, bound to URL key ``key``."""
    if heads <= 1:
        return None
    head = url_choice(
        where,
        "Head",
        ["mean"] + [str(h) for h in range(1, heads + 1)],
        "mean",
        key,
        help="One attention head, or the mean over all heads (still a softmax: it sums to 1).",
    )
    return None if head == "mean" else int(head) - 1


def view_settings() -> tuple[bool, str, int, int]:
    """(zoom, path, step, ms per frame) from the sidebar, then the copy-link control (after every setting)."""
    zoom = url_toggle(
        st.sidebar,
        "Zoom to the pixel's neighbourhood",
        "f_zoom",
        value=True,
        help="Show 5 pixels either side of the chosen pixel instead of the whole grid.",
    )
    st.sidebar.markdown("**Animation across pixels**")
    path = url_choice(
        st.sidebar, "Path", list(PATHS), "raster", "f_path", help="; ".join(f"{k}: {v}" for k, v in PATHS.items())
    )
    step = url_slider(
        st.sidebar,
        "Step (pixels)",
        2,
        7,
        4,
        "f_step",
        help="Every step-th pixel of the 28×28 input (coarser layers take proportionally fewer).",
    )
    frame_ms = url_choice(st.sidebar, "Milliseconds per frame", SPEEDS, 150, "f_ms", widget="select_slider")
    copy_link_button(st.sidebar)
    return zoom, path, step, frame_ms


def pixel_sliders() -> tuple[int, int]:
    """(row, col) of the chosen pixel of the 28×28 input, bound to the URL."""
    pc = st.columns(2)
    return (
        url_slider(pc[0], "Pixel row", 0, FULL_SIDE - 1, FULL_SIDE // 2, "f_row"),
        url_slider(pc[1], "Pixel column", 0, FULL_SIDE - 1, FULL_SIDE // 2, "f_col"),
    )


@cached(GIFS, show_spinner="Encoding the GIF…")
def gif_bytes(key: str, _frames, scale: int, duration_ms: int, signed: bool = False) -> bytes:
    """The animation as a GIF (``key`` names the frames: source, settings, path); signed filters on a
    diverging colour map centred at 0."""
    if not signed:
        return filters_gif(_frames, scale=scale, duration_ms=duration_ms)
    m = max(float(np.abs(f.image).max()) for f in _frames) or 1.0
    return filters_gif(_frames, scale=scale, duration_ms=duration_ms, colormap="RdBu_r", vmin=-m, vmax=m)


def show_animation(frames, title: str, key: str, file_name: str, frame_ms: int, where=st, signed: bool = False) -> None:
    """The plotly animation across pixels, then the same frames as a downloadable GIF (in ``where``)."""
    where.subheader("Across the pixels")
    where.plotly_chart(
        filter_animation_figure(frames, title=title, frame_ms=frame_ms, signed=signed),
        width="stretch",
        key="f_animation",
    )
    side = frames[0].image.shape[0]
    data = guarded(lambda: gif_bytes(key, frames, max(1, min(32, GIF_PIXELS // side)), int(frame_ms), signed))
    if data is not None:
        where.download_button(
            "Download GIF",
            data,
            file_name,
            "image/gif",
            icon=":material/gif_box:",
            key="f_gif",
            help=f"{len(frames)} frames, {len(data) / 1024:.0f} KB, {GIF_PIXELS}×{GIF_PIXELS} pixels, looping.",
        )
        where.caption(
            f"GIF: {len(frames)} frames of {frame_ms} ms, {len(data) / 1024:.0f} KB. The red square "
            "is the pixel whose filter is shown; every frame uses the same colour scale."
        )


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def learned_run(run_id: int, db: str, version: str, _store):
    """The stored run rebuilt (trained and untrained networks), once per database, checkpoint file and mtime."""
    return load_learned_run(run_id, _store)


@st.cache_data(show_spinner="Measuring how far the filters moved…", max_entries=8)
def drift_of(run_id: int, db: str, version: str, _store) -> list[dict]:
    """``filter_drift`` of the run, once per database, checkpoint file and mtime."""
    return filter_drift(learned_run(run_id, db, version, _store))


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def gat_run(run_id: int, db: str, version: str, _store):
    """The stored GAT run rebuilt (with PyG twins of its layers), once per database, checkpoint file and mtime."""
    return load_gat_run(run_id, _store)


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def superpixel_run(run_id: int, db: str, version: str, _store):
    """The stored superpixel run rebuilt, once per database, checkpoint file and mtime."""
    return load_superpixel_run(run_id, _store)


def run_caption(run: Run) -> str:
    """ "Run 5 · Learned-edge GNN on the 8-neighbour grid (91.0% test accuracy)": named from its config."""
    acc = run.summary.test_accuracy
    return plain(run_title(run)) + (f" ({acc:.1%} test accuracy)" if acc is not None else "")


def stat_row(name: str, image: np.ndarray, pixel: tuple[int, int]) -> dict:
    s = filter_stats(image, pixel)
    return {
        "filter": name,
        "row sum": round(s["sum"], 4),
        "non-zero weights": s["support"],
        "own weight": round(s["self"], 4),
        "largest weight": round(s["max"], 4),
        "mean distance (grid steps)": round(s["mean_distance"], 3),
    }


# ---------------------------------------------------------------- a fixed graph
def graph_filters(notice) -> bool:
    """A fixed pixel graph's filters: row i of its normalised adjacency, for the pixel chosen. False when it ended
    early (said why, with the link notices in ``notice``)."""
    write_defs([])  # a fixed graph is no stored run: a copied link carries no run's definition
    kind = url_choice(st.sidebar, "Graph kind", PIXEL_KINDS, "grid", "f_kind", widget="radio", horizontal=True)
    params = graph_param_widgets(kind, st.sidebar)
    norm = url_choice(
        st.sidebar,
        "Normalisation",
        list(NORMS),
        "gcn",
        "f_norm",
        help="How each pixel averages its neighbours (see the formula). gcn (the Graph Builder's "
        "default): symmetric, with a self-loop, so a pixel keeps part of itself. rw: every row "
        "sums to 1, own weight 0.",
    )
    zoom, path, step, frame_ms = view_settings()
    built = guarded(lambda: graph(kind, json.dumps(params, sort_keys=True), norm))
    if built is None:
        url_notices(notice)
        return False
    normed = built[1]
    st.latex(FORMULAS[kind])
    st.latex(NORMS[norm])
    row, col = pixel = pixel_sliders()
    filt = graph_filter(normed, pixel)
    s = filter_stats(filt, pixel)
    m = st.columns(4)
    m[0].metric("Row sum", f"{s['sum']:.4f}", help="Σⱼ Âᵢⱼ: 1 for rw; other normalisations let it vary.")
    m[1].metric("Non-zero weights", s["support"], help="Pixels this filter reads (its own included).")
    m[2].metric("Own weight", f"{s['self']:.4f}", help="Âᵢᵢ: how much of the pixel itself it keeps.")
    m[3].metric("Mean distance", f"{s['mean_distance']:.2f} px", help="Where its weight sits, on average.")
    left, right = st.columns(2)
    left.subheader("One pixel")
    left.plotly_chart(
        comparison_figure(
            [(f"{kind} graph, {norm}", filt)],
            pixel,
            window=5 if zoom else None,
            height=520,
            title=f"Row {row * FULL_SIDE + col} of Â: pixel ({row}, {col})",
        ),
        width="stretch",
        key="f_filter",
    )
    pixels = pixel_path(FULL_SIDE, path, step, row=row, col=col)
    frames = graph_frames(normed, pixels)
    key = f"graph:{kind}:{json.dumps(params, sort_keys=True)}:{norm}:{path}:{step}:{row}:{col}"
    show_animation(
        frames, f"{kind} graph, {norm}: the filter {PATHS[path]}", key, f"filters-{kind}-{norm}.gif", frame_ms, right
    )
    return True


# ---------------------------------------------------------------- a learned-edge run
def learned_filters(notice) -> bool:
    """A learned-edge run's learned filters beside the Gaussian kernel on the same edges, and how far training moved
    them. False when it ended early (said why, with the link notices in ``notice``)."""
    rc = st.columns([3, 1])
    chosen = choose_run(
        notice,
        rc[0],
        "learned",
        "Learned-edge run (id)",
        "No finished learned-edge run with a checkpoint yet. Train one (layer type *learned*) from the link "
        "below, or from a terminal: `python -m core train --model learned --epochs 1`. Its learned filters "
        "will appear here beside the Gaussian kernel's.",
    )
    if chosen is None:
        return False
    run_store, by_id, run_id = chosen
    layers = max(1, int(by_id[run_id].config.get("layers", 1)))
    layer = url_choice(rc[1], "Layer", list(range(1, layers + 1)), 1, "f_layer") - 1
    st.caption(run_caption(by_id[run_id]))
    untrained_col = url_toggle(
        st.sidebar,
        "Show the untrained filter too",
        "f_init",
        value=True,
        help="The same network as initialised with the run's seed, before training.",
    )
    zoom, path, step, frame_ms = view_settings()
    try:
        version = checkpoint_version(by_id[run_id])
        run = learned_run(run_id, run_store.location, version, run_store)
        info = run.layer(int(layer))
    except (CheckpointError, UserInputError, StoreError, OSError) as err:
        st.error(f"Cannot read run {run_id}'s filters — {plain(err)}")
        url_notices(notice)
        return False
    edge_set = 0
    if info.num_sets > 1:  # one filter per output channel or channel pair: pick one
        edge_set = url_slider(
            rc[0],
            f"Edge set ({info.edge_sets}: {info.num_sets} sets in this layer)",
            0,
            info.num_sets - 1,
            0,
            "f_set",
            help="out: one learned adjacency per output channel. pair: one per (output, input) "
            "channel pair, numbered output × inputs + input: a learned convolution kernel.",
        )
        st.caption(f"Edge set {edge_set}: {info.set_name(edge_set)}.")
    drift = drift_of(run_id, run_store.location, version, run_store)
    row, col = pixel_sliders()
    pixel = layer_pixel(row, col, info.side)
    learned = learned_filter(run, info.index, pixel, edge_set=edge_set)
    gauss = gaussian_filter(run, info.index, pixel)
    untrained = learned_filter(run, info.index, pixel, trained=False, edge_set=edge_set)
    st.caption(
        f"Layer {info.index + 1} runs on a **{info.side}×{info.side}** grid"
        + (f"; input pixel ({row}, {col}) pools into its pixel {pixel}" if info.side != FULL_SIDE else "")
        + f". Edges of the run's {run.cfg.graph} graph"
        + (" plus a self-loop" if info.self_loops else "")
        + ", weights from an edge MLP on "
        + ("pixel offsets" if info.inputs == "offset" else f"*{info.inputs}* coordinates")
        + " through "
        f"*{info.activation}*, normalised **{info.norm}** ({PLAIN_NORMS.get(info.norm, 'as predicted')}). "
        f"Gaussian beside it: the same edges and normalisation, A = exp(−d²/σ²) with σ = {info.sigma:.3g} "
        f"({info.sigma * (info.side - 1):.2f} grid steps)."
    )
    ls, gs = filter_stats(learned, pixel), filter_stats(gauss, pixel)
    m = st.columns(4)
    m[0].metric("Row sum (learned)", f"{ls['sum']:.4f}", help="Σⱼ Âᵢⱼ of the learned filter: 1 under rw.")
    m[1].metric(
        "Own weight (learned)",
        f"{ls['self']:.4f}",
        delta=f"{ls['self'] - gs['self']:+.4f} vs Gaussian",
        delta_color="off",
    )
    m[2].metric(
        "Mean distance (learned)",
        f"{ls['mean_distance']:.2f} steps",
        delta=f"{ls['mean_distance'] - gs['mean_distance']:+.2f} vs Gaussian",
        delta_color="off",
    )
    m[3].metric(
        "Changed by training",
        f"{float(np.abs(learned - untrained).max()):.4f}",
        help="Largest change of any weight of this filter from its value at initialisation.",
    )
    panels = [(f"learned (run {run_id}, layer {info.index + 1})", learned), (f"Gaussian σ={info.sigma:.3g}", gauss)]
    if untrained_col:
        panels.append(("untrained (initial weights)", untrained))
    st.plotly_chart(
        comparison_figure(
            panels,
            pixel,
            window=5 if zoom else None,
            signed=info.signed,
            title=f"The filter of pixel {pixel} on the {info.side}×{info.side} grid"
            + (" (red positive, blue negative)" if info.signed else ""),
        ),
        width="stretch",
        key="f_compare",
    )
    st.subheader("How far training moved the filters")
    st.caption(
        "Per layer and edge set: the change of the learned, normalised edge weights from the same network "
        "at initialisation (the run's seed). Relative change = ‖w − w₀‖ / ‖w₀‖: 0 means untouched, 1 "
        "means a change as large as the initial filter."
    )
    st.dataframe(
        drift_summary(drift),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f")
            for c in ("median relative change", "largest relative change")
        },
    )
    this = next(r for r in drift if r["layer"] == info.index + 1 and r["edge_set"] == edge_set)
    st.caption(
        f"This layer and set ({this['set']}): largest weight change {this['max_change']:.4f}, relative change "
        f"{this['relative_change']:.3f}"
        + (f", {this['sign_flips']:.1%} of its weights changed sign." if info.signed else ".")
    )
    st.dataframe(
        [
            stat_row(name, img, pixel)
            for name, img in [("learned", learned), ("Gaussian", gauss)]
            + ([("untrained", untrained)] if untrained_col else [])
        ],
        hide_index=True,
        width="stretch",
    )
    layer_step = max(1, step * info.side // FULL_SIDE)
    pixels = pixel_path(info.side, path, layer_step, row=pixel[0], col=pixel[1])
    frames = learned_frames(run, info.index, pixels, edge_set=edge_set)
    key = f"learned:{run_id}:{version}:{info.index}:{edge_set}:{path}:{layer_step}:{pixel}"
    show_animation(
        frames,
        f"Run {run_id}, layer {info.index + 1}: the learned filter {PATHS[path]}",
        key,
        f"filters-run{run_id}-layer{info.index + 1}-set{edge_set}.gif",
        frame_ms,
        signed=info.signed,
    )
    return True


# ---------------------------------------------------------------- a GAT run: attention for one digit
def gat_filters(notice) -> bool:
    """A GAT run's attention for one test digit: a filter computed from the input. False when it ended early (said why,
    with the link notices in ``notice``)."""
    rc = st.columns([3, 1, 1])
    chosen = choose_run(
        notice,
        rc[0],
        "gat",
        "GAT run (id)",
        "No finished GAT run with a checkpoint yet. Train one (layer type *gat*) from the link below, or from a "
        "terminal: `python -m core train --model gat --epochs 1`. Its attention weights for any test digit will "
        "appear here.",
    )
    if chosen is None:
        return False
    run_store, by_id, run_id = chosen
    config = by_id[run_id].config
    layer = url_choice(rc[1], "Layer", list(range(1, max(1, int(config.get("layers", 1))) + 1)), 1, "f_glayer") - 1
    head = head_choice(rc[2], max(1, int(config.get("heads", 1))), "f_head")
    st.caption(run_caption(by_id[run_id]))
    picked = pick_digit(notice, rc[0], str(config.get("data", "mnist-5k")))
    if picked is None:
        return False
    image, index, label = picked
    zoom, path, step, frame_ms = view_settings()
    try:
        version = checkpoint_version(by_id[run_id])
        run = gat_run(run_id, run_store.location, version, run_store)
        info = run.layer(int(layer))
        digit = gat_attention(run, image)
        att = digit.layer(info.index)
        att.check_head(head)
    except (CheckpointError, UserInputError, StoreError, OSError) as err:
        st.error(f"Cannot read run {run_id}'s attention — {plain(err)}")
        url_notices(notice)
        return False
    st.caption(
        "Attention weights depend on the digit: αᵢⱼ = softmax over pixel i's neighbours j of "
        "LeakyReLU(a_src·Wxⱼ + a_dst·Wxᵢ), computed from the features x of this very input. A fixed graph "
        "hands pixel i the same filter (its row of Â) for every image; this filter changes with the input: "
        "pick another digit and it changes."
    )
    st.markdown(answer(run_id, index, label, digit.probabilities))
    row, col = pixel_sliders()
    pixel = layer_pixel(row, col, info.side)
    filt = attention_filter(att, pixel, head)
    s = filter_stats(filt, pixel)
    who = "mean over heads" if head is None else f"head {head + 1}"
    m = st.columns(4)
    m[0].metric("Attention sum", f"{s['sum']:.4f}", help="Σⱼ αᵢⱼ: a softmax over the neighbours, so 1.")
    m[1].metric("Neighbours attended", s["support"], help="Pixels this filter reads (its own included).")
    m[2].metric("Own weight", f"{s['self']:.4f}", help="αᵢᵢ: the attention the pixel pays to itself.")
    m[3].metric(
        "Largest ÷ uniform",
        f"{s['max'] * s['support']:.2f}",
        help="The largest weight over 1 / (neighbours): 1 is a plain mean over the neighbours (what "
        "attention starts from), larger means the layer singles some neighbours out.",
    )
    st.caption(
        f"Layer {info.index + 1} runs on a **{info.side}×{info.side}** grid"
        + (f"; input pixel ({row}, {col}) pools into its pixel {pixel}" if info.side != FULL_SIDE else "")
        + f". Edges of the run's {run.cfg.graph} graph"
        + (" plus a self-loop" if info.self_loops else "")
        + f"; {info.heads} head{'s' if info.heads != 1 else ''} of {info.channels} channels. Weights read "
        "from PyG's GATConv (return_attention_weights=True) with this layer's weights, on the features the "
        "network gave the layer for this digit."
    )
    left, right = st.columns(2)
    left.subheader("One pixel")
    left.plotly_chart(
        digit_filter_figure(
            image,
            filt,
            pixel,
            window=5 if zoom else None,
            filter_title=f"layer {info.index + 1}, {who}",
            title=f"Attention of pixel {pixel} on digit #{index}",
        ),
        width="stretch",
        key="f_attention",
    )
    layer_step = max(1, step * info.side // FULL_SIDE)
    pixels = pixel_path(info.side, path, layer_step, row=pixel[0], col=pixel[1])
    frames = attention_frames(att, pixels, head)
    key = f"gat:{run_id}:{version}:{index}:{info.index}:{head}:{path}:{layer_step}:{pixel}"
    show_animation(
        frames,
        f"Run {run_id}, layer {info.index + 1} ({who}), digit #{index}: attention {PATHS[path]}",
        key,
        f"attention-run{run_id}-digit{index}-layer{info.index + 1}.gif",
        frame_ms,
        right,
    )
    return True


# ---------------------------------------------------------------- a superpixel run: one digit's own graph
def superpixel_filters(notice) -> bool:
    """A superpixel run's filters on one test digit's own superpixel graph. False when it ended early (said why, with
    the link notices in ``notice``)."""
    rc = st.columns([3, 1, 1])
    chosen = choose_run(
        notice,
        rc[0],
        "superpixel",
        "Superpixel run (id)",
        "No finished superpixel run with a checkpoint yet. Train one (layer type *superpixel*, PyG layer *gat* "
        "to see attention) from the link below, or from a terminal: `python -m core train --model superpixel "
        "--graph superpixels --conv gat --epochs 1`. Its filters on any test digit's superpixels will appear "
        "here.",
        conv="gat",
    )
    if chosen is None:
        return False
    run_store, by_id, run_id = chosen
    config = by_id[run_id].config
    conv = str(config.get("conv", "gcn"))
    layer, head = 0, None
    if conv in ("gat", "gin"):  # filters that differ from layer to layer
        layer = url_choice(rc[1], "Layer", list(range(1, max(1, int(config.get("layers", 1))) + 1)), 1, "f_splayer") - 1
    if conv == "gat":
        head = head_choice(rc[2], max(1, int(config.get("heads", 1))), "f_sphead")
    st.caption(run_caption(by_id[run_id]))
    picked = pick_digit(notice, rc[0], str(config.get("data", "mnist-5k")))
    if picked is None:
        return False
    image, index, label = picked
    copy_link_button(st.sidebar)
    try:
        version = checkpoint_version(by_id[run_id])
        run = superpixel_run(run_id, run_store.location, version, run_store)
        digit = superpixel_digit(run, image)
        if digit.attention is not None:
            digit.attention.layer(layer).check_head(head)
    except (CheckpointError, UserInputError, StoreError, OSError) as err:
        st.error(f"Cannot read run {run_id}'s filters — {plain(err)}")
        url_notices(notice)
        return False
    g = digit.graph
    st.caption(
        "A superpixel network works on a graph of its own for every digit: SLIC regions become the nodes, "
        "each joined to its nearest by a Gaussian affinity of position and intensity (built here exactly as "
        "the run's data pipeline builds it). So even a fixed normalisation of that graph gives every digit "
        "its own filters."
    )
    st.markdown(answer(run_id, index, label, digit.probabilities))
    row, col = pixel_sliders()
    node = digit.node_at((row, col))
    mixed = superpixel_filter(run, digit, node, layer, attention=False)  # (N,) the layer's mixing row
    panels = []
    if digit.attention is not None:
        who = "mean over heads" if head is None else f"head {head + 1}"
        filt = superpixel_filter(run, digit, node, layer, head)
        panels.append((f"attention, layer {layer + 1}, {who}", filt))
        panels.append(("gcn-normalised Â (for comparison)", mixed))
        shown = (
            "Left: the attention weights αᵢⱼ this GAT layer gives superpixel i's neighbours for this digit "
            "(PyG's GATConv called with return_attention_weights=True on the features the network gave the "
            "layer): a softmax, so they sum to 1 and change with the input. Right, for comparison: "
            f"{MIXING_TEXT['gat']}."
        )
    else:
        filt = mixed
        panels.append((f"{conv}: row {node}" + (f", layer {layer + 1}" if conv == "gin" else ""), filt))
        exact = SUPERPIXEL_MIXING[conv][2]
        shown = f"Shown: row {node} of {MIXING_TEXT[conv]}" + (
            ", the same in every layer." if exact and conv != "gin" else "."
        )
    st.caption(shown)
    nb = int((g.edge_index[1] == node).sum())
    m = st.columns(4)
    m[0].metric("Superpixels", g.num_nodes, help="Nodes of this digit's graph (SLIC gives about as many as asked).")
    m[1].metric("Neighbours", nb, help="Edges into the chosen superpixel (before self-loops).")
    m[2].metric("Row sum", f"{float(filt.sum()):.4f}", help="Σⱼ of the filter shown first.")
    m[3].metric("Own weight", f"{float(filt[node]):.4f}", help="The weight the superpixel gives itself.")
    left, right = st.columns([2, 3])
    segments = g.segments
    assert segments is not None  # a superpixel graph carries its SLIC label map (core.graphs.superpixels)
    bounds = superpixel_boundaries(segments)
    left.plotly_chart(
        graph_figure(image, g, boundaries=bounds, highlight=node, title=f"{g.num_nodes} superpixels of digit #{index}"),
        width="stretch",
        key="f_sp_graph",
    )
    right.plotly_chart(
        superpixel_filter_figure(
            panels,
            segments,
            node,
            g.pos.numpy(),
            boundaries=bounds,
            title=f"The filter of superpixel {node} (under pixel ({row}, {col}))",
        ),
        width="stretch",
        key="f_sp_filter",
    )
    return True


SHOW = {"graph": graph_filters, "learned": learned_filters, "gat": gat_filters, "superpixel": superpixel_filters}


def explainer() -> None:
    """What each source's pictures are, under every view."""
    with st.expander("What am I looking at?"):
        st.markdown(
            "- **Filter**: row *i* of Â as an image. Bright pixels are the ones pixel *i* reads most; the red square "
            "is pixel *i* itself. With **gcn** (the default, as on the Graph Builder) the pixel keeps part of itself "
            "through a self-loop; with **rw** every row sums to 1 (a weighted mean), so filters are comparable.\n"
            "- **Learned vs Gaussian**: the learned-edge model predicts every edge weight from the two pixels' "
            "coordinates with a small MLP. The Gaussian kernel on the same edges is what a hand-made graph would "
            "use; the difference is what training chose. After a short training both stay close to their start.\n"
            "- **Attention (GAT)**: the weights are computed from the digit, so a pixel's filter is a different one "
            "for every input; a softmax, so it always sums to 1. A uniform filter (largest ÷ uniform = 1) is a plain "
            "mean over the neighbours.\n"
            "- **Superpixels**: every digit has its own graph, so its filters are drawn on its own regions; the "
            "caption under the run says which matrix is shown.\n"
            "- **Animation**: the filter of each pixel along the path. A fixed graph's filter only changes at the "
            "borders (fewer neighbours); a learned model that sees absolute positions can use a different filter "
            "in every part of the image."
        )


def render() -> None:
    st.title("Filters")
    st.caption(
        "One graph convolution computes every output pixel i as Σⱼ Âᵢⱼ xⱼ, so row i of the normalised "
        "adjacency Â, drawn on the 28×28 layout, is the filter pixel i applies. A fixed graph hands every "
        "pixel the same kind of filter; a learned-edge model learns its own; a GAT layer computes a new one "
        "for every digit; a superpixel network works on a different graph for every digit."
    )

    notice = st.container()  # filled at the end if the opened link had invalid values
    # no format_func on URL-bound choices: Streamlit writes the displayed label into the link
    source = url_choice(
        st.sidebar,
        "Filters of",
        list(FiltersQuery.SOURCES),
        "graph",
        "f_src",
        widget="radio",
        horizontal=True,
        help="graph: a fixed pixel graph's normalised adjacency. learned: a stored learned-edge run's "
        "learned filters beside the Gaussian kernel's. gat: a stored GAT run's attention weights "
        "for one test digit. superpixel: a stored superpixel run's filters on one test digit's "
        "superpixel graph.",
    )
    if not SHOW[source](notice):
        # The view ended early and said why (its link notices included). The page's one st.stop(): app.py's
        # classroom.end_page() runs only after a page that drew all its controls, or it would call a hide= key of a
        # control this view never reached "no control of this page".
        st.stop()
    explainer()
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
