"""Equivariance: rotate the test digits and watch trained models — a CNN, a graph model, a steerable
(escnn) net — keep or lose their answers; measure invariance per group element and per layer."""

from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.equivariance import (
    DEFAULT_ANGLES,
    accuracy_by_angle,
    feature_maps,
    group_elements,
    layer_equivariance_error,
    logit_invariance_error,
    parse_element,
)
from core.analysis.playground import PlaygroundModel, default_runs, probabilities, six_nine_ambiguous
from core.analysis.results import checkpoint_version
from core.data.datasets import ready_datasets, split_sizes
from core.errors import DataUnavailableError, UserInputError
from core.figures.equivariance import (
    LAYER_ERROR_TITLE,
    accuracy_by_angle_figure,
    equivariance_panels_figure,
    invariance_table,
    layer_error_figure,
)
from core.models.escnn_net import GROUPS
from core.models.registry import ModelsWhere
from core.models.spec import SUPERPIXEL_INPUTS
from core.training.linked_runs import LinkCheck
from core.training.runner import progress_text
from core.training.runs import RunConfig, run_title
from core.training.store import ACTIVE_STATUSES, CheckpointError, Run, StoreError, as_run
from ui import classroom
from ui.display import guarded, plain
from ui.linked_runs import checked, write_defs
from ui.nav import page
from ui.resources import RUNS, cached, from_store, manager
from ui.session import client_address, session_id
from ui.starter import newly_finished, show_starter, starter_failures, starter_set, starter_training
from ui.url_state import (
    RUN_ID,
    copy_link_button,
    note_link_value,
    parse_run_id,
    parse_run_ids,
    refuse_link_value,
    url_choice,
    url_labelled_choice,
    url_notices,
    url_slider,
)

MAX_RUNS = 3
IMAGE_CHOICES = (100, 200, 500)  # "Test images": at most 500 digits a run, and never more than its test set holds
LOGIT_IMAGES = 200  # of those, the first ones for the logit-invariance table (every group element is one pass)
LAYER_IMAGES = 16  # images for the per-layer heatmap (every element is one pass with hooks on every layer)
ANGLES = tuple(float(a) for a in DEFAULT_ANGLES)  # 0, 15, ..., 345
TRIO = ("cnn", "cheb", "escnn")
STATE_NAMES = {"queued": "waiting for a training slot", "running": "training"}
SIX_NINE = (
    "cannot tell a 6 from a 9: a 6 turned by 180° is a 9, so a net that is invariant to rotation must give "
    "both the same answer."
)


@cached(RUNS)
def run_model(run_id: int, checkpoint_key: str):
    """(model, RunConfig, dataset) of a stored run; ``checkpoint_key`` (path + mtime) keys the cache."""
    from core.analysis.results import load_run_model

    return load_run_model(run_id)


SUPERPIXEL_MODELS = ModelsWhere(lambda spec: spec.inputs == SUPERPIXEL_INPUTS)  # per-image graphs: nothing turns


@st.cache_data(show_spinner=False, max_entries=64)
def accuracy_curve(run_id: int, checkpoint_key: str, n: int, angles: tuple[float, ...]) -> dict[float, float]:
    """The run's accuracy on its first ``n`` test digits turned by each of ``angles``."""
    model, _, ds = run_model(run_id, checkpoint_key)
    return accuracy_by_angle(model, ds.x_test[:n], ds.y_test[:n], angles=angles)


@st.cache_data(show_spinner=False, max_entries=64)
def logit_errors(run_id: int, checkpoint_key: str, n: int, group: str) -> dict:
    """How much the run's logits change under each element of ``group``, on its first ``n`` test digits."""
    model, _, ds = run_model(run_id, checkpoint_key)
    return logit_invariance_error(model, ds.x_test[:n], group)


@st.cache_data(show_spinner=False, max_entries=256)
def digit_answer(run_id: int, checkpoint_key: str, digit: int) -> list[float]:
    """The run's (10,) class probabilities for its test digit ``digit``, as it is stored (not turned)."""
    model, cfg, ds = run_model(run_id, checkpoint_key)
    return probabilities(PlaygroundModel(run_id, cfg.label(), model, cfg.model), ds.x_test[digit]).tolist()


