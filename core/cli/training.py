"""Headless command line: ``python -m core {graph,train,stop,runs,download,bench,karate,equivariance} ... [--json]``.

Every invalid value exits non-zero with one line on stderr naming the parameter, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from typing import Any, Optional, Sequence

from core.errors import DataUnavailableError, UserInputError

GRAPH_FLAGS: dict[str, type] = {  # flag -> type; routed into the builder's parameters when given
    "neighbours": int, "k": int, "sigma": float, "cutoff": float, "topk": int,
    "segments": int, "compactness": float, "edges": str,
}


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def _add_graph_flags(p: argparse.ArgumentParser) -> None:
    for name, typ in GRAPH_FLAGS.items():
        p.add_argument(f"--{name}", type=typ, default=None, help=f"graph parameter {name}")


def _graph_params(args: argparse.Namespace, kind: str, fill_defaults: bool) -> dict[str, Any]:
    from core.graphs import GRAPH_PARAMS, GRAPHS

    GRAPHS.get(kind)
    given = {n: getattr(args, n) for n in GRAPH_FLAGS if getattr(args, n) is not None}
    spec = GRAPH_PARAMS[kind]
    for name in given:
        if name not in spec:
            raise UserInputError(name, f"is not a parameter of graph kind {kind!r} (it takes {', '.join(spec) or 'none'})")
    if not fill_defaults:
        return given
    return {**{n: s[0] for n, s in spec.items()}, **given}


def cmd_graph(args: argparse.Namespace) -> dict[str, Any]:
    from core.data.datasets import load_dataset
    from core.graphs import build_graph, normalize

    params = _graph_params(args, args.kind, fill_defaults=False)
    image = None
    if args.kind == "superpixels" or args.image is not None:
        ds = load_dataset("mnist-5k", quick=False)
        n = len(ds.x_train)
        idx = 0 if args.image is None else args.image
        if not 0 <= idx < n:
            raise UserInputError("image", f"index {idx} is out of range [0, {n - 1}]")
        image = ds.x_train[idx].numpy()
    g = build_graph(args.kind, image=image, **params) if image is not None else build_graph(args.kind, **params)
    g = normalize(g, args.norm)
    out = g.summary()
    if image is not None:
        out["image"] = idx
    return out


def _train_parser(sub, name: str = "train", help: str = "train one model and store the run") -> argparse.ArgumentParser:
    from core.training.runs import RunConfig, setting_type

    p = sub.add_parser(name, help=help)
    for f in fields(RunConfig):
        if f.name == "graph_params":
            continue
        flag = "--" + f.name.replace("_", "-")
        typ = setting_type(f.name)
        if typ is bool:
            p.add_argument(flag, action="store_true", default=None)
        else:
            p.add_argument(flag, type=typ, default=None, dest=f.name)
    _add_graph_flags(p)
    p.add_argument("--backend", choices=("inline", "process", "ray"), default=None,
                   help="inline: train in this process (default); process: in a worker process; ray: as a Ray task "
                        "on GRAPHCONV_RAY_ADDRESS (the default when that is set; 'local' starts Ray here)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run_config_from_args(args: argparse.Namespace):
    from core.training.runs import RunConfig

    values = {f.name: getattr(args, f.name) for f in fields(RunConfig)
              if f.name != "graph_params" and getattr(args, f.name, None) is not None}
    if values.get("model") == "superpixel" and "graph" not in values:
        values["graph"] = "superpixels"
    kind = values.get("graph", RunConfig.graph)
    values["graph_params"] = _graph_params(args, kind, fill_defaults=True)
    return RunConfig(**{**values, "graph": kind})  # unset fields take RunConfig's (per-model) defaults


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from core.training.runs import validate
    from core.training.store import RunStore
    from core.training.worker import execute_reporting

    cfg = run_config_from_args(args)
    given = [f.name for f in fields(cfg) if getattr(args, f.name, None) is not None]
    if "graph" not in given and any(getattr(args, flag, None) is not None for flag in GRAPH_FLAGS):
        given.append("graph_params")
    for name in cfg.ignored_settings(given):
        flag = "the graph flags" if name == "graph_params" else "--" + name.replace("_", "-")
        print(f"note: model {cfg.model} does not use {flag}; ignored", file=sys.stderr)
    store = RunStore()
    store.recover_interrupted()
    from core.training.runner import ray_address

    backend = args.backend or ("ray" if ray_address() else "inline")

    def progress(row: dict) -> None:
        print(f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, test accuracy {row['test_accuracy']:.4f}, "
              f"{row['seconds']:.1f} s", file=sys.stderr)

    if backend == "inline":  # the only job: train here, reporting through the store like a worker
        validate(cfg)
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
        summary = execute_reporting(cfg, store, run_id, on_epoch=progress, on_prepare=_print_prepare)
    else:
        summary = _train_in_worker(cfg, store, backend, progress)
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
            run = store.get_run(run_id)
            epochs = store.epochs(run_id)
            for row in epochs[shown:]:
                progress(row)
            shown = len(epochs)
            if run["status"] not in ("queued", "running"):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:  # Ctrl-C: ask the worker to stop; the finished epochs stay stored
        manager.stop(run_id)
        manager.wait(run_id, timeout=manager.stop_grace_s + 10)
    finally:
        manager.close()
    run = store.get_run(run_id)
    return {**(run.get("summary") or {}), "run_id": run_id, "status": run["status"], "error": run.get("error"),
            "backend": backend, "epochs": store.epochs(run_id)}


def cmd_tutorial(args: argparse.Namespace) -> dict[str, Any]:
    """The graph-convolution tutorial's experiment: one graph layer + linear, four adjacencies, one table."""
    from core.models.tutorial_net import ADJACENCIES, TUTORIAL_REFERENCES
    from core.training.runs import RunConfig, validate
    from core.training.store import RunStore
    from core.training.worker import execute_reporting

    chosen = [a.strip() for a in (args.only or ",".join(ADJACENCIES)).split(",") if a.strip()]
    for a in chosen:
        if a not in ADJACENCIES:
            raise UserInputError("only", f"unknown adjacency {a!r} (choose from {', '.join(ADJACENCIES)})")
    store = RunStore()
    rows = []
    for adjacency in chosen:
        cfg = validate(RunConfig(model="tutorial", adjacency=adjacency, data=args.data, epochs=args.epochs,
                                 seed=args.seed, **({"lr": args.lr} if args.lr else {})))
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
        print(f"training {cfg.label()} (run {run_id})", file=sys.stderr)
        out = execute_reporting(cfg, store, run_id)
        secs = [e["seconds"] for e in out["epochs"]]
        rows.append({"adjacency": adjacency, "run_id": run_id, "status": out["status"],
                     "test_accuracy": out["test_accuracy"], "parameters": out["parameters"],
                     "seconds_per_epoch": sum(secs) / max(len(secs), 1), "tutorial": TUTORIAL_REFERENCES[adjacency]})
    head = (f"one graph layer + linear on {args.data}, {args.epochs} epochs, seed {args.seed}; "
            "the tutorial's figures are on full MNIST")
    lines = [head, "| adjacency | test accuracy | parameters | s/epoch | tutorial |", "|---|---|---|---|---|"]
    lines += [f"| {r['adjacency']} | {(r['test_accuracy'] or 0):.2%} | {r['parameters']:,} | "
              f"{r['seconds_per_epoch']:.1f} | {r['tutorial']} |" for r in rows]
    return {"data": args.data, "epochs": args.epochs, "seed": args.seed, "rows": rows, "table": "\n".join(lines)}


