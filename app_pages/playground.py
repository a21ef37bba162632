"""Playground: draw a digit (or take one from the data set, or upload one), turn and mirror it, and watch up to
three trained runs answer: their probabilities, their answer at every angle, and what each layer sees.

The answers are computed in the visitor's browser (onnxruntime-web, ui/playground_component.py) once its runtime runs
there and the chosen runs are exported to ONNX; the server then runs no inference for a stroke or a turn. Until then,
and where the browser cannot (no WebAssembly, the runtime or a model did not load, a run does not export), the
server answers, as it always did, and one line says why."""

import hashlib

import numpy as np
import streamlit as st

from core.analysis.node_arithmetic import KINDS as NODE_KINDS
from core.analysis.playground import (
    MAX_RUNS,
    angle_sweep,
    default_runs,
    layer_maps,
    load_playground_model,
    probabilities,
    six_nine_ambiguous,
    sweep_angles,
    timed,
    turn,
)
from core.analysis.results import checkpoint_version
from core.data.datasets import ready_datasets
from core.data.image_io import encode_digit_link, gray_png, load_digit_image, quantize_digit
from core.errors import UserInputError
from core.figures.playground import ANGLE_TITLE, angle_figure, digit_picture, maps_tiles, probability_figure
from core.models import MODELS
from core.models.registry import ModelsWhere
from core.models.spec import SUPERPIXEL_INPUTS
from core.training.cost import estimate
from core.training.runs import run_title
from core.training.starter import STARTER, steerable
from core.training.store import CheckpointError, Run, RunNotFoundError, as_run
from ui import classroom
from ui.display import guarded, labelled, plain
from ui.drawn_digit import drawn_digit as canvas_digit
from ui.linked_runs import checked_ids, write_defs
from ui.nav import page
from ui.playground_component import (
    browser_state,
    digit_key,
    models_for_browser,
    note_browser_failure,
    read_report,
    show_status,
    view,
)
from ui.resources import RUNS, cached, dataset, from_store, store
from ui.starter import (
    is_starter,
    newly_finished,
    queue_starter_run,
    run_progress,
    show_starter,
    starter_failures,
    starter_set,
    starter_training,
    waiting_run,
)
from ui.url_state import (
    copy_link_button,
    note_link_value,
    parse_run_ids,
    url_choice,
    url_labelled_choice,
    url_notices,
    url_slider,
    url_toggle,
)

SOURCES = {"draw": "draw", "dataset": "data set", "upload": "upload"}  # the link's value -> what the radio shows
OLD_SOURCES = {"data set": "dataset"}  # links from before the value became one word (a space in a link)
INK_KEY = "pg_ink"  # a drawn digit in the link: 16 grey levels, core.data.image_io.encode_digit_link
SIX_NINE = (
    "cannot tell a 6 from a 9 by which way up it is: a 6 turned by 180° is a 9, so a net that is invariant "
    "to rotation gives both the same answer. It can only go by how the digit is written: a 6's stem usually "
    "curves into its loop, a 9's is straighter."
)

WAIT_KEY = "_pg_wait_steerable"  # a steerable net someone else is training, which joins the runs shown when it ends
# models whose inputs are per-image superpixel graphs, not pixels: the Playground cannot hand them a drawn digit
SUPERPIXEL_MODELS = ModelsWhere(lambda spec: spec.inputs == SUPERPIXEL_INPUTS)


@cached(RUNS, show_spinner="Loading the run…")
def model_for(run_id: int, version: str):
    """A stored run ready for inference, once per checkpoint file and mtime."""
    return load_playground_model(run_id, store())


def offer_steerable(where) -> None:
    """No steerable net has finished on this server: say so in one line, and offer the starter's C8 net (one per
    server: one queued or training already, the starter's or a visitor's, is waited for instead of another)."""
    waiting = waiting_run("escnn")
    if is_starter(waiting):
        return  # the starter panel above shows it training, and it joins the runs shown when it finishes
    if waiting is not None:
        waiting_id = as_run(waiting).id  # ui.starter hands the run in its dict form
        st.session_state[WAIT_KEY] = waiting_id
        with where:
            run_progress(
                waiting_id,
                "a steerable net, whose answer stays put as the digit turns; it joins the runs here when it finishes.",
            )
        return
    recipe = next(s for s in STARTER if s.model == "escnn").config()
    where.info(
        "No steerable net has finished on this server yet, so no answer here stays put as the digit turns.",
        icon=":material/rotate_right:",
    )
    if where.button(
        f"Train a steerable C8 net on rotated digits ({estimate(recipe).text().split(',')[0]})",
        key="pg_train_c8",
        icon=":material/model_training:",
        help="One small steerable net, trained once on this server for everyone; it joins the runs here "
        "when it finishes.",
    ):
        _, why = queue_starter_run("escnn")
        if why is None:
            st.rerun()
        where.warning(f"Cannot train it now — {why}", icon=":material/block:")