@st.cache_data(show_spinner=False, max_entries=32)
def layer_errors(run_id: int, checkpoint_key: str, group: str) -> dict:
    """Each layer's equivariance error for each element of ``group``, on the run's first test digits."""
    model, _, ds = run_model(run_id, checkpoint_key)
    return layer_equivariance_error(model, ds.x_test[:LAYER_IMAGES], group)


def run_label(r: Run) -> str:
    """A run as the picker lists it: "Run 3 · Steerable CNN C8 · mnist-rot" (its data set says which digits it saw)."""
    return run_title(r, with_data=True)


def run_name(r: Run) -> str:
    """A run in a legend, a table column or a sentence: "Run 3 · Steerable CNN C8"."""
    return run_title(r)


def render() -> None:
    st.title("Equivariance")
    notice = st.container()
    group, images_slot = _sidebar()
    starter = starter_set()  # read before the runs: a starter run it calls finished is among them
    by_id = {r.id: r for r in from_store(_turnable_runs)}
    linked = _checked_link(notice)  # the runs the link names, each checked against what it says it was
    _trio(group, notice, linked, runs_here=bool(by_id))
    if not by_id:  # trains once, for every visitor, when no run can be compared yet
        starter = starter_set(needed=True)
    show_starter(starter, "the Equivariance page")
    if not by_id:  # the link is left as it is, so its runs are checked again and a click on Rebuild is read
        _no_runs(starter)
        return
    picked = [by_id[i] for i in _pick_runs(by_id, starter, notice, linked)]
    n_images = _test_images(images_slot, picked)
    url_notices(notice)
    if not picked:
        st.caption("Choose up to three runs — say a CNN, a graph model and an escnn net — to rotate their test digits.")
        return
    keys = _checkpoint_keys(picked)
    if not keys:
        return
    picked = [r for r in picked if r.id in keys]
    measured = _measure(picked, keys, n_images, group)
    if measured is None:
        return
    curves, logits = measured
    _show_measurements(curves, logits, n_images, group)
    _inside_one(by_id, picked, keys, group, notice)


def _sidebar():
    """(the group measured, the slot "Test images" is drawn in once the runs are known): the sidebar's controls."""
    sb = st.sidebar
    group = url_choice(
        sb,
        "Group",
        list(GROUPS),
        "C8",
        "group",
        help="The symmetry measured (and used by the escnn model you train here). CN: N rotations by "
        "360/N degrees; DN: those and their mirror images; SO2: rotations sampled every 15°.",
    )
    images_slot = (
        sb.container()
    )  # "Test images", drawn once the runs are known: its choices are what their test sets hold
    sb.caption(
        "CN / DN elements are named `r90` (rotate 90° counter-clockwise) and `f r90` (mirror left-right, "
        "then rotate 90°)."
    )
    copy_link_button(sb)
    return group, images_slot


def _turnable_runs(s) -> list[Run]:
    """Finished or stopped runs with weights whose digits can be turned (not a superpixel net's), newest first."""
    return [r for r in s.runs(500, status=("finished", "stopped")) if r.checkpoint and r.model not in SUPERPIXEL_MODELS]


def _default_runs(by_id: dict[int, Run]) -> list[int]:
    """The newest CNN, graph net and steerable net among the runs (else the newest run), as the Playground starts."""
    return default_runs({i: r.to_dict() for i, r in by_id.items()}, MAX_RUNS)  # it reads the dict form


# ---------------------------------------------------------------- the link's runs, checked
Linked = dict[int, tuple[LinkCheck, int | None]]  # a link's run id -> (its check, the id to show in its place or None)


def _checked_link(notice) -> Linked:
    """Each run the link names (``runs``, ``trio`` until the page has re-attached to it, ``eq_open``) checked
    against what the link says it was (ui/linked_runs.py), all at once, so a run named twice gets one line and one
    **Rebuild** (in ``notice``)."""
    asked = list(_ids_in_runs(st.query_params.get_all("runs")) or [])
    if "eq_trio" not in st.session_state:
        asked += parse_run_ids(st.query_params.get("trio"), len(TRIO)) or []
    opened = parse_run_id(st.query_params.get("eq_open"))
    asked += [] if opened is None else [opened]
    asked = list(dict.fromkeys(asked))
    return {check.asked: (check, shown) for check, shown in checked(asked, notice)} if asked else {}


