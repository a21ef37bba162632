"""Background training: runs execute in worker threads, never in a Streamlit script thread.

A process-wide ``RunManager`` (``get_manager()``) owns the workers. A page submits a run, keeps only
its id (in the URL, so a reload re-attaches), and polls ``live(run_id)`` plus the store's epochs.
At most ``max_concurrent`` runs train at once; the rest wait in a FIFO queue and say so.
Workers never touch the UI; they report through the store and an in-memory live record.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional

from core.training.memory import release_free_memory
from core.training.runs import RunConfig, execute, validate


@dataclass
class LiveRun:
    run_id: int
    config: RunConfig
    session: Optional[str] = None
    state: str = "queued"  # queued | running | finished | stopped | failed
    epoch: int = 0
    batch: int = 0
    num_batches: int = 0
    loss: Optional[float] = None
    error: Optional[str] = None
    losses: list[tuple[float, float]] = field(default_factory=list)  # (fractional epoch, batch loss), thinned
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.time)
    last_beat: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        total = self.config.epochs * max(self.num_batches, 1)
        done = (max(self.epoch - 1, 0) * self.num_batches + self.batch) if self.num_batches else 0
        return {"run_id": self.run_id, "state": self.state, "epoch": self.epoch, "epochs": self.config.epochs,
                "batch": self.batch, "num_batches": self.num_batches, "loss": self.loss, "error": self.error,
                "progress": min(done / total, 1.0) if total else 0.0, "stop_requested": self.stop.is_set(),
                "losses": list(self.losses)}


class RunManager:
    """Starts, queues, stops and reports background runs for every browser session of this process."""

    def __init__(self, store=None, max_concurrent: Optional[int] = None):
        from core.training.store import RunStore

        self.store = store or RunStore()
        self.max_concurrent = max_concurrent or int(os.environ.get("GRAPHCONV_MAX_RUNS", "2"))
        self._slots = threading.Semaphore(self.max_concurrent)
        self._lock = threading.Lock()
        self._runs: dict[int, LiveRun] = {}
        self._queue: list[int] = []  # FIFO of queued run ids
        self.store.recover_interrupted()

    def submit(self, cfg: RunConfig, session: Optional[str] = None, kind: str = "image") -> int:
        """Validate (raises UserInputError), store as queued, and start a worker; return the run id.

        ``kind`` groups runs in the store (``sweep:<id>`` for the members of one sweep).
        """
        validate(cfg)
        run_id = self.store.create_run(cfg.to_dict(), name=cfg.label(), session=session, status="queued", kind=kind)
        live = LiveRun(run_id, cfg, session)
        with self._lock:
            self._runs[run_id] = live
            self._queue.append(run_id)
        threading.Thread(target=self._work, args=(live,), name=f"graphconv-run-{run_id}", daemon=True).start()
        return run_id

    def _on_batch(self, live: LiveRun, info: dict[str, Any]) -> None:
        live.epoch, live.batch, live.num_batches, live.loss = (info["epoch"], info["batch"], info["num_batches"],
                                                             info["loss"])
        live.losses.append((info["epoch"] - 1 + info["batch"] / info["num_batches"], info["loss"]))
        if len(live.losses) > 2000:  # keep the curve light: drop every other point
            live.losses = live.losses[::2]
        now = time.time()
        if now - live.last_beat > 5:  # keep the store's heartbeat fresh during long epochs
            live.last_beat = now
            self.store.heartbeat(live.run_id)

    def _work(self, live: LiveRun) -> None:
        while not self._slots.acquire(timeout=0.5):
            if live.stop.is_set():  # stopped while still queued
                self._dequeue(live.run_id)
                self.store.finish(live.run_id, {"run_id": live.run_id, "status": "stopped"}, status="stopped",
                                  error="stopped before it started")
                live.state = "stopped"  # after the store write: wait() returns once the store says so too
                return
            self.store.heartbeat(live.run_id)
        try:
            self._dequeue(live.run_id)
            live.state = "running"
            summary = execute(live.config, self.store, run_id=live.run_id, should_stop=live.stop.is_set,
                              on_batch=lambda info: self._on_batch(live, info))
            live.state, live.error = summary["status"], summary.get("error")
        except Exception as err:  # execute() already stored the failure; keep the reason for the page
            live.state = "failed"
            live.error = str(err) or traceback.format_exc(limit=1)
        finally:
            self._slots.release()
            release_free_memory()  # the run's tensors are gone: give their pages back to the system

    def _dequeue(self, run_id: int) -> None:
        with self._lock:
            if run_id in self._queue:
                self._queue.remove(run_id)

    def stop(self, run_id: int) -> bool:
        """Ask a run to stop after its current batch; False if this process does not own it."""
        live = self._runs.get(run_id)
        if live is None:
            return False
        live.stop.set()
        return True

    def live(self, run_id: int) -> Optional[dict[str, Any]]:
        """The in-memory state of a run of this process (None for runs of other processes or older ones)."""
        live = self._runs.get(run_id)
        if live is None:
            return None
        snap = live.snapshot()
        with self._lock:
            snap["queue_position"] = self._queue.index(run_id) + 1 if run_id in self._queue else 0
        return snap

    def active(self, session: Optional[str] = None) -> list[int]:
        """Ids of queued or running runs (of one session when given)."""
        return [r.run_id for r in self._runs.values()
                if r.state in ("queued", "running") and (session is None or r.session == session)]

    def wait(self, run_id: int, timeout: float = 600.0) -> Optional[dict[str, Any]]:
        """Block until the run leaves queued/running (tests and scripts); return its live snapshot."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            snap = self.live(run_id)
            if snap is None or snap["state"] not in ("queued", "running"):
                return snap
            time.sleep(0.1)
        return self.live(run_id)


_managers: dict[str, RunManager] = {}
_manager_lock = threading.Lock()


def get_manager() -> RunManager:
    """The process-wide manager of the current data folder (created on first use)."""
    from core.config import data_dir

    key = str(data_dir())
    with _manager_lock:
        if key not in _managers:
            _managers[key] = RunManager()
        return _managers[key]
