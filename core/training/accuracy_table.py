"""Train models and print a Markdown table with the published reference beside each (figures for the README).

    python scripts/accuracy_table.py [--epochs 8] [--seeds 0] [--only cnn,superpixel-gcn,...] [--threads 1]
                                     [--device cpu] [--jobs 1] [--set positions=raw --set batch_size=32]
    python scripts/accuracy_table.py --list

Each run goes through the same path as the app and the CLI (core.training.runs.execute) and is stored, so
the Results and Compare pages show them too. A row gives the mean test accuracy over the seeds (each seed
in brackets), the parameter count and the mean seconds per epoch. Seconds depend on what else ran on the
machine (``--jobs`` runs that many at once): compare rows of one invocation only. ``--set name=value``
overrides a setting in every entry (an ablation); ``--out FILE`` also writes one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.training.runs import RunConfig, execute, setting_type  # noqa: E402

SP = {"model": "superpixel", "graph": "superpixels"}
PAIR = {"model": "learned", "edge_inputs": "offset", "edge_activation": "tanh", "edge_norm": "none",
        "edge_sets": "pair"}
# name -> (settings that differ from RunConfig's defaults, published reference)
ENTRIES: dict[str, tuple[dict, str]] = {
    "mlp": ({"model": "mlp"}, "linear classifier on pixels ≈ 91% (Knyazev 2019, full MNIST)"),
    "cnn": ({"model": "cnn"}, "C32-P4-C64-P4-FC512 99.33% (Defferrard et al. 2016, full MNIST)"),
    "cheb": ({"model": "cheb"}, "GC32-P4-GC64-P4-FC512, K=25: 99.14% (Defferrard et al. 2016, full MNIST)"),
    "gcn": ({"model": "gcn"}, "-"),
    "sage": ({"model": "sage"}, "-"),
    "gin": ({"model": "gin"}, "-"),
    "gat": ({"model": "gat"}, "-"),
    "learned": ({"model": "learned"}, "learned from coordinates 91.05% (Knyazev 2019, one layer, full MNIST)"),
    "learned-pair": (PAIR, "a 3x3 CNN layer (see cnn)"),
    "learned-pair-frozen": ({**PAIR, "edge_frozen": True}, "control: edges fixed at initialisation"),
    "escnn": ({"model": "escnn", "group": "C8"}, "C8 on MNIST-rot 97.96% (escnn example, 30 epochs)"),
    "superpixel-gcn": ({**SP, "conv": "gcn"}, "GCN 90.71% (Benchmarking GNNs, 55k graphs)"),
    "superpixel-gat": ({**SP, "conv": "gat"}, "GAT 95.54%"),
    "superpixel-gin": ({**SP, "conv": "gin"}, "GIN 96.49%"),
    "superpixel-sage": ({**SP, "conv": "sage"}, "GraphSage 97.31%"),
    "superpixel-gatedgcn": ({**SP, "conv": "gatedgcn"}, "GatedGCN 97.34%"),
    "superpixel-monet": ({**SP, "conv": "monet"}, "MoNet 90.81% (91.11% Monti et al. 2017)"),
    "superpixel-pna": ({**SP, "conv": "pna"}, "PNA 97.94%"),
    "superpixel-cheb": ({**SP, "conv": "cheb"}, "-"),
}


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``["positions=raw", "batch_size=32"]`` -> settings, each value typed as its RunConfig field."""
    names = {f.name for f in fields(RunConfig)} - {"graph_params"}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in names or not value:
            sys.exit(f"--set {pair!r}: expected NAME=VALUE with NAME a RunConfig setting")
        typ = setting_type(name)
        try:
            out[name] = value.lower() in ("1", "true", "yes") if typ is bool else typ(value)
        except ValueError:
            sys.exit(f"--set {pair!r}: {name} takes a {typ.__name__}")
    return out