def run_label(pm) -> str:
    """``#14 Steerable CNN C8``: the run's id, its model's short name and (a steerable net) its group."""
    return f"#{pm.run_id} {MODELS.short(pm.kind)}" + (f" {pm.group}" if pm.group else "")


def answers_text(answers) -> str:
    """``#12 cnn: **6** (97%) · #14 escnn C8: **9** (40%)``: every run's top class and its probability."""
    return " · ".join(f"{label}: **{int(p.argmax())}** ({p.max():.0%})" for label, p in answers)


def render() -> None:
    st.title("Playground")
    st.caption(
        "Bring your own digit and see trained models answer at once. Turn it with the slider: a CNN's answer "
        "flips as the digit turns, a steerable net's stays put; the plot beside the digit (below it on a phone) "
        "shows every angle at once. Runs come from the Train page:"
    )
    st.page_link(page("train"), label="Train", icon=":material/model_training:")
    notice = st.container()
    starter_panel = st.container()  # a fresh server's starter set training, until its runs are in; or the steerable net
    status_slot = st.container()  # whether the answers are computed in the browser, or why on the server
    sb = st.sidebar

    def source_choice() -> str:
        """The digit's source, a radio showing "data set" while the link holds one word (``pg_src=dataset``): a radio
        bound to the URL would write the label it shows, space and all, so this one is synced by hand. The old value
        ``data set`` still opens the data set (and the link is rewritten); anything else falls back with a notice."""
        raw = st.query_params.get("pg_src")
        if raw in OLD_SOURCES:
            raw = OLD_SOURCES[raw]
        if raw is not None and raw not in SOURCES:
            note_link_value("pg_src", raw, f"choose from {', '.join(SOURCES)}")
        options = list(SOURCES)
        value = raw if raw in SOURCES else "draw"
        hide = classroom.hidden("pg_src")  # a classroom link fixed the source: no radio, the link's value
        if not hide:
            value = sb.radio(
                "Digit",
                options,
                index=options.index(value),
                key="pg_src",
                format_func=labelled(SOURCES),
                horizontal=True,
                help="draw: with the mouse or a finger. data set: a test digit. upload: a PNG or JPEG; a "
                "drawn digit's PNG (download it below) uploads to the same digit.",
            )
        classroom.record("pg_src", "Digit", value, SOURCES[value], hide)
        if st.query_params.get("pg_src") != value:
            st.query_params["pg_src"] = value
        return value

    source = source_choice()
    if source != "draw":
        st.query_params.pop(INK_KEY, None)  # a drawing's link value means nothing beside another digit
    mirror = url_toggle(sb, "Mirror left-right first", "pg_mirror")

    def candidate_runs() -> dict[int, Run]:
        """Finished runs with weights that take pixels (not superpixel graphs, by their model's spec), newest
        first."""
        runs = map(as_run, from_store(lambda s: s.runs_with_weights(limit=300)))
        return {r.id: r for r in runs if r.model not in SUPERPIXEL_MODELS}

    def run_picker(runs: dict[int, Run]) -> list[int]:
        """Up to three runs, kept in the URL as ``pg_runs=3,7,12``."""
        raw = st.query_params.get("pg_runs")
        chosen: list[int] | None = default_runs(runs)
        added = newly_finished(starter, runs, "_pg_starter_seen")  # starter runs that finished since the last rerun
        if st.session_state.get(WAIT_KEY) in runs:  # the steerable net this page waited for has finished
            added.append(st.session_state.pop(WAIT_KEY))
        if (
            added and "pg_runs_w" in st.session_state
        ):  # join the runs shown (before any was shown: the defaults have them)
            shown = [i for i in st.session_state["pg_runs_w"] if i in runs and i not in added]
            added = list(dict.fromkeys(added))[-MAX_RUNS:]  # the newest join, the first shown stay beside them
            st.session_state["pg_runs_w"] = shown[: MAX_RUNS - len(added)] + added
            raw, chosen = None, None
        if raw is not None:
            asked = parse_run_ids(raw, MAX_RUNS)  # None: not a list of at most three run ids (read no further)
            if asked:  # each checked against what the link says it was (ui/linked_runs.py)
                here = checked_ids(asked, notice)
                if here != asked:  # one line said which, and Rebuild queues a missing one: no notice below too
                    raw, asked = ",".join(map(str, here)), here
            known = [i for i in asked or [] if i in runs]
            if asked is None or known != asked:
                note_link_value("pg_runs", raw, f"run ids of at most {MAX_RUNS} finished runs with weights")
            chosen = known or chosen

        def label(i: int) -> str:
            """A run's title in the picker; an id the store does not hold (a forged value) is titled by its id."""
            return run_title(runs.get(i) or {"id": i})[:60]

        hide = classroom.hidden("pg_runs")  # a classroom link fixed the runs: no picker, the link's (or newest) runs
        picked = (
            list(chosen or [])[:MAX_RUNS]
            if hide
            else sb.multiselect(
                "Runs (up to 3)",
                list(runs),
                default=chosen,
                max_selections=MAX_RUNS,
                key="pg_runs_w",
                format_func=label,
            )
        )
        st.query_params["pg_runs"] = ",".join(map(str, picked))
        write_defs(picked)  # a copied link carries what its runs are
        classroom.record("pg_runs", "Runs", st.query_params["pg_runs"], ", ".join(map(label, picked)) or "none", hide)
        return picked

    # ---------------------------------------------------------------- the digit
    # A data-set digit and an upload come from sidebar widgets (a full rerun); a drawing comes from the canvas, which
    # lives in the digit view's fragment below, so a stroke reruns only that part of the page.
    given: tuple[np.ndarray | None, bytes | None, str] = (None, None, "")  # (image, its picture, what it is)
    digit_at = None  # a data-set digit's (data set, test index): the One node page's links open the same one
    if source == "dataset":
        data = url_choice(sb, "Data set", ready_datasets(), "mnist-5k", "pg_data")
        ds = guarded(lambda: dataset(data))
        if ds is not None:
            index = url_slider(sb, "Test digit", 0, len(ds.y_test) - 1, 0, "pg_digit")
            image = ds.x_test[index].numpy()
            digit_at = (data, index)
            given = (image, gray_png(image, scale=10), f"{data} test digit #{index} (label {int(ds.y_test[index])})")
    elif source == "upload":
        upload = sb.file_uploader(
            "Your digit (PNG, JPEG…)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"], key="pg_upload"
        )
        if upload is not None:
            data_bytes = upload.getvalue()
            image = guarded(lambda: load_digit_image(data_bytes))
            if image is not None:
                given = (image, None, f"your upload ({hashlib.sha1(data_bytes).hexdigest()[:8]})")

    starter = starter_set()  # read before the runs: a starter run it calls finished is among them
    runs = candidate_runs()
    if not runs:  # a fresh server: train a starter set once, and show it coming in
        starter = starter_set(needed=True)
    with starter_panel:
        show_starter(starter, "the Playground")

    if runs:
        picked = run_picker(runs)
    else:  # nothing to pick from: still say which of the link's runs are missing, and offer to rebuild them
        picked = []
        asked = parse_run_ids(st.query_params.get("pg_runs"), MAX_RUNS)
        if asked:
            checked_ids(asked, notice)
    copy_link_button(sb)
    url_notices(notice)

    # In the browser once its runtime runs there and every chosen run exported; else on the server, saying why.
    browser, server_why = browser_state() if runs else (False, "")
    loaded: list = []  # the runs that answer: BrowserModel (in the browser) or PlaygroundModel (on the server)
    if browser and picked:
        loaded, problems = models_for_browser(picked, {rid: checkpoint_version(runs[rid]) for rid in picked})
        if problems:
            rid, why = next(iter(problems.items()))
            browser, loaded, server_why = False, [], f"run {rid} does not run in your browser: {why}"
    if runs:
        with status_slot:
            show_status("browser" if browser else "server" if server_why else "probe")
    if server_why:
        status_slot.caption(f":material/dns: The answers are computed on the server: {plain(server_why)}.")

    load_errors = []
    for rid in [] if browser else picked:
        try:
            loaded.append(model_for(rid, checkpoint_version(runs[rid])))
        except (CheckpointError, RunNotFoundError, UserInputError, OSError) as err:
            load_errors.append(f"Cannot load run {rid} — {plain(err)}")

    def drawn_digit(left) -> tuple:
        """(image (28, 28) in [0, 1] or None, PNG bytes, description) from the canvas, else from the link's ``pg_ink``
        (ui/drawn_digit.py: the link reopens this very digit and its very answers)."""
        left.markdown("**Draw a digit** (white on black)")
        image, png, what = canvas_digit(left, "pg_canvas", INK_KEY)
        if image is None:
            left.caption("Draw with the mouse or a finger; the models answer when you lift it. Clear starts again.")
        return image, png, what

    def show_digit(left, image, png, what: str) -> None:
        """Where the digit came from, and its PNG (under the canvas)."""
        if image is None:
            if source == "upload":
                left.info(
                    "Upload an image of one digit; dark on light or light on dark both work.", icon=":material/upload:"
                )
            return
        if what == "link":
            left.image(digit_picture(image, scale=4), caption="The digit in this link")
            left.caption(
                "This digit came with the link, as it was drawn (on 16 grey levels). A new stroke on the canvas "
                "replaces it; Clear removes it."
            )
        else:
            left.caption(
                what[0].upper()
                + what[1:]
                + (
                    ", as stored."
                    if source == "dataset"
                    else ", prepared as MNIST prepares digits: the ink scaled into a 20×20 "
                    "box and centred by its centre of mass in 28×28."
                )
            )
        if png is not None:
            left.download_button(
                "Download the digit (PNG)",
                png,
                "digit.png",
                "image/png",
                icon=":material/download:",
                help="Upload it again (Digit: upload) to get the same digit back.",
            )

    def node_links(where, image) -> None:
        """For each answering GCN / ChebNet / learned-edge run, a link to the One node page on this digit (as given):
        the
        same data-set digit where the run reads that data set, else the digit itself in the link (16 grey levels)."""
        for pm in loaded:
            if pm.kind not in NODE_KINDS:
                continue
            query = {"nd_run": str(pm.run_id)}
            if digit_at is not None and runs[pm.run_id].config.get("data") == digit_at[0]:
                query |= {"nd_src": "dataset", "nd_digit": str(digit_at[1])}
            elif source == "draw" and st.query_params.get(INK_KEY):
                query |= {"nd_src": "draw", "nd_ink": st.query_params[INK_KEY]}
            elif np.shape(image) == (28, 28) and quantize_digit(image).any():
                query |= {"nd_src": "draw", "nd_ink": encode_digit_link(image)}
            else:
                continue
            where.page_link(
                page("node"),
                label=f"See one node's arithmetic: {run_label(pm)}",
                icon=":material/calculate:",
                query_params=query,
            )

    def no_runs_yet(where) -> None:
        """The way in when no run has finished: links to the Train page, set up for each of the three nets (and, while
        the starter set trains, what it is waiting for)."""
        if starter_training(starter):
            where.info(
                "No finished run yet: a starter set is training (above). Draw a digit now: the first model to "
                "finish answers it, the others join as they finish. Or train your own:",
                icon=":material/hourglass_top:",
            )
        else:
            where.info(
                "No finished run yet. Train a CNN, a ChebNet and a steerable net on the Train page, then come back.",
                icon=":material/model_training:",
            )
            for line in starter_failures(starter):
                where.caption(f"Starter set: {line}")
        where.page_link(page("train"), label="Train", icon=":material/model_training:")
        where.page_link(page("train"), label="Train a CNN", icon=":material/grid_on:", query_params={"model": "cnn"})
        where.page_link(page("train"), label="Train a ChebNet", icon=":material/hub:", query_params={"model": "cheb"})
        where.page_link(
            page("train"),
            label="Train a C8 steerable net on rotated digits",
            icon=":material/rotate_right:",
            query_params={"model": "escnn", "group": "C8", "data": "mnist-rot"},
        )

    @st.fragment
    def digit_view(given: tuple) -> None:
        """The digit, every run's answers and the every-angle plot. A stroke on the canvas reruns only this part of the
        page, and the answers are drawn before the every-angle sweep is computed, so they show first."""
        left, right = st.columns([1, 2])
        image, png, what = drawn_digit(left) if source == "draw" else given
        line = (
            left.container()
        )  # every run's answer in one line, right under the canvas: in view after a stroke on a phone
        six_nine = left.empty()  # why a rotation-invariant net says 6 or 9, once the every-angle sweep is in
        about = left.container()  # where the digit came from and its PNG: written after the answers
        for message in load_errors:
            right.error(message)
        if browser and loaded:  # the browser answers: no inference here
            browser_digit(right, line, six_nine, image)
            show_digit(about, image, png, what)
            if image is None:
                right.info(
                    "Draw a digit (or pick one in the sidebar): the runs chosen there answer it (on a phone the "
                    "sidebar is folded away: open it with » at the top left).",
                    icon=":material/draw:",
                )
            return
        if not runs or image is None or not loaded:
            show_digit(about, image, png, what)
            if not runs:
                no_runs_yet(right)
            elif not load_errors:
                right.info(
                    (
                        "Draw a digit (or pick one in the sidebar): the runs chosen there answer it."
                        if loaded
                        else "Pick up to three runs in the sidebar and give a digit"
                    )
                    + " (on a phone the sidebar is folded away: open it with » at the top left).",
                    icon=":material/draw:",
                )
            return
        with right:
            st.markdown(f"**{ANGLE_TITLE}**")
            angles_slot = st.empty()  # filled after the answers below are on the page
            angles_note = st.empty()
        # the digit as given (not turned: the slider's part of the page cannot write here when it reruns alone)
        first, ms_first = timed(lambda: [(run_label(pm), probabilities(pm, image, 0.0, mirror)) for pm in loaded])
        line.markdown(answers_text(first) + f" — answered in {ms_first:.0f} ms")
        line.caption(f"The digit {'mirrored' if mirror else 'as given'}; the rotation slider below turns it.")
        node_links(line, image)
        turned_digit(image, first)
        show_digit(about, image, png, what)
        # every angle at once does not depend on the slider: computed once per digit, mirror and runs
        sweep_key = (hashlib.sha1(image.tobytes()).hexdigest(), mirror, tuple(pm.run_id for pm in loaded))
        if st.session_state.get("_pg_sweep_key") != sweep_key:
            st.session_state["_pg_sweep"] = timed(
                lambda: [(run_label(pm), angle_sweep(pm, image, mirror)) for pm in loaded]
            )
            st.session_state["_pg_sweep_key"] = sweep_key
        sweeps, ms_sweep = st.session_state["_pg_sweep"]
        blind = [
            label
            for pm, (label, sw) in zip(loaded, sweeps, strict=False)
            if six_nine_ambiguous(sw["probabilities"][0], pm.kind, pm.group, sw["predicted"])
        ]
        if blind:
            six_nine.info(f"{' and '.join(blind)} {SIX_NINE}", icon=":material/sync:")
        angles_slot.plotly_chart(angle_figure(sweeps), width="stretch", key="pg_angles")
        angles_note.caption(
            f"Every run at {len(sweeps[0][1]['angles'])} angles ({ms_sweep:.0f} ms). Between the "
            "diamonds the digit is interpolated, which alone changes a steerable net's answer a little; at "
            "the diamonds (multiples of 90°) the turn is exact."
        )

    def browser_digit(right, line, six_nine, image) -> None:
        """The browser's views of ``image`` (None: none yet, the views wait for a stroke with the runs loaded): the
        every-angle plot beside it, then the slider, the turned digit and its bars, and the layer maps below; the
        answers line under the canvas is written from what the browser reports back, checked."""
        angles = sweep_angles()
        key, pixels = digit_key(image, source == "draw") if image is not None else ("", None)
        common = {"key": key, "pixels": pixels, "mirror": mirror, "angles": angles}
        with right:
            if image is not None:
                st.markdown(f"**{ANGLE_TITLE}**")
            shown = view("angles", "pg_angles", loaded, **common)
        if getattr(shown, "fallback", None):  # a model did not load or run in this browser: the server answers
            note_browser_failure(shown.fallback)
            st.rerun(scope="app")
        browser_turned(image, common)
        if image is None:
            return
        report = read_report(getattr(shown, "report", None), key, mirror, [m.run_id for m in loaded], len(angles))
        if report is None:
            line.caption("Answering in your browser…")
            return
        first = [(run_label(pm), report.given[pm.run_id]) for pm in loaded]
        line.markdown(answers_text(first) + f" — answered in your browser in {report.ms:.0f} ms")
        line.caption(f"The digit {'mirrored' if mirror else 'as given'}; the rotation slider below turns it.")
        node_links(line, image)
        blind = [
            run_label(pm)
            for pm in loaded
            if six_nine_ambiguous(report.given[pm.run_id], pm.kind, pm.group, report.predicted[pm.run_id])
        ]
        if blind:
            six_nine.info(f"{' and '.join(blind)} {SIX_NINE}", icon=":material/sync:")

    def inside_the_network():
        """The "Inside the network" heading and its run choice (bound to ``pg_inside``): (the chosen loaded run,
        every loaded run's title by id). Browser and server mode draw the chosen run's layer maps under it."""
        st.subheader("Inside the network")
        titles = {pm.run_id: run_title(runs.get(pm.run_id) or {"id": pm.run_id}) for pm in loaded}
        one = url_labelled_choice(
            st,
            "Run",
            list(titles),
            loaded[0].run_id,
            "pg_inside",
            format_func=titles.get,
            help="Feature maps of every layer for the digit as turned above.",
        )
        return next(p for p in loaded if p.run_id == one), titles

    @st.fragment
    def browser_turned(image, common: dict) -> None:
        """The rotation slider (the server's own, bound to the link), then the browser's turned digit and bars, which
        follow the slider as it moves on the screen (a step reruns this part of the page only to keep the link: no
        inference), then the layer maps of the run chosen below. Without a digit the views wait, empty."""
        label = "Rotation (degrees, counter-clockwise)"
        angle = url_slider(st, label, 0, 359, 0, "pg_angle") if image is not None else 0
        view("turned", "pg_turned", loaded, angle=angle, slider_label=label, **common)
        if image is None:
            return
        chosen, titles = inside_the_network()
        if not chosen.maps:
            st.caption(f"{titles[chosen.run_id]} has no spatial layers to show: it reads the pixels as one vector.")
            return
        view("maps", "pg_maps", loaded, inside=chosen.run_id, **common)

    @st.fragment
    def turned_digit(image, first: list) -> None:
        """The rotation slider and all it moves: a slider move reruns only this part of the page. ``first``: the answers
        for the digit as given, which 0° reuses. The turned answer sits right under the slider, on a phone too (the
        turned digit and the bars follow, side by side on a wide screen)."""
        angle = url_slider(st, "Rotation (degrees, counter-clockwise)", 0, 359, 0, "pg_angle")
        answers, ms_one = (
            (first, 0.0)
            if angle == 0
            else timed(lambda: [(run_label(pm), probabilities(pm, image, angle, mirror)) for pm in loaded])
        )
        st.caption(
            f"Turned {angle}°{', mirrored' if mirror else ''}: {answers_text(answers)}"
            + (f" — answered in {ms_one:.0f} ms" if angle else "")
        )
        c1, c2 = st.columns([1, 2])
        seen = turn(image, angle, mirror)[0, 0].numpy()  # (28, 28) in [0, 1]
        c1.image(
            digit_picture(seen, scale=6), caption=f"What the models see ({angle}°{', mirrored' if mirror else ''})"
        )
        c2.plotly_chart(probability_figure(answers), width="stretch", key="pg_probs")

        chosen, titles = inside_the_network()
        layers = layer_maps(chosen, image, angle, mirror)
        if not layers:
            st.caption(f"{titles[chosen.run_id]} has no spatial layers to show: it reads the pixels as one vector.")
        for lm in layers:
            side = lm.maps.shape[-1]
            st.markdown(
                f"**{lm.name}**: {min(len(lm.maps), lm.channels)} of {lm.channels} channels, each on its own scale"
            )
            st.image(maps_tiles(lm.maps, scale=max(1, 112 // side)), caption=lm.note or None)

    digit_view(given)
    if runs and not any(steerable(r.config) for r in runs.values()):
        offer_steerable(st.container())  # below the digit and its answers: on a phone those stay on the first screen
    url_notices(notice)  # the rotation slider's link value is checked inside the part of the page it moves


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
