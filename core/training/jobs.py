"""Small jobs a page asks for, computed in worker processes with bounds, never in the web server's process.

A :class:`JobPool` runs a function (a module-level one, so it pickles) in a fresh worker process forked
from the forkserver that training workers use (``core.training.process_backend``; ``spawn`` where there is
none), with:

- at most ``workers`` jobs at once and ``waiting`` more queued (oldest first); past that, :class:`BusyError`
  ("the server is busy, try again in a moment") and nothing is started;
- at most ``per_owner`` unfinished jobs per owner (a browser), so one visitor cannot fill the queue;
- a wall-clock limit ``limit_s`` per job: a worker still running then is killed and its job fails;
- one job per key: asking again for a key that is queued or running joins that job, and a finished job's
  result stays in a bounded cache (the last ``keep`` keys), so the same question is computed once;
  a failure is remembered ``failure_ttl_s`` seconds, so a job that cannot succeed is not retried on
  every page rerun.

Pages submit, then poll :meth:`JobPool.state` (a fragment with ``run_every``) until the job is done. The
pools are process-wide (``pool(name, ...)``): every session of the server shares their bounds.

A worker gets the submitter's ``GRAPHCONV_*`` settings (a forkserver's environment is the one it started
with) and runs at a lower CPU priority than the web server. Errors the pages know (``core.errors``) come
back as the same class with the same message; any other as a ``RuntimeError`` naming it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from core import errors

log = logging.getLogger(__name__)

WORKER_NICENESS = 10  # as training workers: the web server's reruns come first
BUSY = "the server is busy, try again in a moment"
_PORTABLE = ("UserInputError", "DataUnavailableError", "StoreError", "RunNotFoundError", "CheckpointError")


class BusyError(RuntimeError):
    """No room for another job now (the pool's queue is full, or this owner already has one unfinished)."""


@dataclass(frozen=True)
class JobState:
    """Where one job is: ``waiting`` (``position`` 1 = next to start), ``running``, ``done`` (``result``) or
    ``failed`` (``error``, an exception to raise or show)."""

    state: str
    position: int = 0
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0  # how long the worker ran (done or failed)

    @property
    def pending(self) -> bool:
        return self.state in ("waiting", "running")


@dataclass
class _Job:
    key: Hashable
    fn: Callable[..., Any]
    args: tuple
    owners: set
    env: dict[str, str]
    state: str = "waiting"


class JobPool:
    """Bounded worker processes for one kind of small job (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        workers: int = 1,
        waiting: int = 4,
        limit_s: float = 60.0,
        keep: int = 32,
        per_owner: int = 1,
        failure_ttl_s: float = 60.0,
        method: str | None = None,
    ):
        self.name, self.workers, self.waiting, self.limit_s = name, max(1, int(workers)), max(0, int(waiting)), limit_s
        self.keep, self.per_owner, self.failure_ttl_s = max(0, int(keep)), max(1, int(per_owner)), failure_ttl_s
        methods = mp.get_all_start_methods()
        self.method = method or ("forkserver" if "forkserver" in methods else "spawn")
        from core.training.process_backend import prewarm, start_context

        if self.method == "forkserver":
            prewarm()  # the forkserver with torch and the data imported (once per process, shared with training)
        self._ctx = start_context(self.method)
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._running: dict[Hashable, _Job] = {}
        self._done: OrderedDict[Hashable, JobState] = OrderedDict()
        self._failed: dict[Hashable, tuple[float, JobState]] = {}
        self._changed = threading.Condition(self._lock)
        self.counts = {"started": 0, "done": 0, "failed": 0, "refused": 0}

    # -- what pages call ------------------------------------------------------------------

    def submit(self, key: Hashable, fn: Callable[..., Any], args: tuple = (), owner: str | None = None) -> JobState:
        """The job for ``key``: its finished result or failure when known, the queued or running job it joins,
        else a new job queued for ``fn(*args)``. Raises :class:`BusyError` when there is no room for a new one."""
        with self._lock:
            known = self._known(key)
            if known is not None:
                job = self._find(key) if known.pending else None
                if job is not None and owner is not None:
                    job.owners.add(owner)
                return known
            if owner is not None:
                mine = sum(owner in job.owners for job in (*self._queue, *self._running.values()))
                if mine >= self.per_owner:
                    self.counts["refused"] += 1
                    raise BusyError(f"{BUSY} (your last request is still being computed)")
            if len(self._queue) >= self.waiting and len(self._running) >= self.workers:
                self.counts["refused"] += 1
                raise BusyError(BUSY)
            env = {k: v for k, v in os.environ.items() if k.startswith("GRAPHCONV_")}
            self._queue.append(_Job(key, fn, tuple(args), {owner} if owner is not None else set(), env))
            self._start_ready()
            state = self._known(key)
            assert state is not None  # just queued (or already started by _start_ready)
            return state

    def state(self, key: Hashable) -> JobState | None:
        """Where the job for ``key`` is; None when this pool knows none (never asked, or forgotten since)."""
        with self._lock:
            return self._known(key)

    def wait(self, key: Hashable, timeout: float = 120.0) -> JobState | None:
        """Block until the job for ``key`` is no longer pending (tests, scripts); its state."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                known = self._known(key)
                left = deadline - time.monotonic()
                if known is None or not known.pending or left <= 0:
                    return known
                self._changed.wait(min(left, 1.0))

    def forget(self) -> None:
        """Drop every remembered result and failure (jobs queued or running go on)."""
        with self._lock:
            self._done.clear()
            self._failed.clear()

    # -- inside ---------------------------------------------------------------------------

    def _find(self, key: Hashable) -> _Job | None:
        return self._running.get(key) or next((job for job in self._queue if job.key == key), None)

    def _known(self, key: Hashable) -> JobState | None:
        if key in self._running:
            return JobState("running")
        for position, job in enumerate(self._queue, 1):
            if job.key == key:
                return JobState("waiting", position=position)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        failed = self._failed.get(key)
        if failed is not None:
            if time.monotonic() - failed[0] < self.failure_ttl_s:
                return failed[1]
            del self._failed[key]
        return None

    def _start_ready(self) -> None:
        """Start queued jobs while there are free workers (under the lock; each is watched by its own thread)."""
        while self._queue and len(self._running) < self.workers:
            job = self._queue.popleft()
            job.state = "running"
            self._running[job.key] = job
            self.counts["started"] += 1
            threading.Thread(target=self._watch, args=(job,), name=f"graphconv-{self.name}-job", daemon=True).start()

    def _watch(self, job: _Job) -> None:
        t0 = time.monotonic()
        try:
            outcome = JobState("done", result=self._run(job), seconds=time.monotonic() - t0)
        except BaseException as err:  # noqa: BLE001 - the job failed: whatever it raised is its outcome
            outcome = JobState("failed", error=err, seconds=time.monotonic() - t0)
        with self._changed:
            del self._running[job.key]
            if outcome.state == "done":
                self.counts["done"] += 1
                if self.keep:
                    self._done[job.key] = outcome
                    while len(self._done) > self.keep:
                        self._done.popitem(last=False)
            else:
                self.counts["failed"] += 1
                now = time.monotonic()
                self._failed = {k: v for k, v in self._failed.items() if now - v[0] < self.failure_ttl_s}
                self._failed[job.key] = (now, outcome)
            self._start_ready()
            self._changed.notify_all()

    def _run(self, job: _Job) -> Any:
        """``job.fn(*job.args)`` in a worker process, within ``limit_s``; its result, or its error raised here."""
        receive, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_child, args=(send, job.env, job.fn, job.args), daemon=True, name=f"graphconv-{self.name}"
        )
        try:
            proc.start()
            send.close()  # only the worker holds the sending end now: its exit reads as end of file here
            if not receive.poll(self.limit_s):
                proc.kill()
                raise TimeoutError(f"{self.name} took longer than {self.limit_s:g} s and was stopped")
            try:
                kind, payload = receive.recv()
            except EOFError:
                proc.join(5)
                raise RuntimeError(f"{self.name}: {_exit_text(proc.exitcode)}") from None
        finally:
            receive.close()
            send.close()
            if proc.pid is not None:  # started: it ends now (it has sent its outcome) or is killed
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
        if kind == "ok":
            return payload
        raise _rebuild(payload)


