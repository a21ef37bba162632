"""Training throughput in the app (a real browser pressing Start) against the CLI, same config, same run.

Starts ``streamlit run app.py`` from ``--repo`` (default: this checkout) in full mode on a fresh data
folder, then ``--pairs`` times: headless Chromium opens ``/train?<query>``, presses Start and waits for
"Finished"; right after, ``python -m core train <the same settings>`` runs in that checkout. Reports
for each the images/s the run stored (training only), the wall time from Start (or the command) to the
first shown test accuracy and to the end, and the app/CLI ratio of each pair. Prints one JSON object.
Not a test: the figures go in docs/performance.md and closing notes.

    python -m benchmarks.measure_app_vs_cli --pairs 2                   # default ChebNet, 2 epochs
    python -m benchmarks.measure_app_vs_cli --repo /tmp/old-checkout   # the same for another version
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.browser_helpers import ROOT, chromium, start_app


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by each kind of process on this machine, seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        kind = (
            "worker"
            if "multiprocessing" in cmd and "forkserver" not in cmd and "resource_tracker" not in cmd
            else "server"
            if "streamlit run" in cmd
            else "browser"
            if "chromium" in cmd or "playwright" in cmd
            else "cli"
            if "core train" in cmd
            else None
        )
        if kind:
            out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def app_run(page, url: str, query: str, watch: bool = True) -> dict:
    page.goto(f"{url}/train?{query}")
    start = page.get_by_role("button", name="Start").first
    start.wait_for()
    t = time.perf_counter()
    before = cpu_seconds()
    start.click()
    first = None
    if watch:
        page.get_by_text("Test accuracy (last epoch)").first.wait_for()
        first = round(time.perf_counter() - t, 1)
    else:  # leave the page while it trains (as if the browser ran on another machine), come back to read the end
        db = sqlite3.connect(Path(os.environ["GRAPHCONV_DATA_DIR"]) / "runs.db")
        last = db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
        while (run_id := db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]) == last:
            time.sleep(0.05)
        page.goto("about:blank")
        while db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0] in ("queued", "running"):
            time.sleep(0.1)
        page.goto(f"{url}/train?{query}&run={run_id}")
    done = page.get_by_text("Finished: test accuracy").first
    done.wait_for()
    total = time.perf_counter() - t
    after = cpu_seconds()
    text = done.inner_text()  # "Finished: test accuracy 96.90% on 1000 test images (835 images/s on cpu)."
    ips = float(text.split("(")[-1].split(" images/s")[0].replace(",", ""))
    acc = text.split("test accuracy")[1].split("%")[0].strip()
    return {
        "images_per_second": ips,
        "first_accuracy_s": first,
        "total_s": round(total, 1),
        "test_accuracy": float(acc) / 100,
        "cpu_s": {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in sorted(set(after) | set(before))},
    }


def cli_run(repo: Path, env: dict, args: list[str]) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "core", "train", *args, "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    total = time.perf_counter() - t
    out = json.loads(proc.stdout)
    return {
        "images_per_second": round(out["images_per_second"]),
        "total_s": round(total, 1),
        "test_accuracy": out["test_accuracy"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.measure_app_vs_cli", description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout whose app and CLI are measured")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--query", default="model=cheb&epochs=2", help="the Train page's URL settings")
    ap.add_argument("--cli", default="--model cheb --epochs 2", help="the same settings as CLI flags")
    ap.add_argument(
        "--no-watch",
        action="store_true",
        help="leave the Train page while the run trains (the browser's CPU then is not this machine's)",
    )
    args = ap.parse_args()

    os.environ["GRAPHCONV_DATA_DIR"] = tempfile.mkdtemp(prefix="graphconv-vs-")
    env = {**os.environ, "GRAPHCONV_QUICK": "0"}
    server, url = start_app(args.repo, env)
    pairs = []
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser, page = chromium(p, 600_000)
            for _ in range(args.pairs):
                app = app_run(page, url, args.query, watch=not args.no_watch)
                page.goto("about:blank")  # an open page may keep polling the server while the CLI trains
                cli = cli_run(args.repo, env, args.cli.split())
                pairs.append(
                    {
                        "app": app,
                        "cli": cli,
                        "app_over_cli": round(app["images_per_second"] / cli["images_per_second"], 2),
                    }
                )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True, text=True
    ).stdout.strip()
    print(json.dumps({"repo": str(args.repo), "commit": commit, "query": args.query, "pairs": pairs}))


if __name__ == "__main__":
    main()
