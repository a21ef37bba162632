"""Playground: draw a digit (or take one from the data set, or upload one), turn and mirror it, and watch up to
three trained runs answer: their probabilities, their answer at every angle, and what each layer sees."""

import hashlib
from pathlib import Path

import streamlit as st

from core.analysis.playground import (MAX_RUNS, angle_sweep, layer_maps, load_playground_model, probabilities,
                                      timed, turn)
from core.data.image_io import drawing_ink, gray_png, load_digit_image, mnist_digit
from core.errors import UserInputError
from core.figures.playground import angle_figure, digit_picture, maps_tiles, probability_figure
from core.training.store import CheckpointError, RunNotFoundError, StoreError
from ui.common import (copy_link_button, dataset, guarded, parse_run_ids, shown_link_value, store, url_choice,
                       url_notices, url_slider, url_toggle)
from ui.draw_canvas import draw_canvas

SOURCES = ("draw", "data set", "upload")
CANVAS = 280  # the drawing area's side in screen pixels (10 per digit pixel)
STROKE = 22  # brush width in screen pixels: about MNIST's stroke once scaled to the 20-pixel box

st.title("Playground")
st.caption("Bring your own digit and see trained models answer at once. Turn it with the slider: a CNN's answer "
           "flips as the digit turns, a steerable (escnn) net's stays put; the plot beside the digit shows every angle at "
           "once. Runs come from the **Train** page.")
notice = st.container()
sb = st.sidebar
source = url_choice(sb, "Digit", list(SOURCES), "draw", "pg_src", widget="radio", horizontal=True,
                    help="draw: with the mouse or a finger. data set: a test digit. upload: a PNG or JPEG; a drawn "
                         "digit's PNG (download it below) uploads to the same digit.")
mirror = url_toggle(sb, "Mirror left-right first", "pg_mirror")


@st.cache_resource(show_spinner="Loading the run…", max_entries=8)
def model_for(run_id: int, checkpoint: str, mtime_ns: int):
    """A stored run ready for inference, once per checkpoint file and mtime."""
    return load_playground_model(run_id, store())


def candidate_runs() -> dict[int, dict]:
    """Finished runs with weights that take pixels (not superpixel graphs), newest first."""
    try:
        runs = store().runs_with_weights(limit=300)
    except StoreError as err:
        st.error(f"Run store unavailable — {err}")
        st.stop()
    return {int(r["id"]): r for r in runs if (r.get("config") or {}).get("model") != "superpixel"}


def default_runs(runs: dict[int, dict]) -> list[int]:
    """The newest CNN, graph net and steerable net, when there are such runs."""
    picked = []
    for want in (("cnn",), ("cheb", "gcn", "sage", "gin", "gat", "learned"), ("escnn",)):
        rid = next((i for i, r in runs.items() if (r.get("config") or {}).get("model") in want), None)
        if rid is not None:
            picked.append(rid)
    return picked or list(runs)[:1]


def run_picker(runs: dict[int, dict]) -> list[int]:
    """Up to three runs, kept in the URL as ``pg_runs=3,7,12``."""
    raw = st.query_params.get("pg_runs")
    chosen = default_runs(runs)
    if raw is not None:
        asked = parse_run_ids(raw, MAX_RUNS)  # None: not a list of at most three run ids (read no further)
        known = [i for i in asked or [] if i in runs]
        if asked is None or known != asked:
            st.session_state.setdefault("_url_notices", {})["pg_runs"] = (
                f"`pg_runs={shown_link_value(raw)}` (run ids of at most {MAX_RUNS} finished runs with weights)")
        chosen = known or chosen
    picked = sb.multiselect("Runs (up to 3)", list(runs), default=chosen, max_selections=MAX_RUNS, key="pg_runs_w",
                            format_func=lambda i: f"#{i} {runs[i].get('name') or ''}"[:60])
    st.query_params["pg_runs"] = ",".join(map(str, picked))
    return picked


# ---------------------------------------------------------------- the digit
# A data-set digit and an upload come from sidebar widgets (a full rerun); a drawing comes from the canvas, which
# lives in the digit view's fragment below, so a stroke reruns only that part of the page.
given = (None, None, "")
if source == "data set":
    data = url_choice(sb, "Data set", ["mnist-5k", "mnist-rot"], "mnist-5k", "pg_data")
    ds = guarded(lambda: dataset(data))
    if ds is not None:
        index = url_slider(sb, "Test digit", 0, len(ds.y_test) - 1, 0, "pg_digit")
        image = ds.x_test[index].numpy()
        given = (image, gray_png(image, scale=10), f"{data} test digit #{index} (label {int(ds.y_test[index])})")