def _as_shown(ids: list[int], linked: Linked) -> list[int]:
    """The link's ``ids`` as its check shows them: the run here with the link's settings and seed in place of an
    id, an id whose run is not here left out (its line and Rebuild said so), a bare id as it is."""
    out = []
    for asked in ids:
        check, shown = linked.get(asked, (None, asked))
        if shown is None and check is not None and check.rebuildable:
            continue
        out.append(asked if shown is None else shown)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- train a quick trio in the background
def _trio(group: str, notice, linked: Linked, runs_here: bool) -> None:
    """The expander that trains a CNN, a ChebNet and an escnn net for ``group``, and their progress while they
    train (the page selects them once they end); a reload re-attaches through the link's ``trio``, as its check
    shows it (``linked``). Open when no run can be compared yet (not ``runs_here``); the page then leaves the link
    as it is (re-attached again on the next run), so a click on Rebuild for one of the trio is read."""
    mgr = manager()
    with st.expander(
        "Train a CNN, a graph model and a steerable net to compare",
        expanded=not runs_here,
        icon=":material/model_training:",
    ):
        c1, c2 = st.columns(2)
        trio_data = url_choice(
            c1,
            "Data",
            ready_datasets(),
            "mnist-5k",
            "trio_data",
            widget="radio",
            horizontal=True,
            help="mnist-rot: every training and test digit turned by a random angle.",
        )
        trio_epochs = url_slider(c2, "Epochs", 1, 10, 3, "trio_epochs")
        st.caption(
            "Three runs with the Train page's default settings: a LeNet-style CNN, a ChebNet (K=5) on the "
            f"8-neighbour pixel grid and an escnn steerable CNN for {group}. They queue for the training slots "
            "and keep going if you leave the page."
        )
        if st.button(
            f"Train CNN, ChebNet and escnn {group} on {trio_data}",
            icon=":material/play_arrow:",
            type="primary",
            key="train_trio",
        ):
            escnn: dict[str, Any] = {"group": group}  # the steerable net is built for the group measured
            cfgs = [
                RunConfig.make(model=m, data=trio_data, epochs=int(trio_epochs), **(escnn if m == "escnn" else {}))
                for m in TRIO
            ]
            ids = guarded(lambda: mgr.submit_many(cfgs, session=session_id(), client=client_address()))
            if ids:
                st.session_state["eq_trio"] = ids
                st.query_params["trio"] = ",".join(map(str, ids))
    url_notices(notice)

    raw_trio = st.query_params.get("trio", "")
    attached: list[int] = []
    if "eq_trio" not in st.session_state and raw_trio:  # a reload re-attaches (at most the trio's three runs)
        asked = parse_run_ids(raw_trio, len(TRIO))
        if asked is None:
            refuse_link_value("trio", f"at most {len(TRIO)} run ids")
            url_notices(notice)
        else:
            attached = _as_shown(asked, linked)
            if attached == asked or runs_here:  # runs to compare: the page rewrites the link anyway
                st.session_state["eq_trio"] = attached
                if attached and attached != asked:  # the link names the runs shown
                    st.query_params["trio"] = ",".join(map(str, attached))
                elif not attached:
                    st.query_params.pop("trio", None)
    trio_ids = st.session_state.get("eq_trio") or attached

    @st.fragment(run_every=1.0)
    def trio_progress(ids: list[int]) -> None:
        rows, active = [], False
        for run_id in ids:
            live = mgr.live(run_id)  # read from the store the manager writes
            if live is None:
                continue
            status = live["state"]
            active |= status in ACTIVE_STATUSES
            rows.append((run_title(as_run(live["run"])), status, live))
        if not rows:
            return
        for name, status, live in rows:
            if status == "running" and live:
                st.progress(live["progress"], text=f"{plain(name)}: {progress_text(live)}")
            else:
                st.caption(f"{plain(name)}: {STATE_NAMES.get(status, status)}")
        if not active and st.session_state.get("_eq_trio_done") != ids:
            st.session_state["_eq_trio_done"] = ids
            st.session_state["_eq_select"] = ids  # select the trio once the page reruns
            st.rerun(scope="app")

    if trio_ids:
        trio_progress(trio_ids)


