"""Compare runs: filter the stored runs, tick some, see how their settings differ and their curves."""

import pandas as pd
import streamlit as st

from core.models import MODELS
from core.analysis.results import runs_table, settings_diff
from core.training.runs import IMAGE_MODELS_WITHOUT_GRAPH, PIXEL_GRAPH_KINDS, RunConfig
from core.training.store import ACTIVE_STATUSES, RunStore, StoreError
from core.training.runner import ray_address
from core.training.search import (MAX_TRIALS, SAMPLERS, new_search_kind, parse_space, search_configs, search_info,
                                  trial_rows)
from core.training.sweep import (SWEEPABLE, grid_configs, new_sweep_kind, parse_values, stored_sweeps, sweep_params,
                                 sweep_value)
from core.figures.training import search_figure, sweep_figure
from core.figures.results import accuracy_curves_figure
from ui.common import (RUNS_TABLE_COLUMNS, guarded, manager, session_id, url_choice, url_labelled_choice, url_slider,
                       url_text)

SWEEP_DEFAULTS = {"sigma": "0.02, 0.05, 0.1, 0.2", "k": "4, 8, 16, 32", "segments": "25, 50, 75, 100",
                  "neighbours": "4, 8", "model": "mlp, cnn, gcn, cheb", "group": "C1, C2, C4, C8",
                  "K": "1, 2, 3, 5, 10", "hidden": "8, 16, 32, 64", "layers": "1, 2, 3", "lr": "0.0003, 0.001, 0.003, 0.01",
                  "seed": "0, 1, 2", "restriction": "0, 1, 2", "data": "mnist-5k, mnist-rot",
                  "adjacency": "none, gaussian, learned-offset, learned-local", "conv": "gcn, gat, gin, sage",
                  "positions": "fourier, raw"}

st.title("Compare runs")

try:
    store = RunStore()
    runs = store.list_runs(limit=1000)
except StoreError as err:
    st.error(f"Run store unavailable — {err}")
    st.stop()


def sweep_section() -> None:
    """Launch one setting over several values in the background; plot accuracy against the value."""
    st.divider()
    st.subheader("Sweeps")
    st.caption("Train a series of runs that differ in one setting (or a grid over two), in the background, and "
               "plot test accuracy against it. Runs queue behind the training slots like any other run, in worker "
               "processes or on the Ray cluster the app is pointed at.")
    c1, c2, c3 = st.columns(3)
    model = url_choice(c1, "Layer type", MODELS.names(), "cheb", "sw_model")
    graph_kind = (url_choice(c2, "Graph", list(PIXEL_GRAPH_KINDS), "grid", "sw_graph")
                  if model not in IMAGE_MODELS_WITHOUT_GRAPH and model != "superpixel" else None)
    epochs = url_slider(c3, "Epochs per run", 1, 20, 3, "sw_epochs")
    group = (url_text(c3, "Group or schedule", "D8,D8,C8", "sw_group",
                      help="A group for every block (C8) or one per block (D8,D8,C8). To sweep where the "
                           "restriction happens, give a schedule ending in the subgroup and sweep 'restriction' "
                           "(0 = never, 1 = after the first block, ...).") if model == "escnn" else None)
    params = [p for p in SWEEPABLE if p not in ("epochs",)]
    param = url_choice(c1, "Setting to sweep", params, "K" if model == "cheb" else "model", "sw_param")
    values_text = c2.text_input("Values (comma-separated)", SWEEP_DEFAULTS.get(param, ""), key=f"sw_values_{param}",
                                max_chars=200)  # Streamlit cuts a longer (forged) value before the page sees it
    param2 = url_choice(c1, "Second setting (a grid)", ["none"] + [p for p in params if p != param], "none",
                        "sw_param2", help="Every combination of the two settings' values: one line per value of "
                                          "the second in the plot (at most 12 runs in all).")
    values2_text = (c2.text_input("Its values (comma-separated)", SWEEP_DEFAULTS.get(param2, ""),
                                  key=f"sw_values2_{param2}", max_chars=200) if param2 != "none" else "")
    c3.write("")
    if c3.button("Launch sweep", icon=":material/play_arrow:", type="primary"):
        def launch() -> str:
            base = RunConfig(model=model, epochs=epochs, **({"graph": graph_kind} if graph_kind else {}),
                             **({"group": group.strip().upper()} if group else {}))
            second = (param2, parse_values(param2, values2_text)) if param2 != "none" else (None, None)
            configs = grid_configs(base, param, parse_values(param, values_text), *second)
            kind = new_sweep_kind(param, param2 if param2 != "none" else None)
            manager().check_room(session_id(), len(configs))  # all of the sweep or none of it
            for cfg in configs:
                manager().submit(cfg, session=session_id(), kind=kind)
            return kind

        kind = guarded(launch)
        if kind:
            st.session_state["sweep"] = kind
            st.session_state["sweep_param"] = param
            st.session_state["sweep_param2"] = param2 if param2 != "none" else None
            st.query_params["sw_show"] = kind
    show_stored_sweep()
    sweep_results()


