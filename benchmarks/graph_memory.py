"""The graph cache under abuse: one browser opens the Graph Builder for many distinct dense graphs, and the server's
memory is read after each.

Serves the app (``GRAPHCONV_QUICK=1``, no starter set, a fresh temporary data folder) and opens
``/graph?kind=gaussian&gaussian_sigma=S&norm=gcn`` in headless Chromium for ``--graphs`` values of S (the Gaussian
kernel without cutoff: 613,872 edges each), waiting each time until the page has drawn the graph and is idle. Reports
the server process's resident size (VmRSS) idle, after the first graph and at the end, its high-water mark (VmHWM),
and the largest proportional set size of the server with its children (the forkserver). One JSON object. Not a test
(``tests/ui/test_graph_cache_memory.py`` bounds the cache itself); ``--root`` serves another checkout, e.g. an older
commit exported with ``git archive``, to compare.

    python -m benchmarks.graph_memory                 # 48 graphs
    python -m benchmarks.graph_memory --graphs 100 --root /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from benchmarks.browser_helpers import ROOT, PssSampler, chromium, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graphs", type=int, default=48, help="distinct sigma values opened (default 48)")
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose app.py is served (default: this one)")
    args = ap.parse_args()

    env = {"GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "0", "GRAPHCONV_DATA_DIR": tempfile.mkdtemp(prefix="gcl-mem-")}
    server, url = start_app(args.root, env, timeout=180)
    sampler = PssSampler(server.pid, every_s=0.25)
    sampler.start()
    out: dict = {"root": args.root, "graphs": args.graphs}
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser, page = chromium(p)

            def open_graph(sigma: float) -> None:
                page.goto(f"{url}/graph?kind=gaussian&gaussian_sigma={sigma}&norm=gcn")
                page.get_by_text("613,872").first.wait_for()  # the metric of this graph's directed edges
                page.wait_for_selector(IDLE)

            out["idle_mb"] = round(status_mb(server.pid, "VmRSS"))
            t = time.perf_counter()
            open_graph(0.05)
            out["after_first_mb"] = round(status_mb(server.pid, "VmRSS"))
            for i in range(args.graphs - 1):
                open_graph(round(0.1 + 0.01 * i, 2))
            out["seconds"] = round(time.perf_counter() - t, 1)
            browser.close()
        out["end_mb"] = round(status_mb(server.pid, "VmRSS"))
        out["peak_mb"] = round(status_mb(server.pid, "VmHWM"))
    finally:
        sampler.stop()
        out["peak_pss_with_children_mb"] = round(sampler.peak_total_kb / 1024)
        server.terminate()
        server.wait(30)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
