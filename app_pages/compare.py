"""Compare runs: filter the stored runs, tick some, see how their settings differ and their curves.

Everything that shapes the view is in the URL, so a copied link reopens it: the filters (``f_model``, ``f_status``,
``f_data``, repeated for several), the ticked runs (``cmp_runs=3,7,12``), the sweep launcher (``sw_model``,
``sw_graph``, ``sw_epochs``, ``sw_group``, ``sw_param``, ``sw_values``, ``sw_param2``, ``sw_values2``), the shown
sweep (``sw_show``), the search launcher (``se_*``) and the shown search (``se_show``). A shown sweep or search is
named by its run group's id (``core.training.store.groups``); a link written before groups were stored names the
same group, whose id is the kind string its runs had.
"""

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.results import MISSING, runs_table, settings_diff, shown_value
from core.figures.results import accuracy_curves_figure
from core.figures.training import search_figure, sweep_figure
from core.graphs import describe_graph
from core.models import MODELS, SIZE
from core.training.runner import ray_address
from core.training.runs import PIXEL_GRAPH_KINDS, RunConfig, run_title
from core.training.search import (
    MAX_TRIALS,
    SAMPLERS,
    new_search_group,
    parse_space,
    search_configs,
    searched,
    trial_rows,
)
from core.training.store import ACTIVE_STATUSES, Run, RunGroup
from core.training.sweep import (
    SWEEPABLE,
    in_sentence,
    parse_values,
    stored_sweeps,
    sweep_label,
    sweep_name,
    sweep_params,
    sweep_points,
    sweep_value,
)
from ui.display import RUNS_TABLE_COLUMNS, guarded
from ui.linked_runs import GONE_SWEEP, SWEEP_KEY, checked_ids, gone_sweep, write_defs, write_sweep_defs
from ui.nav import page
from ui.resources import from_store, manager
from ui.resources import store as ui_store
from ui.session import client_address, session_id
from ui.url_state import (
    copy_link_button,
    note_link_value,
    parse_run_ids,
    refuse_link_value,
    url_choice,
    url_labelled_choice,
    url_labelled_multiselect,
    url_multiselect,
    url_notices,
    url_slider,
    url_text,
)

MAX_COMPARED = 1000  # every run the page lists (list_runs(limit=1000)) can be ticked, and linked


# ---------------------------------------------------------------- this page's URL helpers
def url_values_text(container, label: str, param: str, key: str, **kw) -> str:
    """The comma-separated values of setting ``param``, bound to URL parameter ``key``. The default is ``param``'s
    own, so when another setting is chosen the box starts again from that setting's default; a link's value is
    kept when the page opens with it."""
    owner = f"_{key}_for"  # the setting the box's value was written for
    default = SWEEPABLE[param].values if param in SWEEPABLE else ""
    if st.session_state.get(owner, param) != param:
        st.session_state[key] = default
    st.session_state[owner] = param
    return url_text(container, label, default, key, **kw)


def readable(param: str | None, value: Any) -> Any:
    """A swept value as a person reads it: a layer type by its name ("ChebNet", not "cheb"), numbers as they are."""
    return shown_value(param, value) if param in ("model", "conv") and isinstance(value, str) else value


