"""The CLI's training commands: train, continue, sweep, search, tutorial, accuracy (each trains and stores runs), stop
and runs; and the flags they share (a RunConfig setting per flag, the graph builder's parameters)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any

from core.errors import UserInputError

GRAPH_FLAGS: dict[str, type] = {  # flag -> type; routed into the builder's parameters when given
    "neighbours": int,
    "k": int,
    "sigma": float,
    "cutoff": float,
    "topk": int,
    "segments": int,
    "compactness": float,
    "edges": str,
    "weights": str,
}


def add_graph_flags(p: argparse.ArgumentParser) -> None:
    for name, typ in GRAPH_FLAGS.items():
        p.add_argument(f"--{name}", type=typ, default=None, help=f"graph parameter {name}")


def graph_params(args: argparse.Namespace, kind: str, fill_defaults: bool) -> dict[str, Any]:
    from core.graphs import GRAPH_PARAMS, GRAPHS

    GRAPHS.get(kind)
    given = {n: getattr(args, n) for n in GRAPH_FLAGS if getattr(args, n) is not None}
    spec = GRAPH_PARAMS[kind]
    for name in given:
        if name not in spec:
            raise UserInputError(
                name, f"is not a parameter of graph kind {kind!r} (it takes {', '.join(spec) or 'none'})"
            )
    if not fill_defaults:
        return given
    return {**{n: s[0] for n, s in spec.items()}, **given}


def train_parser(sub, name: str = "train", help: str = "train one model and store the run") -> argparse.ArgumentParser:
    from core.training.runs import RunConfig, setting_type

    p = sub.add_parser(name, help=help)
    for setting in RunConfig.flat_names():
        if setting in ("graph_params", "parent"):  # a continuation has its own command: continue
            continue
        flag = "--" + setting.replace("_", "-")
        typ = setting_type(setting)
        if typ is bool:  # --quick, or --no-quick where a setting's default is on (core.training.reproduce)
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, dest=setting)
        else:
            p.add_argument(flag, type=typ, default=None, dest=setting)
    add_graph_flags(p)
    p.add_argument(
        "--backend",
        choices=("inline", "process", "ray"),
        default=None,
        help="inline: train in this process (default); process: in a worker process; ray: as a Ray task "
        "on GRAPHCONV_RAY_ADDRESS (the default when that is set; 'local' starts Ray here)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run_config_from_args(args: argparse.Namespace):
    from core.models import MODELS
    from core.training.runs import RunConfig

    values = {
        name: getattr(args, name)
        for name in RunConfig.flat_names()
        if name != "graph_params" and getattr(args, name, None) is not None
    }
    default = RunConfig.make()  # the default model and graph kind
    graphs = MODELS.spec(values.get("model", default.model)).graphs
    if "graph" not in values and graphs and default.graph not in graphs:  # the model's own kind (superpixels)
        values["graph"] = graphs[0]
    kind = values.get("graph", default.graph)
    values["graph_params"] = graph_params(args, kind, fill_defaults=True)
    return RunConfig.make(**{**values, "graph": kind})  # unset ones take the model's defaults


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from core.training.runs import validate
    from core.training.store import open_store
    from core.training.worker import execute_reporting

    cfg = run_config_from_args(args)
    given = [name for name in cfg.flat_names() if getattr(args, name, None) is not None]
    if "graph" not in given and any(getattr(args, flag, None) is not None for flag in GRAPH_FLAGS):
        given.append("graph_params")
    for name in cfg.ignored_settings(given):
        flag = "the graph flags" if name == "graph_params" else "--" + name.replace("_", "-")
        print(f"note: model {cfg.model} does not use {flag}; ignored", file=sys.stderr)
    store = open_store()
    from core.training.runner import ray_address

    backend = args.backend or ("ray" if ray_address() else "inline")

    def progress(row: dict) -> None:
        print(
            f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, test accuracy {row['test_accuracy']:.4f}, "
            f"{row['seconds']:.1f} s",
            file=sys.stderr,
        )

    if backend == "inline":  # the only job: train here, reporting through the store like a worker
        validate(cfg)
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
        summary = execute_reporting(cfg, store, run_id, on_epoch=progress, on_prepare=_print_prepare)
    else:
        summary = _train_in_worker(cfg, store, backend, progress)
    if summary["status"] == "failed":
        summary["exit_code"] = 1
    return summary


def cmd_continue(args: argparse.Namespace) -> dict[str, Any]:
    """Train stored run RUN (finished or stopped) N more epochs as a new run linked to it (its weights, optimiser,
    schedule and random streams restored; core/training/resume.py); the parent run stays as it was."""
    from core.training.runner import ray_address
    from core.training.runs import continuation_config
    from core.training.store import open_store
    from core.training.worker import execute_reporting

    store = open_store()
    cfg = continuation_config(store, args.run, args.epochs)
    backend = args.backend or ("ray" if ray_address() else "inline")
    from core.training.resume import check_backend

    check_backend(backend)  # Ray is refused: its task cannot read the parent's checkpoint
    print(
        f"continuing run {args.run} from epoch {cfg.training.epochs - args.epochs} to {cfg.training.epochs}",
        file=sys.stderr,
    )

    def progress(row: dict) -> None:
        print(
            f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, test accuracy {row['test_accuracy']:.4f}, "
            f"{row['seconds']:.1f} s",
            file=sys.stderr,
        )

    if backend == "inline":
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
        summary = execute_reporting(cfg, store, run_id, on_epoch=progress, on_prepare=_print_prepare)
    else:
        summary = _train_in_worker(cfg, store, backend, progress)
    summary["parent"] = args.run
    if summary["status"] == "failed":
        summary["exit_code"] = 1
    return summary


def _print_prepare(what: str, done: int, total: int) -> None:
    print(f"{what}: {done:,}/{total:,}", file=sys.stderr)


def _train_in_worker(cfg, store, backend: str, progress) -> dict[str, Any]:
    """Submit to a one-slot manager on ``backend``, print epochs as the store gets them, return the summary."""
    from core.training.runner import RunManager, make_backend

    manager = RunManager(store, max_concurrent=1, backend=make_backend(backend))
    run_id = manager.submit(cfg)
    shown = 0
    try:
        while True:
            run = store.require_run(run_id)
            epochs = store.epochs(run_id)
            for row in epochs[shown:]:
                progress(row)
            shown = len(epochs)
            if not run.active:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:  # Ctrl-C: ask the worker to stop; the finished epochs stay stored
        manager.stop(run_id)
        manager.wait(run_id, timeout=manager.stop_grace_s + 10)
    finally:
        manager.close()
    run = store.require_run(run_id)
    return {
        **run.summary.to_dict(),
        "run_id": run_id,
        "status": run.status,
        "error": run.error,
        "backend": backend,
        "epochs": store.epochs(run_id),
    }


def cmd_tutorial(args: argparse.Namespace) -> dict[str, Any]:
    """The graph-convolution tutorial's experiment: one graph layer + linear, four adjacencies, one table."""
    from core.models.tutorial_net import ADJACENCIES, TUTORIAL_REFERENCES
    from core.training.runs import RunConfig, validate
    from core.training.store import open_store
    from core.training.worker import execute_reporting

    chosen = [a.strip() for a in (args.only or ",".join(ADJACENCIES)).split(",") if a.strip()]
    for a in chosen:
        if a not in ADJACENCIES:
            raise UserInputError("only", f"unknown adjacency {a!r} (choose from {', '.join(ADJACENCIES)})")
    store = open_store()
    rows = []
    for adjacency in chosen:
        cfg = validate(
            RunConfig.make(
                model="tutorial",
                adjacency=adjacency,
                data=args.data,
                epochs=args.epochs,
                seed=args.seed,
                **({"lr": args.lr} if args.lr else {}),
            )
        )
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
        print(f"training {cfg.label()} (run {run_id})", file=sys.stderr)
        out = execute_reporting(cfg, store, run_id)
        secs = [e["seconds"] for e in out["epochs"]]
        rows.append(
            {
                "adjacency": adjacency,
                "run_id": run_id,
                "status": out["status"],
                "test_accuracy": out["test_accuracy"],
                "parameters": out["parameters"],
                "seconds_per_epoch": sum(secs) / max(len(secs), 1),
                "tutorial": TUTORIAL_REFERENCES[adjacency],
            }
        )
    head = (
        f"one graph layer + linear on {args.data}, {args.epochs} epochs, seed {args.seed}; "
        "the tutorial's figures are on full MNIST"
    )
    lines = [head, "| adjacency | test accuracy | parameters | s/epoch | tutorial |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['adjacency']} | {(r['test_accuracy'] or 0):.2%} | {r['parameters']:,} | "
        f"{r['seconds_per_epoch']:.1f} | {r['tutorial']} |"
        for r in rows
    ]
    return {"data": args.data, "epochs": args.epochs, "seed": args.seed, "rows": rows, "table": "\n".join(lines)}


