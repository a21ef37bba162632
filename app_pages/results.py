"""Results: reopen a stored run — accuracy, confusion matrix, mistakes, embeddings, downloads (ONNX included), and
the command lines that reproduce it."""

from pathlib import Path

import numpy as np
import streamlit as st

from core.analysis.reference import context_line
from core.analysis.results import (
    TSNE_MAX_POINTS,
    TSNE_PERPLEXITIES,
    BusyError,
    config_json,
    evaluation_state,
    metrics_csv,
    projector_bundle,
    request_evaluation,
    request_tsne,
    stored_evaluation,
    stored_tsne,
    tsne_state,
)
from core.errors import DataUnavailableError, UserInputError
from core.figures.results import (
    confusion_figure,
    digit_gallery_figure,
    embedding_figure,
    misclassified_figure,
    pca_animation_figure,
    per_class_accuracy_figure,
)
from core.figures.training import curves_figure
from core.models.registry import ModelsWhere
from core.models.spec import SUPERPIXEL_INPUTS
from core.training.resume import lineage_epochs, resume_note
from core.training.runs import run_title
from core.training.snapshots import stored_snapshots
from core.training.store import CheckpointError, Run, StoreError
from ui.display import plain
from ui.linked_runs import linked_run_shown, write_defs
from ui.links import open_run_buttons
from ui.nav import page
from ui.reproduce import onnx_download, reproduce_block
from ui.resources import from_store
from ui.resources import store as ui_store
from ui.session import session_id
from ui.url_state import copy_link_button, parse_run_id, shown_link_value, url_choice, url_notices, url_toggle

GALLERY_MAX = 32
POLL_S = 1.0  # how often the page looks whether a run's evaluation is stored yet
SUPERPIXEL_MODELS = ModelsWhere(lambda spec: spec.inputs == SUPERPIXEL_INPUTS)  # evaluated on per-image graphs


def _or_unknown(count: int | None) -> str:
    """A stored count as written, "?" for a run that did not record it."""
    return "?" if count is None else str(count)


def evaluation_error(err: BaseException | None) -> None:
    """Why the run's evaluation cannot be shown (a failed job's error, or the one raised here), in one line."""
    if isinstance(err, CheckpointError):
        st.error(
            f"Cannot open this run's checkpoint — {plain(err)}. The stored metrics above are still valid; "
            "re-train the run to get its views back.",
            icon=":material/broken_image:",
        )
    else:
        st.error(f"Cannot rebuild this run — {plain(err)}")


def ask_tsne(store, run_id: int, perplexity: int):
    """Start the run's t-SNE map in a worker (core.analysis.results.request_tsne): its job, or None after a line
    saying the server is busy."""
    try:
        return request_tsne(run_id, perplexity, store, owner=session_id())
    except BusyError as err:
        st.warning(f"{str(err)[0].upper()}{str(err)[1:]}.", icon=":material/hourglass_top:")
        return None


def tsne_progress(store, run_id: int, perplexity: int, n: int) -> None:
    """While the t-SNE map is computed in a worker: where it is; the whole page reruns once it is stored."""
    try:
        job = tsne_state(run_id, perplexity, store)
    except (CheckpointError, StoreError):
        job = None
    if job is None or not job.pending:
        st.rerun(scope="app")
    st.info(
        f"t-SNE on {n:,} points (a few seconds) in a worker process — "
        f"{'computing now' if job.state == 'running' else 'waiting for a free worker'}…",
        icon=":material/hourglass_top:",
    )


def _test_index(point) -> int | None:
    """The test image a selected point names (its ``customdata[0]``), or None: the selection is the browser's, and a
    forged point may carry anything."""
    custom = point.get("customdata") if isinstance(point, dict) else None
    first = custom[0] if isinstance(custom, list) and custom else None
    return int(first) if isinstance(first, (int, float)) and float(first).is_integer() else None