def sweep_section(runs: list[Run], groups: Mapping[str, RunGroup]) -> None:
    """Launch one setting over several values in the background; plot accuracy against the value."""
    st.divider()
    st.subheader("Sweeps")
    st.caption(
        "Train a series of runs that differ in one setting (or a grid over two), in the background, and "
        "plot test accuracy against it. Runs queue behind the training slots like any other run, in worker "
        "processes or on the Ray cluster the app is pointed at."
    )
    c1, c2, c3 = st.columns(3)
    model = url_labelled_choice(c1, "Layer type", MODELS.names(), "cheb", "sw_model", format_func=MODELS.short)
    graph_kind = (
        url_choice(c2, "Graph", list(PIXEL_GRAPH_KINDS), "grid", "sw_graph")
        if any(g in PIXEL_GRAPH_KINDS for g in MODELS.spec(model).graphs)  # trains on a pixel graph
        else None
    )
    epochs = url_slider(c3, "Epochs per run", 1, 20, 3, "sw_epochs")
    group = (
        url_text(
            c3,
            "Group or schedule",
            "D8,D8,C8",
            "sw_group",
            help="A group for every block (C8) or one per block (D8,D8,C8). To sweep where the "
            "restriction happens, give a schedule ending in the subgroup and sweep 'restriction' "
            "(0 = never, 1 = after the first block, ...).",
        )
        if "group" in MODELS.settings(model)  # a steerable net: its group or schedule
        else None
    )
    params = [p for p in SWEEPABLE if p not in ("epochs",)]
    own = [s.name for s in MODELS.spec(model).settings if s.sweep and s.name not in SIZE]  # ChebNet's K, ...
    param = url_labelled_choice(
        c1, "Setting to sweep", params, own[0] if own else "model", "sw_param", format_func=sweep_label
    )
    values_text = url_values_text(c2, "Values (comma-separated)", param, "sw_values")
    if st.session_state.get("sw_param2") == param:  # the first setting took the second's: one setting again
        st.session_state["sw_param2"] = st.query_params["sw_param2"] = "none"
    param2 = url_labelled_choice(
        c1,
        "Second setting (a grid)",
        ["none"] + [p for p in params if p != param],
        "none",
        "sw_param2",
        format_func=lambda p: "— (one setting only)" if p == "none" else sweep_label(p),
        help="Every combination of the two settings' values: one line per value of "
        "the second in the plot (at most 12 runs in all).",
    )
    values2_text = url_values_text(c2, "Its values (comma-separated)", param2, "sw_values2") if param2 != "none" else ""
    c3.write("")
    launched = None
    if c3.button("Launch sweep", icon=":material/play_arrow:", type="primary"):

        def launch() -> tuple[RunGroup, list[dict[str, Any]]]:
            chosen: dict[str, Any] = {
                **({"graph": graph_kind} if graph_kind else {}),
                **({"group": group.strip().upper()} if group else {}),
            }
            second = (param2, parse_values(param2, values2_text)) if param2 != "none" else (None, None)
            sweep, configs = manager().submit_sweep(  # all of the sweep or none of it, as a search's trials
                RunConfig.make(model=model, epochs=epochs, **chosen),
                param,
                parse_values(param, values_text),
                *second,
                session=session_id(),
                client=client_address(),
            )
            return sweep, [cfg.to_dict() for cfg in configs]

        launched = guarded(launch)
    show_stored_sweep(runs, groups, launched)
    sweep_results()


