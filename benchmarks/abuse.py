"""Abuse test: what scripted visitors of a public server can make it do, and what an honest visitor sees meanwhile.

Serves the app once in public quick mode (``GRAPHCONV_PUBLIC=1``, ``GRAPHCONV_QUICK=1``, a fresh temporary data
folder) with ``benchmarks.browser_helpers.start_app`` and drives one headless Chromium at it, only on 127.0.0.1.
A fresh browser context has no cookies, so the app sees a new visitor (a made-up identity) in each:

1. **the sigma walk**: one context per normalisation (``gcn`` and ``sym``) opens the Graph Builder on a dense
   Gaussian graph at sigma 0.01 and moves the sigma slider one step (0.01) at a time: ``--sigma-values`` distinct
   graphs per normalisation, each a new entry for the server's graph cache;
2. **the sweep flood**: ``--identities`` made-up identities (``--concurrency`` at once) each open the Compare page
   from a link that fills the sweep form with the largest sweep the server accepts (12 runs, the most epochs, up to
   the form's 20, whose estimated time fits the budget: worked out with ``core.training.cost`` in a subprocess with
   the server's settings before the run) and press **Launch sweep**;
3. **over-budget runs** from every entry point, each from its own identity: Train links then **Start** (forged
   ``model=escnn&group=D16&hidden=512&layers=6&epochs=500``, whose forged values fall back to the defaults, so it is
   expected to be refused only when escnn D16 at its defaults is over the budget; and the widgets' own maxima), the
   Compare search box (``se_space=group=D16; hidden=512; layers=6; epochs=500`` with a grid sampler, and with the
   page's defaults) then **Launch search**, the first of ``OVER_BUDGET_SWEEPS`` the budget refuses then **Launch
   sweep**, the first lesson refused in full mode then **Run this lesson**; each refusal is timed from the click
   to the error element (browser) and from the click's rerun message to the first frame carrying the message;
4. **forged link values** on every page: choices that are not among the options, markdown and HTML links to
   ``evil.example``, run ids that do not exist, numbers out of range;
5. meanwhile **an honest visitor** (its own context, keeping its cookie) opens the Train page, waits until the
   flood has begun, presses **Start** on the default settings (again every 10 s while the server says it is busy),
   then browses the Graph Builder (a few sigma steps on another normalisation).

A sampler thread reads, every 0.2 s, the server's resident size (``VmRSS``; ``VmHWM`` at the end), the proportional
set size of the server and all its descendants (forkserver, workers), and the run store: runs queued (the queue's
length), runs seen (to catch one that vanishes) and the honest run's first test accuracy.

Reaction times come from the page's websocket. The server's own time for a script run is its page profile's
``exec_time`` (Streamlit sends one after every run while ``browser.gatherUsageStats`` is on, which this script turns
on for its server only; ``--no-profile`` keeps the stock settings). The rerun's round trip runs from the frame
carrying the browser's rerun request to the frame saying the script finished, as the page's thread records them (so
it includes any delay of that thread). "Settled" is the browser's time, from the key press to the page being idle
again. Chromium resolves no host but 127.0.0.1, so nothing leaves the machine.

Every page visited is checked for tracebacks (an exception element, "Traceback", an exception class's name in the
text of any frame) and for rendered links (``<a href>``) to ``evil.example`` or ``javascript:``; the server's log for
tracebacks. Runs lost: runs that ended failed, interrupted or stopped (nothing here stops a run) or vanished from
the store, and accepted launches without their runs. Prints a table of figures beside their targets, or one JSON
object with ``--json``. The server, its workers and the browser are stopped and the data removed at the end.

    python -m benchmarks.abuse                 # the full run (about 10-15 min on 2 cores)
    python -m benchmarks.abuse --quick --json  # the suite's scale (tests/browser/test_abuse.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from benchmarks.browser_helpers import ROOT, PssSampler, descendants, start_app
from benchmarks.load_test import CHROMIUM, CHROMIUM_ARGS, IDLE, _server_tracebacks, _stop_server

ERROR = '[data-testid="stAlertContentError"]'
ATTACKER = "evil.example"
EVIL_MD = f"[claim your prize](https://{ATTACKER}/md)"
EVIL_HTML = f'<a href="https://{ATTACKER}/html">claim</a>'
EVIL_JS = "[x](javascript:alert(1))"
SEARCH_SPACE = "group=D16; hidden=512; layers=6; epochs=500"  # issue 29's over-budget search
BUDGET = "this server allows"  # in every BudgetError's message (core/training/cost.py)
BUSY = "the server is busy"  # QueueFullError's message for a full queue (core/training/runner.py)
LIMITS = ("GRAPHCONV_SESSION_RUNS", "GRAPHCONV_ADDRESS_RUNS")  # a visitor's own limits
LOST = ("failed", "interrupted", "stopped")  # nothing here stops a run: each of these is a run lost
# Chromium resolves no host name but the server's address: every request stays on 127.0.0.1 (the evil.example links
# are never followed, and the frontend's usage statistics, on with ``profile``, go nowhere)
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
SWEEP_VALUES = 12  # core.training.sweep.MAX_SWEEP_RUNS: a sweep of one setting over 12 values
# sweeps the Compare form can hold, from the mildest: the plan takes the first the budget refuses
OVER_BUDGET_SWEEPS = (
    {
        "sw_model": "cheb",
        "sw_graph": "grid",
        "sw_epochs": "20",
        "sw_param": "seed",
        "sw_values": ", ".join(map(str, range(SWEEP_VALUES))),
    },
    {
        "sw_model": "cheb",
        "sw_graph": "grid",
        "sw_epochs": "20",
        "sw_param": "hidden",
        "sw_values": "8, 16, 32, 64, 128, 192, 256, 320, 384, 448, 512",
    },
    {"sw_model": "escnn", "sw_epochs": "20", "sw_param": "seed", "sw_values": ", ".join(map(str, range(SWEEP_VALUES)))},
)
# what any frame of a visited page must not show: a traceback or the name of an exception class
INSPECT_JS = r"""() => {
  const text = document.body ? document.body.innerText : '';
  const bad =
    /Traceback \(most recent call last\)|\b(?:[A-Z][A-Za-z0-9]*(?:Error|Exception)|StopIteration|KeyboardInterrupt)\b/g;
  const hits = [];
  for (const m of text.matchAll(bad)) hits.push(text.slice(Math.max(0, m.index - 60), m.index + m[0].length + 60));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href') || '')
      .filter(h => h.includes('evil.example') || /^\s*javascript:/i.test(h));
  return {hits: hits.slice(0, 5), links: links.slice(0, 5),
          exceptions: document.querySelectorAll('[data-testid="stException"]').length};
}"""


@dataclass(frozen=True)
class Scale:
    """How much abuse: the full run's defaults; ``QUICK`` is the suite's."""

    sigma_values: int = 100  # distinct sigma values per normalisation (0.01, 0.02, ...)
    norms: tuple[str, ...] = ("gcn", "sym")
    identities: int = 50  # made-up identities launching the largest sweep
    concurrency: int = 3  # identities' browser contexts at once
    forged_per_page: int | None = None  # forged links per page (None: all of them)
    honest_sigma_steps: int = 5
    honest_retry_s: float = 10.0  # the honest visitor presses Start again this long after a busy message
    honest_waits: bool = True  # the drive waits (until its deadline) for the honest run's first test accuracy
    browser_nice: int = 0  # Chromium's niceness: above 0 it yields the CPUs to the server, as remote browsers do
    timeout_s: float = 840.0  # the whole drive; loops end early as it nears


# 260 s: the Equivariance page measures its runs as it opens (issue 30), so its forged links each cost a measurement
# the first time; with 170 s the forged-links phase ran out of time on a loaded machine (6 of 13 pages visited)
QUICK = Scale(
    sigma_values=10, identities=5, forged_per_page=1, honest_sigma_steps=3, honest_waits=False, timeout_s=260.0
)


def forged_links() -> dict[str, list[dict[str, Any]]]:
    """Page path -> the query strings a forger sends it (first one: the suite's one per page)."""
    return {
        "graph": [
            {"kind": EVIL_MD, "norm": "gcn"},
            {"kind": "gaussian", "gaussian_sigma": "nan", "norm": EVIL_HTML},
            {"data": "../../etc/passwd", "digit": "99999999999999999999"},
            {"kind": "knn", "knn_k": "1e400", "row": "-5", "col": EVIL_JS},
        ],
        "train": [
            {"model": EVIL_MD, "hide": EVIL_HTML},
            {"model": "cheb", "hidden": "7", "lr": "5", "batch_size": "-1", "data": EVIL_HTML},
            {"run": "999999999"},
            {"model": "escnn", "group": "D17", "schedule_groups": EVIL_MD},
            {"run": "1e9", "seed": "9" * 40},
        ],
        "compare": [
            {"sw_model": EVIL_MD, "sw_param": "__class__", "f_model": ["nope", EVIL_HTML]},
            {"sw_show": "sweep:999", "se_show": EVIL_HTML, "f_status": EVIL_MD},
            {"cmp_runs": "999999,1,2,3", "f_data": ["evil"]},
            {"se_sampler": "evil", "se_trials": "999", "sw_epochs": "-3"},
        ],
        "results": [{"run": "999999"}, {"run": EVIL_MD}, {"run": "1", "r_class": "evil", "r_perplexity": "3"}],
        "playground": [
            {"pg_runs": "999999,888888"},
            {"pg_src": EVIL_MD, "pg_ink": "AAAA"},
            {"pg_data": "evil", "pg_digit": "-1", "pg_inside": "424242"},
        ],
        "filters": [
            {"f_src": EVIL_MD},
            {"f_src": "learned", "f_run": "999999"},
            {"f_src": "gat", "f_grun": EVIL_HTML},
            {"f_kind": "evil", "f_norm": "evil", "f_ms": "7"},
        ],
        "node": [{"nd_run": "999999"}, {"nd_src": EVIL_MD, "nd_ink": "A" * 523}, {"nd_layer": "99", "nd_out": "-1"}],
        "spectral": [{"s_kind": EVIL_MD}, {"s_run": "999999", "s_layer": "99"}, {"s_norm": "evil", "s_k": "7"}],
        "equivariance": [
            {"group": EVIL_MD},
            {"trio": "999999,1,2"},
            {"eq_open": "999999", "runs": EVIL_HTML, "images": "7"},
        ],
        "groups": [{"family": EVIL_MD}, {"n": "999", "element": "evil"}],
        "karate": [{"k_model": EVIL_MD}, {"k_lr": "7", "k_epochs": "5"}],
        "lessons": [{"lesson": EVIL_MD}, {"ls_show": "lesson:evil:x", "ls_mode": "evil"}],
        "": [{"kind": EVIL_MD}],  # the start page forwards an old link to the Graph Builder
    }


# ---------------------------------------------------------------- the plan: limits and the largest sweep
def plan() -> dict[str, Any]:
    """The server's limits, the largest sweep it accepts and the over-budget entries' refusals, computed with this
    process's environment (run it with the server's: ``--plan`` in a subprocess)."""
    from core.analysis.lessons import LESSONS, launch_plan
    from core.config import QUICK_EPOCHS, limits, quick_mode
    from core.errors import UserInputError
    from core.training import cost
    from core.training.cpu_share import default_max_runs
    from core.training.runs import RunConfig
    from core.training.search import parse_space, search_configs
    from core.training.sweep import grid_configs, parse_values

    lim = limits()
    raw = os.environ.get("GRAPHCONV_MAX_RUNS", "").strip()
    slots = max(1, int(raw)) if raw else default_max_runs()
    sweep = None
    for epochs in range(20, 0, -1):  # the Compare page's epochs slider: 1..20
        configs = grid_configs(
            RunConfig.make(model="cheb", graph="grid", epochs=epochs), "seed", list(range(SWEEP_VALUES))
        )
        try:
            costs = cost.check_all(configs)
        except cost.BudgetError:
            continue
        sweep = {
            "model": "cheb",
            "graph": "grid",
            "param": "seed",
            "values": list(range(SWEEP_VALUES)),
            "epochs": epochs,
            "run_estimate_s": round(costs[0].seconds, 1),
            "total_estimate_s": round(sum(c.seconds for c in costs), 1),
        }
        break
    lesson = None
    for key, one in LESSONS.items():  # the first lesson refused in full mode: an entry point for over-budget runs
        if one.in_page:
            continue
        try:
            cost.check_all([cfg for cfg, _ in launch_plan(key, False)[1]])
        except cost.BudgetError:
            lesson = key
            break

    def refused(configs) -> bool:
        try:
            cost.check_all(configs)
        except cost.BudgetError:
            return True
        return False

    def sweep_base(c: dict[str, str]) -> RunConfig:
        """The run a sweep form ``c`` varies: its model and epochs, and its graph where the form names one."""
        graph: dict[str, Any] = {"graph": c["sw_graph"]} if "sw_graph" in c else {}
        return RunConfig.make(model=c["sw_model"], epochs=int(c["sw_epochs"]), **graph)

    def sweep_refused(c: dict[str, str]) -> bool:
        base = sweep_base(c)
        try:
            return refused(grid_configs(base, c["sw_param"], parse_values(c["sw_param"], c["sw_values"])))
        except UserInputError:  # a value this version does not take: not a budget refusal
            return False

    # an over-budget sweep the form can hold: the first of these the budget refuses
    big_sweep = next((c for c in OVER_BUDGET_SWEEPS if sweep_refused(c)), None)
    # the forged Train link: the page replaces the forged values by the widgets' defaults, the group stays
    forged_train = RunConfig.make(
        model="escnn", group="D16", epochs=QUICK_EPOCHS if quick_mode() else RunConfig.make().training.epochs
    )
    # the budget check alone, in this process (what each entry point's refusal costs the server)
    checks: dict[str, dict[str, Any]] = {}
    space = parse_space([p for p in SEARCH_SPACE.split(";") if p.strip()])
    for name, configs in (
        ("train link", [RunConfig.make(model="escnn", group="D16", hidden=128, layers=4, epochs=30)]),
        ("search box", search_configs(RunConfig.make(model="escnn", epochs=4), space, 1, "grid")),
        (
            "sweep",
            grid_configs(
                sweep_base(big_sweep),
                big_sweep["sw_param"],
                parse_values(big_sweep["sw_param"], big_sweep["sw_values"]),
            )
            if big_sweep
            else [],
        ),
    ):
        t0 = time.perf_counter()
        try:
            cost.check_all(configs)
            checks[name] = {"refused": False}
        except cost.BudgetError as err:
            checks[name] = {"refused": True, "message": str(err)[:200]}
        checks[name]["check_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return {
        "slots": slots,
        "queue_per_slot": lim.queue_per_slot,
        "queue_bound": slots * lim.queue_per_slot,
        "run_seconds": lim.run_seconds,
        "run_mb": lim.run_mb,
        "batch_seconds": lim.batch_seconds,
        "visitor_runs": lim.visitor_runs,
        "worker_mb": lim.worker_mb,
        "run_wall_s": lim.run_wall_s,
        "honest_wait_target_s": slots * lim.queue_per_slot * lim.run_seconds,
        "largest_sweep": sweep,
        "over_budget_lesson": lesson,
        "over_budget_sweep": big_sweep,
        "forged_train_link_refused": refused([forged_train]),
        "budget_checks": checks,
    }


def _plan_in(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.abuse", "--plan"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the sampler: memory and the run store
def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith(field + ":")), 0)
    except OSError:
        return 0


