"""Load test: many browser sessions press Start at once while others browse, on one app server in quick mode.

Serves the app (``GRAPHCONV_QUICK=1``, a fresh temporary data folder), opens one headless Chromium with one
browser context per session (each context has its own XSRF cookie, so the app sees a separate visitor):

* ``--sessions`` contexts open ``/train`` with the default settings (ChebNet; ``--epochs`` sets the epochs in
  the link) and wait until each page has rendered and is idle; then all press **Start** together. Each click's
  time is taken in the page (a capturing click listener) and their spread reported;
* ``--browsers`` more contexts browse meanwhile: on the Graph Builder they move the digit slider with the
  keyboard and time each step from the key press until the figure shows the new digit and the page is idle
  again (Streamlit's ``data-test-script-state`` back to ``notRunning``), then switch to the Playground and back
  through the sidebar, until every run has ended.

It reads the run store (``<data>/runs.db``) until every run has ended and reports: the time from the first
click until the last run ended, runs lost (ended failed / interrupted / stopped, or a click that made no run),
clicks refused by the per-session limit (``GRAPHCONV_SESSION_RUNS``), the peak proportional set size (PSS) of
the server alone and of the server with its forkserver and workers (sampled every 0.25 s), and the Graph
Builder's slider reactions while runs trained. Plain lines, or one JSON object with ``--json``. Not a test
(``tests/browser/test_load.py`` runs a small one); the figures depend on what else the machine runs.

    python -m benchmarks.load_test                   # 8 sessions press Start, 2 browse
    python -m benchmarks.load_test --sessions 4 --browsers 1 --epochs 1 --max-runs 1 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.browser_helpers import ROOT, PssSampler, descendants, start_app

CHROMIUM = os.environ.get("GRAPHCONV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    # background tabs of one browser must keep running their timers and sockets like separate visitors
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TERMINAL = ("finished", "failed", "stopped", "interrupted")
LOST = ("failed", "stopped", "interrupted")
# in each Train page: the time of the first click on its Start button, ms since the epoch (same clock in every page)
CLICK_RECORDER = """() => { window.__startClickAt = null;
  document.addEventListener('click', e => {
    const b = e.target.closest && e.target.closest('button');
    if (b && b.innerText.includes('Start') && window.__startClickAt === null)
      window.__startClickAt = performance.timeOrigin + performance.now();
  }, true); }"""


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_s": round(statistics.median(values), 3) if values else None,
        "max_s": round(max(values), 3) if values else None,
        "min_s": round(min(values), 3) if values else None,
    }


async def _new_page(browser, timeout_ms: int, errors: list[str]):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
    return page


async def _open_train(page, url: str, epochs: int | None, seed: int | None = None) -> None:
    query = "&".join(([f"epochs={epochs}"] if epochs else []) + ([f"seed={seed}"] if seed is not None else []))
    await page.goto(f"{url}/train" + (f"?{query}" if query else ""))
    await page.get_by_role("button", name="Start").first.wait_for()
    await page.wait_for_selector(IDLE)
    await page.evaluate(CLICK_RECORDER)


async def _open_builder(page, url: str) -> None:
    await page.goto(f"{url}/?kind=grid")
    await page.get_by_text("Directed edges").first.wait_for()
    await page.wait_for_selector(IDLE)


async def _shown(page, text: str, exact: bool = False) -> None:
    """Wait until ``text`` shows; raise ``RuntimeError`` with the page's exception if Streamlit shows one first."""
    error = page.locator('[data-testid="stException"]')
    await page.get_by_text(text, exact=exact).or_(error).first.wait_for()
    if await error.count():
        shown = " ".join((await error.first.inner_text()).split())
        raise RuntimeError(f"waiting for {text!r}, the page showed: {shown[:400]}")


async def _slider_step(page) -> dict[str, float]:
    """Move the Graph Builder's digit slider one step with the keyboard; seconds until the figure shows the new
    digit (``figure_s``) and until the page is idle again (``settled_s``)."""
    await page.wait_for_selector(IDLE)
    digit = int(await page.evaluate("() => new URLSearchParams(location.search).get('digit') || '0'"))
    slider = page.get_by_role("slider").first  # the digit slider comes first in the sidebar
    await slider.focus()
    key, target = ("ArrowRight", digit + 1) if digit < 900 else ("ArrowLeft", digit - 1)
    t0 = time.perf_counter()
    start = time.time()
    await page.keyboard.press(key)
    await _shown(page, f"8-neighbour grid · digit #{target}", exact=True)
    figure = time.perf_counter() - t0
    await page.wait_for_selector(IDLE)
    return {"at": start, "figure_s": figure, "settled_s": time.perf_counter() - t0}