def _no_runs(starter) -> None:
    """No run to compare yet: what is training (the starter set) or how to train one, and a link to the Train page."""
    if starter_training(starter):
        st.info(
            "No finished runs yet: a starter set is training (above); its runs appear here as they finish. "
            "Or press **Train CNN, ChebNet and escnn** above, or train any image model on the Train page.",
            icon=":material/hourglass_top:",
        )
    else:
        st.info(
            "No finished runs yet. Press **Train CNN, ChebNet and escnn** above (a few minutes on a CPU), or "
            "train any image model on the Train page; finished runs appear here.",
            icon=":material/model_training:",
        )
        for line in starter_failures(starter):
            st.caption(f"Starter set: {line}")
    st.page_link(page("train"), label="Train", icon=":material/model_training:")


# ---------------------------------------------------------------- pick runs
def _ids_in_runs(values: list[str]) -> list[int] | None:
    """The run ids in the link's ``runs`` (``runs=3,2,1``; a link from before run ids were used,
    ``runs=#5 escnn C8 · mnist-rot`` repeated, by its ids); None when it holds none that can be read."""
    ids = parse_run_ids(values[0], MAX_RUNS) if len(values) == 1 else None
    if ids is None and 0 < len(values) <= MAX_RUNS and all(len(v) <= 200 for v in values):  # the older labels
        heads = [v[1:].split(" ", 1)[0] if v.startswith("#") else "" for v in values]
        ids = [int(h) for h in heads] if all(RUN_ID.fullmatch(h) for h in heads) else None
    return ids


def _linked_runs(by_id: dict[int, Run], linked: Linked) -> list[int] | None:
    """The runs this link names, as its check shows them (``linked``), None when it names none; a run that is not
    listed here is left out with a notice (one whose run is not on this server was said by its check)."""
    values = st.query_params.get_all("runs")
    if not values:
        return None
    asked = _ids_in_runs(values)
    ids = None if asked is None else _as_shown(asked, linked)
    known = [i for i in ids or [] if i in by_id]
    if ids is None or known != ids:
        note_link_value("runs", ",".join(values), f"run ids of at most {MAX_RUNS} finished runs with weights")
    return known


def _newest_first(by_id: dict[int, Run], ids) -> list[int]:
    """``ids`` in the picker's order, newest first (a link's runs keep the link's order)."""
    return [i for i in by_id if i in ids][:MAX_RUNS]


def _pending(by_id: dict[int, Run], starter, notice, linked: Linked) -> list[int] | None:
    """Runs to select now, newest first, whatever the picker held: the trio just finished, starter runs that just
    finished (beside the runs shown), or a run opened from another page (``eq_open``) beside the newest runs of the
    other kinds; None (or empty) when nothing asks for a new selection."""
    pending = st.session_state.pop("_eq_select", None)  # run ids: the trio just finished, a run opened from elsewhere
    added = newly_finished(starter, set(by_id), "_eq_starter_seen")  # finished since the last rerun
    if added and not pending and "runs" in st.session_state:  # they join the runs compared (none yet: the defaults)
        shown = [i for i in st.session_state["runs"] if i in by_id]
        pending = (shown + [i for i in added if i not in shown])[:MAX_RUNS]
    raw_open = st.query_params.get("eq_open")  # a run opened from another page (Train, Results): it and the newest
    if raw_open is not None:  # runs of the other kinds beside it; the selection then lives in `runs` like any other
        st.query_params.pop("eq_open", None)
        open_id = parse_run_id(raw_open)
        shown = [] if open_id is None else _as_shown([open_id], linked)  # as the link's check shows it
        opened = by_id.get(shown[0]) if shown else None
        if opened is not None:
            others = [i for i in _default_runs(by_id) if by_id[i].model != opened.model]
            pending = [opened.id, *others[: MAX_RUNS - 1]]
            st.session_state.pop("layer_run", None)  # "Inside one network" looks inside the run opened
            st.query_params["layer_run"] = str(opened.id)
        elif open_id is None or shown:  # (a run that is not on this server was said by the link's check)
            note_link_value("eq_open", raw_open, "a finished image-model run with weights")
            url_notices(notice)
    return _newest_first(by_id, pending) if pending else pending