class Monitor(PssSampler):
    """``PssSampler`` plus the server's own resident size (``VmRSS``, ``VmHWM``) and the run store: the longest
    queue seen, every run seen (and its last status) and, for watched runs, when their first epoch was stored."""

    def __init__(self, pid: int, db: Path, every_s: float = 0.2):
        super().__init__(pid, every_s)
        self.db = db
        self.peak_rss_kb = self.hwm_kb = 0
        self.max_queued = self.max_queued_visitors = self.max_training = 0
        self.seen: dict[int, str] = {}
        self.first_epoch_at: dict[int, float] = {}  # run id -> time.time() its first test accuracy was seen
        self.running_at: dict[int, float] = {}  # run id -> time.time() it was first seen past 'queued'
        self.watched: set[int] = set()
        self.store_errors = 0
        self.cpu: list[tuple[float, float]] = []  # (monotonic time, the server's CPU seconds so far)
        self._conn: sqlite3.Connection | None = None

    def cpu_figures(self, window_s: float = 5.0) -> dict[str, Any]:
        """The server process's CPU seconds while sampled, its mean share of one core, and the busiest
        ``window_s`` (1.0 = one core all the time: a Python server runs one script thread at a time)."""
        if len(self.cpu) < 2:
            return {"cpu_s": None, "mean_cores": None, "busiest_cores": None}
        (t0, c0), (t1, c1) = self.cpu[0], self.cpu[-1]
        busiest, j = 0.0, 0
        for t, c in self.cpu:
            while t - self.cpu[j][0] > window_s:
                j += 1
            if t - self.cpu[j][0] >= window_s / 2:
                busiest = max(busiest, (c - self.cpu[j][1]) / (t - self.cpu[j][0]))
        return {
            "cpu_s": round(c1 - c0, 1),
            "mean_cores": round((c1 - c0) / max(t1 - t0, 1e-9), 2),
            "busiest_cores": round(busiest, 2),
            "window_s": window_s,
        }

    def watch(self, run_id: int) -> None:
        self.watched.add(run_id)

    def sample(self) -> None:
        super().sample()
        self.cpu.append((time.monotonic(), _cpu_s(self.pid)))
        self.peak_rss_kb = max(self.peak_rss_kb, _status_kb(self.pid, "VmRSS"))
        self.hwm_kb = max(self.hwm_kb, _status_kb(self.pid, "VmHWM"))
        if not self.db.exists():
            return
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.db, timeout=1.0, check_same_thread=False)
            rows = self._conn.execute("SELECT id, status, session FROM runs").fetchall()
            watched = [i for i in self.watched if i not in self.first_epoch_at]
            if watched:
                marks = ",".join("?" * len(watched))
                for (run_id,) in self._conn.execute(
                    f"SELECT DISTINCT run_id FROM metrics WHERE run_id IN ({marks}) AND test_accuracy IS NOT NULL",
                    watched,
                ):
                    self.first_epoch_at[run_id] = time.time()
        except sqlite3.Error:
            self.store_errors += 1
            return
        queued = [r for r in rows if r[1] == "queued"]
        self.max_queued = max(self.max_queued, len(queued))
        self.max_queued_visitors = max(self.max_queued_visitors, sum(r[2] is not None for r in queued))
        self.max_training = max(self.max_training, sum(r[1] == "running" for r in rows))
        for run_id, status, _ in rows:
            self.seen[run_id] = status
            if status != "queued" and run_id not in self.running_at:
                self.running_at[run_id] = time.time()

    def close(self) -> None:
        """Close the store's connection (after ``stop``)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---------------------------------------------------------------- a page and its websocket
class Wire:
    """The Streamlit websocket of one page: when the browser asked for a (whole-page) rerun, when a script run
    finished and when a frame carried one of ``MARKERS``; times are ``time.perf_counter()``."""

    MARKERS: ClassVar[dict[str, bytes]] = {"budget": BUDGET.encode(), "busy": BUSY.encode()}

    def __init__(self, page):
        self.reruns: list[float] = []
        self.finished: list[float] = []
        self.profiles: list[tuple[float, float]] = []  # (received, the script's own run time in s: exec_time)
        self.marks: list[tuple[float, str]] = []
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            ws.on("framesent", self._sent)
            ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        t = time.perf_counter()
        msg = BackMsg()
        try:
            msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        except Exception:  # noqa: BLE001 - not a BackMsg: nothing to time
            return
        if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.fragment_id:
            self.reruns.append(t)

    def _received(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        t = time.perf_counter()
        data = payload if isinstance(payload, bytes) else payload.encode()
        for name, marker in self.MARKERS.items():
            if marker in data:
                self.marks.append((t, name))
        if len(data) > 65536:  # a figure or a table: neither a script's end nor its profile
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(data)
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        kind = msg.WhichOneof("type")
        if kind == "script_finished" and msg.script_finished in (
            ForwardMsg.FINISHED_SUCCESSFULLY,
            ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
        ):
            self.finished.append(t)
        elif kind == "page_profile" and not msg.page_profile.is_fragment_run:
            self.profiles.append((t, msg.page_profile.exec_time / 1e6))

    async def finished_after(self, t0: float, timeout_s: float) -> float:
        """The time of the first whole script run finished after ``t0`` (``TimeoutError`` after ``timeout_s``)."""
        deadline = time.perf_counter() + timeout_s
        while True:
            done = next((t for t in self.finished if t >= t0), None)
            if done is not None:
                return done
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no script run finished within {timeout_s:g} s")
            await asyncio.sleep(0.02)

    async def reaction_after(self, t0: float, timeout_s: float) -> tuple[float, float]:
        """(rerun sent, script finished): the first rerun the browser asked for after ``t0`` and the first script
        run finished after it."""
        deadline = time.perf_counter() + timeout_s
        while True:
            sent = next((t for t in self.reruns if t >= t0), None)
            if sent is not None:
                return sent, await self.finished_after(sent, max(0.1, deadline - time.perf_counter()))
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the browser asked for no rerun within {timeout_s:g} s")
            await asyncio.sleep(0.02)

    def mark_after(self, t0: float, name: str) -> float | None:
        return next((t for t, n in self.marks if t >= t0 and n == name), None)

    async def script_time(self, sent: float, done: float) -> float | None:
        """The server's own time for the whole script run that ended at ``done`` (its page profile, sent just before
        the end; None when the server sends none: ``profile=False``)."""
        for _ in range(10):
            found = next((x for t, x in self.profiles if sent <= t <= done + 0.5), None)
            if found is not None or not self.profiles:
                return found
            await asyncio.sleep(0.02)
        return None


class Driver:
    """The shared state of one abuse run: the browser, the server's URL, the findings and the deadline."""

    def __init__(self, browser, url: str, scale: Scale, plan_: dict[str, Any], monitor: Monitor, state: dict):
        self.browser, self.url, self.scale, self.plan, self.monitor, self.state = (
            browser,
            url,
            scale,
            plan_,
            monitor,
            state,
        )
        self.deadline = time.perf_counter() + scale.timeout_s - 20  # loops stop here; the rest is for the checks
        self.flood_started = asyncio.Event()

    def left_s(self) -> float:
        return self.deadline - time.perf_counter()

    def mark(self, phase: str) -> None:
        """Note when ``phase`` ended, in seconds since the drive began."""
        self.state["timeline"][phase] = round(time.time() - self.state["t0"], 1)

    async def new_page(self, timeout_s: float = 120.0):
        context = await self.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(timeout_s * 1000)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.state["page_errors"].append(str(exc)[:200]))
        return context, page, Wire(page)

    async def open(self, page, wire: Wire, path: str, query: dict | None = None, timeout_s: float = 90.0) -> float:
        """Load ``path?query`` and wait for its first script run to finish and the page to be idle; seconds taken."""
        url = f"{self.url}/{path}" + (f"?{urlencode(query, doseq=True)}" if query else "")
        self.state["pages_visited"] += 1
        t0 = time.perf_counter()
        await page.goto(url, timeout=timeout_s * 1000)
        await wire.finished_after(t0, timeout_s)
        await page.wait_for_selector(IDLE, timeout=timeout_s * 1000)
        return time.perf_counter() - t0

    async def inspect(self, page, where: str) -> None:
        """Record tracebacks, exception names and injected links in every frame of ``page``."""
        for frame in page.frames:
            try:
                found = await frame.evaluate(INSPECT_JS)
            except Exception:  # noqa: BLE001 - a frame that went away while it was read
                continue
            if found["exceptions"] or found["hits"]:
                self.state["tracebacks"].append(
                    {
                        "where": where,
                        "exceptions": found["exceptions"],
                        "text": [" ".join(h.split())[:200] for h in found["hits"]],
                    }
                )
            for href in found["links"]:
                self.state["injected_links"].append({"where": where, "href": href[:200]})

    async def press(self, page, wire: Wire, name: str, timeout_s: float = 90.0) -> dict[str, Any]:
        """Click the button ``name`` as a person does and read what the page said: the error it showed (if any) and
        the times from the click to the error element (browser), from the rerun message to the first frame with a
        budget or busy message (server) and to the script's end."""
        button = page.get_by_role("button", name=name).first
        await button.wait_for(timeout=timeout_s * 1000)
        errors = page.locator(ERROR)
        before = await errors.count()
        shown_at: list[float] = []
        shown = asyncio.ensure_future(errors.nth(before).wait_for(state="visible", timeout=timeout_s * 1000))
        shown.add_done_callback(lambda _: shown_at.append(time.perf_counter()))
        t0 = time.perf_counter()
        await button.click()
        out: dict[str, Any] = {}
        try:
            sent, done = await wire.reaction_after(t0, timeout_s)
            out["rerun_s"] = round(done - sent, 3)
            script = await wire.script_time(sent, done)
            out["script_s"] = round(script, 3) if script is not None else None
            await page.wait_for_selector(IDLE, timeout=timeout_s * 1000)
            await asyncio.sleep(0.2)
            if await errors.count() > before:
                await asyncio.wait([shown], timeout=10)
                if shown.done() and not shown.cancelled() and shown.exception() is None and shown_at:
                    out["click_to_error_s"] = round(shown_at[0] - t0, 3)
        finally:
            if not shown.done():
                shown.cancel()
        texts = (await errors.all_inner_texts())[before:]
        out["error"] = " ".join(" ".join(texts).split())[:300] or None
        for name_ in ("budget", "busy"):
            mark = wire.mark_after(t0, name_)
            if mark is not None:
                out[f"server_{name_}_s"] = round(mark - sent, 3)
        return out