def show_stored_sweep(
    runs: list[Run],
    groups: Mapping[str, RunGroup],
    launched: tuple[RunGroup, list[dict[str, Any]]] | None = None,
) -> None:
    """Reopen any stored sweep (launched here, from another browser, or with ``python -m core sweep``), kept in the
    URL as ``sw_show`` (its group's id); a sweep just launched is shown at once."""
    sweeps = stored_sweeps(runs, groups)  # the runs this page read at its start
    names = {s["id"]: s["name"] for s in sweeps}
    labels = {
        s["id"]: f"{s['name']} · {s['runs']} run{'s' if s['runs'] != 1 else ''}, #{s['first_run']}–#{s['last_run']}"
        for s in sweeps
    }
    swept = {s["id"]: s["group"] for s in sweeps}
    ids = ["none"] + [s["id"] for s in sweeps]
    if launched:
        group, configs = launched
        swept[group.id] = group
        names[group.id] = sweep_name(group, configs)
        labels[group.id] = f"{names[group.id]} · {len(configs)} runs, just launched"
        ids.insert(1, group.id)
        st.session_state["sw_show"] = group.id  # the selector below shows it (and writes it into the link)
    asked = st.query_params.get("sw_show")
    unknown = asked not in (None, "none", *ids)  # a sweep this server does not hold
    said = (unknown or GONE_SWEEP in st.session_state) and gone_sweep(asked if unknown else None, st, sweep_name)
    if said and unknown:  # said above, with Rebuild (the link carries its runs): not a bad value for the selector
        st.query_params.pop("sw_show", None)
    if len(ids) == 1:
        if st.query_params.get("sw_show") not in (None, "none"):
            refuse_link_value("sw_show", "no sweep is stored under this name")
        st.session_state["sweep"] = None
        return
    shown = url_labelled_choice(
        st, "Show a stored sweep", ids, "none", "sw_show", format_func=lambda k: labels.get(k, "—")
    )
    if shown == "none":
        st.session_state["sweep"] = None
        if GONE_SWEEP not in st.session_state:
            st.query_params.pop(SWEEP_KEY, None)
        return
    members = [r for r in sorted(runs, key=lambda r: r.id) if r.group_id == shown]
    write_sweep_defs(members)  # a copied link carries what the sweep's runs are (ui/linked_runs.py)
    st.session_state.pop(GONE_SWEEP, None)
    configs = [r.config for r in members]
    param, param2 = sweep_params(swept.get(shown), configs or (launched[1] if launched else []))
    st.session_state.update(
        {
            "sweep": shown,
            "sweep_param": param or "seed",
            "sweep_param2": param2,
            "sweep_name": names.get(shown, "Sweep"),
        }
    )


@st.fragment(run_every=2.0)
def sweep_results() -> None:
    group_id, param = st.session_state.get("sweep"), st.session_state.get("sweep_param")
    param2 = st.session_state.get("sweep_param2")
    if not group_id or not param:  # both are set together (above), the swept setting defaulting to the seed
        return
    members = ui_store().runs(group=group_id)
    done = [r for r in members if r.status == "finished"]
    settled = all(r.status not in ACTIVE_STATUSES for r in members)
    if settled and st.session_state.get("sweep_settled") != group_id:
        st.session_state["sweep_settled"] = group_id
        st.rerun()  # the whole page, so the runs table above lists the sweep's runs too
    st.markdown(f"**{st.session_state.get('sweep_name') or 'Sweep'}**: {len(done)} of {len(members)} runs finished.")
    points = [
        (readable(param, p[0]), p[1]) + ((readable(param2, p[2]),) if len(p) > 2 else ())
        for p in sweep_points(members, param, param2)
    ]
    label, label2 = sweep_label(param), (sweep_label(param2) if param2 else None)
    if points:
        st.plotly_chart(sweep_figure(points, param, param2, axis_title=label, series_title=label2), width="stretch")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": r.id,
                    label: readable(param, sweep_value(r.config, param)),
                    **({label2: readable(param2, sweep_value(r.config, param2))} if param2 else {}),
                    "status": r.status,
                    "test accuracy": r.summary.test_accuracy,
                }
                for r in members
            ]
        ),
        hide_index=True,
        placeholder=MISSING,
        column_config={"test accuracy": st.column_config.NumberColumn(format="percent")},
    )