def _child(send, env: dict[str, str], fn: Callable[..., Any], args: tuple) -> None:
    """A job's worker process: the submitter's settings, a lower priority, ``fn(*args)``; the outcome sent back."""
    for key in [k for k in os.environ if k.startswith("GRAPHCONV_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)
    with contextlib.suppress(OSError):  # a system that refuses: the job runs at normal priority
        os.nice(WORKER_NICENESS)
    try:
        outcome = ("ok", fn(*args))
    except BaseException as err:  # noqa: BLE001 - the child's job: whatever it raised goes back as its outcome
        outcome = ("error", _portable(err))
    try:
        send.send(outcome)
    except Exception as err:  # noqa: BLE001 - a result that does not pickle (pickling raises many types)
        send.send(("error", _portable(err)))
    finally:
        send.close()


def _exit_text(exitcode: int | None) -> str:
    """How a job's worker ended without an answer (``exitcode`` as multiprocessing reports it)."""
    from core.training.process_backend import exit_reason

    if exitcode is not None and exitcode > 0:
        return f"the worker process exited with code {exitcode} before it answered"
    return exit_reason(exitcode)


def _portable(err: BaseException) -> tuple[str, str | None, str]:
    """(class name, parameter, message) of an error, for the other process to rebuild."""
    name = type(err).__name__
    if isinstance(err, errors.UserInputError):
        return "UserInputError", err.param, err.message
    if name in _PORTABLE and isinstance(err, getattr(errors, name)):
        return name, None, str(err)
    return "RuntimeError", None, f"{name}: {err}"


def _rebuild(payload: tuple[str, str | None, str]) -> BaseException:
    name, param, message = payload
    if name == "UserInputError":
        return errors.UserInputError(param or "value", message)
    return getattr(errors, name)(message) if name in _PORTABLE else RuntimeError(message)


_pools: dict[str, JobPool] = {}
_pools_lock = threading.Lock()


def pool(name: str, **settings: Any) -> JobPool:
    """The process-wide pool called ``name``, made with ``settings`` (JobPool's) on first use."""
    with _pools_lock:
        if name not in _pools:
            _pools[name] = JobPool(name, **settings)
        return _pools[name]
