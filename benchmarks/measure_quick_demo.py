"""Measure the hosted demo's quick mode: memory of the app server and time to the first result.

Starts ``streamlit run app.py`` with GRAPHCONV_QUICK=1 (optionally pinned to fewer CPU cores with
``--cores``, to stand in for a weak CPU), drives headless Chromium through the main journey:

  1. open the Graph Builder (the landing page);
  2. open /train and press Start with the default settings (ChebNet, 3 epochs in quick mode);
     time from the click to the first test accuracy on the page, and to "Finished";
  3. optionally (``--escnn``) train the C8 steerable CNN too, the heaviest model in memory;

while sampling the memory of the server and its child processes (training workers, their forkserver;
proportional set size, so shared pages count once) every 0.2 s; the reported peak is the larger of
that and the kernel's own high-water mark (VmHWM) of the server process alone.
Prints one JSON object. Needs Debian's chromium and the playwright package (``bash run.sh test``
installs both). Not a test: the figures go in docs/performance.md.

    python -m benchmarks.measure_quick_demo --cores 1 --escnn
    python -m benchmarks.measure_quick_demo --full --cores 2   # full split: Start to a shown accuracy >= 95%
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time

from benchmarks.browser_helpers import ROOT, chromium, start_app, wait_healthy


def rss_tree_mb(pid: int) -> float:
    """Memory of ``pid`` and all its descendants (training workers, their forkserver), MB.

    Proportional set size (``Pss`` in /proc/PID/smaps_rollup): pages shared between processes, such as
    torch's in the forkserver and the workers forked from it, are split between them instead of
    counted once per process as RSS would. Falls back to RSS where smaps_rollup is missing."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            try:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            except OSError:
                with open(f"/proc/{p}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


def peak_rss_mb(pid: int) -> float:
    """The process's own high-water mark of resident memory (VmHWM), MB: catches spikes a sampler misses."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, False

    def run(self) -> None:
        while not self.done:
            self.peak = max(self.peak, rss_tree_mb(self.pid))
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.measure_quick_demo", description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=0, help="pin the server to this many CPU cores (0: all)")
    ap.add_argument("--escnn", action="store_true", help="also train the C8 steerable CNN")
    ap.add_argument(
        "--full",
        action="store_true",
        help="full mode (GRAPHCONV_QUICK=0, 4,000 training digits, 8 epochs) and also time the first "
        "shown test accuracy of at least --target percent",
    )
    ap.add_argument("--target", type=float, default=95.0, help="with --full: the accuracy to time, percent")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="graphconv-demo-")
    env = {"GRAPHCONV_QUICK": "0" if args.full else "1", "GRAPHCONV_DATA_DIR": data}
    prefix: list[str] = []
    if args.cores:
        prefix = ["taskset", "-c", ",".join(str(i) for i in range(args.cores))]
        env["OMP_NUM_THREADS"] = str(args.cores)
    t0 = time.perf_counter()
    proc, url = start_app(ROOT, env, prefix=prefix, wait=False)  # sampled from its first moment
    sampler = Sampler(proc.pid)
    sampler.start()
    out: dict = {"cores": args.cores or os.cpu_count(), "quick": not args.full}
    try:
        wait_healthy(url)
        out["server_start_s"] = round(time.perf_counter() - t0, 1)
        out["idle_server_mb"] = round(rss_tree_mb(proc.pid))
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser, page = chromium(p, 300_000)
            t = time.perf_counter()
            page.goto(url)
            page.get_by_text("Directed edges").first.wait_for()
            out["graph_builder_first_render_s"] = round(time.perf_counter() - t, 1)
            out["after_graph_builder_mb"] = round(rss_tree_mb(proc.pid))

            def train(query: str, key: str) -> None:
                page.goto(f"{url}/train{query}")
                page.get_by_role("button", name="Start").first.wait_for()
                t = time.perf_counter()
                page.get_by_role("button", name="Start").first.click()
                page.get_by_text("Test accuracy (last epoch)").first.wait_for()
                out[f"{key}_first_accuracy_s"] = round(time.perf_counter() - t, 1)
                if args.full:  # poll the shown accuracy until it reaches the target (or the run ends)
                    value = page.locator(
                        '[data-testid="stMetric"]', has_text="Test accuracy (last epoch)"
                    ).first.locator('[data-testid="stMetricValue"]')
                    while True:
                        shown = float(value.inner_text().strip().rstrip("%"))
                        if shown >= args.target:
                            out[f"{key}_reached_{args.target:g}_s"] = round(time.perf_counter() - t, 1)
                            out[f"{key}_reached_at"] = f"{shown}%"
                            break
                        if page.get_by_text("Finished: test accuracy").count():
                            out[f"{key}_reached_{args.target:g}_s"] = None
                            break
                        time.sleep(0.2)
                page.get_by_text("Finished: test accuracy").first.wait_for()
                out[f"{key}_finished_s"] = round(time.perf_counter() - t, 1)
                text = page.get_by_text("Finished: test accuracy").first.inner_text()
                out[f"{key}_test_accuracy"] = text.split("test accuracy")[1].split("%")[0].strip() + "%"
                out[f"after_{key}_mb"] = round(rss_tree_mb(proc.pid))

            train("", "chebnet_default")
            if args.escnn:
                train("?model=escnn&group=C8", "escnn_c8")
            browser.close()
    finally:
        sampler.done = True
        sampler.join()
        out["peak_server_mb"] = round(max(sampler.peak, peak_rss_mb(proc.pid)))
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