def search_section(runs: list[Run], groups: Mapping[str, RunGroup]) -> None:
    """Launch a hyper-parameter search (Ray Tune with ASHA on Ray; plain trials on worker processes), show one."""
    st.divider()
    st.subheader("Searches")
    early = bool(ray_address())  # the app's manager trains on Ray: searches get ASHA (no manager built to read it)
    st.caption(
        "Draw N trials over chosen settings (at random, or a grid of listed values); every trial is a stored "
        "run. "
        + (
            "On this app's Ray cluster the search runs with **Ray Tune's ASHA early stopping**: after "
            "epochs 1, 2, 4, ... a trial whose test accuracy is not among the best half so far stops."
            if early
            else "**No early stopping here:** this app trains on worker processes, so every trial trains to "
            "its last epoch. Ray Tune's ASHA stops weak trials early when the app runs on a Ray cluster "
            "(a setting of whoever runs this server)."
        )
    )
    c1, c2, c3 = st.columns(3)
    model = url_labelled_choice(c1, "Layer type", MODELS.names(), "cheb", "se_model", format_func=MODELS.short)
    epochs = url_slider(c1, "Epochs per trial", 1, 20, 4, "se_epochs")
    space_text = url_text(
        c2,
        "Settings to search (separated by ;)",
        "lr=0.0001..0.01; hidden=16,32,64",
        "se_space",
        help="name=values (K=3,5,8) or name=low..high (lr=1e-4..1e-2: drawn log-uniformly for "
        "positive numbers), each name as in brackets here: "
        + "; ".join(sweep_label(p) for p in SWEEPABLE if p != "epochs")
        + ".",
    )
    sampler = url_choice(c3, "Sampler", list(SAMPLERS), "random", "se_sampler")
    trials = url_slider(
        c3,
        "Trials",
        1,
        MAX_TRIALS,
        6,
        "se_trials",
        disabled=sampler == "grid",
        help="A grid trains every combination instead.",
    )
    if c3.button("Launch search", icon=":material/travel_explore:", type="primary"):

        def launch() -> RunGroup:
            space = parse_space([part for part in space_text.split(";") if part.strip()])
            configs = search_configs(RunConfig.make(model=model, epochs=epochs), space, trials, sampler)
            search = new_search_group(space, early)
            manager().submit_search(
                configs, session=session_id(), group=search, early_stopping=early, client=client_address()
            )
            return search

        search = guarded(launch)
        if search:
            st.session_state["se_show"] = search.id  # show it: the selector below is not drawn yet in this run
            # the server's own record, not a widget's
            st.session_state.setdefault("_se_launched", {})[search.id] = search
    searches = stored_sweeps(runs, groups, "search")  # the runs this page read at its start
    first = {r.id: r.config for r in runs}
    found = {s["id"]: s["group"] for s in searches}
    labels = {
        s["id"]: search_name(s["group"], first.get(s["first_run"], {})) + f" · {s['runs']} trials, "
        f"#{s['first_run']}–#{s['last_run']}"
        for s in searches
    }
    ids = ["none"] + [s["id"] for s in searches]
    for launched in st.session_state.get("_se_launched", {}).values():  # launched from this browser, no trial
        found.setdefault(launched.id, launched)  # stored yet; a value the browser sent for the selector is no
        if launched.id not in ids:  # option (Streamlit resets it)
            ids.insert(1, launched.id)
    shown = url_labelled_choice(
        st,
        "Show a search",
        ids,
        "none",
        "se_show",
        format_func=lambda k: "—" if k == "none" else labels.get(k, search_name(found.get(k), {}) + " · just launched"),
    )
    st.session_state["search"] = found.get(shown)
    search_results()


def search_name(group: RunGroup | None, config: dict[str, Any]) -> str:
    """``Search over learning rate (lr), hidden channels (hidden) · ChebNet on the 8-neighbour grid, 4 epochs``."""
    over = ", ".join(in_sentence(sweep_label(p)) for p in (searched(group) if group else []))
    model = shown_value("model", config["model"]) if config.get("model") else None
    context = (
        [
            f"{model} on the {describe_graph(config['graph'], config.get('graph_params'))}"
            if config.get("graph")
            else model
        ]
        if model
        else []
    )
    context += [f"{config['epochs']}\u00a0epoch{'s' if config['epochs'] != 1 else ''}"] if config.get("epochs") else []
    return f"Search over {over or 'stored settings'}" + (" · " + ", ".join(context) if context else "")