def show_stored_sweep() -> None:
    """Reopen any stored sweep (launched here, from another browser, or with ``python -m core sweep``)."""
    sweeps = stored_sweeps(runs)  # the runs this page read at its start
    if not sweeps:
        return
    kinds = ["none"] + [s["kind"] for s in sweeps]
    labels = {s["kind"]: f"runs from #{s['first_run']} ({s['runs']}): {s['label']}" for s in sweeps}
    shown = url_labelled_choice(st, "Show a stored sweep", kinds, st.session_state.get("sweep") or "none", "sw_show",
                                format_func=lambda k: labels.get(k, "—"))
    if shown != "none" and shown != st.session_state.get("sweep"):
        param, param2 = sweep_params(shown, [r["config"] for r in runs if r.get("kind") == shown])
        st.session_state.update({"sweep": shown, "sweep_param": param or "seed", "sweep_param2": param2})


@st.fragment(run_every=2.0)
def sweep_results() -> None:
    kind, param = st.session_state.get("sweep"), st.session_state.get("sweep_param")
    param2 = st.session_state.get("sweep_param2")
    if not kind:
        return
    members = store.list_runs(kind=kind)
    done = [r for r in members if r["status"] == "finished"]
    settled = all(r["status"] not in ACTIVE_STATUSES for r in members)
    if settled and st.session_state.get("sweep_settled") != kind:
        st.session_state["sweep_settled"] = kind
        st.rerun()  # the whole page, so the runs table above lists the sweep's runs too
    over = f"`{param}` × `{param2}`" if param2 else f"`{param}`"
    st.markdown(f"**Sweep over {over}**: {len(done)} of {len(members)} runs finished.")
    points = sorted(((sweep_value(r["config"], param), (r["summary"] or {}).get("test_accuracy"))
                     + ((sweep_value(r["config"], param2),) if param2 else ()) for r in done),
                    key=lambda p: (isinstance(p[0], str), p[0]))
    if points:
        st.plotly_chart(sweep_figure(points, param, param2), width="stretch")
    st.dataframe(pd.DataFrame([{"run": r["id"], param: sweep_value(r["config"], param),
                                **({param2: sweep_value(r["config"], param2)} if param2 else {}),
                                "status": r["status"],
                                "test accuracy": (r["summary"] or {}).get("test_accuracy")} for r in members]),
                 hide_index=True, column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})


def search_section() -> None:
    """Launch a hyper-parameter search (Ray Tune with ASHA on Ray; plain trials on worker processes), show one."""
    st.divider()
    st.subheader("Searches")
    early = bool(ray_address())  # the app's manager trains on Ray: searches get ASHA (no manager built to read it)
    st.caption("Draw N trials over chosen settings (at random, or a grid of listed values); every trial is a stored "
               "run. " + ("On this app's Ray cluster the search runs with **Ray Tune's ASHA early stopping**: after "
                          "epochs 1, 2, 4, ... a trial whose test accuracy is not among the best half so far stops."
                          if early else
                          "**No early stopping here:** this app trains on worker processes, so every trial trains to "
                          "its last epoch. Ray Tune's ASHA stops weak trials early when the app runs on a Ray cluster "
                          "(`GRAPHCONV_RAY_ADDRESS`)."))
    c1, c2, c3 = st.columns(3)
    model = url_choice(c1, "Layer type", MODELS.names(), "cheb", "se_model")
    epochs = url_slider(c1, "Epochs per trial", 1, 20, 4, "se_epochs")
    space_text = url_text(c2, "Settings to search (separated by ;)", "lr=0.0001..0.01; hidden=16,32,64", "se_space",
                          help="name=values (K=3,5,8) or name=low..high (lr=1e-4..1e-2: drawn log-uniformly for "
                               f"positive numbers). Settings: {', '.join(p for p in SWEEPABLE if p != 'epochs')}.")
    sampler = url_choice(c3, "Sampler", list(SAMPLERS), "random", "se_sampler")
    trials = url_slider(c3, "Trials", 1, MAX_TRIALS, 6, "se_trials", disabled=sampler == "grid",
                        help="A grid trains every combination instead.")
    if c3.button("Launch search", icon=":material/travel_explore:", type="primary"):
        def launch() -> str:
            space = parse_space([part for part in space_text.split(";") if part.strip()])
            configs = search_configs(RunConfig(model=model, epochs=epochs), space, trials, sampler)
            kind = new_search_kind(space, early)
            manager().submit_search(configs, session=session_id(), kind=kind, early_stopping=early)
            return kind

        kind = guarded(launch)
        if kind:
            st.session_state["se_show"] = kind  # show it: the selector below is not drawn yet in this run
    searches = stored_sweeps(runs, prefix="search:")  # the runs this page read at its start
    labels = {s["kind"]: f"{s['runs']} trials from run #{s['first_run']}: {s['label']}" for s in searches}
    kinds = ["none"] + [s["kind"] for s in searches]
    if st.session_state.get("se_show") not in kinds + [None]:
        kinds.insert(1, st.session_state["se_show"])  # launched in this run of the page
    shown = url_labelled_choice(st, "Show a search", kinds, "none", "se_show",
                                format_func=lambda k: "—" if k == "none" else labels.get(
                                    k, "a search over " + ", ".join((search_info(k) or {}).get("params", []))))
    st.session_state["search"] = shown if shown != "none" else None
    search_results()


