"""The Playground answering in the browser (onnxruntime-web), measured in headless Chromium against a served app.

    python -m benchmarks.playground_browser [--runs 22,24,31] [--strokes 40] [--steps 20] [--json]

Serves the app on the current data folder (GRAPHCONV_DATA_DIR; quick mode when GRAPHCONV_QUICK=1) and, in a fresh
browser profile:

1. first load: opens /playground with a data-set digit and the runs (default: the newest CNN, graph net and
   steerable net, as the page picks them), and times it from the navigation to the browser's first answer on the
   screen; counts every response's bytes (headers and body, Playwright's request sizes), the runtime's and the
   models' apart;
2. strokes: in draw mode, ``--strokes`` short strokes with the mouse (Clear every 10), each timed by the page itself
   from the pointer's release to the answers painted (the turned view's ``data-ms``: the digit prepared, every run's
   probabilities as given and turned, the bars and the turned digit drawn);
3. rotation: ``--steps`` steps of the rotation slider with the keyboard, each timed by the page from the slider's
   new value on the screen to all the runs' answers painted;
4. return visit: the same page again in the same profile (its Cache Storage kept): bytes and seconds.

Prints one line per phase and a summary (medians and 95th percentiles in ms), or with ``--json`` one JSON object.
Measure on a quiet machine: the browser and the server share its cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from benchmarks.browser_helpers import ROOT, chromium, start_app

STATUS = '[data-part="status"][data-status="ready"]'


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, linearly interpolated (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 1) if values else float("nan"),
        "p95_ms": round(percentile(values, 0.95), 1),
        "max_ms": round(max(values), 1) if values else float("nan"),
    }


class Traffic:
    """Every response a page receives: its URL and its bytes (headers and body)."""

    def __init__(self, page) -> None:
        self.seen: list[tuple[str, int]] = []
        page.on("requestfinished", self._finished)

    def _finished(self, request) -> None:
        try:
            sizes = request.sizes()
            size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        except Exception:  # noqa: BLE001 - a request the browser dropped: no size to count
            size = 0
        self.seen.append((request.url, size))

    def reset(self) -> None:
        self.seen.clear()

    def bytes(self, part: str = "") -> int:
        return sum(size for url, size in self.seen if part in url)


def default_run_ids() -> str:
    """The runs the Playground opens with on this data folder (the newest CNN, graph net and steerable net)."""
    from core.analysis.playground import default_runs
    from core.training.store import RunStore, as_run

    runs = {r.id: r for r in map(as_run, RunStore().runs_with_weights(limit=300))}
    picked = default_runs(runs)
    if not picked:
        raise SystemExit("no finished run with weights in GRAPHCONV_DATA_DIR: train some first")
    return ",".join(map(str, picked))


def turned(page):
    return page.locator('[data-part="turned"]').first


def answered(page, before: int, timeout_s: float = 60.0) -> float:
    """Wait until the page has painted an answer after the ``before``-th; its ms (pointer or slider to painted)."""
    view = turned(page)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        count = int(view.get_attribute("data-count") or 0)
        if count > before:
            return float(view.get_attribute("data-ms") or "nan")
        time.sleep(0.005)
    raise TimeoutError("no answer painted")


def first_answer(page, url: str, traffic: Traffic) -> dict[str, Any]:
    """Open ``url`` and wait for the browser's first answer: seconds and bytes."""
    traffic.reset()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(STATUS, timeout=300_000)
    view = turned(page)
    view.wait_for(state="attached", timeout=300_000)
    while not view.get_attribute("data-answers"):
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    time.sleep(1.0)  # the sweep and the maps, then the page's last reruns
    return {
        "seconds_to_first_answer": round(seconds, 2),
        "bytes": traffic.bytes(),
        "runtime_bytes": traffic.bytes("/app/static/ort/"),
        "model_bytes": traffic.bytes("/app/static/models/"),
        "responses": len(traffic.seen),
    }


def strokes(page, url: str, n: int) -> list[float]:
    """``n`` short strokes on the canvas (Clear every 10): each one's ms from release to answers painted."""
    page.goto(url)
    page.wait_for_selector(STATUS, timeout=300_000)
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible")
    page.wait_for_timeout(1500)  # the views mounted: the runs' sessions ready before the first stroke
    box = canvas.bounding_box()
    assert box is not None
    out = []
    for i in range(n):
        if i and i % 10 == 0:
            page.get_by_role("button", name="Clear", exact=True).click()
            page.wait_for_timeout(800)
        k = i % 10
        x0, y0 = box["x"] + box["width"] * (0.25 + 0.05 * k), box["y"] + box["height"] * 0.2
        before = int(turned(page).get_attribute("data-count") or 0)
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + box["width"] * 0.1, y0 + box["height"] * 0.6, steps=6)
        page.mouse.up()
        out.append(answered(page, before))
        page.wait_for_timeout(250)  # a person's pause between strokes
    return out


def rotation(page, n: int) -> list[float]:
    """``n`` steps of the rotation slider with the keyboard: each one's ms from the new value to answers painted."""
    slider = page.get_by_role("slider", name="Rotation (degrees, counter-clockwise)")
    out = []
    for _ in range(n):
        before = int(turned(page).get_attribute("data-count") or 0)
        slider.focus()
        slider.press("ArrowRight")
        out.append(answered(page, before))
        page.wait_for_timeout(300)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.playground_browser", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", help="comma-separated run ids (up to 3); default: the ones the page opens with")
    ap.add_argument("--strokes", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20, help="rotation slider steps")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = ap.parse_args()
    runs = args.runs or default_run_ids()
    server, url = start_app(ROOT, timeout=120)
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"runs": runs}
    say = (lambda *a: None) if args.json else print
    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            page.set_default_timeout(300_000)
            traffic = Traffic(page)
            given = f"{url}/playground?pg_src=dataset&pg_digit=0&pg_runs={runs}"
            result["first_load"] = first_answer(page, given, traffic)
            say("first load", result["first_load"])
            result["strokes"] = summary(strokes(page, f"{url}/playground?pg_src=draw&pg_runs={runs}", args.strokes))
            say("stroke to answers painted", result["strokes"])
            result["rotation_steps"] = summary(rotation(page, args.steps))
            say("rotation step to answers painted", result["rotation_steps"])
            result["return_visit"] = first_answer(page, given, traffic)
            say("return visit", result["return_visit"])
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