@st.fragment(run_every=2.0)
def search_results() -> None:
    group: RunGroup | None = st.session_state.get("search")
    if group is None or group.type != "search":
        return
    params = searched(group)
    store = ui_store()
    members = store.runs(group=group.id)
    epochs = {r.id: store.epochs(r.id) for r in members}
    active = [r for r in members if r.status in ACTIVE_STATUSES]
    if not active and st.session_state.get("search_settled") != group.id:
        st.session_state["search_settled"] = group.id
        st.rerun()  # the whole page, so the runs table above lists the search's trials too
    early = sum(bool(r.summary.early_stopped) for r in members)
    asha = f" ({early} stopped early by ASHA)" if group.early_stopping else ""
    st.markdown(
        f"**{len(members)} trials over** {', '.join(in_sentence(sweep_label(p)) for p in params)}: "
        f"{len(members) - len(active)} ended{asha}, {len(active)} queued or training. "
        + (
            "Early stopping: Ray Tune's ASHA."
            if group.early_stopping
            else "No early stopping (trained on worker processes)."
        )
    )
    mine = [r.id for r in active if r.session == session_id()]
    if mine and st.button(f"Stop this search ({len(mine)} trials)", icon=":material/stop:", key="se_stop"):
        guarded(lambda: [manager().stop(i, session=session_id()) for i in mine])
    rows = [
        {k: readable(k, v) for k, v in row.items()}
        for row in trial_rows(members, params, {i: len(e) for i, e in epochs.items()})
    ]
    if any(r["test accuracy"] is not None for r in rows):
        st.plotly_chart(search_figure(rows, params), width="stretch")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        placeholder=MISSING,
        column_config={"test accuracy": st.column_config.NumberColumn(format="percent")},
    )
    curves = {
        f"Run {r.id} · " + ", ".join(f"{p}={readable(p, sweep_value(r.config, p))}" for p in params): epochs[r.id]
        for r in members
    }
    if any(curves.values()):
        st.plotly_chart(
            accuracy_curves_figure(curves, title="Test accuracy per epoch: trials that stopped early end early"),
            width="stretch",
        )


def ticked_runs(shown_ids: list[int]) -> list[int]:
    """The runs to tick in the table (run ids, in table order), kept in the URL as ``cmp_runs=3,7,12``.

    The table's selection is a list of row numbers, which move when a filter changes or a new run arrives on top;
    so the ticks are carried as run ids: from the table's last selection (mapped through the rows it showed) once
    the page has drawn it, else from the opened link, whose unknown or filtered-out ids are dropped with a notice.
    The selection is then set to where those runs are now."""
    position = {run_id: row for row, run_id in enumerate(shown_ids)}
    state = st.session_state.get("runs_table")
    before = st.session_state.get("_cmp_shown")
    if state is not None and before is not None:
        selection = state.get("selection") if isinstance(state, dict) else None
        rows = selection.get("rows") if isinstance(selection, dict) else None
        wanted = [
            before[r]
            for r in dict.fromkeys(rows if isinstance(rows, list) else [])
            if isinstance(r, int) and not isinstance(r, bool) and 0 <= r < len(before)
        ]
    else:
        raw = st.query_params.get("cmp_runs")
        asked = parse_run_ids(raw, MAX_COMPARED) if raw is not None else []
        if asked:  # each checked against what the link says it was (ui/linked_runs.py): a missing one is said there
            asked = checked_ids(asked)
        wanted = [i for i in dict.fromkeys(asked or []) if i in position]
        if raw is not None and (asked is None or len(wanted) < len(set(asked))):
            note_link_value("cmp_runs", raw, "ids of runs in the table, as shown by its filters")
    picks = sorted((i for i in wanted if i in position), key=position.__getitem__)  # a filtered-out run is not compared
    rows = [position[i] for i in picks]
    current = (state or {}).get("selection", {}) if isinstance(state, dict) else {}
    if not isinstance(current, dict) or current.get("rows") != rows:
        st.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return picks