def show_selected_digits(event, ev) -> None:
    """A gallery of the points picked (box / lasso / click) in an embedding chart."""
    points = event.get("selection", {}).get("points", []) if event else []
    picked = [i for i in map(_test_index, points) if i is not None and 0 <= i < len(ev.labels)]
    if not picked:
        st.caption("Select points in the chart (box or lasso, or click one) to see their digits here.")
        return
    shown = picked[:GALLERY_MAX]
    st.plotly_chart(
        digit_gallery_figure(
            [ev.images[i] for i in shown],
            [f"#{i}: true {ev.labels[i]}, pred {ev.preds[i]}" for i in shown],
            cols=8,
            title=f"Selected digits ({len(shown)} of {len(picked)})",
        ),
        width="stretch",
    )


# ---------------------------------------------------------------- pick a run
def no_runs() -> None:
    """The way in when no run has finished: what to do, and a link to the Train page."""
    st.info(
        "No finished runs yet. Train one on the Train page (pick a layer type and press Start; "
        "an MLP for 1 epoch takes seconds). Finished and stopped runs appear here.",
        icon=":material/model_training:",
    )
    st.page_link(page("train"), label="Train", icon=":material/model_training:")


def run_choice(by_id: dict[int, Run], i: int) -> str:
    """ "Run 5 · ChebNet K=5 on the 8-neighbour grid · 93.0%" (``core.training.runs.run_title``: from the config)."""
    r = by_id.get(i) if isinstance(i, int) else None
    if r is None:  # a forged value: a neutral title
        return "—"
    acc = r.summary.test_accuracy
    title = run_title(r)
    title += f" · {acc:.1%}" if acc is not None else ""
    return title + ("" if r.status == "finished" else f" · {r.status}")


def chosen_run(by_id: dict[int, Run]) -> Run:
    """The run the selectbox shows, kept in the URL as ``run``: the link's run when it is a finished or stopped one
    (else the newest, with a warning), then the visitor's choice."""
    ids = list(by_id)
    raw = st.query_params.get("run")
    if raw is not None and parse_run_id(raw) not in by_id:
        st.warning(
            f"run={shown_link_value(raw)} in this link is not a finished or stopped run; showing the newest one "
            "instead.",
            icon=":material/link_off:",
        )
        raw = None
    if st.session_state.get("run") not in by_id:  # first visit, or a run that was deleted meanwhile
        st.session_state["run"] = int(raw) if raw is not None else ids[0]
    elif raw is not None and st.session_state.get("_results_url_run") != raw:  # the link changed under us
        st.session_state["run"] = int(raw)
    run_id = st.selectbox(
        "Run",
        ids,
        key="run",
        format_func=lambda i: run_choice(by_id, i),
        help="Finished and stopped runs in the run store, newest first.",
    )
    if st.query_params.get("run") != str(run_id):
        st.query_params["run"] = str(run_id)  # a copied link reopens this run
    st.session_state["_results_url_run"] = str(run_id)
    return by_id[run_id]


# ---------------------------------------------------------------- what the store knows
def lineage(run: Run, runs: list[Run], by_id: dict[int, Run], epochs) -> None:
    """Links to the run this one continues and to the runs that continue it (continuations are new runs linked to the
    run they continue)."""
    parent = run.parent
    children = sorted(r.id for r in runs if r.parent == run.id)
    if parent is None and not children:
        return
    l1, l2 = st.columns(2)
    if parent is not None:
        a, b = (epochs[0]["epoch"], epochs[-1]["epoch"]) if epochs else (0, 0)
        first = "" if not epochs else f"epoch {a} here, " if a == b else f"epochs {a}–{b} here, "
        l1.caption(f"Continued from run {parent} ({first}the curve shows its epochs too):")
        if parent in by_id:
            l1.page_link(
                page("results"),
                label=f"continued from run {parent}",
                icon=":material/arrow_upward:",
                query_params={"run": str(parent)},
            )
        else:
            l1.caption(f"Run {parent} is no longer a finished or stopped run in the store.")
    if children:
        l2.caption("Continued by:")
        for child in children[:5]:
            l2.page_link(
                page("results"),
                label=f"run {child}",
                icon=":material/arrow_downward:",
                query_params={"run": str(child)},
            )


