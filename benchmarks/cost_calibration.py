"""How close a run's cost estimate (``core.training.cost``) is to what the run measures on this machine.

    python -m benchmarks.cost_calibration [--quick] [--only cheb,cnn]

Each config trains in a fresh worker process (``python -m core train``'s code path: ``execute_reporting`` into a
temporary run store), one at a time; the script prints, per config, the estimate beside the measured wall time
(process start excluded) and peak resident memory (``ru_maxrss`` of the worker), and their ratios. Run it with
nothing else on the machine: it times things.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CONFIGS = [
    {"model": "cheb", "epochs": 2},
    {"model": "cnn", "epochs": 2},
    {"model": "mlp", "epochs": 2},
    {"model": "gcn", "epochs": 2},
    {"model": "gat", "epochs": 1},
    {"model": "learned", "epochs": 1},
    {"model": "cheb", "K": 25, "epochs": 1},
    {"model": "gcn", "graph": "gaussian", "graph_params": {"sigma": 0.05}, "epochs": 1},
    {"model": "tutorial", "epochs": 2},
    {"model": "tutorial", "adjacency": "learned", "epochs": 1},
    {"model": "escnn", "group": "C8", "epochs": 1},
    {"model": "escnn", "group": "D4", "hidden": 24, "epochs": 1},
    {"model": "superpixel", "graph": "superpixels", "epochs": 1},
]

CHILD = r"""
import json, resource, sys, time
from core.training.runs import RunConfig, validate
from core.training.store import RunStore
from core.training.worker import execute_reporting
cfg = validate(RunConfig.from_dict(json.loads(sys.argv[1])))
store = RunStore(sys.argv[2])
run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued")
t0 = time.perf_counter()
summary = execute_reporting(cfg, store, run_id)
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "accuracy": summary.get("test_accuracy"), "params": summary.get("parameters")}))
"""


def measure(config: dict, quick: bool) -> dict:
    from core.training import cost
    from core.training.runs import RunConfig, validate

    cfg = validate(RunConfig.from_dict({**config, "quick": quick}))
    est = cost.estimate(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GRAPHCONV_DATA_DIR": tmp, "GRAPHCONV_QUICK": "1" if quick else "0"}
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg.to_dict()), os.path.join(tmp, "runs.db")],
                             capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        return {"label": cfg.label(), "error": out.stderr.strip().splitlines()[-1:]}
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {"label": cfg.label(), "epochs": cfg.epochs, "estimate_s": est.seconds, "measured_s": got["seconds"],
            "estimate_mb": est.peak_mb, "measured_mb": got["peak_mb"], "estimate_params": est.params,
            "params": got["params"], "time_ratio": est.seconds / got["seconds"], "memory_ratio": est.peak_mb / got["peak_mb"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick data (1,000 training digits)")
    parser.add_argument("--only", default="", help="comma-separated model names to keep")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    keep = {m for m in args.only.split(",") if m}
    rows = [measure(c, args.quick) for c in CONFIGS if not keep or c["model"] in keep]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['label'][:48]:48s} failed: {r['error']}")
            continue
        print(f"{r['label'][:48]:48s} time est {r['estimate_s']:7.1f} s  measured {r['measured_s']:7.1f} s  "
              f"(x{r['time_ratio']:.2f})   memory est {r['estimate_mb']:6.0f} MB  measured {r['measured_mb']:6.0f} MB "
              f"(x{r['memory_ratio']:.2f})   params {r['estimate_params']:,} / {r['params']:,}")


if __name__ == "__main__":
    main()