def _kind(message: str | None) -> str | None:
    """What refused a launch: 'budget', 'busy', 'limits', 'other'; None when nothing did."""
    if not message:
        return None
    if BUDGET in message:
        return "budget"
    if BUSY in message:
        return "busy"
    if any(k in message for k in LIMITS):
        return "limits"
    return "other"


# ---------------------------------------------------------------- the clients
async def _shown_value(thumb) -> str | None:
    """The value a slider's thumb shows (Streamlit sets ``aria-valuetext``)."""
    return await thumb.get_attribute("aria-valuetext") or await thumb.get_attribute("aria-valuenow")


async def _sigma_walk(d: Driver, norm: str, steps: int, kind: str = "walk", start: float = 0.01) -> None:
    """Open the Graph Builder on a dense Gaussian graph at sigma ``start`` and step the sigma slider ``steps`` times."""
    context, page, wire = await d.new_page()
    record = d.state["graph_builder"][kind]
    try:
        await d.open(
            page, wire, "graph", {"kind": "gaussian", "gaussian_sigma": f"{start:.2f}", "norm": norm}, timeout_s=120
        )
        thumb = (
            page.locator('[data-testid="stSlider"]')
            .filter(has=page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(r"^\s*sigma\s*$")))
            .first.get_by_role("slider")
            .first
        )
        record["values"].add((norm, await _shown_value(thumb)))
        for i in range(steps):
            if d.left_s() < 5:
                record["cut_short"] = True
                break
            t0 = time.perf_counter()
            await thumb.press("ArrowRight")
            sent, done = await wire.reaction_after(t0, 60)
            await page.wait_for_selector(IDLE, timeout=60_000)
            record["rerun_s"].append(done - sent)
            script = await wire.script_time(sent, done)
            if script is not None:
                record["script_s"].append(script)
            record["settled_s"].append(time.perf_counter() - t0)
            record["values"].add((norm, await _shown_value(thumb)))
            if i % 10 == 9 or i == steps - 1:
                await d.inspect(page, f"graph builder ({kind}, {norm}, step {i + 1})")
            await asyncio.sleep(0.1)
    except Exception as exc:  # noqa: BLE001 - reported with the figures so far
        record["failures"].append(f"{norm}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


async def _identity(d: Driver, n: int, gate: asyncio.Semaphore) -> None:
    """A made-up identity opens the Compare page with the largest sweep filled in and presses Launch sweep."""
    sweep = d.plan["largest_sweep"]
    query = {
        "sw_model": sweep["model"],
        "sw_graph": sweep["graph"],
        "sw_epochs": sweep["epochs"],
        "sw_param": sweep["param"],
        "sw_values": ", ".join(map(str, sweep["values"])),
    }
    async with gate:
        if d.left_s() < 30:
            d.state["sweeps"]["skipped"] += 1
            return
        context, page, wire = await d.new_page()
        try:
            await d.open(page, wire, "compare", query)
            out = await d.press(page, wire, "Launch sweep")
            kind = _kind(out["error"])
            shown = await page.evaluate("() => new URLSearchParams(location.search).get('sw_show')")
            launched = shown if kind is None and shown and shown.startswith("sweep:") else None
            d.state["sweeps"]["outcomes"].append({"identity": n, "refused": kind, "sweep": launched, **out})
            if launched:
                d.state["sweeps"]["accepted"] += 1
                d.flood_started.set()
            elif kind is None:  # neither a message nor the launched sweep: the click went unanswered
                d.state["sweeps"]["unanswered"] += 1
            await d.inspect(page, f"compare (identity {n})")
        except Exception as exc:  # noqa: BLE001 - a browser error or timeout: this identity's failure, the flood goes on
            d.state["sweeps"]["failures"].append(
                f"identity {n}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            )
        finally:
            await context.close()


def over_budget_entries(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entry point that creates runs, each with a config over the budget: (name, path, query, button,
    whether the budget message is the expected refusal)."""
    entries = [  # the forged values fall back to the defaults: over the budget when escnn D16 is with them
        {
            "entry": "Train link (forged hidden=512, layers=6, epochs=500)",
            "path": "train",
            "button": "Start",
            "query": {"model": "escnn", "group": "D16", "hidden": "512", "layers": "6", "epochs": "500"},
            "budget": plan_["forged_train_link_refused"],
        },
        {
            "entry": "Train link (the widgets' maxima)",
            "path": "train",
            "button": "Start",
            "query": {"model": "escnn", "group": "D16", "hidden": "128", "layers": "4", "epochs": "30"},
            "budget": True,
        },
        {
            "entry": "Compare search box (grid sampler)",
            "path": "compare",
            "button": "Launch search",
            "query": {"se_model": "escnn", "se_space": SEARCH_SPACE, "se_sampler": "grid"},
            "budget": True,
        },
        {
            "entry": "Compare search box (the page's sampler: random, 6 trials)",
            "path": "compare",
            "button": "Launch search",
            "query": {"se_model": "escnn", "se_space": SEARCH_SPACE},
            "budget": False,
        },
    ]
    if plan_.get("over_budget_sweep"):
        sweep = plan_["over_budget_sweep"]
        entries.append(
            {
                "entry": f"Compare sweep ({sweep['sw_model']}, {sweep['sw_param']} over "
                f"{len(sweep['sw_values'].split(','))} values, {sweep['sw_epochs']} epochs)",
                "path": "compare",
                "button": "Launch sweep",
                "query": sweep,
                "budget": True,
            }
        )
    if plan_.get("over_budget_lesson"):
        entries.append(
            {
                "entry": f"Lessons ({plan_['over_budget_lesson']}, full mode)",
                "path": "lessons",
                "button": "Run this lesson",
                "query": {"lesson": plan_["over_budget_lesson"], "ls_mode": "full"},
                "budget": True,
            }
        )
    return entries


async def _over_budget(d: Driver) -> None:
    for entry in over_budget_entries(d.plan):
        if d.left_s() < 20:
            break
        context, page, wire = await d.new_page()
        row = {"entry": entry["entry"], "expect_budget": entry["budget"]}
        try:
            await d.open(page, wire, entry["path"], entry["query"])
            out = await d.press(page, wire, entry["button"])
            row.update(out, refused=_kind(out["error"]))
            if not out["error"]:  # what the page made of it: a run queued (Train), or a sweep, a search or a lesson
                row["accepted"] = await page.evaluate("() => location.search")
            await d.inspect(page, f"over budget: {entry['entry']}")
        except Exception as exc:  # noqa: BLE001 - a browser error or timeout: recorded in this entry's row, the other entries go on
            row["failure"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        finally:
            await context.close()
        d.state["over_budget"].append(row)


async def _forged(d: Driver) -> None:
    context, page, wire = await d.new_page()
    try:
        for path, queries in forged_links().items():
            for query in queries[: d.scale.forged_per_page]:
                if d.left_s() < 10:
                    d.state["forged"]["cut_short"] = True
                    return
                where = f"/{path}?{urlencode(query, doseq=True)}"[:160]
                try:
                    await d.open(page, wire, path, query)
                    await asyncio.sleep(0.5)  # fragments and late elements
                    await d.inspect(page, where)
                    d.state["forged"]["visited"] += 1
                except Exception as exc:  # noqa: BLE001 - a browser error or timeout: this link's failure, the other links go on
                    d.state["forged"]["failures"].append(
                        f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    )
    finally:
        await context.close()


async def _abuser(d: Driver) -> None:
    """The sweep flood, then the over-budget entry points; the forged links beside them."""

    async def flood_then_budget() -> None:
        gate = asyncio.Semaphore(d.scale.concurrency)
        await asyncio.gather(*(_identity(d, n, gate) for n in range(d.scale.identities)))
        d.flood_started.set()  # even if no sweep was accepted: the honest visitor does not wait for ever
        d.mark("sweep flood")
        await _over_budget(d)
        d.mark("over budget")

    async def forged() -> None:
        await _forged(d)
        d.mark("forged links")

    await asyncio.gather(flood_then_budget(), forged())


async def _honest(d: Driver) -> None:
    """An honest visitor: Start on the default settings once the flood has begun (again while the server is busy),
    then a few sigma steps on the Graph Builder, then wait (bounded) for its run's first test accuracy."""
    h = d.state["honest"]
    context, page, wire = await d.new_page()
    try:
        await d.open(page, wire, "train")
        with contextlib.suppress(TimeoutError):  # no sweep accepted in time: the visitor starts anyway
            await asyncio.wait_for(d.flood_started.wait(), timeout=max(1.0, min(120.0, d.left_s() - 60)))
        while d.left_s() > 30:
            if h["attempts"]:  # a fresh page (the same visitor: its cookie stays), so no earlier message is read
                await d.open(page, wire, "train")
            clicked_at = time.time()
            out = await d.press(page, wire, "Start")
            run = await page.evaluate("() => new URLSearchParams(location.search).get('run')")
            attempt = {"at_s": round(clicked_at - d.state["t0"], 1), "refused": _kind(out["error"]), **out}
            h["attempts"].append(attempt)
            if run and run.isdigit() and not out["error"]:
                h["run_id"], h["started_at"] = int(run), clicked_at
                d.monitor.watch(int(run))
                break
            await asyncio.sleep(d.scale.honest_retry_s)
        await d.inspect(page, "train (honest)")
    except Exception as exc:  # noqa: BLE001 - a browser error or timeout: the honest visitor's failure, the report goes on
        h["failures"].append(f"train: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()
    await _sigma_walk(d, "rw", d.scale.honest_sigma_steps, kind="honest", start=0.3)
    while d.scale.honest_waits and h.get("run_id") and h["run_id"] not in d.monitor.first_epoch_at and d.left_s() > 0:
        await asyncio.sleep(0.5)


def _niced_chromium(nice: int, folder: Path) -> str:
    """An executable that starts Chromium at niceness ``nice`` (every process it starts inherits it)."""
    if not nice:
        return CHROMIUM
    wrapper = folder / "chromium-niced"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def _drive(url: str, scale: Scale, plan_: dict[str, Any], monitor: Monitor, state: dict, folder: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=_niced_chromium(scale.browser_nice, folder), args=[*CHROMIUM_ARGS, LOCAL_ONLY]
        )
        try:
            d = Driver(browser, url, scale, plan_, monitor, state)
            state["phase"] = "abusing"

            async def walk(norm: str) -> None:
                await _sigma_walk(d, norm, scale.sigma_values - 1)
                d.mark(f"sigma walk ({norm})")

            async def honest() -> None:
                await _honest(d)
                d.mark("honest visitor")

            await asyncio.gather(*(walk(norm) for norm in scale.norms), _abuser(d), honest())
            state["phase"] = "done"
        finally:
            await browser.close()


# ---------------------------------------------------------------- the report
def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median_s": None, "p90_s": None, "max_s": None}
    ordered = sorted(values)
    return {
        "count": len(values),
        "median_s": round(statistics.median(values), 3),
        "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "max_s": round(max(values), 3),
    }


def _final_runs(db: Path) -> list[tuple]:
    """(id, status, session, kind, error, model, created_at, updated_at) of every stored run."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(
            "SELECT id, status, session, kind, error, json_extract(config, '$.model'), created_at, "
            "updated_at FROM runs ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def _reactions(record: dict) -> dict[str, Any]:
    """A set of Graph Builder steps: the server's script time, the rerun's round trip and the browser's settling."""
    return {
        "steps": len(record["rerun_s"]),
        "script_s": _stats(record["script_s"]),
        "rerun_s": _stats(record["rerun_s"]),
        "settled_s": _stats(record["settled_s"]),
        "distinct_values": len(record["values"]),
        "cut_short": record.get("cut_short", False),
    }


def _report(state: dict, plan_: dict[str, Any], monitor: Monitor, runs: list[tuple], scale: Scale) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for _, status, *_ in runs:
        statuses[status] = statuses.get(status, 0) + 1
    present = {r[0] for r in runs}
    vanished = sorted(set(monitor.seen) - present)
    lost = [{"run": r[0], "status": r[1], "kind": r[3], "error": (r[4] or "")[:200]} for r in runs if r[1] in LOST]
    sweeps = state["sweeps"]
    sweep_runs = sum(1 for r in runs if (r[3] or "").startswith("sweep:"))
    stored_kinds: dict[str, int] = {}
    for r in runs:
        stored_kinds[r[3]] = stored_kinds.get(r[3], 0) + 1
    # runs of accepted sweeps that are not stored (a sweep is queued whole or not at all)
    missing = sum(max(0, SWEEP_VALUES - stored_kinds.get(o["sweep"], 0)) for o in sweeps["outcomes"] if o.get("sweep"))
    now = state["ended_at"]
    training_at_end = [
        {
            "run": r[0],
            "kind": r[3],
            "model": r[5],
            "training_s": round(now - monitor.running_at[r[0]], 1) if r[0] in monitor.running_at else None,
        }
        for r in runs
        if r[1] == "running"
    ]
    launches = sweeps["outcomes"] + state["over_budget"] + state["honest"]["attempts"]
    refused = {k: sum(o.get("refused") == k for o in launches) for k in ("budget", "busy", "limits", "other")}
    h = state["honest"]
    run_id = h.get("run_id")
    first, began = monitor.first_epoch_at.get(run_id), monitor.running_at.get(run_id)
    first_attempt = h["attempts"][0] if h["attempts"] else {}
    over = state["over_budget"]
    budget_entries = [o for o in over if o.get("expect_budget")]

    def slowest(key: str) -> float | None:
        values = [o[key] for o in budget_entries if o.get(key) is not None]
        return max(values) if values else None

    report = {
        "scale": asdict(scale),
        "completed": state["phase"] == "done",
        "phase": state["phase"],
        "error": state.get("error"),
        "elapsed_s": state.get("elapsed_s"),
        "server_start_s": state.get("server_start_s"),
        "timeline_s": state["timeline"],
        "limits": {
            k: plan_[k]
            for k in (
                "slots",
                "queue_per_slot",
                "queue_bound",
                "run_seconds",
                "run_mb",
                "batch_seconds",
                "visitor_runs",
                "worker_mb",
                "run_wall_s",
                "honest_wait_target_s",
            )
        },
        "largest_sweep": plan_["largest_sweep"],
        "budget_checks": plan_["budget_checks"],
        "server_cpu": monitor.cpu_figures(),
        "memory": {
            "server_peak_rss_mb": round(max(monitor.peak_rss_kb, monitor.hwm_kb) / 1024, 1),
            "server_peak_pss_mb": round(monitor.peak_own_kb / 1024, 1),
            "all_peak_pss_mb": round(monitor.peak_total_kb / 1024, 1),
            "samples": monitor.samples,
            "max_processes": monitor.max_processes,
        },
        "runs": {
            "stored": len(runs),
            "statuses": statuses,
            "max_queued": monitor.max_queued,
            "max_queued_visitors": monitor.max_queued_visitors,
            "max_training": monitor.max_training,
            "lost": len(lost) + len(vanished) + missing,
            "lost_runs": lost[:10],
            "vanished": vanished[:10],
            "accepted_sweeps_without_runs": missing,
            "store_read_errors": monitor.store_errors,
            "training_at_end": training_at_end,
        },
        "refused": {
            **refused,
            "other_messages": sorted({o["error"] for o in launches if o.get("refused") == "other"})[:5],
        },
        "sweeps": {
            "identities": scale.identities,
            "accepted": sweeps["accepted"],
            "skipped": sweeps["skipped"],
            "unanswered": sweeps["unanswered"],
            "refused": {
                k: sum(o["refused"] == k for o in sweeps["outcomes"]) for k in ("budget", "busy", "limits", "other")
            },
            "stored_sweep_runs": sweep_runs,
            "failures": sweeps["failures"][:5],
            "script_s": _stats([o["script_s"] for o in sweeps["outcomes"] if o.get("script_s") is not None]),
        },
        "over_budget": over,
        "over_budget_all_refused": bool(budget_entries) and all(o.get("refused") == "budget" for o in budget_entries),
        "refusal_slowest": {
            "click_to_error_s": slowest("click_to_error_s"),
            "rerun_to_message_s": slowest("server_budget_s"),
            "script_s": slowest("script_s"),
        },
        "honest": {
            "first_outcome": (
                "queued" if first_attempt and not first_attempt.get("refused") else first_attempt.get("refused")
            ),
            "first_refusal_after_s": first_attempt.get("click_to_error_s"),
            "attempts": len(h["attempts"]),
            "run_id": run_id,
            "run_status": next((r[1] for r in runs if r[0] == run_id), None) if run_id else None,
            "start_to_training_s": round(began - h["started_at"], 1) if began else None,
            "start_to_first_accuracy_s": round(first - h["started_at"], 1) if first else None,
            "watched_s": round(state["ended_at"] - h["started_at"], 1) if run_id else None,
            "target_s": plan_["honest_wait_target_s"],
            "failures": h["failures"],
            "graph_builder": _reactions(state["graph_builder"]["honest"]),
        },
        "graph_builder": {
            **_reactions(state["graph_builder"]["walk"]),
            "failures": state["graph_builder"]["walk"]["failures"] + state["graph_builder"]["honest"]["failures"],
        },
        "pages": {
            "visited": state["pages_visited"],
            "forged_visited": state["forged"]["visited"],
            "forged_failures": state["forged"]["failures"][:5],
            "tracebacks": len(state["tracebacks"]) + len(state.get("server_tracebacks", [])),
            "traceback_details": state["tracebacks"][:5],
            "server_tracebacks": state.get("server_tracebacks", [])[:5],
            "injected_links": len(state["injected_links"]),
            "injected_details": state["injected_links"][:5],
            "page_errors": len(state["page_errors"]),
            "page_error_texts": state["page_errors"][:3],
        },
    }
    report["targets"] = _targets(report)
    return report


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f} s"


def _targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what was measured, the target, whether it is met (None: not measured)."""
    m, runs, h, lim, slow = r["memory"], r["runs"], r["honest"], r["limits"], r["refusal_slowest"]
    # the server's own script time where the server profiles its runs, else the round trip the browser saw
    which = "script_s" if r["graph_builder"]["script_s"]["count"] else "rerun_s"
    gb = [x for x in (r["graph_builder"][which]["max_s"], h["graph_builder"][which]["max_s"]) if x is not None]

    def row(name, measured, target, ok):
        return {"name": name, "measured": measured, "target": target, "ok": ok}

    def under(value, limit):
        return None if value is None else value < limit

    if h["first_outcome"] == "busy":
        honest_ok = under(h["first_refusal_after_s"], 1.0)
    elif h["run_id"] and h["start_to_first_accuracy_s"] is not None:
        honest_ok = h["start_to_first_accuracy_s"] <= h["target_s"]
    elif h["run_id"]:  # not seen while the drive watched: a miss only once the target has passed
        honest_ok = False if h["watched_s"] > h["target_s"] else None
    else:
        honest_ok = None
    return [
        row("server peak RSS", f"{m['server_peak_rss_mb']:,.0f} MB", "<= 1,024 MB", m["server_peak_rss_mb"] <= 1024),
        row("all processes peak PSS", f"{m['all_peak_pss_mb']:,.0f} MB", "<= 2,048 MB", m["all_peak_pss_mb"] <= 2048),
        row("tracebacks (pages + server log)", r["pages"]["tracebacks"], 0, r["pages"]["tracebacks"] == 0),
        row("injected links rendered", r["pages"]["injected_links"], 0, r["pages"]["injected_links"] == 0),
        row("runs lost", runs["lost"], 0, runs["lost"] == 0),
        row(
            "longest queue",
            runs["max_queued"],
            f"<= Q = {lim['queue_bound']}",
            runs["max_queued"] <= lim["queue_bound"],
        ),
        row(
            f"Graph Builder reaction, slowest ({'server script' if which == 'script_s' else 'rerun round trip'})",
            _seconds(max(gb)) if gb else None,
            "< 1 s",
            under(max(gb), 1.0) if gb else None,
        ),
        row(
            "over-budget runs refused with the budget message",
            r["over_budget_all_refused"],
            "every entry point",
            r["over_budget_all_refused"],
        ),
        row(
            "refusal: click to error element, slowest",
            _seconds(slow["click_to_error_s"]),
            "< 0.1 s",
            under(slow["click_to_error_s"], 0.1),
        ),
        row(
            "refusal: rerun message to error frame, slowest",
            _seconds(slow["rerun_to_message_s"]),
            "< 0.1 s",
            under(slow["rerun_to_message_s"], 0.1),
        ),
        row(
            "honest visitor",
            _honest_text(h),
            f"busy at once, or first accuracy <= Q x {lim['run_seconds']:g} s = {h['target_s']:,.0f} s",
            honest_ok,
        ),
    ]


def _honest_text(h: dict[str, Any]) -> str:
    if h["first_outcome"] is None:
        return "did not press Start"
    first = (
        f"busy message after {h['first_refusal_after_s']} s"
        if h["first_outcome"] == "busy"
        else f"{h['first_outcome']}"
    )
    if h["run_id"]:
        acc, began = h["start_to_first_accuracy_s"], h["start_to_training_s"]
        first += (
            f"; admitted on press {h['attempts']}, "
            + (f"training after {began} s, " if began is not None else "not training yet, ")
            + (f"first accuracy after {acc} s" if acc is not None else f"no accuracy in the {h['watched_s']} s watched")
        )
    return first


def run_abuse(
    scale: Scale = Scale(),
    keep_data: bool = False,
    server_log: Path | None = None,
    starter: bool = True,
    profile: bool = True,
) -> dict[str, Any]:
    """Serve the app, abuse it (see the module's docstring) and return the report as a dict. Ends by itself within
    about ``scale.timeout_s`` plus the server's start (at most 120 s) and clean-up.

    ``starter``: the server trains its starter set when a page needs it, as a public server does
    (``GRAPHCONV_STARTER=0`` when False). ``profile``: the server sends every script run's own time (Streamlit's page
    profile, ``browser.gatherUsageStats`` on for this server only), so reactions are timed on the server too."""
    data = Path(tempfile.mkdtemp(prefix="graphconv-abuse-"))
    tools = Path(tempfile.mkdtemp(prefix="graphconv-abuse-tools-"))  # outside the data folder the server owns
    log_path = tools / "server.log"
    env = {
        "GRAPHCONV_PUBLIC": "1",
        "GRAPHCONV_QUICK": "1",
        "GRAPHCONV_DATA_DIR": str(data),
        "GRAPHCONV_CPU_DIR": str(data / "cpu-shares"),
        **({} if starter else {"GRAPHCONV_STARTER": "0"}),
        **({"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true"} if profile else {}),
    }
    state: dict[str, Any] = {
        "phase": "planning",
        "t0": time.time(),
        "timeline": {},
        "pages_visited": 0,
        "page_errors": [],
        "tracebacks": [],
        "injected_links": [],
        "over_budget": [],
        "forged": {"visited": 0, "failures": []},
        "sweeps": {"accepted": 0, "unanswered": 0, "skipped": 0, "outcomes": [], "failures": []},
        "honest": {"attempts": [], "failures": []},
        "graph_builder": {
            k: {"script_s": [], "rerun_s": [], "settled_s": [], "values": set(), "failures": []}
            for k in ("walk", "honest")
        },
    }
    try:
        plan_ = _plan_in(env)
    except BaseException:
        shutil.rmtree(tools, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
        raise
    monitor: Monitor | None = None
    server = None
    log = open(log_path, "w")  # noqa: SIM115 - the server's log: closed in the finally below, before it is read back
    t_start = time.perf_counter()
    try:
        state["phase"] = "starting the server"
        server, url = start_app(ROOT, env, log=log, timeout=120)
        state["server_start_s"] = round(time.perf_counter() - t_start, 1)
        monitor = Monitor(server.pid, data / "runs.db", 0.2)
        monitor.start()
        state["t0"] = time.time()
        asyncio.run(asyncio.wait_for(_drive(url, scale, plan_, monitor, state, tools), scale.timeout_s))
    except TimeoutError:
        state["error"] = f"total timeout of {scale.timeout_s:g} s reached"
    except Exception as exc:  # noqa: BLE001 - reported with the figures gathered so far
        state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    finally:
        state["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        state["ended_at"] = time.time()
        if monitor is not None:
            monitor.stop()
            monitor.sample()  # the last look before the server goes
            monitor.close()
        runs = _final_runs(data / "runs.db")
        if server is not None:
            _stop_server(server, descendants(server.pid))
        log.close()
        state["server_tracebacks"] = _server_tracebacks(log_path)
        if server_log:
            shutil.copyfile(log_path, server_log)
        shutil.rmtree(tools, ignore_errors=True)
        if not keep_data:
            shutil.rmtree(data, ignore_errors=True)
    report = _report(state, plan_, monitor or Monitor(0, data / "runs.db"), runs, scale)
    if keep_data:
        report["data_dir"] = str(data)
    return report


def _lines(r: dict[str, Any]) -> list[str]:
    lim, sw, gb, h = r["limits"], r["largest_sweep"] or {}, r["graph_builder"], r["honest"]

    def steps(g: dict[str, Any]) -> str:
        return (
            f"server script median {g['script_s']['median_s']} s, p90 {g['script_s']['p90_s']} s, slowest "
            f"{g['script_s']['max_s']} s; rerun round trip median {g['rerun_s']['median_s']} s, slowest "
            f"{g['rerun_s']['max_s']} s; settled in the browser median {g['settled_s']['median_s']} s, slowest "
            f"{g['settled_s']['max_s']} s"
        )

    out = [
        f"public quick mode; {lim['slots']} training slots, queue bound Q = {lim['queue_bound']} "
        f"({lim['queue_per_slot']} per slot); budgeted run time {lim['run_seconds']:g} s ({lim['run_mb']} MB), "
        f"{lim['batch_seconds']:g} s per sweep; {lim['visitor_runs']} runs per visitor",
        f"completed: {r['completed']} in {r['elapsed_s']} s (server start {r['server_start_s']} s; phases ended at "
        + ", ".join(f"{k} {v} s" for k, v in r["timeline_s"].items())
        + ")"
        + (f"; stopped while {r['phase']}: {r['error']}" if r["error"] else ""),
        f"largest sweep accepted: {sw.get('model')} on {sw.get('graph')}, {sw.get('param')} over "
        f"{len(sw.get('values', []))} values, {sw.get('epochs')} epochs (estimated {sw.get('run_estimate_s')} s a run, "
        f"{sw.get('total_estimate_s')} s together)",
        f"sweep flood: {r['sweeps']['identities']} identities, {r['sweeps']['accepted']} accepted, refused "
        f"{r['sweeps']['refused']}, {r['sweeps']['unanswered']} unanswered, {r['sweeps']['skipped']} skipped for time; "
        f"{r['sweeps']['stored_sweep_runs']} "
        f"sweep runs stored; Compare page script on Launch: median {r['sweeps']['script_s']['median_s']} s",
        f"runs: {r['runs']['stored']} stored, statuses {r['runs']['statuses']}; "
        f"longest queue {r['runs']['max_queued']} "
        f"({r['runs']['max_queued_visitors']} of them visitors'); at most {r['runs']['max_training']} training; "
        f"training at the end: {r['runs']['training_at_end']}",
        f"refused in all: by budget {r['refused']['budget']}, busy queue {r['refused']['busy']}, visitor limits "
        f"{r['refused']['limits']}, other {r['refused']['other']}",
        f"sigma walk: {gb['distinct_values']} distinct (normalisation, sigma) graphs, {gb['steps']} steps; {steps(gb)}",
        f"honest visitor: {_honest_text(h)}; its run's status at the end: {h['run_status']}",
        f"honest visitor's Graph Builder: {h['graph_builder']['steps']} steps; {steps(h['graph_builder'])}",
        f"memory: server peak RSS {r['memory']['server_peak_rss_mb']:,.0f} MB "
        f"(PSS {r['memory']['server_peak_pss_mb']:,.0f} MB); "
        f"server + forkserver + workers peak PSS {r['memory']['all_peak_pss_mb']:,.0f} MB "
        f"({r['memory']['samples']} samples, up to {r['memory']['max_processes']} processes)",
        f"server process CPU: {r['server_cpu']['cpu_s']} s, {r['server_cpu']['mean_cores']} cores on average, "
        f"{r['server_cpu']['busiest_cores']} in its busiest {r['server_cpu'].get('window_s')} s",
        f"pages visited {r['pages']['visited']} ({r['pages']['forged_visited']} forged links); browser page errors "
        f"{r['pages']['page_errors']}",
        "over-budget entry points: refused by, click to error element / rerun message to error frame / server script:",
    ]
    for o in r["over_budget"]:
        said = o.get("error") or o.get("failure") or f"accepted ({(o.get('accepted') or '')[:120]})"
        out.append(
            f"  {o['entry']}: {o.get('refused')}, {o.get('click_to_error_s')} / {o.get('server_budget_s')} / "
            f"{o.get('script_s')} s: {said[:160]}"
        )
    checks = r["budget_checks"]
    out.append(
        "the budget check alone (in-process): " + ", ".join(f"{k} {v['check_ms']} ms" for k, v in checks.items())
    )
    problems = (
        [f"page: {p}" for p in r["pages"]["traceback_details"]]
        + [f"server log: {p}" for p in r["pages"]["server_tracebacks"]]
        + [f"link: {p}" for p in r["pages"]["injected_details"]]
        + [f"lost: {p}" for p in r["runs"]["lost_runs"]]
        + [f"other refusal: {p}" for p in r["refused"]["other_messages"]]
        + gb["failures"]
        + r["sweeps"]["failures"]
        + r["pages"]["forged_failures"]
        + h["failures"]
    )
    out += [f"  problem: {p}"[:400] for p in problems[:15]]
    out.append("")
    width = max(len(t["name"]) for t in r["targets"])
    measured = max(len(str(t["measured"])) for t in r["targets"])
    out.append(f"{'measure':<{width}}  {'measured':<{measured}}  {'target':<28}  met")
    for t in r["targets"]:
        ok = {True: "yes", False: "NO", None: "-"}[t["ok"]]
        out.append(f"{t['name']:<{width}}  {t['measured']!s:<{measured}}  {t['target']!s:<28}  {ok}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.abuse", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="the suite's scale: 10 sigma values, 5 identities, one forged link per page",
    )
    ap.add_argument("--sigma-values", type=int, help="distinct sigma values per normalisation (full: 100)")
    ap.add_argument("--identities", type=int, help="made-up identities launching the largest sweep (full: 50)")
    ap.add_argument("--concurrency", type=int, help="identities' browser contexts at once (default 3)")
    ap.add_argument("--timeout", type=float, help="seconds for the whole drive (full: 840, quick: 170)")
    ap.add_argument(
        "--browser-nice",
        type=int,
        help="run Chromium at this niceness (default 0; 19: the server and "
        "its workers get the CPUs first, as with remote browsers)",
    )
    ap.add_argument("--no-starter", action="store_true", help="GRAPHCONV_STARTER=0 (no starter set of 3 runs)")
    ap.add_argument(
        "--no-profile",
        action="store_true",
        help="the server's stock settings: no page profiles, so reactions are timed by their round trip only",
    )
    ap.add_argument("--server-log", type=Path, default=None, help="keep the server's output in this file")
    ap.add_argument("--keep-data", action="store_true", help="keep the data folder (its path is reported)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--plan", action="store_true", help=argparse.SUPPRESS)  # limits and sweep, this environment's
    args = ap.parse_args()
    if args.plan:
        print(json.dumps(plan()))
        return
    scale = QUICK if args.quick else Scale()
    for field, value in (
        ("sigma_values", args.sigma_values),
        ("identities", args.identities),
        ("concurrency", args.concurrency),
        ("timeout_s", args.timeout),
        ("browser_nice", args.browser_nice),
    ):
        if value is not None:
            scale = replace(scale, **{field: value})
    report = run_abuse(
        scale,
        keep_data=args.keep_data,
        server_log=args.server_log,
        starter=not args.no_starter,
        profile=not args.no_profile,
    )
    print(json.dumps(report, default=str) if args.json else "\n".join(_lines(report)))
    hard = [t for t in report["targets"] if t["name"] in ("tracebacks", "injected links", "runs lost", "longest queue")]
    sys.exit(0 if report["completed"] and all(t["ok"] for t in hard) else 1)


if __name__ == "__main__":
    main()