def show_stored(store, run: Run, runs: list[Run], by_id: dict[int, Run], epochs) -> None:
    """What the store knows of the run: its figures, where it comes from, the published figure beside it, links to
    the other pages that show it, and its training curve."""
    cfg, summary = run.config, run.summary
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Test accuracy (stored)", f"{summary.test_accuracy:.2%}" if summary.test_accuracy is not None else "—")
    c2.metric("Epochs", f"{epochs[-1]['epoch'] if epochs else 0} / {cfg.get('epochs', '?')}")
    c3.metric("Parameters", f"{summary.parameters:,}" if summary.parameters else "—")
    c4.metric("Images / s", f"{summary.images_per_second:,.0f}" if summary.images_per_second else "—")
    st.caption(
        f"Status **{run.status}** on {run.device or '?'} · data {cfg.get('data')} · "
        f"{_or_unknown(summary.train_images)} train / {_or_unknown(summary.test_images)} test images"
        + (f" · {note}" if (note := resume_note(store, run.id)) else "")  # taken over after a server restart
    )
    lineage(run, runs, by_id, epochs)
    context = context_line(cfg, summary.test_accuracy, epochs[-1]["epoch"] if epochs else 0)
    if context:
        st.info(context, icon=":material/menu_book:")
    open_run_buttons(run.id, cfg, st, exclude="results")
    if epochs:
        st.plotly_chart(
            curves_figure(lineage_epochs(store, run.id) if run.parent is not None else epochs), width="stretch"
        )


# ---------------------------------------------------------------- the checkpoint's evaluation
def evaluation_progress(store, run_id: int) -> None:
    """While the run's evaluation is computed in a worker: where it is; the whole page reruns once it is stored."""
    try:
        job = evaluation_state(run_id, store)
    except (CheckpointError, StoreError):
        job = None
    if job is None or not job.pending:
        st.rerun(scope="app")
    where = (
        "evaluating now"
        if job.state == "running"
        else ("next to start" if job.position == 1 else f"waiting behind {job.position - 1} other evaluation(s)")
    )
    st.info(
        f"This run has no stored evaluation yet (it was trained before runs stored one, or was stopped): "
        f"evaluating its checkpoint on the test set once, in a worker process, then storing it with the run "
        f"— {where}…",
        icon=":material/hourglass_top:",
    )


def evaluation(store, run_id: int):
    """The run's test-set evaluation, stored by the worker that trained it; a run stored before that is evaluated
    once, in a worker (its progress shown meanwhile). None, said in one line, while it is computed or when it cannot
    be."""
    try:
        ev = stored_evaluation(run_id, store)
        if ev is not None:
            return ev
        job = request_evaluation(run_id, store, owner=session_id())
        if job.state == "done":  # stored just now
            ev = stored_evaluation(run_id, store)
            if ev is None:  # (never seen: say so rather than ask again)
                st.error("This run's evaluation was computed but cannot be read from the store.")
            return ev
        if job.state == "failed":
            evaluation_error(job.error)
        else:
            st.fragment(run_every=POLL_S)(evaluation_progress)(store, run_id)
    except BusyError as err:
        st.warning(
            f"{str(err)[0].upper()}{str(err)[1:]}: this run's evaluation has not been computed yet.",
            icon=":material/hourglass_top:",
        )
    except (CheckpointError, UserInputError, DataUnavailableError, StoreError) as err:
        evaluation_error(err)
    return None


def mistakes(ev) -> None:
    """The misclassified test digits, of one true class or all."""
    which = url_choice(st, "True class", ["all"] + [str(c) for c in ev.classes], "all", "r_class")
    wrong = ev.misclassified if which == "all" else ev.misclassified[ev.labels[ev.misclassified] == int(which)]
    if len(wrong):
        st.plotly_chart(
            misclassified_figure(
                ev.images, ev.labels, ev.preds, wrong, max_images=GALLERY_MAX, probabilities=ev.probabilities
            ),
            width="stretch",
        )
    else:
        st.success("No misclassified test digits" + ("" if which == "all" else f" of class {which}") + ".")


def pca_map(ev, n_feat: int) -> None:
    """The penultimate features' PCA map; points picked in it show their digits."""
    from core.analysis.embeddings import pca

    p = pca(ev.features, k=2)
    ratio = p.explained_variance_ratio
    event = st.plotly_chart(
        embedding_figure(
            p.coords,
            ev.labels[:n_feat],
            ev.preds[:n_feat],
            classes=ev.classes,
            axis_titles=(f"PC 1 ({ratio[0]:.0%} of variance)", f"PC 2 ({ratio[1]:.0%})"),
        ),
        width="stretch",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        key="pca_chart",
    )
    show_selected_digits(event, ev)


