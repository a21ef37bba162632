"""A class drawing on the Playground at once: many browser sessions, each answering its strokes in the browser.

    python -m benchmarks.playground_class [--sessions 30] [--strokes 10] [--no-wasm] [--data DIR] [--json]

Trains three quick runs (a CNN, a ChebNet and a C8 steerable net; quick mode) in a fresh data folder, unless
``--data`` names one that has runs, serves the app on it, and opens ``--sessions`` browser contexts (one headless
Chromium; each context is a visitor of its own, with its own Cache Storage, so each downloads the runtime and the
models once) on ``/playground`` in draw mode with the three runs. Once every page says its browser is ready, all of
them draw together: ``--strokes`` strokes each, at a person's pace (0.5-1.5 s apart, at random), each timed by the
page itself from the pointer's release to every run's answers painted (the turned view's ``data-ms``).

Over the drawing phase it reads the CPU time (user + system, /proc) of the server's process tree and of the
browser's (Chromium and Playwright's driver), and reports them per stroke. With ``--no-wasm`` the pages have no
WebAssembly (the global deleted before any script runs): every page falls back to the server's inference, the
comparison that shows what the browser mode takes off the server (a stroke is then timed from Python, from the
release until the page's script has rerun and is idle again). Plain lines, or one JSON object with ``--json``. Not a
test; run it on a quiet machine (the browsers and the server share its cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError

from benchmarks.browser_helpers import ROOT, descendants, start_app
from benchmarks.playground_browser import STATUS, summary

TICK = os.sysconf("SC_CLK_TCK")
TRAIN = (  # the three runs the class compares: quick, one epoch, as a fresh server's starter set would
    ["--model", "cnn"],
    ["--model", "cheb", "--graph", "grid"],
    ["--model", "escnn", "--group", "C8", "--data", "mnist-rot"],
)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            continue
    return total / TICK


def train_runs(data: Path) -> str:
    """Train the three runs in ``data`` with the CLI; their ids, comma-separated."""
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(data), "GRAPHCONV_QUICK": "1"}
    ids = []
    for flags in TRAIN:
        out = subprocess.run(
            [sys.executable, "-m", "core", "train", *flags, "--epochs", "1", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ids.append(str(json.loads(out.stdout)["run_id"]))
    return ",".join(ids)


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # the page's script has ended its rerun


async def stroke(page, box: dict, k: int, no_wasm: bool) -> float:
    """One stroke at position ``k`` (0-9) across the canvas; the page's ms from release to answers painted (without
    WebAssembly: Python's ms from release until the server's rerun has ended)."""
    view = page.locator('[data-part="turned"]').first
    before = 0 if no_wasm else int(await view.get_attribute("data-count") or 0)
    x0, y0 = box["x"] + box["width"] * (0.25 + 0.05 * k), box["y"] + box["height"] * 0.2
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    await page.mouse.move(x0 + box["width"] * 0.1, y0 + box["height"] * 0.6, steps=6)
    t0 = time.perf_counter()
    await page.mouse.up()
    if no_wasm:
        with contextlib.suppress(PlaywrightError):  # a quick rerun may have ended before this looks
            await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', timeout=2_000)
        await page.wait_for_selector(IDLE, timeout=120_000)
        return (time.perf_counter() - t0) * 1000.0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if int(await view.get_attribute("data-count") or 0) > before:
            return float(await view.get_attribute("data-ms") or "nan")
        await asyncio.sleep(0.01)
    raise TimeoutError("no answer painted within 120 s")


async def visitor(
    browser, url: str, strokes: int, no_wasm: bool, go: asyncio.Event, ready: list, out: list, fails: list
) -> Any:
    """One visitor (its browser context returned): open the page, wait until its browser is ready, then draw
    ``strokes`` strokes once ``go`` is set. ``no_wasm``: a browser without WebAssembly (the global is deleted
    before any script runs)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    if no_wasm:  # Chromium 156 ignores --js-flags=--noexpose_wasm
        await context.add_init_script("delete globalThis.WebAssembly;")
    page = await context.new_page()
    page.set_default_timeout(600_000)
    try:
        t0 = time.perf_counter()
        await page.goto(url)
        await page.wait_for_selector(IDLE if no_wasm else STATUS, timeout=600_000)
        canvas = page.locator("canvas").first
        await canvas.wait_for(state="visible")
        ready.append(time.perf_counter() - t0)
        box = await canvas.bounding_box()
        await go.wait()
        rng = random.Random(len(ready))
        for i in range(strokes):
            if i and i % 10 == 0:
                await page.get_by_role("button", name="Clear", exact=True).click()
                await asyncio.sleep(0.8)
            out.append(await stroke(page, box, i % 10, no_wasm))
            await asyncio.sleep(rng.uniform(0.5, 1.5))
    except (PlaywrightError, TimeoutError, ValueError) as err:  # one visitor's failure is counted, not the end
        fails.append(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return context  # closed by the caller once the browsers' CPU time is read (a closed page's time is gone)


async def drive(url: str, sessions: int, strokes: int, no_wasm: bool, server_pid: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        go = asyncio.Event()
        ready: list[float] = []
        times: list[float] = []
        fails: list[str] = []
        tasks = [
            asyncio.create_task(visitor(browser, url, strokes, no_wasm, go, ready, times, fails))
            for _ in range(sessions)
        ]
        while len(ready) + len(fails) < sessions:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # the last pages' sweeps and reruns settle
        server = [server_pid, *descendants(server_pid)]
        ours = set(server) | {os.getpid()}
        browsers = [p for p in descendants(os.getpid()) if p not in ours]
        cpu0, bcpu0, t0 = cpu_seconds(server), cpu_seconds(browsers), time.perf_counter()
        go.set()
        contexts = await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        cpu, bcpu = cpu_seconds(server) - cpu0, cpu_seconds(browsers) - bcpu0
        for context in contexts:
            await context.close()
        await browser.close()
    n = max(len(times), 1)
    return {
        "sessions": sessions,
        "strokes": len(times),
        "failed_sessions": fails,
        "open_to_ready_s": {"median": round(statistics.median(ready), 1), "max": round(max(ready), 1)} if ready else {},
        "answer": summary(times),
        "drawing_wall_s": round(wall, 1),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_ms_per_stroke": round(1000 * cpu / n, 1),
        "browser_cpu_s": round(bcpu, 2),
        "browser_cpu_ms_per_stroke": round(1000 * bcpu / n, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.playground_class", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--strokes", type=int, default=10, help="strokes per session")
    ap.add_argument("--no-wasm", action="store_true", help="Chromium without WebAssembly: the server answers")
    ap.add_argument("--data", help="a data folder with runs (default: a fresh one, three quick runs trained in it)")
    ap.add_argument("--runs", help="comma-separated run ids in --data (default: the three trained)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    say = (lambda *a: None) if args.json else print
    with tempfile.TemporaryDirectory(prefix="graphconv-class-") as tmp:
        data = Path(args.data) if args.data else Path(tmp)
        runs = args.runs or train_runs(data)
        say("runs", runs)
        server, url = start_app(ROOT, env={"GRAPHCONV_DATA_DIR": str(data)}, timeout=120)
        try:
            out = asyncio.run(
                drive(
                    f"{url}/playground?pg_src=draw&pg_runs={runs}",
                    args.sessions,
                    args.strokes,
                    args.no_wasm,
                    server.pid,
                )
            )
        finally:
            server.terminate()
            server.wait(20)
    out |= {"runs": runs, "no_wasm": args.no_wasm}
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            say(f"{key}: {value}")


if __name__ == "__main__":
    main()
