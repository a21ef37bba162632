"""The default training backend: one operating-system process per run.

Workers fork from a forkserver (Linux, macOS) whose process imported torch, the models and the
embedded digits once (``core.training.preload``), so a run starts in a fraction of a second instead of
paying those imports again; where there is no forkserver they are spawned. A plain ``fork`` of the
web server is never used: it has threads, and a fork copies their locks mid-flight. Each worker takes
its run's hard limits itself (``core.training.worker``: memory, wall-clock time, the kernel's OOM choice).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from core.training.backend import Backend
from core.training.worker import ENDED_BY_WATCHDOG, worker_main

PRELOAD = ["core.training.preload"]
StartContext = ForkContext | ForkServerContext | SpawnContext


def start_context(method: str) -> StartContext:
    """multiprocessing's context for start ``method`` ("forkserver", "spawn" or "fork"), typed as the concrete
    context it is (``mp.get_context`` is typed as the base class, which declares no ``Process``)."""
    ctx = mp.get_context(method)
    if not isinstance(ctx, (ForkContext, ForkServerContext, SpawnContext)):
        raise ValueError(f"unknown start method {method!r}")
    return ctx


def prewarm() -> None:
    """Start the forkserver and its imports (seconds) in the background, once, so the first run starts quickly.

    The app calls this when its first page loads, long before anyone presses Start."""
    global _warming
    if _warming is not None or "forkserver" not in mp.get_all_start_methods():
        return
    mp.get_context("forkserver").set_forkserver_preload(PRELOAD)

    def warm() -> None:
        from multiprocessing import forkserver

        try:
            forkserver.ensure_running()
        except Exception as err:  # noqa: BLE001 - a warm-up only: the first start() tries again and reports
            logging.getLogger(__name__).info("forkserver warm-up failed (%s); the first run starts it", err)

    _warming = threading.Thread(target=warm, name="graphconv-forkserver", daemon=True)
    _warming.start()


_warming: threading.Thread | None = None


class ProcessBackend(Backend):
    """One worker process per run on this machine (its slots: ``core.training.cpu_share.default_max_runs``)."""

    name = "process"

    def __init__(self, method: str | None = None):
        methods = mp.get_all_start_methods()
        self.method = method or ("forkserver" if "forkserver" in methods else "spawn")
        self.ctx = start_context(self.method)
        if self.method == "forkserver":
            prewarm()

    def start(self, db_path: str, env: dict[str, str | None], run_id: int, config: dict[str, Any]) -> BaseProcess:
        proc = self.ctx.Process(
            target=worker_main, args=(db_path, env, run_id, config), name=f"graphconv-run-{run_id}", daemon=True
        )
        proc.start()
        return proc

    @staticmethod
    def poll(proc: mp.Process) -> int | None:
        """None while the worker runs, else its exit code (negative: killed by that signal)."""
        return None if proc.is_alive() else proc.exitcode

    @staticmethod
    def describe_exit(proc: mp.Process) -> str:
        return exit_reason(proc.exitcode)

    @staticmethod
    def terminate(proc: mp.Process, grace_s: float = 3.0) -> None:
        """SIGTERM, then SIGKILL if the worker is still there after ``grace_s`` seconds."""
        if proc.is_alive():
            proc.terminate()
            proc.join(grace_s)
        if proc.is_alive():
            proc.kill()
            proc.join(grace_s)


def exit_reason(exitcode: int | None) -> str:
    """Words for how a worker process ended (``exitcode`` as multiprocessing reports it)."""
    if exitcode is None:
        return "the worker is still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = {"SIGKILL": " (the system may have run out of memory)", "SIGSEGV": " (a crash in native code)"}.get(
            name, ""
        )
        return f"the worker process was killed by {name}{hint}"
    if exitcode == ENDED_BY_WATCHDOG:  # its watchdog could not record the run itself
        return "the worker ended itself: the run passed its time limit (GRAPHCONV_RUN_WALL_S) and did not stop"
    return f"the worker process exited with code {exitcode} before the run ended"