def tsne_map(store, run_id: int, ev, n_feat: int) -> None:
    """The features' t-SNE map: computed once per run and perplexity, in a worker, when asked; then stored with the
    run."""
    n_tsne = min(n_feat, TSNE_MAX_POINTS)
    perplexity = url_choice(st, "Perplexity", list(TSNE_PERPLEXITIES), 30, "r_perplexity", widget="select_slider")
    xy = stored_tsne(run_id, perplexity, store)
    if xy is None:
        tsne_job = tsne_state(run_id, perplexity, store)
        if (tsne_job is None or not tsne_job.pending) and st.button(
            f"Compute t-SNE on {n_tsne:,} points", icon=":material/scatter_plot:", key="tsne_button"
        ):
            tsne_job = ask_tsne(store, run_id, perplexity)
        if tsne_job is not None and tsne_job.state == "done":
            xy = stored_tsne(run_id, perplexity, store)
        elif tsne_job is not None and tsne_job.state == "failed":
            st.error(f"t-SNE failed — {plain(tsne_job.error)}")
        elif tsne_job is not None:
            st.fragment(run_every=POLL_S)(tsne_progress)(store, run_id, perplexity, n_tsne)
        else:
            st.caption(
                "t-SNE takes a few seconds, so it runs only when asked, in a worker process; the map is stored with "
                "the run."
            )
    if xy is None:
        return
    event = st.plotly_chart(
        embedding_figure(
            xy,
            ev.labels[: len(xy)],
            ev.preds[: len(xy)],
            classes=ev.classes,
            title=f"t-SNE (perplexity {perplexity}, seed 0)",
        ),
        width="stretch",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        key="tsne_chart",
    )
    show_selected_digits(event, ev)


def pca_over_epochs(store, run_id: int, ev) -> None:
    """The PCA of the features after each epoch, as an animation (runs trained before snapshots have none)."""
    snaps = stored_snapshots(store, run_id)
    if snaps:
        st.plotly_chart(pca_animation_figure(snaps, ev.classes), width="stretch")
        st.caption(
            f"PCA of the first {len(snaps[-1]['xy'])} test images' features after each epoch "
            "(frames turned onto each other so only real motion shows). Drag the slider or press Play."
        )
    else:
        st.caption("No per-epoch snapshots for this run (runs trained before snapshots existed have none).")


def show_evaluation(store, run: Run, ev) -> None:
    """The checkpoint's test-set pass: its figures, then tabs of the confusion matrix, per-class accuracy, mistakes,
    embeddings and the embedding over epochs."""
    summary = run.summary
    st.subheader("On the test set")
    m1, m2, m3 = st.columns(3)
    m1.metric("Test accuracy (checkpoint)", f"{ev.accuracy:.2%}")
    m2.metric("Misclassified", f"{len(ev.misclassified):,} of {ev.num_test:,}")
    worst = int(np.nanargmin(ev.per_class_accuracy)) if np.isfinite(ev.per_class_accuracy).any() else None
    m3.metric("Hardest class", f"{worst} ({ev.per_class_accuracy[worst]:.0%})" if worst is not None else "—")
    if summary.test_images and summary.test_images != ev.num_test:
        st.caption(
            f"Evaluated on {ev.num_test} test images; the run was scored on {summary.test_images} "
            "(quick mode differs between then and now)."
        )
    if ev.model_kind in SUPERPIXEL_MODELS:
        st.caption("Superpixel model: evaluated on the per-image SLIC graphs; the galleries show each graph's digit.")

    t_cm, t_cls, t_err, t_emb, t_pca = st.tabs(
        ["Confusion matrix", "Per class", "Mistakes", "Embeddings", "Embedding over epochs"]
    )
    with t_cm:
        norm = url_toggle(st, "Show shares of each true class", "r_shares")
        st.plotly_chart(confusion_figure(ev.confusion, ev.classes, normalize=norm), width="stretch")
    with t_cls:
        st.plotly_chart(
            per_class_accuracy_figure(ev.per_class_accuracy, ev.classes, overall=ev.accuracy), width="stretch"
        )
    with t_err:
        mistakes(ev)
    with t_emb:
        n_feat = len(ev.features)
        st.caption(
            f"Penultimate features ({ev.features.shape[1] if n_feat else 0} dimensions) of the first "
            f"{n_feat:,} test images, mapped to 2-D. Crosses are misclassified."
        )
        e_pca, e_tsne = st.tabs(["PCA", "t-SNE"])
        with e_pca:
            pca_map(ev, n_feat)
        with e_tsne:
            tsne_map(store, run.id, ev, n_feat)
    with t_pca:
        pca_over_epochs(store, run.id, ev)


