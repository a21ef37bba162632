"""The starter C8 net's recipe, measured: train escnn C8 on quick mnist-rot with given settings, one run at a time,
and print its test accuracy, its cost estimate (what public mode's check sees), its CPU seconds, and its answer for an
upright drawn 6 (the browser journey's stroke, ``benchmarks.browser_helpers.six_strokes``) and that 6 turned by 90°.

    python -m benchmarks.playground_c8 --set epochs=20 --set layers=2,hidden=32 --seeds 0,1 [--threads 1]

Each ``--set`` is one recipe (comma-separated RunConfig fields over the starter's escnn settings); every recipe is
trained for every seed, in a fresh temp data folder, inline (no worker process), on ``--threads`` threads. One JSON
line per run.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from typing import Any

import numpy as np


def drawn_six(side: int = 280, stroke: int = 22) -> np.ndarray:
    """An upright 6 as the canvas draws it (``six_strokes``, round brush of ``stroke`` pixels), prepared as the
    Playground prepares a drawing: (28, 28) in [0, 1] on the link's 16 grey levels."""
    from PIL import Image, ImageDraw

    from benchmarks.browser_helpers import six_strokes
    from core.data.image_io import drawing_ink, mnist_digit, quantize_digit

    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 255))
    pen = ImageDraw.Draw(canvas)
    for line in six_strokes(0, 0, side):
        pen.line(line, fill=(255, 255, 255, 255), width=stroke, joint="curve")
        for x, y in (line[0], line[-1]):
            pen.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return quantize_digit(mnist_digit(drawing_ink(buf.getvalue())))


def parse_recipe(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, value = part.split("=", 1)
        for kind in (int, float):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.playground_c8", description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], help="one recipe: field=value,... (repeatable)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import os

    os.environ["GRAPHCONV_DATA_DIR"] = tempfile.mkdtemp(prefix="c8-recipe-")
    os.environ["GRAPHCONV_STARTER"] = "0"
    import torch

    torch.set_num_threads(args.threads)
    from core.analysis.playground import load_playground_model, probabilities
    from core.training.cost import estimate
    from core.training.runs import RunConfig, execute
    from core.training.starter import STARTER
    from core.training.store import RunStore

    base = dict(next(s for s in STARTER if s.model == "escnn").settings)
    six = drawn_six()
    store = RunStore()
    for recipe in args.set or [""]:
        for seed in (int(s) for s in args.seeds.split(",")):
            cfg = RunConfig.make(**{**base, **parse_recipe(recipe), "seed": seed}, quick=True)
            cost = estimate(cfg)
            t0, c0 = time.perf_counter(), time.process_time()
            result = execute(cfg, store)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            pm = load_playground_model(result["run_id"], store)
            up, turned = probabilities(pm, six), probabilities(pm, six, 90)
            print(
                json.dumps(
                    {
                        "recipe": recipe or "starter",
                        "seed": seed,
                        "layers": cfg.value("layers"),
                        "hidden": cfg.value("hidden"),
                        "epochs": cfg.training.epochs,
                        "lr": cfg.training.lr,
                        "schedule": cfg.training.schedule,
                        "augment": cfg.training.augment,
                        "dropout": cfg.value("dropout"),
                        "test_accuracy": result.get("test_accuracy"),
                        "estimate_s": round(cost.seconds),
                        "estimate_mb": round(cost.peak_mb),
                        "cpu_s": round(cpu),
                        "wall_s": round(wall),
                        "six": f"{int(up.argmax())} ({up.max():.0%}), p6 {up[6]:.0%}, p9 {up[9]:.0%}",
                        "six_90": f"{int(turned.argmax())} ({turned.max():.0%})",
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