async def _switch(page, title: str, ready_text: str) -> float:
    """Go to page ``title`` through the sidebar navigation; seconds until ``ready_text`` shows and the page is idle."""
    t0 = time.perf_counter()
    await page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    await _shown(page, ready_text)
    await page.wait_for_selector(IDLE)
    return time.perf_counter() - t0


async def _browse(page, done: asyncio.Event, state: dict, steps: int) -> None:
    """Until ``done``: ``steps`` slider moves on the Graph Builder, then the Playground and back."""
    while not done.is_set():
        for _ in range(steps):
            if done.is_set():
                return
            state["slider"].append(await _slider_step(page))
            await asyncio.sleep(0.3)  # a visitor looks at the result before the next step
        if done.is_set():
            return
        state["playground_s"].append(await _switch(page, "Playground", "Bring your own digit"))
        await asyncio.sleep(0.5)
        state["graph_builder_s"].append(await _switch(page, "Graph Builder", "Directed edges"))


async def _outcome(page, timeout_ms: int) -> tuple[int | None, str | None]:
    """(run id, None) once the page's URL names the run its click made; (None, message) for a shown error;
    (None, None) when neither came within ``timeout_ms``."""
    try:
        await page.wait_for_function(
            "() => new URLSearchParams(location.search).has('run') || "
            "document.querySelector('[data-testid=stAlertContentError]') !== null",
            timeout=timeout_ms,
        )
    except Exception:  # noqa: BLE001 - a Playwright timeout: the click made neither a run nor a message
        return None, None
    run = await page.evaluate("() => new URLSearchParams(location.search).get('run')")
    if run and run.isdigit():
        return int(run), None
    return None, await page.locator('[data-testid="stAlertContentError"]').first.inner_text()


async def _drive(
    url: str,
    data: Path,
    state: dict,
    sessions: int,
    browsers: int,
    epochs: int | None,
    steps: int,
    page_timeout_ms: int,
    leave: bool = False,
    own_seeds: bool = False,
) -> None:
    from playwright.async_api import async_playwright

    from core.training.store import RunStore

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            errors = state["page_errors"]
            trains = [await _new_page(browser, page_timeout_ms, errors) for _ in range(sessions)]
            browses = [await _new_page(browser, page_timeout_ms, errors) for _ in range(browsers)]
            t0 = time.perf_counter()
            await asyncio.gather(
                *(_open_train(p, url, epochs, i if own_seeds else None) for i, p in enumerate(trains)),
                *(_open_builder(p, url) for p in browses),
            )
            state["pages_ready_s"] = round(time.perf_counter() - t0, 1)
            state["phase"] = "clicking"
            buttons = [p.get_by_role("button", name="Start").first for p in trains]
            await asyncio.gather(*(b.click() for b in buttons))
            state["click_at"] = [await p.evaluate("() => window.__startClickAt") for p in trains]
            done = asyncio.Event()
            browsing = [asyncio.create_task(_browse(p, done, state, steps)) for p in browses]
            state["phase"] = "waiting for the clicks' runs"
            outcomes = await asyncio.gather(*(_outcome(p, 60_000) for p in trains))
            state["run_ids"] = [run for run, _ in outcomes]
            state["click_errors"] = [msg for _, msg in outcomes]
            if leave:  # as on a hosted demo: the visitors' browsers, on their own machines, draw nothing here
                await asyncio.gather(*(p.goto("about:blank") for p in trains))
                watching = []
            else:  # each session's page shows its run's result: when, in wall-clock ms (as the click times)

                async def result_shown(page) -> float | None:
                    try:
                        await page.get_by_text("Finished: test accuracy").first.wait_for(timeout=900_000)
                    except Exception:  # noqa: BLE001 - a timeout: this session never saw its result
                        return None
                    return time.time() * 1000

                watching = [asyncio.create_task(result_shown(p)) for p in trains]
            state["phase"] = "training"
            store = RunStore(data / "runs.db")
            while True:
                runs = store.list_runs()
                state["runs"] = runs
                if runs and all(r["status"] in TERMINAL for r in runs):
                    break
                if not runs and not any(state["run_ids"]):
                    break  # no click made a run: nothing to wait for
                await asyncio.sleep(0.25)  # bounded by the total timeout
            state["all_ended_at"] = max((r["updated_at"] for r in runs), default=None)
            state["result_shown_at"] = list(await asyncio.gather(*watching)) if watching else []
            done.set()
            state["phase"] = "checking the pages"
            for task in browsing:  # each ends after its current step
                try:
                    await task
                except Exception as exc:  # noqa: BLE001 - reported, not raised: the rest of the figures still count
                    state["browse_failures"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}")

            async def shows_finish(page, run: int) -> bool:
                try:
                    if leave:
                        await page.goto(f"{url}/train?run={run}")
                    await page.get_by_text("Finished: test accuracy").first.wait_for(timeout=30_000)
                    return True
                except Exception:  # noqa: BLE001 - a timeout: reported as a page that did not show the end
                    return False

            finished = await asyncio.gather(
                *(shows_finish(p, run) for p, run in zip(trains, state["run_ids"], strict=True) if run)
            )
            state["train_pages_without_finish"] = sum(not f for f in finished)
            shown = [await p.locator('[data-testid="stException"]').all_inner_texts() for p in trains + browses]
            state["streamlit_exceptions"] = sum(len(texts) for texts in shown)
            state["exception_texts"] = [" ".join(t.split())[:400] for texts in shown for t in texts][:5]
            state["phase"] = "done"
        finally:
            await browser.close()