# ---------------------------------------------------------------- downloads
def downloads(run: Run, epochs, ev) -> None:
    """The run's config, metrics, checkpoint and ONNX file, and its embedding for the TensorBoard Projector."""
    run_id = run.id
    st.subheader("Downloads")
    d1, d2, d3, d4 = st.columns(4)  # the run; below, its embedding
    d1.download_button(
        "Config (JSON)",
        config_json(run),
        f"run-{run_id}-config.json",
        "application/json",
        icon=":material/settings:",
        width="stretch",
    )
    d2.download_button(
        "Metrics (CSV)",
        metrics_csv(epochs),
        f"run-{run_id}-metrics.csv",
        "text/csv",
        icon=":material/table:",
        width="stretch",
        disabled=not epochs,
    )
    ckpt_bytes = None
    if run.checkpoint:
        try:
            ckpt_bytes = Path(run.checkpoint).read_bytes()
        except OSError:
            ckpt_bytes = None
    d3.download_button(
        "Checkpoint (.pt)",
        ckpt_bytes or b"",
        f"run-{run_id}.pt",
        "application/octet-stream",
        icon=":material/download:",
        width="stretch",
        disabled=ckpt_bytes is None,
        help="The state dict; load it with torch.load(path, weights_only=True).",
    )
    onnx_download(d4, run, reason_in=st)  # made when pressed (ui/reproduce.py), or why this run has none
    d5, d6, _, _ = st.columns(4)
    if ev is None or not len(ev.features):
        d5.download_button("vectors.tsv", b"", "vectors.tsv", disabled=True, width="stretch")
        d6.download_button("metadata.tsv", b"", "metadata.tsv", disabled=True, width="stretch")
        return
    n = len(ev.features)
    vectors, metadata = projector_bundle(ev.features, ev.labels[:n], preds=ev.preds[:n])
    d5.download_button(
        "vectors.tsv",
        vectors,
        f"run-{run_id}-vectors.tsv",
        "text/tab-separated-values",
        icon=":material/scatter_plot:",
        width="stretch",
    )
    d6.download_button(
        "metadata.tsv",
        metadata,
        f"run-{run_id}-metadata.tsv",
        "text/tab-separated-values",
        icon=":material/label:",
        width="stretch",
    )
    st.caption(
        "Load vectors.tsv and metadata.tsv in the TensorBoard Embedding Projector "
        "(projector.tensorflow.org → Load) to explore the embedding in 3-D."
    )


def render() -> None:
    st.title("Results")
    notice = st.container()  # filled at the end if the opened link had invalid values
    copy_link_button(st.sidebar)
    store = ui_store()
    runs = from_store(lambda s: s.runs(status=("finished", "stopped"), limit=500))
    if not linked_run_shown("run", notice, {r.id for r in runs}):  # the link's run: as it says (ui/linked_runs.py)
        url_notices(notice)
        return
    if not runs:
        no_runs()
        return
    by_id = {r.id: r for r in runs}
    run = chosen_run(by_id)
    write_defs([run.id])  # a copied link carries what the run is (ui/linked_runs.py)
    epochs = store.epochs(run.id)
    show_stored(store, run, runs, by_id, epochs)
    ev = evaluation(store, run.id)
    if ev is not None:
        show_evaluation(store, run, ev)
    else:
        snaps = stored_snapshots(store, run.id)
        if snaps:
            st.plotly_chart(pca_animation_figure(snaps), width="stretch")
    downloads(run, epochs, ev)
    reproduce_block(store, run)
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