def cmd_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Train one setting over several values (or a grid over two) in this process, one run after the other;
    the runs share a sweep kind, so the Compare page plots them too. Prints accuracy per value."""
    from core.training.store import RunStore
    from core.training.sweep import grid_configs, new_sweep_kind, parse_values, sweep_name, sweep_value
    from core.training.worker import execute_reporting

    base = run_config_from_args(args)
    values = parse_values(args.param, args.values)
    second = (args.param2, parse_values(args.param2, args.values2 or "")) if args.param2 else (None, None)
    configs = grid_configs(base, args.param, values, *second)  # every config validated before any trains
    store, kind, rows = RunStore(), new_sweep_kind(args.param, args.param2), []
    for i, cfg in enumerate(configs, 1):
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued", kind=kind)
        print(f"[{i}/{len(configs)}] run {run_id}: {cfg.label()}", file=sys.stderr)
        out = execute_reporting(cfg, store, run_id, on_prepare=_print_prepare)
        d = cfg.to_dict()
        rows.append({"run_id": run_id, args.param: sweep_value(d, args.param),
                     **({args.param2: sweep_value(d, args.param2)} if args.param2 else {}),
                     "status": out["status"], "test_accuracy": out["test_accuracy"]})
    head = [args.param] + ([args.param2] if args.param2 else [])
    lines = ["| run | " + " | ".join(head) + " | test accuracy |", "|---" * (len(head) + 2) + "|"]
    lines += [f"| {r['run_id']} | " + " | ".join(str(r[h]) for h in head) + f" | {(r['test_accuracy'] or 0):.2%} |"
              for r in rows]
    name = sweep_name(kind, [c.to_dict() for c in configs])
    return {"kind": kind, "name": name, "param": args.param, "param2": args.param2, "rows": rows,
            "table": name + "\n\n" + "\n".join(lines)}


def cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    """A hyper-parameter search: N trials over chosen settings, each a stored run. On Ray (``--backend ray`` or
    GRAPHCONV_RAY_ADDRESS) Ray Tune's ASHA stops weak trials early; on worker processes every trial trains to
    its last epoch. Prints one line per trial, best first."""
    from core.training.runner import RunManager, make_backend, ray_address
    from core.training.search import describe_space, new_search_kind, parse_space, search_configs, trial_rows
    from core.training.store import RunStore

    space = parse_space(args.space or [])
    configs = search_configs(run_config_from_args(args), space, args.trials, args.sampler, args.search_seed)
    backend = args.backend if args.backend in ("process", "ray") else (
        "ray" if ray_address() else "process")  # trials never train inline
    store = RunStore()
    store.recover_interrupted()
    manager = RunManager(store, backend=make_backend(backend))
    early = not args.no_early_stopping and manager.early_stopping
    kind = new_search_kind(space, early)
    ids: list[int] = []
    try:
        ids, early = manager.submit_search(configs, kind=kind, early_stopping=early)
        how = ("ASHA early stopping (Ray Tune)" if early else "no early stopping (--no-early-stopping)"
               if manager.early_stopping else "no early stopping (Ray Tune's ASHA needs --backend ray)")
        print(f"search {kind}: {len(ids)} trials (runs {ids[0]}-{ids[-1]}) on {backend}, {how}", file=sys.stderr)
        for run_id in ids:
            manager.wait(run_id, timeout=24 * 3600)
    except KeyboardInterrupt:  # Ctrl-C: stop this search's trials (no one else's); finished epochs stay stored
        for run_id in ids:
            manager.stop(run_id)
        for run_id in ids:
            manager.wait(run_id, timeout=manager.stop_grace_s + 10)
    finally:
        manager.close()
    trials = store.list_runs(kind=kind)
    rows = trial_rows(trials, list(space), {r["id"]: len(store.epochs(r["id"])) for r in trials})
    head = list(space)
    lines = ["| run | " + " | ".join(head) + " | status | epochs | test accuracy |", "|---" * (len(head) + 4) + "|"]
    lines += [f"| {r['run']} | " + " | ".join(str(r[h]) for h in head) + f" | {r['status']}"
              + (" (early)" if r["stopped early"] else "") + f" | {r['epochs']} | {(r['test accuracy'] or 0):.2%} |"
              for r in rows]
    return {"kind": kind, "space": describe_space(space), "early_stopping": early, "backend": backend,
            "rows": rows, "table": "\n".join(lines)}


def cmd_stop(args: argparse.Namespace) -> dict[str, Any]:
    """Ask a queued or training run to stop, whichever process trains it (app worker, CLI, Ray)."""
    from core.training.store import RunStore

    store = RunStore()
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
    from core.training.store import RunStore

    store = RunStore()
    store.recover_interrupted()
    return store.list_runs(limit=args.limit)


def cmd_download(args: argparse.Namespace) -> dict[str, Any]:
    from core.data.datasets import download_mnist

    path = download_mnist()
    return {"dataset": "mnist", "path": str(path)}


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from core.bench import run_benchmark

    return run_benchmark(epochs=args.epochs, quick=args.quick, device=args.device)


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise UserInputError("hidden", f"must be comma-separated whole numbers, e.g. 16,8,2; got {text!r}") from None


def cmd_karate(args: argparse.Namespace) -> dict[str, Any]:
    from core.analysis.karate import train_karate

    given = {name: getattr(args, name) for name in ("epochs", "lr", "seed") if getattr(args, name) is not None}
    if args.hidden is not None:
        given["widths"] = _widths(args.hidden)
    return train_karate(args.model, **given).summary()


def _angles(text: str) -> list[float]:
    import math

    out: list[float] = []
    for part in text.split(","):
        try:
            a = float(part.strip())
        except ValueError:
            raise UserInputError("angles", f"must be comma-separated numbers of degrees, e.g. 0,90,180,270; "
                                           f"got {text!r}") from None
        if not math.isfinite(a):
            raise UserInputError("angles", f"{part.strip()!r} is not a finite angle")
        if a not in out:
            out.append(a)
    return out


def cmd_equivariance(args: argparse.Namespace) -> dict[str, Any]:
    """Measure a stored run's model: accuracy on rotated test digits, logit invariance, per-layer errors."""
    from core.analysis.equivariance import DEFAULT_ANGLES, accuracy_by_angle, layer_equivariance_error, logit_invariance_error
    from core.models.escnn_net import parse_group
    from core.analysis.results import load_run_model
    from core.training.store import CheckpointError, RunNotFoundError

    angles = _angles(args.angles) if args.angles is not None else [float(a) for a in DEFAULT_ANGLES]
    if args.images < 1:
        raise UserInputError("images", f"must be at least 1 (got {args.images})")
    if args.group is not None:
        parse_group(args.group)  # UserInputError("group") before the model is loaded
    try:
        model, cfg, ds = load_run_model(args.run)
    except (RunNotFoundError, CheckpointError) as err:
        raise UserInputError("run", str(err)) from None
    if cfg.model == "superpixel":
        raise UserInputError("run", f"run {args.run} is a superpixel model: it reads per-image graphs, so pixel "
                                    "rotations cannot be measured on it")
    group = (args.group or (cfg.group if cfg.model == "escnn" else "C4")).strip().upper()
    n = min(int(args.images), len(ds.y_test))
    x, y = ds.x_test[:n], ds.y_test[:n]
    acc = accuracy_by_angle(model, x, y, angles=angles)
    logits = logit_invariance_error(model, x, group)
    out: dict[str, Any] = {
        "run_id": args.run, "model": cfg.model, "label": cfg.label(), "data": cfg.data, "group": group,
        "images": n, "accuracy_by_angle": {f"{round(a, 6):g}": v for a, v in acc.items()},
        "logit_invariance_error": {el: r["error"] for el, r in logits.items()},
        "prediction_agreement": {el: r["agree"] for el, r in logits.items()},
        "exact": {el: r["exact"] for el, r in logits.items()},
    }
    if args.layers:
        layers = layer_equivariance_error(model, x[:min(n, 64)], group)
        out["layer_equivariance_error"] = {name: {el: (v if v == v else None) for el, v in row.items()}  # NaN -> null
                                           for name, row in layers.items()}
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m core", description="GraphConv Lab engine (headless)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    g = sub.add_parser("graph", help="build a graph and print its facts")
    g.add_argument("--kind", required=True, help="grid, knn, gaussian or superpixels")
    _add_graph_flags(g)
    g.add_argument("--image", type=int, default=None, help="index of the embedded training digit (superpixels)")
    g.add_argument("--norm", default="none", help="none, sum, rw, sym, gcn or cheb")
    g.add_argument("--json", action="store_true")

    _train_parser(sub)
    w = _train_parser(sub, "sweep", "train one setting over several values (or a grid over two), one run after "
                                    "the other, and print accuracy per value")
    w.add_argument("--param", required=True, help="the setting to sweep, e.g. restriction, K, sigma, seed")
    w.add_argument("--values", required=True, help="comma-separated values, e.g. 0,1,2")
    w.add_argument("--param2", default=None, help="a second setting: every combination is trained")
    w.add_argument("--values2", default=None, help="its comma-separated values")

    h = _train_parser(sub, "search", "a hyper-parameter search: N trials over chosen settings (random or grid); on "
                                     "Ray with Ray Tune's ASHA early stopping")
    h.add_argument("--space", action="append", metavar="SETTING=VALUES",
                   help="a setting and its values (K=3,5,8) or range (lr=1e-4..1e-2, drawn log-uniformly); repeat it")
    h.add_argument("--trials", type=int, default=8, help="random trials to draw (default 8, at most 12)")
    h.add_argument("--sampler", choices=("random", "grid"), default="random",
                   help="random (default) or grid (every combination of listed values)")
    h.add_argument("--search-seed", type=int, default=0, dest="search_seed", help="seed of the random draws")
    h.add_argument("--no-early-stopping", action="store_true", help="train every trial to its last epoch on Ray too")

    s = sub.add_parser("stop", help="ask a queued or training run to stop (any process's, app or CLI)")
    s.add_argument("run", type=int, help="run id (see `runs`)")
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("runs", help="list stored runs")
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--json", action="store_true")

    d = sub.add_parser("download", help="download an optional data set (mnist: full 70,000 digits)")
    d.add_argument("dataset", choices=["mnist"])
    d.add_argument("--json", action="store_true")

    b = sub.add_parser("bench", help="throughput benchmark: shared-graph GCN vs PyG, ChebNet vs CNN")
    b.add_argument("--epochs", type=int, default=1)
    b.add_argument("--quick", action="store_true")
    b.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (CUDA, then MPS, then CPU)")
    b.add_argument("--json", action="store_true")

    k = sub.add_parser("karate", help="semi-supervised node classification on the karate club (one label per class)")
    k.add_argument("--model", default="gcn", help="gcn, cheb, sage, gin or gat")
    k.add_argument("--epochs", type=int, default=None, help="training steps (default 200)")
    k.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 0.01)")
    k.add_argument("--seed", type=int, default=None, help="initialisation seed (default 0)")
    k.add_argument("--hidden", default=None, help="layer widths, comma-separated, last one 2 (default 16,8,2)")
    k.add_argument("--json", action="store_true")

    t = sub.add_parser("tutorial", help="the graph-convolution tutorial's experiment: one graph layer + linear with "
                                        "no graph, a fixed Gaussian and learned edges; prints the four accuracies")
    t.add_argument("--data", default="mnist-5k", help="mnist-5k (default), mnist-rot or mnist")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3, the tutorial's)")
    t.add_argument("--only", default=None, help="comma-separated adjacencies to train (default: all five)")
    t.add_argument("--json", action="store_true")

    e = sub.add_parser("equivariance", help="rotate a stored run's test digits: accuracy by angle, logit invariance")
    e.add_argument("--run", type=int, required=True, help="id of a finished run (see `runs`)")
    e.add_argument("--angles", default=None, help="comma-separated degrees (default 0,15,...,345)")
    e.add_argument("--group", default=None, help="group whose elements are measured: C1..C16, D1..D16 or SO2 "
                                                 "(default: the run's group for escnn, else C4)")
    e.add_argument("--images", type=int, default=500, help="test images used (default 500)")
    e.add_argument("--layers", action="store_true", help="also per-layer equivariance errors (up to 64 images)")
    e.add_argument("--json", action="store_true")
    return parser