elif source == "upload":
    upload = sb.file_uploader("Your digit (PNG, JPEG…)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                              key="pg_upload")
    if upload is not None:
        data_bytes = upload.getvalue()
        image = guarded(lambda: load_digit_image(data_bytes))
        if image is not None:
            given = (image, None, f"your upload ({hashlib.sha1(data_bytes).hexdigest()[:8]})")

runs = candidate_runs()
picked = run_picker(runs) if runs else []
copy_link_button(sb)
url_notices(notice)

loaded, load_errors = [], []
for rid in picked:
    ckpt = Path(runs[rid]["checkpoint"]).expanduser()
    try:
        loaded.append(model_for(rid, str(ckpt), ckpt.stat().st_mtime_ns))
    except (CheckpointError, RunNotFoundError, UserInputError, OSError) as err:
        load_errors.append(f"Cannot load run {rid} — {err}")


def drawn_digit(left) -> tuple:
    """(image (28, 28) in [0, 1] or None, PNG bytes, description) from the canvas."""
    left.markdown("**Draw a digit** (white on black)")
    with left:
        drawn = guarded(lambda: draw_canvas(key="pg_canvas", size=CANVAS, stroke=STROKE))  # a forged value: one line
    ink = guarded(lambda: drawing_ink(drawn)) if drawn else None
    if ink is None or ink.max() == 0:
        left.caption("Draw with the mouse or a finger; the models answer when you lift it. Clear starts again.")
        return None, None, ""
    return mnist_digit(ink), gray_png(ink), "your drawing"


def show_digit(left, image, png, what: str) -> None:
    """Where the digit came from, and its PNG (under the canvas)."""
    if image is None:
        if source == "upload":
            left.info("Upload an image of one digit; dark on light or light on dark both work.",
                      icon=":material/upload:")
        return
    left.caption(what[0].upper() + what[1:] + (", as stored." if source == "data set" else
                                               ", prepared as MNIST prepares digits: the ink scaled into a 20×20 "
                                               "box and centred by its centre of mass in 28×28."))
    if png is not None:
        left.download_button("Download the digit (PNG)", png, "digit.png", "image/png", icon=":material/download:",
                             help="Upload it again (Digit: upload) to get the same digit back.")


@st.fragment
def digit_view(given: tuple) -> None:
    """The digit, every run's answers and the every-angle plot. A stroke on the canvas reruns only this part of
    the page, and the answers are drawn before the every-angle sweep is computed, so they show first."""
    left, right = st.columns([1, 2])
    image, png, what = drawn_digit(left) if source == "draw" else given
    about = left.container()  # where the digit came from and its PNG: written after the answers
    for message in load_errors:
        right.error(message)
    if not runs or image is None or not loaded:
        show_digit(about, image, png, what)
        if not runs:
            right.info("No finished run yet. Train a CNN, a ChebNet and an escnn net on the **Train** page (or "
                       "`python -m core train --model cnn --epochs 3`), then come back.",
                       icon=":material/model_training:")
        elif not load_errors:
            right.info("Pick up to three runs in the sidebar and give a digit.", icon=":material/draw:")
        return
    with right:
        angles_slot = st.empty()  # filled after the answers below are on the page
        angles_note = st.empty()
    turned_digit(image)
    show_digit(about, image, png, what)
    # every angle at once does not depend on the slider: computed once per digit, mirror and runs
    sweep_key = (hashlib.sha1(image.tobytes()).hexdigest(), mirror, tuple(pm.run_id for pm in loaded))
    if st.session_state.get("_pg_sweep_key") != sweep_key:
        st.session_state["_pg_sweep"] = timed(
            lambda: [(f"#{pm.run_id} {pm.kind}", angle_sweep(pm, image, mirror)) for pm in loaded])
        st.session_state["_pg_sweep_key"] = sweep_key
    sweeps, ms_sweep = st.session_state["_pg_sweep"]
    angles_slot.plotly_chart(angle_figure(sweeps), width="stretch", key="pg_angles")
    angles_note.caption(f"Every run at {len(sweeps[0][1]['angles'])} angles ({ms_sweep:.0f} ms). Between the "
                        "diamonds the digit is interpolated, which alone changes a steerable net's answer a little; at "
                        "the diamonds (multiples of 90°) the turn is exact.")


@st.fragment
def turned_digit(image) -> None:
    """The rotation slider and all it moves: a slider move reruns only this part of the page."""
    angle = url_slider(st, "Rotation (degrees, counter-clockwise)", 0, 359, 0, "pg_angle")
    answers, ms_one = timed(lambda: [(f"#{pm.run_id} {pm.kind}", probabilities(pm, image, angle, mirror))
                                     for pm in loaded])
    c1, c2 = st.columns([1, 2])
    bars = c2.empty()  # above the answers' line, drawn just after it: the line reaches the browser first
    c2.caption(" · ".join(f"{label}: **{int(p.argmax())}** ({p.max():.0%})" for label, p in answers)
               + f" — answered in {ms_one:.0f} ms")
    bars.plotly_chart(probability_figure(answers), width="stretch", key="pg_probs")
    seen = turn(image, angle, mirror)[0, 0].numpy()  # (28, 28) in [0, 1]
    c1.image(digit_picture(seen), caption=f"What the models see ({angle}°{', mirrored' if mirror else ''})")

    st.subheader("Inside the network")
    one = url_choice(st, "Run", [pm.run_id for pm in loaded], loaded[0].run_id, "pg_inside",
                     help="Feature maps of every layer for the digit as turned above.")
    chosen = next(p for p in loaded if p.run_id == one)
    layers = layer_maps(chosen, image, angle, mirror)
    if not layers:
        st.caption(f"Run #{chosen.run_id} ({chosen.kind}) has no spatial layers to show: it reads the pixels as "
                   "one vector.")
    for lm in layers:
        side = lm.maps.shape[-1]
        st.markdown(f"**{lm.name}**: {min(len(lm.maps), lm.channels)} of {lm.channels} channels, each on its own "
                    "scale")
        st.image(maps_tiles(lm.maps, scale=max(1, 112 // side)), caption=lm.note or None)


digit_view(given)
url_notices(notice)  # the rotation slider's link value is checked inside the part of the page it moves
