"""How close a run's cost estimate (``core.training.cost``) is to what the run measures on this machine.

    python -m benchmarks.cost_calibration [--full] [--only cheb,cnn] [--json]

Each config trains as the app trains it: submitted to a run manager on a temporary store, in a worker process
forked from the forkserver, alone, on ONE CPU thread (``GRAPHCONV_CPUS=1``: what each run gets while both slots of
a 2-core server are busy, so the estimate holds on a busy server). The script prints, per config, the estimate
beside what the run's summary measured: CPU seconds of training (all threads; they hardly change when other work
shares the machine, wall seconds do) and wall seconds, the worker's peak resident memory (``ru_maxrss``), and the
ratios. Quick data unless ``--full``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

CONFIGS = [
    {"model": "mlp", "epochs": 2},
    {"model": "cnn", "epochs": 2},
    {"model": "cheb", "epochs": 2},
    {"model": "gcn", "epochs": 2},
    {"model": "gat", "epochs": 1},
    {"model": "learned", "epochs": 1},
    {"model": "cheb", "K": 25, "epochs": 1},
    {"model": "cnn", "hidden": 64, "batch_size": 256, "epochs": 1},
    {"model": "gcn", "graph": "gaussian", "graph_params": {"sigma": 0.05}, "epochs": 1},
    {"model": "tutorial", "epochs": 2},
    {"model": "tutorial", "adjacency": "learned", "epochs": 1},
    {"model": "escnn", "group": "C8", "epochs": 1},
    {"model": "escnn", "group": "D4", "hidden": 24, "epochs": 1},
    {"model": "superpixel", "graph": "superpixels", "epochs": 1},
]


def measure(configs: list[dict], quick: bool) -> list[dict]:
    from core.training import cost
    from core.training.runner import RunManager
    from core.training.runs import RunConfig, validate
    from core.training.store import RunStore

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "GRAPHCONV_DATA_DIR": tmp,
                "GRAPHCONV_QUICK": "1" if quick else "0",
                "GRAPHCONV_CPUS": "1",
                "GRAPHCONV_CPU_DIR": os.path.join(tmp, "cpu"),
                "GRAPHCONV_PUBLIC": "0",
            }
        )
        manager = RunManager(store=RunStore(os.path.join(tmp, "runs.db")), max_concurrent=1)
        try:
            for config in configs:
                cfg = validate(RunConfig.from_dict({**config, "quick": quick}))
                est = cost.estimate(cfg)
                live = manager.wait(manager.submit(cfg), timeout=1800)
                summary = (live or {}).get("run", {}).get("summary") or {}
                if not live or live["state"] != "finished" or not summary.get("cpu_seconds"):
                    rows.append({"label": cfg.label(), "error": (live or {}).get("error") or "did not finish"})
                    continue
                rows.append(
                    {
                        "label": cfg.label(),
                        "estimate_s": est.seconds,
                        "cpu_s": summary["cpu_seconds"],
                        "wall_s": summary["seconds"],
                        "estimate_mb": est.peak_mb,
                        "peak_mb": summary["peak_mb"],
                        "estimate_params": est.params,
                        "params": summary["parameters"],
                        "time_ratio": est.seconds / summary["cpu_seconds"],
                        "memory_ratio": est.peak_mb / summary["peak_mb"],
                    }
                )
        finally:
            manager.close()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full data (4,000 training digits) instead of quick")
    parser.add_argument("--only", default="", help="comma-separated model names to keep")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    keep = {m for m in args.only.split(",") if m}
    rows = measure([c for c in CONFIGS if not keep or c["model"] in keep], quick=not args.full)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['label'][:44]:44s} failed: {r['error']}")
            continue
        print(
            f"{r['label'][:44]:44s} time: est {r['estimate_s']:6.1f} s, measured {r['cpu_s']:6.1f} CPU s "
            f"({r['wall_s']:.1f} wall), x{r['time_ratio']:.2f} | peak memory: est {r['estimate_mb']:5.0f} MB, "
            f"measured {r['peak_mb']:5.0f} MB, x{r['memory_ratio']:.2f} | "
            f"params {r['estimate_params']:,} / {r['params']:,}"
        )
    ratios = [r for r in rows if "error" not in r]
    if ratios:
        t = sorted(r["time_ratio"] for r in ratios)
        m = sorted(r["memory_ratio"] for r in ratios)
        print(
            f"time estimate / measured: median x{t[len(t) // 2]:.2f}, range x{t[0]:.2f}-x{t[-1]:.2f}; "
            f"memory: median x{m[len(m) // 2]:.2f}, range x{m[0]:.2f}-x{m[-1]:.2f}"
        )


if __name__ == "__main__":
    main()