def _kept(by_id: dict[int, Run]) -> list[int]:
    """The picker's last value, of runs listed here: a browser may have sent anything for it."""
    kept = st.session_state.get("runs")
    return [v for v in (kept if isinstance(kept, list) else []) if type(v) is int and v in by_id]


def _pick_runs(by_id: dict[int, Run], starter, notice, checks: Linked) -> list[int]:
    """The ids of the runs compared (at most three, all listed here), from the picker or, when a classroom link
    hides it, from the link; the link's ``runs`` is set to them so Copy link reopens these, and its ``run_defs`` to
    what they and the trio's runs are."""
    pending = _pending(by_id, starter, notice, checks)
    linked = _linked_runs(by_id, checks)
    if classroom.hidden(
        "runs"
    ):  # a classroom link fixed the runs: no picker, the link's runs (or the newest of each kind)
        kept = _kept(by_id)
        selected = (
            pending
            or (
                linked
                if linked is not None
                else kept
                if "runs" in st.session_state
                else _newest_first(by_id, _default_runs(by_id))
            )
        )[:MAX_RUNS]
        classroom.record(
            "runs",
            "Runs to compare",
            ",".join(map(str, selected)),
            ", ".join(run_label(by_id[i]) for i in selected) or "none",
            True,
        )
    else:
        if pending:
            st.session_state["runs"] = pending
        elif "runs" not in st.session_state:  # the page opens: the link's runs, else the newest of each kind
            st.session_state["runs"] = (
                linked[:MAX_RUNS] if linked is not None else _newest_first(by_id, _default_runs(by_id))
            )
        else:  # whatever a browser sent for the picker: runs listed here
            st.session_state["runs"] = _kept(by_id)[:MAX_RUNS]
        selected = st.multiselect(
            "Runs to compare",
            list(by_id),
            key="runs",
            max_selections=MAX_RUNS,
            format_func=lambda i: run_label(by_id[i]) if i in by_id else str(i),
            placeholder="choose up to 3 finished runs",
            help="Finished or stopped image-model runs with a checkpoint, newest first.",
        )
        classroom.record(
            "runs",
            "Runs to compare",
            ",".join(map(str, selected)),
            ", ".join(run_label(by_id[i]) for i in selected if i in by_id) or "none",
            False,
        )
    selected = [i for i in selected if type(i) is int and i in by_id][:MAX_RUNS]
    if st.query_params.get_all("runs") != [",".join(map(str, selected))]:
        st.query_params["runs"] = ",".join(map(str, selected))  # the link holds run ids, so Copy link reopens these
    trio = parse_run_ids(st.query_params.get("trio"), len(TRIO)) or []
    write_defs([*selected, *trio])  # a copied link carries what its runs are (ui/linked_runs.py)
    return selected


# ---------------------------------------------------------------- measure them
def _digits_held(r: Run) -> int:
    """How many test digits the run's data set holds (as it was trained: quick mode holds fewer)."""
    stored = r.summary.test_images
    if stored is not None and stored > 0:
        return stored
    return split_sizes(str(r.config.get("data") or "mnist-5k"), bool(r.config.get("quick")))[1]


def _test_images(images_slot, picked: list[Run]) -> int:
    """ "Test images": the number of digits measured, never more than the smallest test set of the runs compared
    holds, so the control and every sentence below say the same number."""
    smallest = min((_digits_held(r) for r in picked), default=max(IMAGE_CHOICES))
    image_choices = sorted({v for v in IMAGE_CHOICES if v < smallest} | {min(smallest, max(IMAGE_CHOICES))})
    images_help = (
        f"Test digits turned for the accuracy curves (the first ones of each run's test set; the logit table "
        f"takes the first {LOGIT_IMAGES} of them). At most what the runs' test sets hold: {smallest:,} here."
    )
    if len(image_choices) <= 1:
        images_slot.caption(f"Test images: {image_choices[0]} (all the runs' test sets hold).")
        return image_choices[0]
    return url_choice(
        images_slot,
        "Test images",
        image_choices,
        image_choices[-1],
        "images",
        widget="select_slider",
        help=images_help,
    )


