"""How long one keyboard step of a Graph Builder slider takes, until the page is idle again.

    python -m benchmarks.graph_builder_steps [--root PATH] [--steps 15] [--controls sigma,k,digit] [--shots DIR]

Starts the app of ``--root`` (default: this checkout; a git worktree of an older commit gives the before figure) in
quick mode on a fresh data folder, opens ``/graph`` with each graph kind in headless Chromium (on the same cores as
the server), focuses the control's slider and presses ArrowRight ``--steps`` times:

- sigma: ``/graph?kind=gaussian`` (the Gaussian kernel's bandwidth, 0.01 a step);
- k: ``/graph?kind=knn`` (neighbours per pixel);
- digit: ``/graph?kind=grid`` (the training image shown).

A step is timed in the browser, from the key press until the page is idle again: the script has finished its rerun
(``data-test-script-state`` back to ``notRunning``) and the main thread has finished its last long task (Plotly
drawing a chart) that began before the page went quiet. Printed per control: median and p95 of that, of the rerun
alone (key press to script finished, the browser drawing what arrives meanwhile), of the time after the rerun, of
the browser's main thread busy in long tasks (drawing), the CPU seconds the server's and the browser's processes used
(read from /proc: less disturbed by other work on the machine than the wall times), and the bytes the server sent.

Then the server's share: the same steps through Streamlit's AppTest in a subprocess run from ``--root``, each step's
script time and the time spent in its parts (timing wrappers around building and normalising the graph, its facts,
each figure, Streamlit's serialisation of the charts; some nest), and the charts' JSON size. Timings are of this machine
at this moment: run it when the machine is quiet and compare ratios, not absolute seconds, across machines.

``--shots DIR`` also saves screenshots of the page (Gaussian kernel at sigma 0.05, 0.3 and 1.0 and the k-NN graph at
1400x1000, and sigma 0.3 on a 390x844 phone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file too, not only with -m

from benchmarks.browser_helpers import ROOT, screenshot, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CONTROLS = {  # control -> (the page's link, the slider's label)
    "sigma": ("/graph?kind=gaussian", "sigma"),
    "k": ("/graph?kind=knn", "k"),
    "digit": ("/graph?kind=grid", "Digit (training image #)"),
}
QUIET_MS = 600  # after the script finished, the page must stay without a long task this long to count as idle

# Installed once per page load: the script-state changes and long tasks (>50 ms of main thread), in the page's clock.
WATCH_JS = """() => {
  const w = window.__gbw = {states: [], tasks: []};
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => w.states.push([performance.now(), app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  new PerformanceObserver(list => list.getEntries().forEach(e => w.tasks.push([e.startTime, e.startTime + e.duration])))
    .observe({type: 'longtask', buffered: false});
  document.addEventListener('keydown', () => { w.key = performance.now(); }, true);
}"""
# Resolves once the rerun that followed the key press has finished and the page has had QUIET_MS without a long task.
STEP_JS = """async (quiet) => {
  const w = window.__gbw, sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  for (;;) {  // the rerun: 'running' after the key, then 'notRunning'
    const after = w.states.filter(s => s[0] >= w.key);
    const ran = after.findIndex(s => s[1] === 'running');
    const done = ran >= 0 ? after.slice(ran).find(s => s[1] === 'notRunning') : undefined;
    if (done) { w.done = done[0]; break; }
    await sleep(10);
  }
  for (;;) {  // quiet: no long task ended in the last `quiet` ms
    await frame();
    const last = Math.max(w.done, ...w.tasks.filter(t => t[0] >= w.key).map(t => t[1]));
    if (performance.now() - last >= quiet) {
      const busy = w.tasks.filter(t => t[0] >= w.key && t[0] <= last).reduce((a, t) => a + t[1] - t[0], 0);
      return {rerun_ms: w.done - w.key, idle_ms: last - w.key, busy_ms: busy};
    }
    await sleep(50);
  }
}"""


def _stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return {"n": len(s), "median": round(statistics.median(s), 3), "p95": round(p95, 3), "max": round(s[-1], 3)}


def _slider(pg, label: str):
    import re

    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return (
        pg.locator('[data-testid="stSlider"]')
        .filter(has=pg.locator('[data-testid="stWidgetLabel"]', has_text=exact))
        .first.get_by_role("slider")
        .first
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes ``pids`` so far (those gone count 0)."""
    import os

    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def process_groups(server_pid: int) -> dict[str, list[int]]:
    """{"server": the app's process tree, "browser": every Chromium process this script started}."""
    import os

    from benchmarks.browser_helpers import descendants

    server = [server_pid, *descendants(server_pid)]
    browser = []
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"chrom" in f.read().split(b"\0")[0]:
                    browser.append(pid)
        except OSError:
            pass
    return {"server": server, "browser": browser}


def browser_steps(url: str, controls: list[str], steps: int, shots: Path | None, server_pid: int = 0) -> dict:
    """Per control: the browser-side timings of ``steps`` ArrowRight presses (seconds), the CPU seconds the server and
    the browser spent on each (less sensitive to other load on the machine than wall time) and bytes received."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(180_000)
        received = [0]
        page.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))),
        )
        for control in controls:
            path, label = CONTROLS[control]
            page.goto(url + path)
            page.wait_for_selector('[data-testid="stPlotlyChart"]')
            page.wait_for_selector(IDLE)
            page.wait_for_timeout(1500)  # first drawing done
            page.evaluate(WATCH_JS)
            thumb = _slider(page, label)
            thumb.focus()
            idle, rerun, after, busy, sent, cpu_server, cpu_browser = [], [], [], [], [], [], []
            groups = process_groups(server_pid)
            for _ in range(steps):
                before = received[0]
                cpu0 = {k: cpu_seconds(v) for k, v in groups.items()}
                thumb.press("ArrowRight")
                r = page.evaluate(STEP_JS, QUIET_MS)
                cpu_server.append(cpu_seconds(groups["server"]) - cpu0["server"])
                cpu_browser.append(cpu_seconds(groups["browser"]) - cpu0["browser"])  # includes QUIET_MS of idling
                idle.append(r["idle_ms"] / 1000)
                rerun.append(r["rerun_ms"] / 1000)
                after.append((r["idle_ms"] - r["rerun_ms"]) / 1000)
                busy.append(r["busy_ms"] / 1000)
                sent.append(received[0] - before)
            out[control] = {
                "until_idle_s": _stats(idle),
                "rerun_s": _stats(rerun),
                "browser_after_rerun_s": _stats(after),
                "browser_busy_s": _stats(busy),
                "cpu_server_s": _stats(cpu_server),
                "cpu_browser_s": _stats(cpu_browser),
                "bytes_per_step": int(statistics.median(sent)),
                "last_value": thumb.get_attribute("aria-valuenow"),
                "raw_until_idle_s": [round(x, 3) for x in idle],
            }
            print(
                json.dumps({"control": control, **{k: v for k, v in out[control].items() if k != "raw_until_idle_s"}}),
                flush=True,
            )
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            for name, path in [
                ("gaussian-sigma-0.05", "/graph?kind=gaussian&gaussian_sigma=0.05"),
                ("gaussian-sigma-0.30", "/graph?kind=gaussian&gaussian_sigma=0.3"),
                ("gaussian-sigma-1.00", "/graph?kind=gaussian&gaussian_sigma=1.0"),
                ("knn-k-8", "/graph?kind=knn"),
            ]:
                page.goto(url + path)
                page.wait_for_selector('[data-testid="stPlotlyChart"]')
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(2500)
                screenshot(page, shots / f"{name}-1400.png")
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
            pp = phone.new_page()
            pp.set_default_timeout(180_000)
            pp.goto(url + "/graph?kind=gaussian&gaussian_sigma=0.3")
            pp.wait_for_selector('[data-testid="stPlotlyChart"]')
            pp.wait_for_selector(IDLE)
            pp.wait_for_timeout(2500)
            screenshot(pp, shots / "gaussian-sigma-0.30-phone.png")
            phone.close()
        browser.close()
    return out


# Run from --root by a subprocess: the page's reruns through AppTest, its parts timed. Prints one JSON object.
SERVER_SIDE = r"""
import json, statistics, sys, time
from streamlit.testing.v1 import AppTest
controls, steps = json.loads(sys.argv[1]), int(sys.argv[2])
SETUP = {"sigma": ("gaussian", "gaussian_sigma", 0.01), "k": ("knn", "knn_k", 1), "digit": ("grid", "digit", 1)}
TOTALS = {}


def timed(owner, attr, part):  # wrap owner.attr so its calls add their time to TOTALS[part] (a missing one: skipped)
    f = getattr(owner, attr, None)
    if f is None:
        return
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            TOTALS[part] = TOTALS.get(part, 0.0) + time.perf_counter() - t0
    setattr(owner, attr, wrapper)


import core.graphs as cg
import core.figures.graphs as fg
from core.graphs.base import Graph
from streamlit.delta_generator import DeltaGenerator
timed(cg, "build_graph", "build graph")
timed(cg, "normalize", "normalise")
timed(Graph, "summary", "facts (summary, its symmetry check included)")
timed(Graph, "is_symmetric", "symmetry checks (in facts too)")
for name in ("graph_figure", "drawn_edges", "kernel_figure", "filter_figure", "degree_figure"):
    timed(fg, name, name + (" (in graph_figure too)" if name == "drawn_edges" else ""))
timed(DeltaGenerator, "plotly_chart", "st.plotly_chart (serialising the figures)")
out = {}
for control in controls:
    kind, key, step = SETUP[control]
    at = AppTest.from_file("app.py", default_timeout=300)
    at.query_params["kind"] = kind
    at.run()
    at.switch_page("app_pages/graph_builder.py").run()
    at.radio(key="kind").set_value(kind).run()
    times = []
    TOTALS.clear()
    for i in range(steps):
        s = at.slider(key=key)
        s.set_value(round(s.value + step, 2) if isinstance(step, float) else s.value + step)
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
    out[control] = {"script_s_median": round(statistics.median(times), 4), "script_s_max": round(max(times), 4),
                    "parts_s_per_step": {k: round(v / steps, 4)
                                         for k, v in sorted(TOTALS.items(), key=lambda kv: -kv[1])},
                    "chart_json_kB": [round(len(c.proto.spec) / 1e3, 1) for c in at.get("plotly_chart")]}
print("RESULT " + json.dumps(out))
"""


def server_side(root: str, controls: list[str], steps: int, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SERVER_SIDE, json.dumps(controls), str(steps)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.graph_builder_steps", description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose app.py is served (default: this one)")
    ap.add_argument("--steps", type=int, default=15, help="ArrowRight presses per control")
    ap.add_argument("--controls", default="sigma,k,digit", help="comma list of: " + ", ".join(CONTROLS))
    ap.add_argument("--shots", default=None, help="a folder for screenshots of the page (none by default)")
    ap.add_argument("--no-server-side", action="store_true", help="skip the AppTest/cProfile breakdown")
    args = ap.parse_args()
    import os

    controls = [c.strip() for c in args.controls.split(",") if c.strip()]
    unknown = [c for c in controls if c not in CONTROLS]
    if unknown:
        ap.error(f"unknown control {unknown[0]!r}: choose from {', '.join(CONTROLS)}")
    data = tempfile.mkdtemp(prefix="graphconv-gbsteps-")
    env = {"GRAPHCONV_DATA_DIR": data, "GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "0"}
    head = subprocess.run(
        ["git", "-C", args.root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    with open(Path(data) / "server.log", "w") as log:
        server, url = start_app(args.root, env=env, log=log, timeout=120)
        print(json.dumps({"root": args.root, "head": head, "server": url, "steps": args.steps}), flush=True)
        t0 = time.perf_counter()
        try:
            result = {
                "browser": browser_steps(
                    url, controls, args.steps, Path(args.shots) if args.shots else None, server.pid
                )
            }
        finally:
            server.terminate()
            server.wait(20)
    if not args.no_server_side:
        result["server_side"] = server_side(args.root, controls, args.steps, {**os.environ, **env})
        for control, r in result["server_side"].items():
            print(json.dumps({"control": control, "server_side": r}), flush=True)
    print(
        json.dumps(
            {
                "summary": {
                    c: {
                        "until_idle_median_s": r["until_idle_s"].get("median"),
                        "until_idle_p95_s": r["until_idle_s"].get("p95"),
                        "rerun_median_s": r["rerun_s"].get("median"),
                        "browser_after_rerun_median_s": r["browser_after_rerun_s"].get("median"),
                        "browser_busy_median_s": r["browser_busy_s"].get("median"),
                        "cpu_server_median_s": r["cpu_server_s"].get("median"),
                        "cpu_browser_median_s": r["cpu_browser_s"].get("median"),
                        "bytes_per_step": r["bytes_per_step"],
                    }
                    for c, r in result["browser"].items()
                },
                "seconds": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
