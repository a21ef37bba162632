"""What runs inside a training worker: one run, reporting through the run store.

A worker process (see ``core.training.runner``) calls :func:`worker_main`; the CLI calls
:func:`execute_reporting` in its own process. Both train with ``core.training.runs.execute`` and hook it
to the store with :class:`StoreReporter`: live progress (epoch, batch, loss curve points) written at
most every ``PROGRESS_EVERY_S`` seconds, and the stop request read at most that often. So every page,
in any process, sees the same live run by polling the store, and a stop request from any process (a
page, ``python -m core stop``) reaches the run within a batch or two. Each run trains with its fair
share of this machine's CPUs (:class:`~core.training.cpu_share.CpuShare`), recorded in every epoch row.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

from core.errors import UserInputError
from core.training.cpu_share import CpuShare
from core.training.runs import RunConfig, execute

WORKER_NICENESS = 10  # added to a worker's nice value: the web server's reruns come before training
PROGRESS_EVERY_S = 0.5  # how often a worker writes its progress and reads its stop request


class StoreReporter:
    """``on_batch`` / ``should_stop`` callbacks for ``execute`` that talk to the store, rate-limited.

    ``clock`` is injectable for tests. The last batch of an epoch is always written, so the curve ends
    where the epoch ends.
    """

    def __init__(self, store, run_id: int, every_s: float = PROGRESS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.store, self.run_id, self.every_s, self.clock = store, int(run_id), float(every_s), clock
        self._pending: list[tuple[float, float]] = []  # (fractional epoch, loss) not yet written
        self._last_write = -float("inf")
        self._last_check = -float("inf")
        self._stop = False

    def on_batch(self, info: dict[str, Any]) -> None:
        epoch, batch, num_batches, loss = info["epoch"], info["batch"], info["num_batches"], info["loss"]
        self._pending.append((epoch - 1 + batch / max(num_batches, 1), float(loss)))
        now = self.clock()
        if now - self._last_write >= self.every_s or batch == num_batches:
            self._last_write = now
            self.store.log_progress(self.run_id, epoch, batch, num_batches, loss, self._pending)
            self._pending = []

    def on_prepare(self, what: str, done: int, total: int) -> None:
        """Preparation before epoch 1 (building superpixel graphs): shown as epoch 0, ``done`` of ``total``."""
        now = self.clock()
        if now - self._last_write >= self.every_s or done == total:
            self._last_write = now
            self.store.log_progress(self.run_id, 0, done, total, None, [])

    def should_stop(self) -> bool:
        if self._stop:
            return True
        now = self.clock()
        if now - self._last_check >= self.every_s:
            self._last_check = now
            self._stop = self.store.stop_requested(self.run_id)
        return self._stop


class ThreadsInEpochs:
    """The run store as ``execute`` sees it, with each epoch row tagged ``threads``: the CPU threads the
    epoch trained with (``CpuShare.epoch_threads``). Every other call goes to the store unchanged."""

    def __init__(self, store, share: CpuShare):
        self._store, self._share = store, share

    def log_epoch(self, run_id: int, **row: Any) -> None:
        self._store.log_epoch(run_id, **row, threads=self._share.epoch_threads())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def execute_reporting(cfg: RunConfig, store, run_id: int,
                      on_epoch: Optional[Callable[[dict], None]] = None,
                      on_prepare: Optional[Callable[[str, int, int], None]] = None,
                      threads: Optional[int] = None) -> dict[str, Any]:
    """``execute`` one stored run with live progress and stop requests through the store (``on_epoch`` and
    ``on_prepare`` are called too, e.g. to print).

    The run holds a fair share of this machine's CPUs from start to end, preparation included
    (``core.training.cpu_share``), looked at again between batches; ``threads`` fixes the count instead
    (a Ray task: Ray already gave it its CPUs)."""
    try:
        share = CpuShare(threads)
    except UserInputError as err:  # a bad GRAPHCONV_CPUS: the stored run ends with the reason, not queued forever
        store.fail(run_id, str(err))
        raise
    reporter = StoreReporter(store, run_id)

    def prepare(what: str, done: int, total: int) -> None:
        share.refresh()
        reporter.on_prepare(what, done, total)
        if on_prepare:
            on_prepare(what, done, total)

    def batch(info: dict[str, Any]) -> None:
        share.refresh()
        reporter.on_batch(info)

    with share:
        return execute(cfg, ThreadsInEpochs(store, share), run_id=run_id, should_stop=reporter.should_stop,
                       on_batch=batch, on_epoch=on_epoch, on_prepare=prepare)


def apply_env(env: dict[str, Optional[str]]) -> None:
    """Set (or, for None, remove) the submitter's ``GRAPHCONV_*`` settings in this worker's environment."""
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def worker_main(db_path: str, env: dict[str, Optional[str]], run_id: int, config: dict[str, Any]) -> None:
    """Entry point of a worker process: train stored run ``run_id`` and exit.

    ``env`` holds the submitting process's ``GRAPHCONV_*`` settings (data folder, quick mode), applied
    here because a forkserver's environment is the one it started with. Every outcome ends in the
    store (``execute`` records failures); an error before training started is recorded here.

    A worker runs at a lower CPU priority (``WORKER_NICENESS``) than the web server: when a page reruns
    while runs train, the page gets the cores first and training waits those few milliseconds.
    """
    apply_env(env)
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not allowed here: train at the same priority
        pass
    from core.training.store import RunStore

    store = RunStore(db_path)
    try:
        execute_reporting(RunConfig.from_dict(config), store, run_id)
    except BaseException as err:  # execute stored the failure; make sure a crash before it is stored too
        run = store.get_run(run_id)
        if run is not None and run["status"] in ("queued", "running"):
            store.fail(run_id, f"{type(err).__name__}: {err}")
        raise SystemExit(1) from None