def _checkpoint_keys(picked: list[Run]) -> dict[int, str]:
    """Each run's checkpoint version (what its measurements are cached under); a run without a usable checkpoint
    is left out, said in one line."""
    keys: dict[int, str] = {}
    for r in picked:
        try:
            keys[r.id] = checkpoint_version(r)
        except CheckpointError as err:
            st.error(f"Cannot open {run_name(r)} — {plain(err)}")
    return keys


def _measure(picked: list[Run], keys: dict[int, str], n_images: int, group: str):
    """(accuracy curves, logit errors), each by run name; None after one line saying why they cannot be measured.

    Bounded (at most 3 runs x 500 digits x 24 angles, the logit table 200 digits x at most 32 elements) and cached in
    the server per run, checkpoint and setting, Streamlit computing a value once for sessions that ask at the same
    time: what the page shows is measured as it opens (a link, a class opening one link) and on each change, with no
    Measure press."""
    n_logit = min(int(n_images), LOGIT_IMAGES)

    def measure():
        curves, logits = {}, {}
        for r in picked:
            label = run_name(r)
            with st.spinner(
                f"Rotating {n_images} test digits of {label} through {len(ANGLES)} angles (a few seconds "
                "a run, longer for big escnn nets)…"
            ):
                curves[label] = accuracy_curve(r.id, keys[r.id], int(n_images), ANGLES)
                logits[label] = logit_errors(r.id, keys[r.id], n_logit, group)
        return curves, logits

    try:
        return guarded(measure)
    except (CheckpointError, DataUnavailableError, StoreError) as err:
        st.error(f"Cannot measure the selected runs — {plain(err)}")
        return None


def _show_measurements(curves: dict, logits: dict, n_images: int, group: str) -> None:
    """The accuracy of turned digits by angle, and the logits' change under each element of the group."""
    st.subheader("Accuracy of rotated digits")
    st.plotly_chart(accuracy_by_angle_figure(curves, title=""), width="stretch")  # titled by the subheader
    st.caption(
        f"Each of the first {n_images} test digits of every run is turned by the angle and classified again. Only "
        "multiples of 90° (diamonds) are *exact* on a square pixel grid: they just permute the pixels. Any other angle "
        "moves pixel centres between grid points, so the rotated image has to be interpolated (blurred a "
        "little, corners "
        "cut off) — even a perfectly equivariant network sees a slightly different digit there. A plain CNN trained on "
        "upright digits collapses away from 0°; an escnn C4/C8/D4 net is exactly invariant at 90° steps and "
        "nearly so in "
        "between."
    )

    st.subheader(f"Logit invariance for the elements of {group}")
    table = pd.DataFrame(invariance_table(logits))
    error_cols = [c for c in table.columns if c not in ("element", "grid")]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.NumberColumn(c, format="%.2e") for c in error_cols},
    )
    n_logit = min(int(n_images), LOGIT_IMAGES)
    logit_digits = (
        f"the {n_images} test digits" if n_logit == n_images else f"the first {n_logit} of the {n_images} test digits"
    )
    st.caption(
        f"Relative change of the logits, ‖f(g·x) − f(x)‖ / ‖f(x)‖, averaged over {logit_digits}. ~1e-7 is float "
        "round-off, i.e. exactly invariant; *interpolated* elements carry the interpolation error on top of "
        "whatever the model does."
    )