def cmd_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Train one setting over several values (or a grid over two) in this process, one run after the other;
    the runs share a sweep group, so the Compare page plots them too. Prints accuracy per value."""
    from core.training.store import open_store
    from core.training.sweep import grid_configs, new_sweep_group, parse_values, sweep_name, sweep_value
    from core.training.worker import execute_reporting

    base = run_config_from_args(args)
    values = parse_values(args.param, args.values)
    second = (args.param2, parse_values(args.param2, args.values2 or "")) if args.param2 else (None, None)
    configs = grid_configs(base, args.param, values, *second)  # every config validated before any trains
    store, group, rows = open_store(), new_sweep_group(args.param, args.param2), []
    for i, cfg in enumerate(configs, 1):
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued", group=group)
        print(f"[{i}/{len(configs)}] run {run_id}: {cfg.label()}", file=sys.stderr)
        out = execute_reporting(cfg, store, run_id, on_prepare=_print_prepare)
        d = cfg.to_dict()
        rows.append(
            {
                "run_id": run_id,
                args.param: sweep_value(d, args.param),
                **({args.param2: sweep_value(d, args.param2)} if args.param2 else {}),
                "status": out["status"],
                "test_accuracy": out["test_accuracy"],
            }
        )
    head = [args.param] + ([args.param2] if args.param2 else [])
    lines = ["| run | " + " | ".join(head) + " | test accuracy |", "|---" * (len(head) + 2) + "|"]
    lines += [
        f"| {r['run_id']} | " + " | ".join(str(r[h]) for h in head) + f" | {(r['test_accuracy'] or 0):.2%} |"
        for r in rows
    ]
    name = sweep_name(group, [c.to_dict() for c in configs])
    return {
        "kind": group.id,  # the key older versions printed (their kind string: the group's id)
        "group": group.id,
        "name": name,
        "param": args.param,
        "param2": args.param2,
        "rows": rows,
        "table": name + "\n\n" + "\n".join(lines),
    }


def cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    """A hyper-parameter search: N trials over chosen settings, each a stored run. On Ray (``--backend ray`` or
    GRAPHCONV_RAY_ADDRESS) Ray Tune's ASHA stops weak trials early; on worker processes every trial trains to
    its last epoch. Prints one line per trial, best first."""
    from core.training.runner import RunManager, make_backend, ray_address
    from core.training.search import describe_space, new_search_group, parse_space, search_configs, trial_rows
    from core.training.store import open_store

    space = parse_space(args.space or [])
    configs = search_configs(run_config_from_args(args), space, args.trials, args.sampler, args.search_seed)
    backend = (
        args.backend if args.backend in ("process", "ray") else ("ray" if ray_address() else "process")
    )  # trials never train inline
    store = open_store()
    manager = RunManager(store, backend=make_backend(backend))
    early = not args.no_early_stopping and manager.early_stopping
    group = new_search_group(space, early)
    ids: list[int] = []
    try:
        ids, early = manager.submit_search(configs, group=group, early_stopping=early)
        how = (
            "ASHA early stopping (Ray Tune)"
            if early
            else "no early stopping (--no-early-stopping)"
            if manager.early_stopping
            else "no early stopping (Ray Tune's ASHA needs --backend ray)"
        )
        print(f"search {group.id}: {len(ids)} trials (runs {ids[0]}-{ids[-1]}) on {backend}, {how}", file=sys.stderr)
        for run_id in ids:
            manager.wait(run_id, timeout=24 * 3600)
    except KeyboardInterrupt:  # Ctrl-C: stop this search's trials (no one else's); finished epochs stay stored
        for run_id in ids:
            manager.stop(run_id)
        for run_id in ids:
            manager.wait(run_id, timeout=manager.stop_grace_s + 10)
    finally:
        manager.close()
    trials = store.list_runs(group=group.id)
    rows = trial_rows(trials, list(space), {r["id"]: len(store.epochs(r["id"])) for r in trials})
    head = list(space)
    lines = ["| run | " + " | ".join(head) + " | status | epochs | test accuracy |", "|---" * (len(head) + 4) + "|"]
    lines += [
        f"| {r['run']} | "
        + " | ".join(str(r[h]) for h in head)
        + f" | {r['status']}"
        + (" (early)" if r["stopped early"] else "")
        + f" | {r['epochs']} | {(r['test accuracy'] or 0):.2%} |"
        for r in rows
    ]
    return {
        "kind": group.id,  # the key older versions printed (their kind string: the group's id)
        "group": group.id,
        "space": describe_space(space),
        "early_stopping": early,
        "backend": backend,
        "rows": rows,
        "table": "\n".join(lines),
    }


def cmd_accuracy(args: argparse.Namespace) -> dict[str, Any]:
    """The accuracy table: train the chosen entries with each seed, a Markdown row per entry beside its published
    reference (core/training/accuracy_table.py). Progress on stderr; ``--out`` appends one JSON line per run."""
    from core.training.accuracy_table import ENTRIES, accuracy_table, parse_entries, parse_seeds, parse_sets

    if args.list:
        return {"entries": {name: reference for name, (_, reference) in ENTRIES.items()}, "table": "\n".join(ENTRIES)}
    names, seeds, overrides = parse_entries(args.only), parse_seeds(args.seeds), parse_sets(args.set)
    if args.jobs < 1:
        raise UserInputError("jobs", f"must be at least 1 (got {args.jobs})")
    with contextlib.ExitStack() as closing:  # the --out file, closed when the table is done or fails
        try:
            log = closing.enter_context(open(args.out, "a")) if args.out else None
        except OSError as err:
            raise UserInputError("out", f"cannot append to {args.out}: {err.strerror}") from None

        def on_run(result: dict) -> None:
            print(
                f"{result['entry']} seed {result['seed']}: run {result['run_id']} {result['status']}, test accuracy "
                f"{(result['test_accuracy'] or 0):.2%}",
                file=sys.stderr,
                flush=True,
            )
            if log:
                log.write(json.dumps(result) + "\n")
                log.flush()

        out = accuracy_table(
            names,
            seeds,
            epochs=args.epochs,
            device=args.device,
            jobs=args.jobs,
            threads=args.threads,
            overrides=overrides,
            on_run=on_run,
            on_row=lambda line: print(line, file=sys.stderr, flush=True),
            on_prepare=_print_prepare,
        )
    if out["failed"]:
        out["error"] = "; ".join(f"{f['entry']} seed {f['seed']}: {f['error']}" for f in out["failed"])
        out["exit_code"] = 1
    return out


def cmd_stop(args: argparse.Namespace) -> dict[str, Any]:
    """Ask a queued or training run to stop, whichever process trains it (app worker, CLI, Ray)."""
    from core.training.store import open_store

    store = open_store()
    run = store.get_run(args.run)
    if run is None:
        raise UserInputError("run", f"run {args.run} does not exist")
    asked = store.request_stop(args.run)
    out = {"run_id": args.run, "stop_requested": asked, "status": run["status"]}
    if not asked:
        out["error"] = f"run {args.run} is not queued or training (status {run['status']})"
        out["exit_code"] = 1
    return out


def cmd_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    from core.training.store import open_store

    store = open_store()
    return store.list_runs(limit=args.limit)
