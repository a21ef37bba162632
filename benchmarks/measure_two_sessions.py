"""Two people pressing Start at once, against one person alone and the CLI: images/s, all in one run.

Serves ``app.py`` (full mode, a fresh data folder), then, each ``--rounds`` times and in this order:
1. **solo**: one browser session presses Start on ``/train?<query>``;
2. **two**: two sessions (two browser contexts, so two XSRF cookies) press Start within a fraction of a
   second of each other;
3. **cli**: ``python -m core train <the same settings>`` alone.
With ``--no-watch`` the pages are left (``about:blank``) right after Start, as on a hosted demo whose
visitors' browsers run elsewhere; otherwise they stay on the Train page and draw the live curves on these
cores. Every images/s is the figure the run stored (training only). Also reports the CPU seconds each kind
of process took (browser, server, workers, CLI) during each phase, and the thread counts the workers'
epochs recorded (their CPU share). Prints one JSON object. Not a test: the figures go in docs/performance.md.

``--pin-browser CORE`` runs Chromium on that core and the server, its workers and the CLI on the others
(the solo-run-against-CLI check with "the browser on another core").

    python -m benchmarks.measure_two_sessions --no-watch
    python -m benchmarks.measure_two_sessions --rounds 2
    python -m benchmarks.measure_two_sessions --pin-browser 1 --phases solo,cli
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.browser_helpers import ROOT, start_app
from benchmarks.measure_app_vs_cli import cli_run, cpu_seconds


def _db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "runs.db", timeout=30)


def _last_id(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]


def _threads(db: sqlite3.Connection, run_id: int) -> list:
    rows = db.execute("SELECT extra FROM metrics WHERE run_id = ? ORDER BY epoch", (run_id,)).fetchall()
    return [json.loads(r[0] or "{}").get("threads") for r in rows]


def press_start(pages, url: str, query: str, data: Path, watch: bool, first_seed: int = 0) -> dict:
    """Open the Train page in every page, press Start in all of them at once, wait for every run to end. Page i
    trains seed ``first_seed + i``: identical settings and seed would be one run shown to both (Start reuses it)."""
    db = _db(data)
    for i, page in enumerate(pages):
        page.goto(f"{url}/train?{query}&seed={first_seed + i}")
        page.get_by_role("button", name="Start").first.wait_for()
    time.sleep(1.0)  # the pages have settled
    before, last = cpu_seconds(), _last_id(db)
    clicks = []
    for page in pages:
        page.get_by_role("button", name="Start").first.click(no_wait_after=True)
        clicks.append(time.perf_counter())
    deadline = time.time() + 60
    while _last_id(db) < last + len(pages) and time.time() < deadline:
        time.sleep(0.05)
    ids = list(range(last + 1, _last_id(db) + 1))
    if not watch:
        for page in pages:
            page.goto("about:blank")
    while db.execute("SELECT COUNT(*) FROM runs WHERE id > ? AND status IN ('queued', 'running')", (last,)).fetchone()[
        0
    ]:
        time.sleep(0.2)
    after = cpu_seconds()
    runs = []
    for run_id in ids:
        status, summary = db.execute("SELECT status, summary FROM runs WHERE id = ?", (run_id,)).fetchone()
        s = json.loads(summary or "{}")
        runs.append(
            {
                "run": run_id,
                "status": status,
                "images_per_second": round(s.get("images_per_second") or 0),
                "test_accuracy": s.get("test_accuracy"),
                "seconds": round(s.get("seconds") or 0, 1),
                "threads": _threads(db, run_id),
            }
        )
    if not watch:
        for page in pages:
            page.goto("about:blank")
    return {
        "runs": runs,
        "click_spread_s": round(clicks[-1] - clicks[0], 2),
        "cpu_s": {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in sorted(set(after) | set(before))},
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.measure_two_sessions", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--query", default="model=cheb&epochs=2", help="the Train page's URL settings")
    ap.add_argument("--cli", default="--model cheb --epochs 2", help="the same settings as CLI flags")
    ap.add_argument("--no-watch", action="store_true", help="leave the pages right after Start")
    ap.add_argument("--phases", default="solo,two,cli", help="which of solo, two, cli to run, in order")
    ap.add_argument(
        "--pin-browser",
        type=int,
        default=None,
        metavar="CORE",
        help="Chromium on this core; the server, its workers and the CLI on the other cores",
    )
    args = ap.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]

    data = Path(tempfile.mkdtemp(prefix="graphconv-two-"))
    env = {**os.environ, "GRAPHCONV_QUICK": "0", "GRAPHCONV_DATA_DIR": str(data)}
    cores = sorted(os.sched_getaffinity(0))
    app_cores = [c for c in cores if c != args.pin_browser] if args.pin_browser is not None else cores
    os.sched_setaffinity(0, app_cores)  # the server (and so its workers) inherits this
    server, url = start_app(ROOT, env, timeout=120)
    if args.pin_browser is not None:
        os.sched_setaffinity(0, [args.pin_browser])  # Chromium, launched from here, inherits this
    rounds = []
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
            pages = [c.new_page() for c in contexts]
            for page in pages:
                page.set_default_timeout(900_000)
            for r in range(args.rounds):
                out = {}
                for phase in phases:
                    if phase == "solo":
                        out["solo"] = press_start(
                            pages[:1], url, args.query, data, watch=not args.no_watch, first_seed=100 + 10 * r
                        )
                    elif phase == "two":
                        out["two"] = press_start(
                            pages, url, args.query, data, watch=not args.no_watch, first_seed=200 + 10 * r
                        )
                    elif phase == "cli":
                        for page in pages:
                            page.goto("about:blank")
                        os.sched_setaffinity(0, app_cores)
                        before = cpu_seconds()
                        out["cli"] = cli_run(ROOT, env, args.cli.split())
                        after = cpu_seconds()
                        out["cli"]["cpu_s"] = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in after}
                        if args.pin_browser is not None:
                            os.sched_setaffinity(0, [args.pin_browser])
                solo = out.get("solo", {}).get("runs", [{}])[0].get("images_per_second")
                if solo and "two" in out:
                    each = [r["images_per_second"] / solo for r in out["two"]["runs"]]
                    out["two_over_solo"] = {"each": [round(e, 2) for e in each], "together": round(sum(each), 2)}
                if solo and "cli" in out:
                    out["solo_over_cli"] = round(solo / out["cli"]["images_per_second"], 2)
                rounds.append(out)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        json.dumps(
            {
                "commit": commit,
                "query": args.query,
                "watch": not args.no_watch,
                "cores": cores,
                "pin_browser": args.pin_browser,
                "rounds": rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
