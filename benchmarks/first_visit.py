"""The first visit to a fresh server, timed in headless Chromium: how soon the Playground answers a drawn digit.

    python -m benchmarks.first_visit [--out artifacts/browser/first_visit] [--timeout 300]

Starts the app (``benchmarks.browser_helpers.start_app``) on a fresh, empty data folder in quick mode
(GRAPHCONV_QUICK=1; the starter set on, GRAPHCONV_STARTER=1), opens ``/playground`` like a new user, draws a 6 as soon
as the canvas shows (the strokes of ``browser_helpers.draw_six``) and waits. The page trains the starter set in the
background (``core.training.starter``: a CNN, a ChebNet, an escnn C8 net) and reruns as each one finishes. Prints one
JSON object (also ``<out>/result.json``): the seconds from opening the page until the canvas showed, the six was
drawn, and 1, 2 and 3 models answered it (their answer line), and the starter's progress bars seen on the way.
Screenshots (``<out>/*.png``):
the page as first opened, after the drawing, and at 1, 2 and 3 answers; the server's log is ``<out>/server.log``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.browser_helpers import ROOT, chromium, draw_six, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# (models in the answer line, its text): the line under the canvas reads "#1 cnn: **6** (97%) · #2 cheb …: **6** (88%)
# — answered in 12 ms"
ANSWERS_JS = """() => {
  const line = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')].map(e => e.innerText.trim())
    .find(t => t.includes(' — answered in '));
  if (!line) return [0, ''];
  return [line.split(' — answered in ')[0].split(' · ').length, line];
}"""
PROGRESS_JS = """() => [...document.querySelectorAll('[data-testid="stProgress"]')].map(e => e.innerText.trim())"""


def measure(out: Path, timeout_s: float = 300.0, data_dir: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    data = data_dir or tempfile.mkdtemp(prefix="graphconv-first-visit-")
    env = {"GRAPHCONV_DATA_DIR": data, "GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "1"}
    result: dict = {"data_dir": data, "answers_s": {}, "answer_lines": {}, "progress_seen": [], "shots": []}
    with open(out / "server.log", "w") as log:
        t_server = time.perf_counter()
        server, url = start_app(ROOT, env, log=log, timeout=120)
        result["server_healthy_s"] = round(time.perf_counter() - t_server, 1)
        try:
            with sync_playwright() as p:
                browser, page = chromium(p, timeout_ms=int(timeout_s * 1000))

                def shot(name: str) -> None:
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path), full_page=True)
                    result["shots"].append(str(path))

                def since() -> float:
                    return round(time.perf_counter() - t0, 1)

                t0 = time.perf_counter()
                page.goto(url + "/playground?pg_src=draw")
                canvas = page.locator("canvas").last
                canvas.wait_for(state="visible")
                result["canvas_s"] = since()
                page.get_by_text("Training a starter set").first.wait_for()
                result["starter_panel_s"] = since()
                shot("01-opened")
                page.wait_for_timeout(500)  # the canvas' component has settled: a person looks before drawing
                draw_six(page, canvas)
                result["drawn_s"] = since()
                page.wait_for_timeout(1500)
                shot("02-drawn")
                seen = 0
                while seen < 3 and time.perf_counter() - t0 < timeout_s:
                    count, line = page.evaluate(ANSWERS_JS)
                    bars = " | ".join(page.evaluate(PROGRESS_JS))  # every bar at once, kept when it changed
                    if bars and (not result["progress_seen"] or result["progress_seen"][-1][1] != bars):
                        result["progress_seen"].append([since(), bars])
                    for n in range(seen + 1, count + 1):
                        result["answers_s"][n] = since()
                        result["answer_lines"][n] = line
                    if count > seen:
                        seen = count
                        page.wait_for_selector(IDLE)
                        page.wait_for_timeout(1000)  # the every-angle plot follows the answer line
                        shot(f"0{2 + seen}-{seen}-answer{'s' if seen > 1 else ''}")
                    page.wait_for_timeout(250)
                seen_bars = result["progress_seen"]
                result["progress_seen"] = seen_bars[:30] + seen_bars[-10:] if len(seen_bars) > 40 else seen_bars
                result["total_s"] = since()
                browser.close()
        finally:
            server.terminate()
            server.wait(20)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.first_visit", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "first_visit"))
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for three answers")
    ap.add_argument("--data-dir", default=None, help="data folder (default: a fresh temp dir)")
    args = ap.parse_args()
    print(json.dumps(measure(Path(args.out), args.timeout, args.data_dir), indent=1))


if __name__ == "__main__":
    main()
