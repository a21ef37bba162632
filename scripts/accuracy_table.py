"""Train every model with the default settings and print a Markdown table (figures for the README).

    python scripts/accuracy_table.py [--epochs 8] [--models cnn,cheb,...]

Each run goes through the same path as the app and the CLI (core.training.runs.execute) and is stored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.training.runs import RunConfig, execute  # noqa: E402

MODELS = {  # model -> settings that differ from RunConfig's defaults
    "mlp": {}, "cnn": {}, "cheb": {}, "gcn": {}, "sage": {}, "gin": {}, "gat": {}, "learned": {},
    "superpixel": {"graph": "superpixels", "graph_params": {"segments": 75}},
    "escnn": {"group": "C8"},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    print("| model | settings | test accuracy (epoch reached ≥95%) | best epoch acc | s/epoch | images/s | params |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        cfg = RunConfig(model=name, epochs=args.epochs, **MODELS[name])
        out = execute(cfg)
        eps = out["epochs"]
        first95 = next((e["epoch"] for e in eps if e["test_accuracy"] >= 0.95), None)
        best = max(e["test_accuracy"] for e in eps) if eps else float("nan")
        secs = sum(e["seconds"] for e in eps) / max(len(eps), 1)
        print(f"| {name} | {out['label']} | {out['test_accuracy']:.2%} ({first95 or '-'}) | {best:.2%} | "
              f"{secs:.1f} | {out['images_per_second'] or 0:.0f} | {out['parameters']:,} |", flush=True)


if __name__ == "__main__":
    main()
