"""Filters: rows of a graph's normalised adjacency as images — a fixed graph's, or a learned-edge
run's learned filters beside the Gaussian kernel — and the filter moving across the pixels (GIF)."""

import json
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import UserInputError
from core.analysis.filters import (FULL_SIDE, PATHS, drift_summary, filter_drift, filter_stats, filters_gif,
                                   gaussian_filter, graph_filter, graph_frames, layer_pixel, learned_filter,
                                   learned_frames, learned_runs, load_learned_run, pixel_path)
from core.graphs import FORMULAS, GRAPH_PARAMS, NORMS
from core.training.store import CheckpointError, StoreError
from core.figures.filters import comparison_figure, filter_animation_figure
from ui.common import (copy_link_button, graph, graph_param_widgets, guarded, store, url_choice, url_notices,
                       url_slider, url_toggle)

PIXEL_KINDS = [k for k in GRAPH_PARAMS if k != "superpixels"]
SOURCES = ("graph", "learned")
SPEEDS = [60, 100, 150, 250, 400, 700]  # ms per animation frame
PLAIN_NORMS = {"rw": "D⁻¹A: every row sums to 1", "sym": "D^-½ A D^-½"}
GIF_PIXELS = 224  # the GIF's side in pixels (each filter pixel upscaled to fill it)

st.title("Filters")
st.caption("One graph convolution computes every output pixel i as Σⱼ Âᵢⱼ xⱼ, so row i of the normalised "
           "adjacency Â, drawn on the 28×28 layout, is the filter pixel i applies. A fixed graph hands every "
           "pixel the same kind of filter; a learned-edge model learns its own.")

notice = st.container()  # filled at the end if the opened link had invalid values
sb = st.sidebar
# no format_func on URL-bound choices: Streamlit writes the displayed label into the link
source = url_choice(sb, "Filters of", list(SOURCES), "graph", "f_src", widget="radio", horizontal=True,
                    help="graph: a fixed pixel graph's normalised adjacency. learned: a stored learned-edge run's "
                         "learned filters beside the Gaussian kernel's.")


def view_settings() -> tuple[bool, str, int, int]:
    """(zoom, path, step, ms per frame) from the sidebar, then the copy-link control (after every setting)."""
    zoom = url_toggle(sb, "Zoom to the pixel's neighbourhood", "f_zoom", value=True,
                      help="Show 5 pixels either side of the chosen pixel instead of the whole grid.")
    sb.markdown("**Animation across pixels**")
    path = url_choice(sb, "Path", list(PATHS), "raster", "f_path",
                      help="; ".join(f"{k}: {v}" for k, v in PATHS.items()))
    step = url_slider(sb, "Step (pixels)", 2, 7, 4, "f_step",
                      help="Every step-th pixel of the 28×28 input (coarser layers take proportionally fewer).")
    frame_ms = url_choice(sb, "Milliseconds per frame", SPEEDS, 150, "f_ms", widget="select_slider")
    copy_link_button(sb)
    return zoom, path, step, frame_ms