COMMANDS = {"graph": cmd_graph, "train": cmd_train, "stop": cmd_stop, "runs": cmd_runs, "download": cmd_download, "bench": cmd_bench,
            "karate": cmd_karate, "equivariance": cmd_equivariance, "tutorial": cmd_tutorial, "sweep": cmd_sweep,
            "search": cmd_search}


def _print_human(out: Any) -> None:
    if isinstance(out, list):
        for row in out:
            acc = (row.get("summary") or {}).get("test_accuracy")
            acc_s = f"{acc:.4f}" if isinstance(acc, (int, float)) else "-"
            print(f"{row['id']:>5}  {row['status']:<11} {acc_s:>7}  {row.get('name', '')}")
        return
    if "table" in out:
        print(out["table"])
        return
    for key, value in out.items():
        if key != "epochs":
            print(f"{key}: {value}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from core.training.store import CheckpointError, StoreError
    from core.training.trainer import TrainingFailed

    args = build_parser().parse_args(argv)
    try:
        out = COMMANDS[args.command](args)
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DataUnavailableError, StoreError, CheckpointError, TrainingFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    code = out.pop("exit_code", 0) if isinstance(out, dict) else 0
    if getattr(args, "json", False):
        print(json.dumps(out, default=str))
    else:
        _print_human(out)
    if code:
        what = "run failed" if args.command == "train" else "not stopped"
        print(f"error: {what}: {out.get('error')}", file=sys.stderr)
    return code