def _server_tracebacks(log: Path) -> list[str]:
    """The exception line that ends each traceback in the server's log."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = next((x for x in lines[i + 1 :] if x.strip() and not x.startswith((" ", "\t"))), "?")
            found.append(end[:300])
    return found


def _report(state: dict, sessions: int, browsers: int, sampler: PssSampler, env: dict) -> dict[str, Any]:
    clicks = [c for c in state.get("click_at") or [] if c is not None]
    runs = state.get("runs") or []
    run_ids = state.get("run_ids") or []
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    errors = state.get("click_errors") or []
    refused = sum(1 for m in errors if m and "GRAPHCONV_SESSION_RUNS" in m)
    no_run = sum(1 for run in run_ids if run is None) - refused
    first_click = min(clicks) / 1000 if clicks else None
    ended = state.get("all_ended_at")
    by_id = {r["id"]: r for r in runs}
    created = [
        by_id[run]["created_at"] - c / 1000
        # strict=False: a load test cut short between the clicks and their outcomes has click times and no run ids
        for run, c in zip(run_ids, state.get("click_at") or [], strict=False)
        if run in by_id and c is not None
    ]
    during = [s for s in state["slider"] if ended is None or s["at"] <= ended]
    slider = {
        **_stats([s["settled_s"] for s in during]),
        "figure_median_s": _stats([s["figure_s"] for s in during])["median_s"],
        "figure_max_s": _stats([s["figure_s"] for s in during])["max_s"],
        "steps_after_runs_ended": len(state["slider"]) - len(during),
    }
    accuracies = [r["summary"].get("test_accuracy") for r in runs if r["status"] == "finished" and r.get("summary")]
    # click -> the session sees its result: in its page (it stayed), or the run's end (it left and comes back later)
    shown_at = state.get("result_shown_at") or []
    if shown_at:
        waits = [
            (at - c) / 1000 if at is not None and c is not None else None
            for at, c in zip(shown_at, state.get("click_at") or [], strict=False)
        ]
    else:
        waits = [
            by_id[run]["updated_at"] - c / 1000 if run in by_id and c is not None else None
            for run, c in zip(run_ids, state.get("click_at") or [], strict=False)
        ]
    seen = [w for w in waits if w is not None]
    return {
        "sessions": sessions,
        "browsing_sessions": browsers,
        "quick": True,
        "max_runs": env.get("GRAPHCONV_MAX_RUNS") or "app default (2)",
        "epochs": state.get("epochs") or "page default (3 in quick mode)",
        "completed": state.get("phase") == "done",
        "phase": state.get("phase"),
        "server_start_s": state.get("server_start_s"),
        "pages_ready_s": state.get("pages_ready_s"),
        "clicks_recorded": len(clicks),
        "click_spread_s": round((max(clicks) - min(clicks)) / 1000, 3) if clicks else None,
        "click_to_run_stored_max_s": round(max(created), 3) if created else None,
        "runs_stored": len(runs),
        "runs_finished": statuses.get("finished", 0),
        "statuses": statuses,
        "distinct_sessions_in_store": len({r.get("session") for r in runs}),
        "time_to_all_finished_s": round(ended - first_click, 1)
        if ended and first_click and all(r["status"] in TERMINAL for r in runs)
        else None,
        "runs_lost": sum(statuses.get(s, 0) for s in LOST) + max(no_run, 0),
        "clicks_without_run": max(no_run, 0),
        "refused_by_session_limit": refused,
        "other_click_errors": [m for m in errors if m and "GRAPHCONV_SESSION_RUNS" not in m],
        "distinct_runs_shown": len({run for run in run_ids if run}),
        "click_to_result_shown": {**_stats(seen), "sessions_without": len(waits) - len(seen)},
        "test_accuracy_min": round(min(accuracies), 4) if accuracies else None,
        "test_accuracy_max": round(max(accuracies), 4) if accuracies else None,
        "peak_pss_total_mb": round(sampler.peak_total_kb / 1024, 1),
        "peak_pss_server_mb": round(sampler.peak_own_kb / 1024, 1),
        "pss_samples": sampler.samples,
        "max_processes": sampler.max_processes,
        "slider_while_training": slider,
        "playground_switch": _stats(state["playground_s"]),
        "graph_builder_switch": _stats(state["graph_builder_s"]),
        "train_pages_without_finish": state.get("train_pages_without_finish"),
        "page_errors": state["page_errors"][:10],
        "streamlit_exceptions": state.get("streamlit_exceptions"),
        "exception_texts": state.get("exception_texts", []),
        "browse_failures": state["browse_failures"],
        "server_tracebacks": state.get("server_tracebacks", [])[:10],
        "error": state.get("error"),
    }


def _stop_server(server, kids: list[int]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:  # it did not stop in time
        server.kill()
        server.wait(10)
    for pid in kids:  # the forkserver and workers it started, if any outlived it
        with contextlib.suppress(OSError):  # it has gone already
            os.kill(pid, signal.SIGKILL)


def run_load_test(
    sessions: int = 8,
    browsers: int = 2,
    epochs: int | None = None,
    max_runs: int | None = None,
    timeout_s: float = 900.0,
    slider_steps: int = 3,
    page_timeout_s: float = 180.0,
    keep_data: bool = False,
    server_log: Path | None = None,
    leave: bool = False,
    own_seeds: bool = False,
) -> dict[str, Any]:
    """Serve the app, drive the sessions (see the module's docstring) and return the report as a dict.

    Ends by itself within about ``timeout_s`` (plus the server's start, at most 120 s, and clean-up): the
    report then has ``completed: false`` and the phase it stopped in. The server, its workers and the browser
    are stopped and the data folder removed (unless ``keep_data``) before it returns; the server's output is
    kept in ``server_log`` when given. ``own_seeds``: session i trains seed i (different runs that train side by side),
    instead of everyone the same settings (one run, reused by every session)."""
    data = Path(tempfile.mkdtemp(prefix="graphconv-load-"))
    log_path = data.parent / f"{data.name}-server.log"
    env = {
        "GRAPHCONV_QUICK": "1",
        "GRAPHCONV_DATA_DIR": str(data),
        "GRAPHCONV_MAX_RUNS": str(max_runs) if max_runs else "",  # empty: the app's own default
        "GRAPHCONV_STARTER": "0",
    }  # only the sessions' runs: the Playground visits must not add the starter set
    state: dict[str, Any] = {
        "slider": [],
        "playground_s": [],
        "graph_builder_s": [],
        "page_errors": [],
        "browse_failures": [],
        "epochs": epochs,
        "phase": "starting the server",
    }
    sampler: PssSampler | None = None
    server = None
    log = open(log_path, "w")  # noqa: SIM115 - the server's log: closed in the finally below, before it is read back
    try:
        t0 = time.perf_counter()
        server, url = start_app(ROOT, env, log=log, timeout=120)
        state["server_start_s"] = round(time.perf_counter() - t0, 1)
        sampler = PssSampler(server.pid, 0.25)
        sampler.start()
        state["phase"] = "opening the pages"
        asyncio.run(
            asyncio.wait_for(
                _drive(
                    url,
                    data,
                    state,
                    sessions,
                    browsers,
                    epochs,
                    slider_steps,
                    int(page_timeout_s * 1000),
                    leave,
                    own_seeds,
                ),
                timeout_s,
            )
        )
    except TimeoutError as exc:  # the total timeout, or the server's start (start_app's own message)
        state["error"] = str(exc) or f"total timeout of {timeout_s:g} s reached"
    except Exception as exc:  # noqa: BLE001 - reported with the figures gathered so far
        state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    finally:
        if sampler is not None:
            sampler.stop()
        if server is not None:
            _stop_server(server, descendants(server.pid))
        log.close()
        state["server_tracebacks"] = _server_tracebacks(log_path)
        if server_log:
            shutil.copyfile(log_path, server_log)
        log_path.unlink(missing_ok=True)
        if not keep_data:
            shutil.rmtree(data, ignore_errors=True)
    report = _report(state, sessions, browsers, sampler or PssSampler(0), env)
    if keep_data:
        report["data_dir"] = str(data)
    return report


def _lines(r: dict[str, Any]) -> list[str]:
    s = r["slider_while_training"]
    return [
        f"sessions pressing Start: {r['sessions']}, browsing: {r['browsing_sessions']}, max runs: {r['max_runs']}, "
        f"epochs: {r['epochs']} (quick mode)",
        f"completed: {r['completed']}" + (f" (stopped while {r['phase']}: {r['error']})" if r["error"] else ""),
        f"server answered after {r['server_start_s']} s; all pages ready after {r['pages_ready_s']} s",
        f"Start clicks: {r['clicks_recorded']} recorded, spread {r['click_spread_s']} s; "
        f"slowest click to stored run {r['click_to_run_stored_max_s']} s",
        f"runs: {r['runs_stored']} stored, {r['runs_finished']} finished, statuses {r['statuses']}, "
        f"{r['distinct_sessions_in_store']} distinct sessions",
        f"time from the first click until every run ended: {r['time_to_all_finished_s']} s",
        f"runs the clicks were shown: {r['distinct_runs_shown']} (identical settings and seed: one run, reused); "
        f"click to result shown: median {r['click_to_result_shown']['median_s']} s, slowest "
        f"{r['click_to_result_shown']['max_s']} s, sessions that never saw it "
        f"{r['click_to_result_shown']['sessions_without']}",
        f"runs lost: {r['runs_lost']} (clicks without a run: {r['clicks_without_run']}); "
        f"refused by the session limit: {r['refused_by_session_limit']}",
        f"test accuracy: {r['test_accuracy_min']} to {r['test_accuracy_max']}",
        f"peak PSS: server + forkserver + workers {r['peak_pss_total_mb']} MB, "
        f"server alone {r['peak_pss_server_mb']} MB ({r['pss_samples']} samples, up to {r['max_processes']} processes)",
        f"Graph Builder slider while runs trained: {s['count']} steps, settled median {s['median_s']} s, "
        f"slowest {s['max_s']} s (figure redrawn: median {s['figure_median_s']} s, slowest {s['figure_max_s']} s)",
        f"switch to the Playground: median {r['playground_switch']['median_s']} s, slowest "
        f"{r['playground_switch']['max_s']} s; back to the Graph Builder: median "
        f"{r['graph_builder_switch']['median_s']} s, slowest {r['graph_builder_switch']['max_s']} s",
        f"problems: train pages without 'Finished' {r['train_pages_without_finish']}, page errors "
        f"{len(r['page_errors'])}, Streamlit exceptions {r['streamlit_exceptions']}, browse failures "
        f"{r['browse_failures']}, server tracebacks {r['server_tracebacks']}, other click errors "
        f"{r['other_click_errors']}",
        *(f"shown exception: {t}" for t in r["exception_texts"]),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.load_test", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8, help="browser sessions that press Start together (default 8)")
    ap.add_argument("--browsers", type=int, default=2, help="browser sessions that browse meanwhile (default 2)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the page's, 3 in quick mode)")
    ap.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="GRAPHCONV_MAX_RUNS for the server (default: the app's own default, 2)",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before the test gives up (default 900)")
    ap.add_argument("--server-log", type=Path, default=None, help="keep the server's output in this file")
    ap.add_argument(
        "--leave",
        action="store_true",
        help="the Train pages leave right after Start (their browsers elsewhere, as on a hosted demo) and "
        "come back at the end to check the result",
    )
    ap.add_argument(
        "--own-seeds",
        action="store_true",
        help="session i trains seed i: different runs side by side (default: everyone the same settings, which "
        "trains one run that every session is shown)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of plain lines")
    args = ap.parse_args()
    report = run_load_test(
        args.sessions,
        args.browsers,
        args.epochs,
        args.max_runs,
        args.timeout,
        server_log=args.server_log,
        leave=args.leave,
        own_seeds=args.own_seeds,
    )
    print(json.dumps(report) if args.json else "\n".join(_lines(report)))
    sys.exit(0 if report["completed"] and report["runs_lost"] == 0 else 1)


if __name__ == "__main__":
    main()