@st.fragment(run_every=2.0)
def search_results() -> None:
    kind = st.session_state.get("search")
    info = search_info(kind or "")
    if not info:
        return
    members = store.list_runs(kind=kind)
    epochs = {r["id"]: store.epochs(r["id"]) for r in members}
    active = [r["id"] for r in members if r["status"] in ACTIVE_STATUSES]
    if not active and st.session_state.get("search_settled") != kind:
        st.session_state["search_settled"] = kind
        st.rerun()  # the whole page, so the runs table above lists the search's trials too
    early = sum(bool((r["summary"] or {}).get("early_stopped")) for r in members)
    asha = f" ({early} stopped early by ASHA)" if info["early_stopping"] else ""
    st.markdown(f"**{len(members)} trials over** {', '.join(f'`{p}`' for p in info['params'])}: "
                f"{len(members) - len(active)} ended{asha}, {len(active)} queued or training. "
                + ("Early stopping: Ray Tune's ASHA." if info["early_stopping"] else
                   "No early stopping (trained on worker processes)."))
    mine = [i for i in active if next(r for r in members if r["id"] == i).get("session") == session_id()]
    if mine and st.button(f"Stop this search ({len(mine)} trials)", icon=":material/stop:", key="se_stop"):
        guarded(lambda: [manager().stop(i, session=session_id()) for i in mine])
    rows = trial_rows(members, info["params"], {i: len(e) for i, e in epochs.items()})
    if any(r["test accuracy"] is not None for r in rows):
        st.plotly_chart(search_figure(rows, info["params"]), width="stretch")
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})
    curves = {f"#{r['id']} " + ", ".join(f"{p}={sweep_value(r['config'], p)}" for p in info["params"]): epochs[r["id"]]
              for r in members}
    if any(curves.values()):
        st.plotly_chart(accuracy_curves_figure(curves, title="Test accuracy per epoch: trials that stopped early end "
                                                             "early"), width="stretch")


if not runs:
    st.info("No runs yet. Train a few on the **Train** page (or `python -m core train ...`), or launch a sweep "
            "or a search below, then compare them here.", icon=":material/model_training:")
    sweep_section()
    search_section()
    st.stop()

table = pd.DataFrame(runs_table(runs))
f1, f2, f3 = st.columns(3)
models = f1.multiselect("Model", sorted(table["model"].dropna().unique()), key="f_model", placeholder="all models")
statuses = f2.multiselect("Status", sorted(table["status"].dropna().unique()), key="f_status",
                          placeholder="all statuses")
datas = f3.multiselect("Data", sorted(table["data"].dropna().unique()), key="f_data", placeholder="all data sets")
shown = table
for column, chosen in (("model", models), ("status", statuses), ("data", datas)):
    if chosen:
        shown = shown[shown[column].isin(chosen)]
shown = shown.reset_index(drop=True)

st.caption(f"{len(shown)} of {len(table)} runs · tick rows to compare them.")
event = st.dataframe(
    shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="runs_table",
    column_config=RUNS_TABLE_COLUMNS)
rows = [r for r in dict.fromkeys(event.selection.rows if event else []) if isinstance(r, int) and 0 <= r < len(shown)]
picked_ids = [int(shown.loc[r, "run"]) for r in rows]
by_id = {r["id"]: r for r in runs}
picked = [by_id[i] for i in picked_ids if i in by_id]

if picked:
    st.subheader(f"{len(picked)} selected run{'s' if len(picked) > 1 else ''}")
    diff = settings_diff(picked)
    if len(picked) >= 2 and not diff:
        st.success("These runs have identical settings (they differ only by chance, if at all).")
    elif diff:
        st.markdown("**Settings that differ**" if len(picked) >= 2 else "**Settings**")
        st.dataframe(pd.DataFrame(diff).set_index("setting"), width="stretch")
    curves = {f"#{r['id']} {r['name']}": store.epochs(r["id"]) for r in picked}
    if any(curves.values()):
        st.plotly_chart(accuracy_curves_figure(curves), width="stretch")
    else:
        st.caption("None of the selected runs has finished an epoch yet.")
else:
    st.caption("Select one or more runs in the table to see their settings and test-accuracy curves.")

sweep_section()
search_section()
