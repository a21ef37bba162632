"""Use the Playground in headless Chromium: draw a digit with the mouse, turn it, and time the answers.

    python -m benchmarks.playground_check --runs 22,24,31 [--out artifacts/browser/playground]

Starts the app on the current data folder (GRAPHCONV_DATA_DIR), opens /playground with the given runs, draws a
"6" (a loop with a stem) on the canvas with mouse strokes, then moves the rotation slider with the keyboard.
At every visited angle it times the last single slider step, from the key press until the page shows the new
answer (the caption "... answered in N ms" changes), and saves a screenshot. Then it adds three strokes and times
each from the mouse release to the new answer and to the new every-angle plot (whose sweep is computed after the
answers are shown). Prints one JSON line per step and a summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.browser_helpers import ROOT, chromium, draw_six, start_app


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.playground_check", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="comma-separated run ids (up to 3)")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "playground"))
    ap.add_argument("--steps", default="0,45,90,180,270", help="slider angles to visit, in degrees, increasing")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server, url = start_app(ROOT)
    from playwright.sync_api import sync_playwright

    results = []
    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            page.goto(f"{url}/playground?pg_src=draw&pg_runs={args.runs}")
            canvas = page.locator("canvas").last
            canvas.wait_for(state="visible")
            draw_six(page, canvas)
            t0 = time.perf_counter()
            page.get_by_text("answered in").first.wait_for()
            results.append({"step": "stroke", "seconds_to_answer": round(time.perf_counter() - t0, 3)})
            print(json.dumps(results[-1]), flush=True)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "drawn-0.png"), full_page=True)
            slider = page.get_by_role("slider").first
            angle = 0
            for target in [int(a) for a in args.steps.split(",")][1:]:
                slider.focus()
                for _ in range(target - angle - 1):  # all but the last step, then let the page settle
                    page.keyboard.press("ArrowRight")
                page.wait_for_timeout(2500)
                before = page.get_by_text("answered in").first.inner_text()
                t0 = time.perf_counter()  # one slider step, timed from the key press to the new answer shown
                page.keyboard.press("ArrowRight")
                angle = target
                page.wait_for_function(
                    "([t]) => [...document.querySelectorAll('p')].some(p => p.innerText.includes('answered in') "
                    "&& p.innerText !== t)",
                    arg=[before],
                )
                results.append(
                    {
                        "step": f"slider to {target}",
                        "seconds_to_answer": round(time.perf_counter() - t0, 3),
                        "answer": page.get_by_text("answered in").first.inner_text(),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
                page.wait_for_timeout(1200)
                page.screenshot(path=str(out / f"drawn-{target}.png"), full_page=True)
            idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
            for n, y in enumerate((0.1, 0.95, 0.05), start=2):  # more strokes, with the runs already loaded
                page.wait_for_selector(idle)
                page.wait_for_timeout(2000)
                before = page.get_by_text("answered in").first.inner_text()
                before_sweep = page.get_by_text("Every run at").first.inner_text()
                box = page.locator("canvas").last.bounding_box()
                page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * y, steps=8)
                t0 = time.perf_counter()
                page.mouse.up()
                page.wait_for_function(
                    "([t]) => [...document.querySelectorAll('p')].some(p => p.innerText.includes('answered in') "
                    "&& p.innerText !== t)",
                    arg=[before],
                )
                answered = time.perf_counter() - t0
                page.wait_for_function(  # then the every-angle plot's caption (its sweep runs after the answers)
                    "([t]) => [...document.querySelectorAll('p')].some(p => p.innerText.includes('Every run at') "
                    "&& p.innerText !== t)",
                    arg=[before_sweep],
                )
                results.append(
                    {
                        "step": f"stroke {n}",
                        "seconds_to_answer": round(answered, 3),
                        "seconds_to_every_angle_plot": round(time.perf_counter() - t0, 3),
                        "answer": page.get_by_text("answered in").first.inner_text(),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
            page.wait_for_selector(idle)
            page.wait_for_timeout(2000)
            charts = page.locator('[data-testid="stPlotlyChart"]')
            shots = [(charts.nth(0), "angles.png")]  # every run's answer at every angle (the first chart)
            images = page.locator('[data-testid="stImage"]')
            shots += [(images.nth(i), f"maps-{i + 1}.png") for i in range(images.count())]  # the first run's layers
            for element, name in shots:
                page.wait_for_selector(idle)
                element.scroll_into_view_if_needed()
                page.wait_for_timeout(700)
                element.screenshot(path=str(out / name))
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    # the same three runs' answers timed in this process, with no server or browser beside them
    from core.analysis.playground import load_playground_model, probabilities, timed
    from core.data.datasets import load_dataset

    digit = load_dataset("mnist-5k").x_test[3].numpy()
    models = [load_playground_model(int(r)) for r in args.runs.split(",")]
    [probabilities(pm, digit, 0) for pm in models]  # warm up
    bare = [timed(lambda a=a: [probabilities(pm, digit, a) for pm in models])[1] for a in (1, 90, 180, 270)]
    results.append({"step": "same three answers in a bare process", "ms": [round(ms, 1) for ms in bare]})
    print(json.dumps({"summary": results}))


if __name__ == "__main__":
    main()
