"""Train: pick data, graph and layer type, train in the background, watch the curves live."""

import json

import pandas as pd
import streamlit as st

from core.analysis.reference import context_line
from core.analysis.results import MISSING, runs_table
from core.config import QUICK_EPOCHS, quick_mode, without_paths
from core.data.datasets import DATASETS
from core.errors import CheckpointError, UserInputError
from core.figures.training import curves_figure
from core.graphs import describe_graph
from core.models import MODELS
from core.models.settings import SIZE, applicable
from core.models.spec import IMAGE_INPUTS
from core.models.superpixel_net import SUPERPIXEL_TITLES, budget_width
from core.training import cost
from core.training.cpu_share import describe as describe_threads
from core.training.resume import continuable, lineage_epochs
from core.training.runner import progress_text
from core.training.runs import RunConfig, model_default, run_title, validate
from core.training.store import ACTIVE_STATUSES, StoreError, as_run
from core.training.trainer import pick_device
from ui import classroom
from ui.display import RUNS_TABLE_COLUMNS, guarded, plain, unbroken
from ui.linked_runs import checked_ids, start_or_reuse, write_defs
from ui.links import open_run_buttons
from ui.resources import manager, store
from ui.session import client_address, session_id
from ui.url_state import (
    copy_link_button,
    graph_param_widgets,
    parse_run_id,
    refuse_link_value,
    url_choice,
    url_labelled_choice,
    url_notices,
    url_number,
    url_setting,
    url_slider,
    url_text,
)

AUTO_WIDTH = "auto (about 100k parameters)"  # how the superpixel width 0 reads


def open_run(new_id: int) -> None:
    """Show run ``new_id`` here (the whole page reruns, so the Stop button and the table follow)."""
    st.session_state["run_id"] = new_id
    st.query_params["run"] = str(new_id)
    st.rerun(scope="app")


def estimate_beside_measured(config: dict, summary: dict) -> str:
    """'Estimated about 31 s, 386 MB · measured 28 s, peak 350 MB' for a run that trained, estimated for the epochs
    it trained (a stopped run's or a continuation's own)."""
    try:
        estimated = cost.estimate(RunConfig.from_dict(config), epochs=len(summary.get("epochs") or []) or None)
    except (UserInputError, TypeError, ValueError):
        return ""
    if not estimated.known:
        return ""
    peak = f", peak {summary['peak_mb']:,.0f} MB" if summary.get("peak_mb") else ""
    return (
        f"Estimated before it started: {estimated.text()} · measured: {cost.duration(summary['seconds'])}{peak} "
        "(the worker's whole memory, torch included)."
    )


def live_curves(run_id: int, total_epochs: int | None) -> None:
    epochs = lineage_epochs(store(), run_id)  # a continuation's curve starts with its parent's epochs
    progress = store().progress(run_id)
    losses = progress["points"] if progress else []
    if epochs or losses:
        st.plotly_chart(curves_figure(epochs, losses, total_epochs=total_epochs), width="stretch")


# While a run is queued or training, the status polls the store every second and the curves every
# CURVES_EVERY_S: redrawing the chart was most of the page's cost (browser and server CPU taken from
# training on a small machine). A finished run is drawn once.
CURVES_EVERY_S = 5.0