def one_run(name: str, seed: int, epochs: int, device: str, overrides: dict, threads: Optional[int]) -> dict:
    """Train entry ``name`` with ``seed`` (in a worker process when --jobs > 1); its summary plus the entry name."""
    if threads:
        torch.set_num_threads(threads)
    settings, _ = ENTRIES[name]
    out = execute(RunConfig(epochs=epochs, seed=seed, device=device, **{**settings, **overrides}))
    return {"entry": name, "seed": seed, **{k: out[k] for k in ("run_id", "label", "status", "device", "test_accuracy",
                                                               "parameters")},
            "seconds_per_epoch": statistics.mean(e["seconds"] for e in out["epochs"]),
            "train_accuracy": out["epochs"][-1].get("train_accuracy"), "overrides": overrides}


def row(name: str, results: list[dict]) -> str:
    """One Markdown row from an entry's runs (one per seed)."""
    accs = [r["test_accuracy"] or 0.0 for r in results]
    secs = statistics.mean(r["seconds_per_epoch"] for r in results)
    each = f" ({', '.join(f'{a:.1%}' for a in accs)})" if len(accs) > 1 else ""
    return (f"| {name} | {results[0]['label']} | {statistics.mean(accs):.1%}{each} | {results[0]['parameters']:,} | "
            f"{secs:.1f} | {ENTRIES[name][1]} |")


def prepare(names: list[str], overrides: dict) -> None:
    """Build what the runs share (superpixel graphs) once, before parallel runs would each build it."""
    for name in names:
        settings, _ = ENTRIES[name]
        cfg = RunConfig(**{**settings, **overrides})
        if cfg.model == "superpixel":
            from core.data.datasets import load_dataset
            from core.graphs.superpixel_dataset import superpixel_graphs

            superpixel_graphs(load_dataset(cfg.data, quick=cfg.quick), cfg.graph_params,
                              lambda done, total: print(f"superpixel graphs {done}/{total}", file=sys.stderr))
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--only", default=",".join(ENTRIES), help="comma-separated entry names (see --list)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a setting in every entry, e.g. positions=raw or batch_size=32")
    ap.add_argument("--out", default=None, help="also append one JSON line per run to this file")
    ap.add_argument("--list", action="store_true", help="print the entry names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(ENTRIES))
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        sys.exit(f"unknown entry {unknown[0]!r}; --list shows them")
    overrides = parse_sets(args.set)
    seeds = [int(x) for x in args.seeds.split(",")]
    print(f"mnist-5k (4,000 train / 1,000 test), {args.epochs} epochs, seeds {args.seeds}, device {args.device}"
          + (f", {args.jobs} runs at a time" if args.jobs > 1 else "")
          + (f", settings {overrides}" if overrides else ""))
    print("| entry | run | test accuracy | parameters | s/epoch | published reference |")
    print("|---|---|---|---|---|---|")
    jobs = [(name, seed) for name in names for seed in seeds]
    log = open(args.out, "a") if args.out else None

    def record(result: dict) -> dict:
        if log:
            log.write(json.dumps(result) + "\n")
            log.flush()
        return result

    if args.jobs <= 1:
        if args.threads:
            torch.set_num_threads(args.threads)
        for name in names:
            print(row(name, [record(one_run(name, seed, args.epochs, args.device, overrides, None))
                             for seed in seeds]), flush=True)
        return
    prepare(names, overrides)
    results: dict[tuple[str, int], dict] = {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(one_run, name, seed, args.epochs, args.device, overrides, args.threads or 1): (name, seed)
                   for name, seed in jobs}
        for future in as_completed(futures):
            name, seed = futures[future]
            try:
                results[name, seed] = record(future.result())
            except Exception as err:  # one failed run does not lose the others
                print(f"{name} seed {seed} failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            done = [results.get((name, s)) for s in seeds]
            if all(done):
                print(row(name, done), flush=True)


if __name__ == "__main__":
    main()