def runs_table_section(runs: list[Run]) -> list[int]:
    """The filterable table of stored runs; the ids of the ticked ones (kept in the URL as ``cmp_runs``)."""
    table = pd.DataFrame(runs_table(runs, readable=True))  # models and graphs as people say them ("ChebNet")
    keys = pd.DataFrame(runs_table(runs))  # the same rows with the short names the link's filters hold ("cheb")
    f1, f2, f3 = st.columns(3)
    models = url_labelled_multiselect(
        f1,
        "Model",
        sorted(keys["model"].unique(), key=lambda m: readable("model", m)),
        "f_model",
        format_func=lambda m: readable("model", m),
        placeholder="all models",
    )
    statuses = url_multiselect(f2, "Status", sorted(table["status"].unique()), "f_status", placeholder="all statuses")
    datas = url_multiselect(f3, "Data", sorted(table["data"].unique()), "f_data", placeholder="all data sets")
    keep = pd.Series(True, index=table.index)
    for column, chosen in (("model", models), ("status", statuses), ("data", datas)):
        if chosen:
            keep &= keys[column].isin(chosen)
    shown = table[keep].reset_index(drop=True)
    shown_ids = [int(i) for i in shown["run"]]
    ticked_runs(shown_ids)

    st.caption(f"{len(shown)} of {len(table)} runs · tick rows to compare them.")
    event = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="runs_table",
        column_config=RUNS_TABLE_COLUMNS,
        placeholder=MISSING,
    )
    rows = [
        r for r in dict.fromkeys(event.selection.rows if event else []) if isinstance(r, int) and 0 <= r < len(shown)
    ]
    picked_ids = [shown_ids[r] for r in rows]
    st.session_state["_cmp_shown"] = shown_ids  # what the selection's row numbers refer to, until the next run
    if picked_ids:
        st.query_params["cmp_runs"] = ",".join(map(str, picked_ids))
    else:
        st.query_params.pop("cmp_runs", None)
    write_defs(picked_ids)  # a copied link carries what its runs are (the first 12)
    return picked_ids


def picked_section(picked: list[Run]) -> None:
    """The ticked runs: the settings that differ between them, and their test-accuracy curves."""
    if not picked:
        st.caption("Select one or more runs in the table to see their settings and test-accuracy curves.")
        return
    store = ui_store()
    st.subheader(f"{len(picked)} selected run{'s' if len(picked) > 1 else ''}")
    diff = settings_diff(picked, readable=True)
    if len(picked) >= 2 and not diff:
        st.success("These runs have identical settings (they differ only by chance, if at all).")
    elif diff:
        st.markdown("**Settings that differ**" if len(picked) >= 2 else "**Settings**")
        st.dataframe(
            pd.DataFrame(diff),
            hide_index=True,
            width="stretch",
            placeholder=MISSING,
            column_config={
                "setting": st.column_config.TextColumn("Setting", width="large", pinned=True),
                **{f"#{r.id}": st.column_config.TextColumn(help=run_title(r)) for r in picked},
            },
        )
    curves = {run_title(r): store.epochs(r.id) for r in picked}
    if any(curves.values()):
        st.plotly_chart(accuracy_curves_figure(curves), width="stretch")
    else:
        st.caption("None of the selected runs has finished an epoch yet.")


def render() -> None:
    st.title("Compare runs")
    notice = st.container()  # what the opened link held that could not be used (url_notices, at the end)
    copy_link_button(st.sidebar)
    runs = from_store(lambda s: s.runs(limit=MAX_COMPARED))
    groups = from_store(lambda s: s.groups())  # the sweeps and searches these runs belong to, by id
    if not runs:
        st.info(
            "No runs yet. Train a few on the Train page (linked below), or launch a sweep or a search further "
            "down, then compare them here.",
            icon=":material/model_training:",
        )
        st.page_link(page("train"), label="Train", icon=":material/model_training:")
        asked = parse_run_ids(st.query_params.get("cmp_runs"), MAX_COMPARED)
        if asked:  # say which of the link's runs are missing, and offer to rebuild them
            checked_ids(asked)
    else:
        by_id = {r.id: r for r in runs}
        picked_section([by_id[i] for i in runs_table_section(runs) if i in by_id])
    sweep_section(runs, groups)
    search_section(runs, groups)
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