# ---------------------------------------------------------------- one run in depth
def _inside_one(by_id: dict[int, Run], picked: list[Run], keys: dict[int, str], group: str, notice) -> None:
    """One of the runs compared, in depth: each layer's equivariance error, its answer for a test digit, and one
    layer's feature maps of the digit turned by a group element beside the maps turned."""
    st.subheader("Inside one network")
    ids = [r.id for r in picked]
    if st.session_state.get("layer_run", ids[0]) not in ids:  # drawn before, for a run no longer compared: the first
        st.session_state.pop("layer_run", None)
    if parse_run_id(st.query_params.get("layer_run")) in set(by_id) - set(ids):  # the same, in the link (quietly: a
        st.query_params.pop("layer_run", None)  # run id that is no run listed here is noted below)
    one = by_id[url_labelled_choice(st, "Run", ids, ids[0], "layer_run", format_func=lambda i: run_label(by_id[i]))]
    key = keys[one.id]
    try:
        model, cfg, ds = run_model(one.id, key)
    except (CheckpointError, UserInputError, DataUnavailableError) as err:
        st.error(f"Cannot rebuild {run_name(one)} — {plain(err)}")
        return

    with st.spinner("Measuring every layer…"):
        per_layer = guarded(lambda: layer_errors(one.id, key, group))
    if per_layer:
        st.markdown(
            f"**{LAYER_ERROR_TITLE}**"
        )  # above the figure, not in it: there Plotly's toolbar covers it on a phone
        st.plotly_chart(layer_error_figure(per_layer, title=""), width="stretch")
        st.caption(
            f"For each layer L and element g: L(g·x) against g·L(x) on {LAYER_IMAGES} digits, inside the disk "
            "inscribed in the map. For escnn layers g also permutes / rotates the channels of each field "
            "(the field's representation); for a CNN the map is only moved. Blank: the element is not in the "
            "model's group (e.g. a mirror for a CN net)."
            + (
                f" This net's group schedule is {cfg.value('group')}: past the restriction its fields belong to the "
                "subgroup, and for elements outside it the layer is compared on each field's maximum over its "
                "channels; exact up to and including the restriction, growing after it."
                if "," in str(cfg.value("group"))
                else ""
            )
        )
    elif per_layer is not None:
        st.info(
            "This model has no convolutional feature maps (graph layers work on node features), so there is "
            "no per-layer map to rotate.",
            icon=":material/info:",
        )

    names = [e.name for e in group_elements(group)]
    default_el = next((n for n in names if n == "r90"), names[1] if len(names) > 1 else names[0])
    if st.session_state.get("element") not in names and "element" in st.session_state:
        st.session_state["element"] = default_el
    c1, c2 = st.columns(2)
    el = url_choice(c1, "Group element g", names, default_el, "element")
    last = len(ds.y_test) - 1
    if isinstance(st.session_state.get("digit"), int) and st.session_state["digit"] > last:
        st.session_state["digit"] = last  # another run with a smaller test set
    digit = url_slider(c2, "Test digit", 0, last, 0, "digit")
    url_notices(notice)
    answer = guarded(lambda: digit_answer(one.id, key, int(digit)))
    if answer is not None:
        best = max(range(len(answer)), key=answer.__getitem__)
        st.caption(
            f"{run_name(one)} answers **{best}** ({answer[best]:.0%}) for test digit #{digit} "
            f"(label {int(ds.y_test[digit])})."
        )
        if six_nine_ambiguous(answer, cfg.model, cfg.value("group")):
            st.info(f"{run_name(one)} {SIX_NINE}", icon=":material/sync:")
    _feature_maps(model, ds.x_test[digit], el)


def _feature_maps(model, image, el: str) -> None:
    """A layer's maps of the digit turned by ``el`` beside ``el`` applied to the digit's maps, and how far apart."""
    try:
        maps = feature_maps(model, image, el)
    except UserInputError as err:
        st.info(f"No feature maps to show for this run and element — {plain(err.message)}", icon=":material/info:")
        return
    rows = list(range(min(maps.field_size if maps.field_size > 1 else 4, 4, maps.of_rotated.shape[0])))
    st.plotly_chart(
        equivariance_panels_figure(
            maps.image.numpy(), maps.of_rotated.numpy(), maps.transformed.numpy(), channels=rows, element=el
        ),
        width="stretch",
    )
    exact = parse_element(el).exact
    st.caption(
        f"Layer **{maps.layer}**, first {len(rows)} channel(s) (fields of {maps.field_size} channel(s)). "
        f"Relative difference {maps.error:.2e}. "
        + (
            "g is a multiple of 90°, exact on the grid: an equivariant layer gives a blank difference."
            if exact
            else "g needs interpolation, so even an equivariant layer leaves a faint difference."
        )
    )


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