def render() -> None:
    d = RunConfig.make()
    quick = quick_mode()
    st.title("Train")
    notice = st.container()  # filled if the opened link had invalid values
    if quick:
        st.info(
            f"Quick mode: every run uses 1,000 training and 200 test digits (mnist-5k), and {QUICK_EPOCHS} epochs "
            "by default, so results come in seconds on a small machine. Whoever runs this server can switch quick "
            "mode off for the full split.",
            icon=":material/bolt:",
        )
    sb = st.sidebar
    data = url_choice(
        sb,
        "Data set",
        DATASETS.names(),
        d.data,
        "data",
        help="mnist-5k: 5,000 real MNIST digits that ship with the app. mnist-rot: the same digits, each "
        "turned by a random angle. mnist: all 70,000, once they are downloaded on this server.",
    )
    model = url_labelled_choice(sb, "Layer type", MODELS.names(), d.model, "model", format_func=MODELS.title)
    if st.session_state.get("_defaults_of") not in (None, model):  # another model: its own defaults, not the last one's
        # Set through the Session State API, so the browser's widgets take them too (a popped key left the browser's
        # old value in place, and the link, which omits defaults, then opened with other settings than Start used).
        width_key = "sp_hidden" if model == "superpixel" else "hidden"  # superpixel widths have their own widget
        for key, name in (
            (width_key, "hidden"),
            ("layers", "layers"),
            ("dropout", "dropout"),
            ("lr", "lr"),
            ("schedule", "schedule"),
        ):
            st.session_state[key] = model_default(model, name)
    st.session_state["_defaults_of"] = model
    sb.caption(
        (f"{MODELS.title(model)}: " if classroom.hidden("model") else "") + MODELS.about(model)
    )  # named when hidden
    cfg = {"data": data, "model": model}
    spec = MODELS.spec(model)

    def draw_setting(container, setting) -> None:
        """A declared setting's control (core/models/spec.py), bound to the URL by its name."""
        if setting.format is not None:  # short names in the link, titles on the page
            cfg[setting.name] = url_labelled_choice(
                container,
                setting.label,
                list(setting.options),
                d.value(setting.name),
                setting.name,
                format_func=setting.format,
                help=setting.help or None,
            )
        else:
            cfg[setting.name] = url_setting(container, setting, model_default(model, setting.name))

    for setting in applicable(model, cfg):  # the choices that matter most sit next to the layer type, not in a section
        if setting.sidebar:
            draw_setting(sb, setting)
    if spec.graphs:
        kinds = list(spec.graphs)
        cfg["graph"] = url_choice(
            sb, "Graph", kinds, kinds[0], "graph" if spec.fixed_graph else "sp_graph", widget="radio", horizontal=True
        )
        cfg["graph_params"] = graph_param_widgets(cfg["graph"], sb)
    with sb.expander("Architecture", expanded=False):
        if set(SIZE) <= {
            s.name for s in spec.settings
        }:  # the tutorial's one graph layer + linear classifier: nothing to size
            cfg["layers"] = url_slider(
                st, "Layers", 1, 4 if model != "superpixel" else 6, model_default(model, "layers"), "layers"
            )
            widths = [0, 32, 64, 96, 128, 192] if model == "superpixel" else [8, 16, 32, 48, 64, 128]
            # superpixel widths have their own key: a pixel model's width would otherwise carry over to them
            cfg["hidden"] = url_choice(
                st,
                "Width (channels)",
                widths,
                model_default(model, "hidden"),
                "sp_hidden" if model == "superpixel" else "hidden",
                widget="select_slider",
                format_func=lambda w: AUTO_WIDTH if w == 0 else str(w),
            )
            if model == "superpixel" and cfg["hidden"] == 0:
                auto = budget_width(
                    cfg["conv"],
                    max(1, cfg["layers"]),
                    d.value("heads"),
                    d.value("K"),
                    positions=st.session_state.get("positions", model_default(model, "positions")),
                )
                st.caption(
                    f"auto: {auto} channels gives {MODELS.title('superpixel')} with "
                    f"{SUPERPIXEL_TITLES[cfg['conv']]} about 100k parameters, the Benchmarking-GNNs budget."
                )
            cfg["dropout"] = url_slider(st, "Dropout", 0.0, 0.8, model_default(model, "dropout"), "dropout", step=0.05)
        for setting in applicable(model, cfg):  # what the model declares it reads (its spec, core/models/spec.py)
            if not setting.sidebar:
                draw_setting(st, setting)
        if spec.setting("group") is not None:  # a steerable net takes a schedule: one group per block
            schedule = url_text(
                st,
                "Group schedule (optional)",
                "",
                "schedule_groups",
                placeholder="e.g. D16,D16,C16",
                help="One group per block, each a subgroup of the one before: the fields are "
                "restricted to the smaller group from that block on (Weiler & Cesa 2019). Left "
                "empty, every block uses the group above.",
            )
            if schedule.strip():
                cfg["group"] = schedule.strip().upper()
                if "," in schedule:  # one group per block: the schedule sets the depth
                    cfg["layers"] = len(schedule.split(","))
                    st.caption(f"The schedule sets {cfg['layers']} blocks (the Layers slider is not used).")
    with sb.expander("Training", expanded=True):
        cfg["epochs"] = url_slider(st, "Epochs", 1, 30, QUICK_EPOCHS if quick else d.training.epochs, "epochs")
        cfg["lr"] = url_choice(
            st,
            "Learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0],
            model_default(model, "lr"),
            "lr",
            widget="select_slider",
            help="Default: 1e-3 for mlp and cnn, 3e-3 for the rest.",
        )
        cfg["schedule"] = url_choice(
            st,
            "Learning-rate schedule",
            ["constant", "cosine", "plateau"],
            model_default(model, "schedule"),
            "schedule",
            widget="radio",
            horizontal=True,
            help="cosine: the rate decays smoothly from its start value to 0 by the last step. "
            "plateau: halved after 2 epochs without a lower training loss.",
        )
        if spec.inputs == IMAGE_INPUTS:  # superpixel graphs are built once: nothing to turn
            cfg["augment"] = url_choice(
                st,
                "Augmentation",
                ["none", "rotate"],
                d.training.augment,
                "augment",
                widget="radio",
                horizontal=True,
                help="rotate: every training image is turned by a fresh random angle each epoch (the test set is not).",
            )
        cfg["batch_size"] = url_choice(
            st, "Batch size", [16, 32, 64, 128, 256], d.training.batch_size, "batch_size", widget="select_slider"
        )
        cfg["seed"] = url_number(st, "Seed", 0, 2**31 - 1, d.training.seed, "seed")
    copy_link_button(sb)
    url_notices(notice)

    def planned_rows(planned: RunConfig) -> tuple[list[dict[str, str]], dict]:
        """What Start trains: (one row per setting this model reads, labelled as the sidebar labels it, with the mode
        this
        server trains in; the same settings by their names, as a run's config holds them). Settings the model does not
        read (a ChebNet's group or attention heads) are left out: ``RunConfig.ignored_settings``."""
        config = planned.to_dict()
        ignored = set(planned.ignored_settings(config)) | {"device", "parent", "quick"}
        rows: list[tuple[str, object]] = [("Data set", planned.data), ("Layer type", MODELS.short(planned.model))]
        sidebar = [s for s in applicable(planned.model, config) if s.sidebar and s.name not in ignored]
        rows += [(s.label, s.format(planned.value(s.name)) if s.format else planned.value(s.name)) for s in sidebar]
        if planned.uses_graph():
            rows.append(("Graph", describe_graph(planned.graph, planned.graph_params)))
        if "layers" not in ignored:
            width = AUTO_WIDTH if planned.value("hidden") == 0 else planned.value("hidden")
            rows += [
                ("Layers", planned.value("layers")),
                ("Width (channels)", width),
                ("Dropout", planned.value("dropout")),
            ]
        for setting in applicable(planned.model, config):
            if setting.name not in ignored and not setting.sidebar:
                value = planned.value(setting.name)
                rows.append((setting.label, ("on" if value else "off") if isinstance(value, bool) else value))
        rows += [
            ("Epochs", planned.training.epochs),
            ("Learning rate", f"{planned.training.lr:g}"),
            ("Learning-rate schedule", planned.training.schedule),
        ]
        rows += [("Augmentation", planned.training.augment)] if planned.spec().inputs == IMAGE_INPUTS else []
        rows += [
            ("Batch size", planned.training.batch_size),
            ("Seed", planned.training.seed),
            ("Training set", "quick mode (fewer digits)" if planned.training.quick or quick else "the full split"),
        ]
        reads = {k: v for k, v in config.items() if k not in ignored}
        reads["quick"] = bool(
            planned.training.quick or quick
        )  # the mode this server trains in, not the setting's default
        return [{"setting": k, "value": str(v)} for k, v in rows], reads

    with st.expander("What Start trains", icon=":material/data_object:"):
        planned = guarded(lambda: RunConfig.from_dict(cfg))  # an invalid combination: one clear line
        if planned is not None:
            shown, reads = planned_rows(planned)
            st.caption(
                f"{plain(planned.label())}: every setting this model reads, defaults filled in. A shared link of "
                "this page trains the same."
            )
            st.dataframe(
                pd.DataFrame(shown),
                hide_index=True,
                width="stretch",
                height=35 * (len(shown) + 1) + 3,
                column_config={
                    "setting": st.column_config.TextColumn("Setting"),
                    "value": st.column_config.TextColumn("Value"),
                },
            )  # every row, no scrolling
            st.caption("The same settings by the names a run's config file uses:")
            st.code(json.dumps(reads, sort_keys=True, separators=(", ", ": ")), language="json", wrap_lines=True)

    device = pick_device("auto")
    mgr = manager()
    me = session_id()

    def estimate_line(settings: dict) -> None:
        """What Start would cost on this server ("about 12 s, 180 MB"), or, over the public budget, the refusal Start
        would give (the setting to lower and to what); an invalid combination is already said above."""
        try:
            planned_cfg = validate(RunConfig.from_dict(settings))
            estimated = cost.check(planned_cfg, mgr.public, mgr.limits)
        except cost.BudgetError as err:
            st.warning(f"Over this server's budget — {plain(err)}", icon=":material/speed:")
            return
        except UserInputError:
            return
        st.caption(
            f"Estimated on this server: {estimated.text()} ({estimated.params:,} parameters)."
            if estimated.known
            else "This model declares no footprint: its cost on this server is not known in advance."
        )

    estimate_line(cfg)
    run_param = st.query_params.get("run")
    if run_param and parse_run_id(run_param) is None:
        refuse_link_value("run", "a run id")
        url_notices(notice)
    linked = parse_run_id(run_param)
    if linked is not None:  # the link's run, checked against what the link says it was (ui/linked_runs.py)
        here = checked_ids([linked], notice)
        if here and here[0] != linked:  # the run here with the link's settings and seed: the link names it now
            st.query_params["run"] = str(here[0])
        linked = here[0] if here else None
    run_id = linked or st.session_state.get("run_id")

    b1, b2, b3 = st.columns([1, 1, 3])
    if b1.button("Start", icon=":material/play_arrow:", type="primary", width="stretch"):
        new_id = guarded(lambda: start_or_reuse(RunConfig.from_dict(cfg), notice))
        if new_id:  # an invalid combination shows st.error and keeps every setting as it was
            run_id = st.session_state["run_id"] = new_id
            st.query_params["run"] = str(new_id)
    if run_id and st.query_params.get("run") == str(run_id):
        write_defs([run_id])  # a copied link carries what this run is
    live_now = guarded(lambda: mgr.live(run_id)) if run_id else None
    active = bool(live_now and live_now["state"] in ACTIVE_STATUSES)
    mine = bool(live_now and live_now["session"] == me)
    if b2.button(
        "Stop",
        icon=":material/stop:",
        width="stretch",
        disabled=not (active and mine),
        help=None if mine or not active else "Started in another session: only that session can stop it.",
    ):
        guarded(lambda: mgr.stop(run_id, session=me))
    b3.markdown(
        f"Device: **{device.type}**"
        + ("" if device.type != "cpu" else " (no GPU found; training on the CPU)")
        + (
            " · runs train on a Ray cluster"
            if mgr.backend.name == "ray"
            else " · each run trains in its own worker process"
        )
    )

    def continue_controls(run_id: int, row: dict) -> None:
        """ "Continue N more epochs" and "Step (1 epoch)" for a finished or stopped run: each starts a NEW run linked to
        this one (core/training/resume.py says why), shown live here like any started run; this run stays as it is."""
        why = continuable(store(), row)
        if not why and mgr.backend.name == "ray":
            why = "continuing is not available on the Ray backend"
        c1, c2, c3 = st.columns([1, 1.3, 1.3], vertical_alignment="bottom")
        more = int(
            c1.number_input(
                "More epochs", 1, 100, QUICK_EPOCHS if quick else 2, key="continue_epochs", disabled=bool(why)
            )
        )
        help_text = (
            f"Cannot continue: {why}."
            if why
            else "A new run, linked to this one, carries on from its weights, optimiser, learning-rate schedule and "
            "random state; this run and its links stay as they are."
            + (
                " Cosine schedule: it decayed over this run's epochs, so the rate rises again and decays over the "
                "new total."
                if as_run(row).config.get("schedule") == "cosine"
                else ""
            )
        )
        go = c2.button(
            f"Continue {more} more epoch{'s' * (more != 1)}",
            icon=":material/fast_forward:",
            width="stretch",
            disabled=bool(why),
            help=help_text,
            key="continue_run",
        )
        step = c3.button(
            "Step (1 epoch)",
            icon=":material/skip_next:",
            width="stretch",
            disabled=bool(why),
            help=help_text,
            key="step_run",
        )
        if go or step:
            try:
                new_id = mgr.continue_run(run_id, 1 if step else more, session=me, client=client_address())
            except (UserInputError, CheckpointError, StoreError) as err:
                st.error(f"Cannot continue run {run_id} — {plain(err)}")
                return
            open_run(new_id)

    def live_panel(run_id: int) -> None:
        live = mgr.live(run_id)
        if live is None:
            st.warning(f"Run {run_id} is not in the run store.")
            return
        row = live["run"]  # the dict form, as continuable (core.training.resume) reads it
        run = as_run(row)
        epochs = store().epochs(run_id)
        status = live["state"]
        st.subheader(plain(unbroken(run_title(run))))
        if live.get("resumed") and status not in ACTIVE_STATUSES:  # a running one says it in its progress line
            st.caption(live["resumed"][0].upper() + live["resumed"][1:] + ".")
        parent = run.config.get("parent")
        if parent is not None:
            p1, p2 = st.columns([3, 1], vertical_alignment="center")
            a, b = (epochs[0]["epoch"] if epochs else None), live["epochs"]
            here = f"up to epoch {b}" if a is None else f"epoch {a}" if a == b else f"epochs {a}–{b}"
            p1.caption(
                f"Continued from run {parent}: {here} trained here from run {parent}'s weights, optimiser, "
                f"schedule and random state; the curves show run {parent}'s epochs too."
            )
            if p2.button(f"Open run {parent}", icon=":material/arrow_upward:", key="open_parent", width="stretch"):
                open_run(int(parent))
        if live["session"] != me:
            st.caption("Started in another session: you are watching it read-only; only that session can stop it.")
        if status == "queued":
            pos = live["queue_position"]
            ahead = f"{pos - 1} run(s) ahead of it" if pos else "waiting for a worker"
            st.info(f"Queued: {ahead}; {mgr.max_concurrent} run(s) train at once. It starts automatically.")
        elif status == "running":
            text = progress_text(live)
            cores = (
                describe_threads(epochs[-1].get("threads")) if epochs and live["num_batches"] else ""
            )  # last epoch's
            text += f" · {cores}" if cores else ""
            if live["stop_requested"]:
                text += " · stopping after this batch"
            st.progress(live["progress"], text=text)
        summary = run.summary.stored  # the column as written (estimate_beside_measured reads its "epochs" too)
        context = context_line(run.config, run.summary.test_accuracy, epochs[-1]["epoch"] if epochs else 0)
        if status == "finished":
            st.success(
                f"Finished: test accuracy **{summary.get('test_accuracy', 0):.2%}** on "
                f"{summary.get('test_images', '?')} test images "
                f"({summary.get('images_per_second') or 0:,.0f} images/s on {row.get('device')}). " + context
            )
        elif status == "stopped":
            st.warning(
                "Stopped. Every finished epoch is kept"
                + (f"; last test accuracy {summary['test_accuracy']:.2%}." if summary.get("test_accuracy") else ".")
                + (f" ({plain(without_paths(row['error']))})" if row.get("error") else "")
                + (f" {context}" if context else "")
            )
        if status in ("finished", "stopped") and summary.get("seconds"):
            st.caption(estimate_beside_measured(run.config, summary))
        if status in ("finished", "stopped") and row.get("checkpoint"):
            st.caption("Open this run on:")
            open_run_buttons(run_id, run.config)
            continue_controls(run_id, row)
        elif status in ("failed", "interrupted"):
            st.error(
                f"Run {status}: "
                + (plain(without_paths(row["error"])) if row.get("error") else "the server stopped during it")
            )
        if epochs:
            st.metric("Test accuracy (last epoch)", f"{epochs[-1]['test_accuracy']:.2%}")
            if st.session_state.get("_curves_fast") == run_id and status in ACTIVE_STATUSES:
                del st.session_state["_curves_fast"]
                st.rerun(scope="app")  # the first epoch landed: the curves may now poll slowly
        if status in ACTIVE_STATUSES:
            st.session_state["_watching"] = run_id
        elif st.session_state.get("_watching") == run_id:
            del st.session_state["_watching"]
            st.rerun(scope="app")  # the run ended: refresh the runs table and the Stop button, and stop polling

    if run_id:
        # Until its first epoch ends a run's curves poll every second, so the batch loss draws from the first points
        # on; the status panel reruns the page once when that epoch lands, and the curves slow down to CURVES_EVERY_S.
        first_epoch_pending = active and not store().epochs(run_id)
        if first_epoch_pending:
            st.session_state["_curves_fast"] = run_id
        st.fragment(run_every=1.0 if active else None)(live_panel)(run_id)
        st.fragment(run_every=(1.0 if first_epoch_pending else CURVES_EVERY_S) if active else None)(live_curves)(
            run_id, live_now["epochs"] if live_now else None
        )

    st.divider()
    st.subheader("Stored runs")
    runs = guarded(lambda: store().list_runs(limit=200)) or []
    if runs:
        st.caption("Select a row to open that run here (its curves, and links to every page that explains it).")
        table = st.dataframe(
            pd.DataFrame(runs_table(runs, readable=True)),
            hide_index=True,
            width="stretch",
            column_config=RUNS_TABLE_COLUMNS,
            placeholder=MISSING,
            on_select="rerun",
            selection_mode="single-row",
            key="runs_table",
        )
        rows = [r for r in table.selection.rows if isinstance(r, int) and 0 <= r < len(runs)]  # a forged row: ignored
        chosen = int(runs[rows[0]]["id"]) if rows else None
        if chosen != st.session_state.get("_runs_table_opened"):  # a new selection (a kept one must not undo Start)
            st.session_state["_runs_table_opened"] = chosen
            if chosen is not None and chosen != run_id:
                st.session_state["run_id"] = chosen
                st.query_params["run"] = str(chosen)
                st.rerun()
    else:
        st.caption("No runs yet: press Start.")


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
