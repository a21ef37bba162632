"""Reproducible in public mode: the same config and seed trained five times, beside different numbers of other runs,
give the same per-epoch figures; and what exact mode costs a lone run's speed.

Issue 32's case: a teacher reran a lesson and ChebNet gave 91.0% where the first run gave 92.5%, because a run's
thread share (and so torch's split of its sums) changed as runs beside it started and ended. In exact mode (public
mode, or ``GRAPHCONV_EXACT=1``) every run trains on ``EXACT_THREADS`` threads from its first batch to its last.

Through one ``RunManager`` (worker processes, as the app trains), with 4 slots on this machine's CPUs, the target
run (the quick ChebNet of the lessons, seed 0) is trained:

1. alone;
2. beside one other run;
3. beside three others;
4. started while another run ends (a 1-epoch run started just before it);
5. alone again, last.

It prints each copy's per-epoch train loss and test accuracy, whether all five are identical, and the epoch time of
a lone run in exact mode against the dynamic share (the speed exact mode costs a run that trains alone).

    python -m benchmarks.reproducible            # plain lines
    python -m benchmarks.reproducible --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TIMEOUT = 900.0


def _target(**kw: Any):
    from core.training.runs import RunConfig

    return RunConfig.make(**{"model": "cheb", "epochs": 3, "quick": True, "device": "cpu", "seed": 0, **kw})


def _other(seed: int, epochs: int = 3):
    return _target(model="mlp", seed=100 + seed, epochs=epochs)


def _figures(store, run_id: int) -> list[tuple[float, float]]:
    return [(e["train_loss"], e["test_accuracy"]) for e in store.epochs(run_id)]


def _epoch_s(store, run_id: int) -> float:
    rows = store.epochs(run_id)
    return statistics.median(e["seconds"] for e in rows) if rows and rows[0].get("seconds") else float("nan")


def run(exact_threads_check: bool = True) -> dict[str, Any]:
    from core.training.runner import RunManager
    from core.training.store import RunStore

    data = Path(tempfile.mkdtemp(prefix="graphconv-repro-"))
    os.environ["GRAPHCONV_DATA_DIR"] = str(data)
    os.environ["GRAPHCONV_EXACT"] = "1"
    manager = RunManager(store=RunStore(data / "runs.db"), max_concurrent=4)
    store = manager.store
    copies: dict[str, int] = {}
    try:
        copies["alone"] = manager.submit(_target())
        manager.wait(copies["alone"], timeout=TIMEOUT)
        others = manager.submit_many([_other(1)])
        copies["beside one run"] = manager.submit(_target())
        for run_id in [*others, copies["beside one run"]]:
            manager.wait(run_id, timeout=TIMEOUT)
        others = manager.submit_many([_other(2), _other(3), _other(4)])
        copies["beside three runs"] = manager.submit(_target())
        for run_id in [*others, copies["beside three runs"]]:
            manager.wait(run_id, timeout=TIMEOUT)
        ending = manager.submit(_other(5, epochs=1))
        while store.require_run(ending).status != "running":  # the other run trains: start this one as it ends
            time.sleep(0.05)
        copies["started while another ends"] = manager.submit(_target())
        for run_id in (ending, copies["started while another ends"]):
            manager.wait(run_id, timeout=TIMEOUT)
        copies["alone, last"] = manager.submit(_target())
        manager.wait(copies["alone, last"], timeout=TIMEOUT)
        exact_epoch = _epoch_s(store, copies["alone, last"])
    finally:
        manager.close()
    os.environ["GRAPHCONV_EXACT"] = "0"  # the dynamic share: a lone run takes every CPU it may
    dynamic = RunManager(store=RunStore(data / "runs.db"), max_concurrent=4)
    try:
        lone = dynamic.submit(_target())
        dynamic.wait(lone, timeout=TIMEOUT)
    finally:
        dynamic.close()
    figures = {name: _figures(store, run_id) for name, run_id in copies.items()}
    statuses = {name: store.require_run(run_id).status for name, run_id in copies.items()}
    first = next(iter(figures.values()))
    dynamic_epoch = _epoch_s(store, lone)
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "config": "quick ChebNet (K=5, 2 layers, width 32) on the 8-neighbour grid, 3 epochs, seed 0",
        "statuses": statuses,
        "figures": {name: [[round(a, 7), round(b, 4)] for a, b in rows] for name, rows in figures.items()},
        "identical": all(rows == first for rows in figures.values()) and len(first) == 3,
        "lone_epoch_s_exact": round(exact_epoch, 3),
        "lone_epoch_s_dynamic": round(dynamic_epoch, 3),
        "exact_cost_ratio": round(exact_epoch / dynamic_epoch, 3) if dynamic_epoch else None,
        "dynamic_differs": _figures(store, lone) != first,
    }


def _lines(r: dict[str, Any]) -> list[str]:
    out = [f"machine: {r['machine']}", f"config: {r['config']}"]
    for name, rows in r["figures"].items():
        losses = ", ".join(f"{loss:.7f}" for loss, _ in rows)
        accs = ", ".join(f"{acc:.1%}" for _, acc in rows)
        out.append(f"{name:28s} {r['statuses'][name]}: losses {losses}; test accuracy {accs}")
    out.append(f"all five identical, epoch by epoch: {r['identical']}")
    out.append(
        f"a lone run's epoch: exact mode {r['lone_epoch_s_exact']} s, dynamic share {r['lone_epoch_s_dynamic']} s "
        f"(exact / dynamic = {r['exact_cost_ratio']}); the dynamic run's figures differ from exact mode's: "
        f"{r['dynamic_differs']}"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    report = run()
    print(json.dumps(report) if args.json else "\n".join(_lines(report)))


if __name__ == "__main__":
    main()
