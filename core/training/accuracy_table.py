"""The accuracy table: models trained on mnist-5k, each beside its published reference (docs/accuracy.md's figures).

    python -m core accuracy [--epochs 8] [--seeds 0] [--only cnn,superpixel-gcn,...] [--threads 1]
                            [--device cpu] [--jobs 1] [--set positions=raw --set batch_size=32] [--out FILE]
    python -m core accuracy --list

Each run goes through the same path as the app and the CLI (``core.training.runs.execute``) and is stored, so
the Results and Compare pages show them too. A row gives the mean test accuracy over the seeds (each seed
in brackets), the parameter count and the mean seconds per epoch. Seconds depend on what else ran on the
machine (``jobs`` runs that many at once): compare rows of one table only. ``overrides`` (``--set name=value``)
change a setting in every entry (an ablation).
"""

from __future__ import annotations

import multiprocessing
import statistics
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import torch

from core.errors import UserInputError
from core.models.spec import SUPERPIXEL_INPUTS
from core.training.runs import RunConfig, execute, setting_type, validate

HEADER = ["| entry | run | test accuracy | parameters | s/epoch | published reference |", "|---|---|---|---|---|---|"]

SP = {"model": "superpixel", "graph": "superpixels"}
PAIR = {
    "model": "learned",
    "edge_inputs": "offset",
    "edge_activation": "tanh",
    "edge_norm": "none",
    "edge_sets": "pair",
}
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
    names = set(RunConfig.flat_names()) - {"graph_params"}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in names or not value:
            raise UserInputError("set", f"{pair!r}: expected NAME=VALUE with NAME a run setting, e.g. positions=raw")
        typ = setting_type(name)
        try:
            out[name] = value.lower() in ("1", "true", "yes") if typ is bool else typ(value)
        except ValueError:
            raise UserInputError("set", f"{pair!r}: {name} takes a {typ.__name__}") from None
    return out


def parse_entries(text: str | None) -> list[str]:
    """``"cnn,gcn"`` -> entry names (``None``: every entry); an unknown name is a ``UserInputError("only")``."""
    names = [n.strip() for n in (text or ",".join(ENTRIES)).split(",") if n.strip()]
    unknown = [n for n in names if n not in ENTRIES]
    if unknown or not names:
        raise UserInputError(
            "only",
            f"unknown entry {unknown[0]!r}; --list shows them" if unknown else "names no entry; --list shows them",
        )
    return names


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserInputError("seeds", f"must be comma-separated whole numbers, e.g. 0,1,2; got {text!r}") from None
    if not seeds:
        raise UserInputError("seeds", "names no seed")
    return seeds


def one_run(name: str, seed: int, epochs: int, device: str, overrides: dict, threads: int | None) -> dict:
    """Train entry ``name`` with ``seed`` (in a worker process when --jobs > 1); its summary plus the entry name."""
    if threads:
        torch.set_num_threads(threads)
    settings, _ = ENTRIES[name]
    out = execute(RunConfig.make(epochs=epochs, seed=seed, device=device, **{**settings, **overrides}))
    return {
        "entry": name,
        "seed": seed,
        **{k: out[k] for k in ("run_id", "label", "status", "device", "test_accuracy", "parameters")},
        "seconds_per_epoch": statistics.mean(e["seconds"] for e in out["epochs"]) if out["epochs"] else 0.0,
        "train_accuracy": out["epochs"][-1].get("train_accuracy") if out["epochs"] else None,
        "overrides": overrides,
    }


def row(name: str, results: list[dict]) -> str:
    """One Markdown row from an entry's runs (one per seed)."""
    accs = [r["test_accuracy"] or 0.0 for r in results]
    secs = statistics.mean(r["seconds_per_epoch"] for r in results)
    each = f" ({', '.join(f'{a:.1%}' for a in accs)})" if len(accs) > 1 else ""
    return (
        f"| {name} | {results[0]['label']} | {statistics.mean(accs):.1%}{each} | {results[0]['parameters']:,} | "
        f"{secs:.1f} | {ENTRIES[name][1]} |"
    )


def prepare(names: list[str], overrides: dict, on_prepare: Callable[[str, int, int], None] | None = None) -> None:
    """Build what the runs share (superpixel graphs) once, before parallel runs would each build it;
    ``on_prepare(what, done, total)`` reports the progress."""
    for name in names:
        settings, _ = ENTRIES[name]
        cfg = RunConfig.make(**{**settings, **overrides})
        if cfg.spec().inputs == SUPERPIXEL_INPUTS:  # per-image graphs: built once, shared by the runs
            from core.data.datasets import load_dataset
            from core.graphs.superpixel_dataset import superpixel_graphs

            superpixel_graphs(
                load_dataset(cfg.data, quick=cfg.training.quick),
                cfg.graph_params,
                lambda done, total: on_prepare and on_prepare("superpixel graphs", done, total),
            )
            return


def accuracy_table(
    names: list[str],
    seeds: list[int],
    epochs: int = 8,
    device: str = "cpu",
    jobs: int = 1,
    threads: int | None = None,
    overrides: dict | None = None,
    on_run: Callable[[dict], None] | None = None,
    on_row: Callable[[str], None] | None = None,
    on_prepare: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train every entry of ``names`` with every seed (``jobs`` runs at a time, each in its own process when more
    than one) and return the table: ``title``, ``rows`` (Markdown, in ``names`` order), ``runs`` (one summary per
    run) and ``failed`` (runs that raised, with ``jobs`` > 1). Every entry's settings are validated before any
    run trains. ``on_run`` gets each run's summary as it ends, ``on_row`` each entry's row once all its seeds
    have ended, ``on_prepare(what, done, total)`` the progress of what the runs share."""
    overrides = overrides or {}
    for name in names:  # a bad --set or --device is a UserInputError here, before anything trains
        validate(RunConfig.make(epochs=epochs, device=device, **{**ENTRIES[name][0], **overrides}))
    title = (
        f"mnist-5k (4,000 train / 1,000 test), {epochs} epochs, seeds {','.join(map(str, seeds))}, "
        f"device {device}"
        + (f", {jobs} runs at a time" if jobs > 1 else "")
        + (f", settings {overrides}" if overrides else "")
    )
    results: dict[tuple[str, int], dict] = {}
    rows: dict[str, str] = {}
    failed: list[dict] = []

    def ended(name: str, seed: int, result: dict) -> None:
        results[name, seed] = result
        if on_run:
            on_run(result)
        done = [results[name, s] for s in seeds if (name, s) in results]
        if len(done) == len(seeds):  # the entry's last seed ended: its row
            rows[name] = row(name, done)
            if on_row:
                on_row(rows[name])

    if jobs <= 1:
        if threads:
            torch.set_num_threads(threads)
        for name in names:
            for seed in seeds:
                ended(name, seed, one_run(name, seed, epochs, device, overrides, None))
    else:
        prepare(names, overrides, on_prepare)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {
                pool.submit(one_run, name, seed, epochs, device, overrides, threads or 1): (name, seed)
                for name in names
                for seed in seeds
            }
            for future in as_completed(futures):
                name, seed = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - a run in a worker process: whatever it raised fails that run only
                    failed.append({"entry": name, "seed": seed, "error": f"{type(err).__name__}: {err}"})
                    continue
                ended(name, seed, result)
    ordered = [rows[n] for n in names if n in rows]
    return {
        "title": title,
        "rows": ordered,
        "runs": [results[k] for k in sorted(results, key=lambda k: (names.index(k[0]), seeds.index(k[1])))],
        "failed": failed,
        "table": "\n".join([title, *HEADER, *ordered]),
    }
