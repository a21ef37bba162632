"""Screenshots of the Playground at 1400x1000 and on a 390x844 phone: a drawn 6 turned by 90 degrees.

    GRAPHCONV_DATA_DIR=/tmp/data GRAPHCONV_QUICK=1 GRAPHCONV_STARTER=0 \\
        python -m benchmarks.playground_shots --runs 1,2,3 --out artifacts/issue30/playground --tag before

With ``--press`` it first presses the page's "Train a steerable C8 net" button at 1400 px, saves the page with its
progress (``<tag>-progress-desktop-screen.png``) and a second (phone) session's view of the same run being trained
(``<tag>-progress-phone-screen.png``: no second button), and waits until that run has finished.

Then it opens /playground with the given runs (none: the page's own choice),
draws a "6" with the mouse, turns it to ``--angle`` with the keyboard, and saves for each size the first screen
(``<tag>-<size>-screen.png``) and the whole page (``<tag>-<size>-full.png``). On the phone it also records where the
rotation slider and the turned answer sit (pixels from the top of the page), which it prints as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.browser_helpers import ROOT, draw_six, screenshot, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SIZES: dict[str, dict[str, Any]] = {  # browser.new_context's keywords for each size
    "desktop": dict(viewport={"width": 1400, "height": 1000}),
    "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True),
}


def idle(pg, settle_ms: int = 1500) -> None:
    time.sleep(0.4)
    pg.wait_for_selector(IDLE)
    pg.wait_for_timeout(settle_ms)


def positions(pg) -> dict:
    """Where the slider and the turned answer sit: their tops in page pixels (None when not shown)."""
    return pg.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
        const top = e => e ? Math.round(e.getBoundingClientRect().top + main.scrollTop) : null;
        const slider = document.querySelector('[data-testid="stSlider"]');
        const answer = [...document.querySelectorAll('p')].find(p => p.innerText.startsWith('Turned'));
        return {slider: top(slider), turned_answer: top(answer),
                doc_width: document.documentElement.scrollWidth, view_width: innerWidth};
    }""")


def press_and_wait(browser, url: str, out: Path, args) -> dict:
    """Press the steerable net's button, shoot the progress at both sizes, wait for the run: its id, state, time."""
    from core.training.store import RunStore

    views = []
    for size in ("desktop", "phone"):
        ctx = browser.new_context(**SIZES[size])
        pg = ctx.new_page()
        pg.set_default_timeout(300_000)
        pg.goto(f"{url}/playground?pg_src=dataset&pg_digit=0" + (f"&pg_runs={args.runs}" if args.runs else ""))
        idle(pg)
        if size == "desktop":
            pg.get_by_role("button", name="Train a steerable C8 net").click()
        pg.get_by_text("Training a C8 steerable net").first.wait_for()
        idle(pg, 2500)
        pg.screenshot(path=str(out / f"{args.tag}-progress-{size}-screen.png"))
        views.append({"size": size, "buttons": pg.get_by_role("button", name="Train a steerable C8 net").count()})
        ctx.close()
    store = RunStore()
    t0 = time.monotonic()
    runs = [r for r in store.list_runs() if r["config"]["model"] == "escnn"]
    while runs and runs[0]["status"] in ("queued", "running") and time.monotonic() - t0 < args.wait_s:
        time.sleep(5)
        runs = [r for r in store.list_runs() if r["config"]["model"] == "escnn"]
    run = runs[0] if runs else {}
    return {
        "escnn_runs": len(runs),
        "run": run.get("id"),
        "status": run.get("status"),
        "views": views,
        "test_accuracy": (run.get("summary") or {}).get("test_accuracy"),
        "waited_s": round(time.monotonic() - t0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.playground_shots", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="", help="comma-separated run ids (up to 3); empty: the page's default runs")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "issue30" / "playground"))
    ap.add_argument("--tag", default="shot")
    ap.add_argument("--angle", type=int, default=90)
    ap.add_argument("--no-draw", action="store_true", help="only open the page (e.g. to show its notices)")
    ap.add_argument("--press", action="store_true", help="press the steerable net's button first, wait for its run")
    ap.add_argument("--wait-s", type=float, default=1800, help="seconds to wait for the pressed run to finish")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server, url = start_app(ROOT, timeout=120)
    from playwright.sync_api import sync_playwright

    found = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            if args.press:
                found["pressed"] = press_and_wait(browser, url, out, args)
            for size, opts in SIZES.items():
                ctx = browser.new_context(**opts)
                pg = ctx.new_page()
                pg.set_default_timeout(300_000)
                query = "pg_src=draw" + (f"&pg_runs={args.runs}" if args.runs else "")
                pg.goto(f"{url}/playground?{query}")
                idle(pg)
                if not args.no_draw:
                    canvas = pg.locator("canvas").last
                    canvas.wait_for(state="visible")
                    canvas.scroll_into_view_if_needed()
                    draw_six(pg, canvas)
                    pg.get_by_text("answered in").first.wait_for()
                    idle(pg)
                    slider = pg.get_by_role("slider").first
                    slider.focus()
                    for _ in range(args.angle):
                        pg.keyboard.press("ArrowRight")
                    idle(pg, 2500)
                    slider.scroll_into_view_if_needed()
                    pg.wait_for_timeout(800)
                found[size] = positions(pg)
                pg.screenshot(path=str(out / f"{args.tag}-{size}-screen.png"))
                screenshot(pg, out / f"{args.tag}-{size}-full.png")
                ctx.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