def pixel_sliders() -> tuple[int, int]:
    """(row, col) of the chosen pixel of the 28×28 input, bound to the URL."""
    pc = st.columns(2)
    return (url_slider(pc[0], "Pixel row", 0, FULL_SIDE - 1, FULL_SIDE // 2, "f_row"),
            url_slider(pc[1], "Pixel column", 0, FULL_SIDE - 1, FULL_SIDE // 2, "f_col"))


@st.cache_data(show_spinner="Encoding the GIF…", max_entries=16)
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
    where.plotly_chart(filter_animation_figure(frames, title=title, frame_ms=frame_ms, signed=signed),
                       width="stretch", key="f_animation")
    side = frames[0].image.shape[0]
    data = guarded(lambda: gif_bytes(key, frames, max(1, min(32, GIF_PIXELS // side)), int(frame_ms), signed))
    if data is not None:
        where.download_button("Download GIF", data, file_name, "image/gif", icon=":material/gif_box:",
                           key="f_gif", help=f"{len(frames)} frames, {len(data) / 1024:.0f} KB, "
                                             f"{GIF_PIXELS}×{GIF_PIXELS} pixels, looping.")
        where.caption(f"GIF: {len(frames)} frames of {frame_ms} ms, {len(data) / 1024:.0f} KB. The red square "
                      "is the pixel whose filter is shown; every frame uses the same colour scale.")


@st.cache_resource(show_spinner="Loading the run's checkpoint…", max_entries=4)
def learned_run(run_id: int, db: str, checkpoint: str, mtime_ns: int, _store):
    """The stored run rebuilt (trained and untrained networks), once per database, checkpoint file and mtime."""
    return load_learned_run(run_id, _store)


@st.cache_data(show_spinner="Measuring how far the filters moved…", max_entries=8)
def drift_of(run_id: int, db: str, checkpoint: str, mtime_ns: int, _store) -> list[dict]:
    """``filter_drift`` of the run, once per database, checkpoint file and mtime."""
    return filter_drift(learned_run(run_id, db, checkpoint, mtime_ns, _store))


def run_title(run: dict) -> str:
    acc = (run.get("summary") or {}).get("test_accuracy")
    return f"run {run['id']}: {run.get('name') or 'learned'}" + (f" ({acc:.1%} test accuracy)" if acc is not None else "")


def stat_row(name: str, image: np.ndarray, pixel: tuple[int, int]) -> dict:
    s = filter_stats(image, pixel)
    return {"filter": name, "row sum": round(s["sum"], 4), "non-zero weights": s["support"],
            "own weight": round(s["self"], 4), "largest weight": round(s["max"], 4),
            "mean distance (grid steps)": round(s["mean_distance"], 3)}


# ---------------------------------------------------------------- a fixed graph
if source == "graph":
    kind = url_choice(sb, "Graph kind", PIXEL_KINDS, "grid", "f_kind", widget="radio", horizontal=True)
    params = graph_param_widgets(kind, sb)
    norm = url_choice(sb, "Normalisation", list(NORMS), "rw", "f_norm",
                      help="How each pixel averages its neighbours (see the formula). rw: every row sums to 1.")
    zoom, path, step, frame_ms = view_settings()
    built = guarded(lambda: graph(kind, json.dumps(params, sort_keys=True), norm))
    if built is None:
        url_notices(notice)
        st.stop()
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
    left.plotly_chart(comparison_figure([(f"{kind} graph, {norm}", filt)], pixel, window=5 if zoom else None,
                                        height=520, title=f"Row {row * FULL_SIDE + col} of Â: pixel ({row}, {col})"),
                      width="stretch", key="f_filter")
    pixels = pixel_path(FULL_SIDE, path, step, row=row, col=col)
    frames = graph_frames(normed, pixels)
    key = f"graph:{kind}:{json.dumps(params, sort_keys=True)}:{norm}:{path}:{step}:{row}:{col}"
    show_animation(frames, f"{kind} graph, {norm}: the filter {PATHS[path]}", key, f"filters-{kind}-{norm}.gif",
                   frame_ms, right)

# ---------------------------------------------------------------- a learned-edge run
else:
    try:
        run_store = store()
        runs = learned_runs(run_store)
    except StoreError as err:
        st.error(f"Run store unavailable — {err}")
        copy_link_button(sb)
        url_notices(notice)
        st.stop()
    if not runs:
        st.info("No finished learned-edge run with a checkpoint yet. Train one on the **Train** page (layer type "
                "*learned*), or from a terminal: `python -m core train --model learned --epochs 1`. Its learned "
                "filters will appear here beside the Gaussian kernel's.", icon=":material/model_training:")
        copy_link_button(sb)
        url_notices(notice)
        st.stop()
    by_id = {int(r["id"]): r for r in runs}
    rc = st.columns([3, 1])
    run_id = url_choice(rc[0], "Learned-edge run (id)", list(by_id), next(iter(by_id)), "f_run")
    layers = max(1, int((by_id[run_id].get("config") or {}).get("layers", 1)))
    layer = url_choice(rc[1], "Layer", list(range(1, layers + 1)), 1, "f_layer") - 1
    st.caption(run_title(by_id[run_id]))
    untrained_col = url_toggle(sb, "Show the untrained filter too", "f_init", value=True,
                               help="The same network as initialised with the run's seed, before training.")
    zoom, path, step, frame_ms = view_settings()
    ckpt = Path(by_id[run_id]["checkpoint"]).expanduser()
    try:
        run = learned_run(run_id, str(run_store.path), str(ckpt), ckpt.stat().st_mtime_ns, run_store)
        info = run.layer(int(layer))
    except (CheckpointError, UserInputError, StoreError, OSError) as err:
        st.error(f"Cannot read run {run_id}'s filters — {err}")
        url_notices(notice)
        st.stop()
    edge_set = 0
    if info.num_sets > 1:  # one filter per output channel or channel pair: pick one
        edge_set = url_slider(rc[0], f"Edge set ({info.edge_sets}: {info.num_sets} sets in this layer)", 0,
                              info.num_sets - 1, 0, "f_set",
                              help="out: one learned adjacency per output channel. pair: one per (output, input) "
                                   "channel pair, numbered output × inputs + input: a learned convolution kernel.")
        st.caption(f"Edge set {edge_set}: {info.set_name(edge_set)}.")
    drift = drift_of(run_id, str(run_store.path), str(ckpt), ckpt.stat().st_mtime_ns, run_store)
    row, col = pixel_sliders()
    pixel = layer_pixel(row, col, info.side)
    learned = learned_filter(run, info.index, pixel, edge_set=edge_set)
    gauss = gaussian_filter(run, info.index, pixel)
    untrained = learned_filter(run, info.index, pixel, trained=False, edge_set=edge_set)
    st.caption(f"Layer {info.index + 1} runs on a **{info.side}×{info.side}** grid"
               + (f"; input pixel ({row}, {col}) pools into its pixel {pixel}" if info.side != FULL_SIDE else "")
               + f". Edges of the run's {run.cfg.graph} graph"
               + (" plus a self-loop" if info.self_loops else "") + ", weights from an edge MLP on "
               + ("pixel offsets" if info.inputs == "offset" else f"*{info.inputs}* coordinates") + " through "
               f"*{info.activation}*, normalised **{info.norm}** ({PLAIN_NORMS.get(info.norm, 'as predicted')}). "
               f"Gaussian beside it: the same edges and normalisation, A = exp(−d²/σ²) with σ = {info.sigma:.3g} "
               f"({info.sigma * (info.side - 1):.2f} grid steps).")
    ls, gs = filter_stats(learned, pixel), filter_stats(gauss, pixel)
    m = st.columns(4)
    m[0].metric("Row sum (learned)", f"{ls['sum']:.4f}", help="Σⱼ Âᵢⱼ of the learned filter: 1 under rw.")
    m[1].metric("Own weight (learned)", f"{ls['self']:.4f}", delta=f"{ls['self'] - gs['self']:+.4f} vs Gaussian",
                delta_color="off")
    m[2].metric("Mean distance (learned)", f"{ls['mean_distance']:.2f} steps",
                delta=f"{ls['mean_distance'] - gs['mean_distance']:+.2f} vs Gaussian", delta_color="off")
    m[3].metric("Changed by training", f"{float(np.abs(learned - untrained).max()):.4f}",
                help="Largest change of any weight of this filter from its value at initialisation.")
    panels = [(f"learned (run {run_id}, layer {info.index + 1})", learned), (f"Gaussian σ={info.sigma:.3g}", gauss)]
    if untrained_col:
        panels.append(("untrained (initial weights)", untrained))
    st.plotly_chart(comparison_figure(panels, pixel, window=5 if zoom else None, signed=info.signed,
                                      title=f"The filter of pixel {pixel} on the {info.side}×{info.side} grid"
                                            + (" (red positive, blue negative)" if info.signed else "")),
                    width="stretch", key="f_compare")
    st.subheader("How far training moved the filters")
    st.caption("Per layer and edge set: the change of the learned, normalised edge weights from the same network "
               "at initialisation (the run's seed). Relative change = ‖w − w₀‖ / ‖w₀‖: 0 means untouched, 1 "
               "means a change as large as the initial filter.")
    st.dataframe(drift_summary(drift), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("median relative change", "largest relative change")})
    this = next(r for r in drift if r["layer"] == info.index + 1 and r["edge_set"] == edge_set)
    st.caption(f"This layer and set ({this['set']}): largest weight change {this['max_change']:.4f}, relative change "
               f"{this['relative_change']:.3f}" + (f", {this['sign_flips']:.1%} of its weights changed sign."
                                                     if info.signed else "."))
    st.dataframe([stat_row(name, img, pixel) for name, img in
                  [("learned", learned), ("Gaussian", gauss)] + ([("untrained", untrained)] if untrained_col else [])],
                 hide_index=True, width="stretch")
    layer_step = max(1, step * info.side // FULL_SIDE)
    pixels = pixel_path(info.side, path, layer_step, row=pixel[0], col=pixel[1])
    frames = learned_frames(run, info.index, pixels, edge_set=edge_set)
    key = f"learned:{run_id}:{ckpt}:{ckpt.stat().st_mtime_ns}:{info.index}:{edge_set}:{path}:{layer_step}:{pixel}"
    show_animation(frames, f"Run {run_id}, layer {info.index + 1}: the learned filter {PATHS[path]}", key,
                   f"filters-run{run_id}-layer{info.index + 1}-set{edge_set}.gif", frame_ms, signed=info.signed)

with st.expander("What am I looking at?"):
    st.markdown(
        "- **Filter**: row *i* of Â as an image. Bright pixels are the ones pixel *i* reads most; the red square "
        "is pixel *i* itself. With **rw** every row sums to 1 (a weighted mean), so filters are comparable.\n"
        "- **Learned vs Gaussian**: the learned-edge model predicts every edge weight from the two pixels' "
        "coordinates with a small MLP. The Gaussian kernel on the same edges is what a hand-made graph would "
        "use; the difference is what training chose. After a short training both stay close to their start.\n"
        "- **Animation**: the filter of each pixel along the path. A fixed graph's filter only changes at the "
        "borders (fewer neighbours); a learned model that sees absolute positions can use a different filter "
        "in every part of the image."
    )
url_notices(notice)
