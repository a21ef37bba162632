"""The browser's ports in static/playground/playground.mjs against the Python they copy, run with Node (skipped where
Node is not installed; tests/browser/test_playground_browser.py checks the same in Chromium, end to end):

- Pillow's Lanczos resize of a float image, ``mnist_digit`` + ``quantize_digit`` + ``encode_digit_link`` of a canvas
  drawing (the very link code, from the same RGBA pixels, soft-edged strokes on a transparent canvas too);
- ``core.analysis.playground.turn``: mirror, exact quarter turns, bilinear turns (float32, as torch computes them).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "static" / "playground" / "playground.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

HARNESS = """
import { readFileSync } from "node:fs";
const pg = await import(process.argv[1]);
const input = JSON.parse(readFileSync(0, "utf8"));
const out = {};
const resized = ({ a, h, w, nh, nw }) => Array.from(pg.resizeLanczos(Float32Array.from(a), h, w, nh, nw));
out.resize = input.resize.map(resized);
out.draw = input.draw.map(({ rgba, h, w }) => pg.prepareDrawing(Uint8Array.from(rgba), h, w, 0)?.code ?? null);
out.turn = input.turn.map(({ d, angle, mirror }) => Array.from(pg.turn(Float32Array.from(d), angle, mirror)));
console.log(JSON.stringify(out));
"""


def run_engine(payload: dict) -> dict:
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", HARNESS, ENGINE.as_uri()],  # type: ignore[list-item]
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def drawing(seed: int) -> np.ndarray:
    """A 280 x 280 RGBA canvas with a random thick stroke: opaque on black, or (every third) soft-edged strokes on a
    transparent canvas (what a page that resized its canvas sends)."""
    from PIL import Image, ImageDraw

    rng = np.random.RandomState(seed)
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    points = [tuple(int(v) for v in rng.randint(30, 250, 2)) for _ in range(rng.randint(2, 6))]
    pen.line(points, fill=(255, 255, 255, 255), width=int(rng.randint(10, 30)), joint="curve")
    rgba = np.asarray(img).copy()
    if seed % 3 == 1:
        inked = rgba[..., 0] > 0
        rgba[..., 3] = 0
        rgba[inked, 3] = rng.randint(40, 256, inked.sum())
    return rgba


def test_the_browser_prepares_and_turns_digits_exactly_as_python_does():
    from PIL import Image

    from core.analysis.playground import turn
    from core.data.datasets import load_dataset
    from core.data.image_io import drawing_ink, encode_digit_link, mnist_digit, quantize_digit

    rng = np.random.RandomState(0)
    sizes = [(37, 23, 20, 12), (180, 40, 20, 4), (60, 60, 20, 20), (20, 5, 20, 5), (3, 100, 1, 20), (251, 250, 20, 20)]
    resize = [dict(a=rng.rand(h, w).astype(np.float32), h=h, w=w, nh=nh, nw=nw) for h, w, nh, nw in sizes]
    draws = [drawing(seed) for seed in range(24)]
    test = load_dataset("mnist-5k", quick=True).x_test
    cases = [(0, False), (15, False), (90, True), (137.5, False), (270, False), (333, True), (180, False), (359, False)]
    turns = [dict(d=test[i].numpy(), angle=a, mirror=m) for i, (a, m) in enumerate(cases)]
    got = run_engine(
        {
            "resize": [{**r, "a": r["a"].ravel().tolist()} for r in resize],
            "draw": [{"rgba": d.ravel().tolist(), "h": 280, "w": 280} for d in draws],
            "turn": [{**t, "d": t["d"].ravel().tolist()} for t in turns],
        }
    )
    for r, out in zip(resize, got["resize"], strict=True):
        want = np.asarray(Image.fromarray(r["a"]).resize((r["nw"], r["nh"]), Image.Resampling.LANCZOS), np.float32)
        assert np.abs(np.array(out, np.float32).reshape(want.shape) - want).max() <= 1e-6, (r["h"], r["w"])
    for rgba, code in zip(draws, got["draw"], strict=True):
        png = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(png, format="PNG")
        assert code == encode_digit_link(quantize_digit(mnist_digit(drawing_ink(png.getvalue()))))
    for t, out in zip(turns, got["turn"], strict=True):
        want = turn(t["d"], t["angle"], t["mirror"])[0, 0].numpy()
        err = np.abs(np.array(out, np.float32).reshape(28, 28) - want).max()
        assert err == 0 if t["angle"] % 90 == 0 else err <= 1e-5, (t["angle"], t["mirror"], err)
