"""What runs inside a training worker: one run, reporting through the run store.

A worker process (see ``core.training.runner``) calls :func:`worker_main`; the CLI calls
:func:`execute_reporting` in its own process. Both train with ``core.training.runs.execute`` and hook it
to the store with :class:`StoreReporter`: live progress (epoch, batch, loss curve points) written at
most every ``PROGRESS_EVERY_S`` seconds, and the stop request read at most that often. So every page,
in any process, sees the same live run by polling the store, and a stop request from any process (a
page, ``python -m core stop``) reaches the run within a batch or two. Each run trains with its fair
share of this machine's CPUs (:class:`~core.training.cpu_share.CpuShare`), recorded in every epoch row.

Durable runs (issue 32): a worker writing to a run store saves a resume point (weights and training state) at the
end of every epoch, overwriting the last one, and a worker starting a run that has one (a run a restarted server took
over) trains on from it: :func:`execute_reporting`, ``core.training.resume``. A Ray task (its ``ChannelStore`` reads
nothing back) saves none. A run ended by Ctrl-C (the CLI) ends ``stopped``, so no server resumes it.

Exact mode (:func:`exact_mode`: public mode, or ``GRAPHCONV_EXACT=1``) trades a lone run's speed for results
that depend only on the config and seed. torch splits a matrix product's and a sum's work by its thread count,
so the same batch gives other last bits with 1 and 2 threads (a quick ChebNet's first epoch loss 1.7699785
against 1.7699784), and a run's dynamic share changes when a run beside it starts or ends, at moments that
differ from launch to launch: two identical ChebNet lesson runs, each beside a CNN that finished first, parted
and ended at 92.5% and 91.0%. In exact mode every run trains with ``EXACT_THREADS`` from its first batch to its
last, whatever trains beside it (:class:`FixedShare`, which still holds a lease, so the dynamic shares of runs
outside exact mode count it). Its cost is a lone run's idle cores: on an idle 2-core machine a quick ChebNet
trained about 2,100 images/s alone with 2 threads and 1,331 with 1 thread (beside another run; figures of
``core.training.cpu_share``), so a lone run's epochs take about 1.6x as long; with as many runs as cores
training, as when a class uses a server, there is none, and on a busy machine one thread is the faster choice
(load average 12-15 on 2 cores: the cheb-cnn lesson's ChebNet 5.4-7.9 s an epoch with 1 thread, 43-49 s with 2;
its CNN 3.4-5.0 s against 14-27 s). A GPU's own kernels are not made
deterministic by this.

Hard limits (issue 29, a server open to the public; ``core.config.limits``, 0 = none), so one visitor's run
can cost only its own worker:

memory (``GRAPHCONV_WORKER_MB``)
    ``RLIMIT_AS``, set in the worker right after the fork (:class:`MemoryLimit`). An allocation past it fails
    in the worker (torch: ``RuntimeError ... DefaultCPUAllocator: can't allocate memory``; Python and numpy:
    ``MemoryError``), so the run ends ``failed`` with :func:`memory_message` and no other process notices.
    Why not a cgroup v2 ``memory.max``: a cgroup needs a writable, delegated hierarchy with the memory
    controller (Streamlit Community Cloud runs the app as a plain user; even on the root-run development VM
    the v2 hierarchy offers only ``hugetlb``, memory being a v1 controller there), and its limit is the
    kernel's OOM killer: a SIGKILL that leaves no words. ``RLIMIT_AS`` needs no privilege and fails the one
    allocation. Its price: it counts address space, not resident memory, and a worker starts with much more
    of the first (torch's libraries, the forkserver's preload: 1,084 MB, of which 291 MB resident and nearly
    all of that shared with the forkserver; 2 cores). So the limit is the worker's address space when it
    starts plus ``GRAPHCONV_WORKER_MB``: the budget bounds what the run adds, and what a run adds to its
    address space is what it adds to its resident memory within ~30 MB (quick-mode runs, address space /
    resident growth in MB: mlp +15 / +27, cnn +150 / +130, cheb +169 / +149, gcn +173 / +153, gat +482 / +495,
    cnn at batch 512 +280 / +285, cheb width 64 at batch 256 +583 / +609). Two things add address space
    without memory, and :class:`MemoryLimit` takes both out before it sets the limit: OpenMP threads (an
    8 MB stack each; a thread created later under the limit may fail, and libgomp then ends the process,
    "Thread creation failed"), so the thread pool is started at its largest (every usable CPU) first; and
    glibc's 64 MB malloc arena per thread, capped at ``ARENAS``. Measured with 16 threads
    (``GRAPHCONV_CPUS=16``): without these an mlp run's address space grew 1,171 MB for 46 MB resident, with
    them 48 MB for 25 MB (start 1,335 MB). Not applied to a run on a GPU: CUDA reserves tens of GB of
    address space when it starts, and such a run's memory is the GPU's.
wall-clock time (``GRAPHCONV_RUN_WALL_S``)
    counted from the worker's start; the next batch after it ends the run ``stopped``, as a stop request
    does, with its finished epochs and checkpoint kept and :func:`time_limit_reason` as its error. A
    watchdog thread (:func:`start_watchdog`) is the backstop for a batch stuck in native code: if the
    worker is still there ``WATCHDOG_GRACE_S`` seconds after the deadline, it records the run ``stopped``
    with the reason and ends the process.
the kernel's choice
    every worker sets its ``oom_score_adj`` to ``OOM_SCORE_ADJ`` (the highest; raising it needs no
    privilege), so when the machine runs out of memory the kernel kills a worker, never the web server.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import mmap
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from core.errors import CheckpointError, UserInputError
from core.training.cpu_share import CpuShare, Lease, lease_dir, usable_cpus
from core.training.runs import RunConfig, execute

WORKER_NICENESS = 10  # added to a worker's nice value: the web server's reruns come before training
PROGRESS_EVERY_S = 0.5  # how often a worker writes its progress and reads its stop request
OOM_SCORE_ADJ = 1000  # a worker's /proc/self/oom_score_adj: the kernel's first pick when memory runs out
WATCHDOG_GRACE_S = 30.0  # after the wall-clock deadline, how long a worker may take to stop by itself
RESERVE_MB = 16  # address space held back under the memory limit, freed to record a run that reached it
ARENAS = 2  # glibc malloc arenas in a memory-limited worker (each reserves 64 MB of address space)
ENDED_BY_WATCHDOG = 3  # a worker's exit code when its watchdog ended it
EXACT_THREADS = 1  # every run's torch threads in exact mode: the share a run gets when a class fills the slots

log = logging.getLogger(__name__)


class StoreReporter:
    """``on_batch`` / ``should_stop`` callbacks for ``execute`` that talk to the store, rate-limited.

    ``clock`` is injectable for tests. The last batch of an epoch is always written, so the curve ends
    where the epoch ends.
    """

    def __init__(
        self,
        store,
        run_id: int,
        every_s: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        wall_s: float = 0.0,
    ):
        self.store, self.run_id, self.every_s, self.clock = store, int(run_id), float(every_s), clock
        self._pending: list[tuple[float, float]] = []  # (fractional epoch, loss) not yet written
        self._last_write = -float("inf")
        self._last_check = -float("inf")
        self._stop: bool | str = False
        self.wall_s = float(wall_s or 0.0)  # 0: no time limit
        self.deadline = clock() + self.wall_s if self.wall_s > 0 else None

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

    def should_stop(self) -> bool | str:
        """True once a stop was requested; the reason (a string, the run's error) once the time limit passed."""
        if self._stop:
            return self._stop
        now = self.clock()
        if self.deadline is not None and now >= self.deadline:
            self._stop = time_limit_reason(self.wall_s)
            return self._stop
        if now - self._last_check >= self.every_s:
            self._last_check = now
            self._stop = self.store.stop_requested(self.run_id)
        return self._stop


def exact_mode() -> bool:
    """Whether runs train with a fixed thread count (``EXACT_THREADS``), so that a config and seed give the same
    numbers whatever trains beside them: ``GRAPHCONV_EXACT`` when set (1/true/yes/on or 0/false/no/off), else
    public mode (``core.config.public_mode``). A local checkout keeps the dynamic shares: faster alone."""
    from core.config import public_mode

    raw = os.environ.get("GRAPHCONV_EXACT", "").strip().lower()
    if raw in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw in ("1", "true", "yes", "on")
    return public_mode()


class FixedShare(CpuShare):
    """A run's CPU share in exact mode: ``threads`` for its whole life, whatever trains beside it, while it holds a
    lease in the registry like a dynamic share does, so runs outside exact mode leave it its core."""

    def __enter__(self) -> Self:
        try:
            self.lease = Lease(lease_dir())
        except OSError as err:  # no registry: sharing must never end a run
            log.warning("CPU share registry unusable (%s): training with %s threads", err, self.fixed)
        return super().__enter__()


class ThreadsInEpochs:
    """The run store as ``execute`` sees it, with each epoch row tagged ``threads``: the CPU threads the
    epoch trained with (``CpuShare.epoch_threads``). Every other call goes to the store unchanged."""

    def __init__(self, store, share: CpuShare):
        self._store, self._share = store, share

    def log_epoch(self, run_id: int, **row: Any) -> None:
        self._store.log_epoch(run_id, **row, threads=self._share.epoch_threads())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class NamesMemoryLimit:
    """The run store as ``execute`` sees it in a memory-limited worker: a failure that is an allocation past the
    limit is recorded as :func:`memory_message`, in the same write (a page never sees the allocator's words), with
    the limit's reserve given back first so the write has room. Every other call goes to the store unchanged."""

    def __init__(self, store, memory: MemoryLimit):
        self._store, self._memory = store, memory

    def fail(self, run_id: int, error: str) -> None:
        if looks_like_memory(error):
            self._memory.release()
            error = memory_message(self._memory.worker_mb)
        self._store.fail(run_id, error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def execute_reporting(
    cfg: RunConfig,
    store,
    run_id: int,
    on_epoch: Callable[[dict], None] | None = None,
    on_prepare: Callable[[str, int, int], None] | None = None,
    threads: int | None = None,
    wall_s: float | None = None,
    memory: MemoryLimit | None = None,
    exact: bool | None = None,
    save_each_epoch: bool | None = None,
) -> dict[str, Any]:
    """``execute`` one stored run with live progress and stop requests through the store (``on_epoch`` and
    ``on_prepare`` are called too, e.g. to print).

    The run holds a fair share of this machine's CPUs from start to end, preparation included
    (``core.training.cpu_share``), looked at again between batches; ``threads`` fixes the count instead
    (a Ray task: Ray already gave it its CPUs); in exact mode (``exact``, default :func:`exact_mode`) it trains
    with ``EXACT_THREADS`` throughout (:class:`FixedShare`). ``wall_s`` seconds from now the run stops by itself (status
    ``stopped``, :func:`time_limit_reason` its error); ``None``: ``core.config.limits().run_wall_s``, 0: never.
    ``memory``: this process's memory limit (:func:`limit_memory`), named in the error of a run that reached it.

    ``save_each_epoch`` (default: when ``store`` is a run store that reads back, an ``AbstractStore``; a Ray task's
    channel is not) saves a resume point after every epoch (``core.training.resume.EpochSaver``), and then a run that
    has one (taken over after a restart) goes on from it. Ctrl-C ends the run ``stopped``, its epochs kept."""
    from core.training.resume import EpochSaver, load_resume_point
    from core.training.store import AbstractStore
    from core.training.trainer import saving_each_epoch

    durable = isinstance(store, AbstractStore) if save_each_epoch is None else bool(save_each_epoch)
    try:
        if threads is None and (exact_mode() if exact is None else exact):
            share: CpuShare = FixedShare(EXACT_THREADS)
        else:
            share = CpuShare(threads)
        if wall_s is None:
            from core.config import limits

            wall_s = limits().run_wall_s
        start_from = load_resume_point(store, run_id) if durable else None
        if start_from is not None and int(start_from["epoch"]) >= cfg.training.epochs:
            raise CheckpointError(f"run {run_id} already trained its {cfg.training.epochs} epochs: nothing to resume")
    except (UserInputError, CheckpointError) as err:  # a bad GRAPHCONV_CPUS or limit, an unreadable resume point:
        store.fail(run_id, str(err))  # the stored run ends with the reason, not queued
        raise
    reporter = StoreReporter(store, run_id, wall_s=wall_s)

    def prepare(what: str, done: int, total: int) -> None:
        share.refresh()
        reporter.on_prepare(what, done, total)
        if on_prepare:
            on_prepare(what, done, total)

    def batch(info: dict[str, Any]) -> None:
        share.refresh()
        reporter.on_batch(info)

    saver = EpochSaver(store, run_id)
    saving = saving_each_epoch(saver, start_from, saver.flush) if durable else contextlib.nullcontext()
    with share, saving, contextlib.closing(saver):
        target = ThreadsInEpochs(store, share)
        try:
            return execute(
                cfg,
                NamesMemoryLimit(target, memory) if memory else target,
                run_id=run_id,
                should_stop=reporter.should_stop,
                on_batch=batch,
                on_epoch=on_epoch,
                on_prepare=prepare,
            )
        except KeyboardInterrupt:  # Ctrl-C: the person ended it, so it ends stopped (no server takes it over)
            _stopped_by_keyboard(store, run_id)
            raise


def _stopped_by_keyboard(store, run_id: int) -> None:
    """End run ``run_id`` ``stopped`` after a Ctrl-C, its finished epochs kept (as far as the store can be read)."""
    try:
        epochs = store.epochs(run_id) if hasattr(store, "epochs") else []
        store.finish(
            run_id,
            {
                "run_id": run_id,
                "status": "stopped",
                "test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
                "epochs_done": len(epochs),
            },
            status="stopped",
            error="stopped: interrupted from the keyboard (Ctrl-C)",
        )
    except Exception as err:  # noqa: BLE001 - the Ctrl-C goes on either way; the run is then found dead later
        log.warning("run %s: could not record the Ctrl-C (%s)", run_id, err)


def apply_env(env: dict[str, str | None]) -> None:
    """Set (or, for None, remove) the submitter's ``GRAPHCONV_*`` settings in this worker's environment."""
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def time_limit_reason(wall_s: float) -> str:
    """The error of a run that reached its wall-clock limit."""
    return f"stopped: reached the time limit of {_number(wall_s)} s (GRAPHCONV_RUN_WALL_S)"


def memory_message(worker_mb: int) -> str:
    """The error of a run that reached its worker's memory limit."""
    return (
        f"the run needed more than {_number(worker_mb)} MB of memory, the most one run may use here "
        "(GRAPHCONV_WORKER_MB): try a smaller batch size or a smaller model"
    )


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,g}"


def raise_oom_score(value: int = OOM_SCORE_ADJ) -> bool:
    """Make this process the kernel's first pick when memory runs out (``/proc/self/oom_score_adj``, raised
    without privilege); False where there is no such file (not Linux) or it cannot be written."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(int(value)))
        return True
    except OSError:
        return False


def address_space_mb() -> float | None:
    """This process's address space in MB (``VmSize``), None where /proc cannot tell."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _start_thread_pool() -> None:
    """Start torch's OpenMP threads at their largest count now: they stay (libgomp keeps its pool), so a later
    ``set_num_threads`` up (a CPU share that grew) never has to create a thread under the memory limit, where a
    failed creation ends the process (libgomp: "Thread creation failed") instead of raising."""
    import torch

    before = torch.get_num_threads()
    try:
        most = usable_cpus()
    except UserInputError:  # execute_reporting reports a bad GRAPHCONV_CPUS
        most = os.cpu_count() or 1
    torch.set_num_threads(max(most, before))
    x = torch.ones(max(most, before) * 65536)  # parallel_for's grain is 32,768 elements: one chunk per thread
    x.add_(1)
    torch.mm(x[:65536].view(256, 256), x[:65536].view(256, 256))  # BLAS's threads too
    torch.set_num_threads(before)


class MemoryLimit:
    """An ``RLIMIT_AS`` on this process: its address space now plus ``worker_mb`` MB (see the module docstring),
    with ``RESERVE_MB`` held back and given up by :meth:`release` so that a run that reached the limit can still
    be recorded."""

    def __init__(self, worker_mb: int, reserve_mb: int = RESERVE_MB):
        import resource

        from core.training.memory import limit_malloc_arenas

        self.worker_mb = int(worker_mb)
        limit_malloc_arenas(ARENAS)
        _start_thread_pool()
        self._reserve: mmap.mmap | None = mmap.mmap(-1, int(reserve_mb) << 20) if reserve_mb else None
        start = address_space_mb()
        if start is None:
            raise OSError("this system does not report a process's address space (/proc/self/status)")
        self.start_mb = start
        limit = int((start + self.worker_mb) * (1 << 20))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, soft)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        self.limit_bytes = limit

    def release(self) -> None:
        """Give the reserve back (the address space a failed run's last records need)."""
        if self._reserve is not None:
            self._reserve.close()
            self._reserve = None


def trains_on_cpu(config: dict[str, Any]) -> bool:
    """Whether this run will train on the CPU (its device ``auto`` on a machine without a GPU, or ``cpu``)."""
    try:
        from core.training.trainer import pick_device

        return pick_device(str(config.get("device") or "auto")).type == "cpu"
    except Exception:  # noqa: BLE001 - a device that does not exist here (torch raises various): execute reports it
        return True


def limit_memory(worker_mb: int, config: dict[str, Any]) -> MemoryLimit | None:
    """Bound this worker's memory at ``worker_mb`` MB more than it starts with (``RLIMIT_AS``); None when there
    is no limit (0), the run trains on a GPU, or this system cannot set one (logged; the run still trains)."""
    if worker_mb <= 0 or not trains_on_cpu(config):
        return None
    try:
        return MemoryLimit(worker_mb)
    except (OSError, ValueError, ImportError) as err:  # no resource module (Windows), no /proc (macOS)
        log.warning("no memory limit for this worker: %s", err)
        return None


# how a failed allocation reads: torch's CPU allocator, C++'s bad_alloc, errno ENOMEM, ``execute``'s
# "MemoryError: ..." for Python's and numpy's MemoryError
MEMORY_WORDS = (
    "can't allocate memory",
    "cannot allocate memory",
    "defaultcpuallocator",
    "std::bad_alloc",
    "out of memory",
    "memoryerror",
)


def looks_like_memory(text: str | None) -> bool:
    """Whether an error's text says an allocation failed."""
    return bool(text) and any(w in str(text).lower() for w in MEMORY_WORDS)


def is_memory_error(err: BaseException | None) -> bool:
    """Whether ``err``, or an error it was raised from or while handling, is an allocation that failed."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, MemoryError) or looks_like_memory(str(err)):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def start_watchdog(
    store, run_id: int, wall_s: float, grace_s: float = WATCHDOG_GRACE_S, clock: Callable[[], float] = time.monotonic
) -> threading.Thread:
    """A daemon thread that ends this process ``wall_s + grace_s`` seconds from now if the run is still queued or
    running in the store then (a batch stuck in native code never reaches ``should_stop``): it records the run
    ``stopped`` with the reason, its finished epochs kept, and exits with ``ENDED_BY_WATCHDOG``."""
    deadline = clock() + float(wall_s) + float(grace_s)

    def watch() -> None:
        while (left := deadline - clock()) > 0:
            time.sleep(min(left, 1.0))
        try:
            run = store.get_run(run_id)
            if run is not None and run["status"] in ("queued", "running"):
                epochs = store.epochs(run_id)
                last = epochs[-1]["test_accuracy"] if epochs else None
                store.finish(
                    run_id,
                    {"run_id": run_id, "status": "stopped", "test_accuracy": last, "epochs_done": len(epochs)},
                    status="stopped",
                    error=f"{time_limit_reason(wall_s)}; the worker did not stop within "
                    f"{_number(grace_s)} s after it and was ended",
                )
            else:
                return  # the run ended: the worker is only tidying up
        except BaseException:  # noqa: BLE001 - the store is unusable: the parent reports the exit
            pass
        os._exit(ENDED_BY_WATCHDOG)

    thread = threading.Thread(target=watch, name=f"graphconv-watchdog-{run_id}", daemon=True)
    thread.start()
    return thread


def worker_main(db_path: str, env: dict[str, str | None], run_id: int, config: dict[str, Any]) -> None:
    """Entry point of a worker process: train stored run ``run_id`` and exit.

    ``env`` holds the submitting process's ``GRAPHCONV_*`` settings (data folder, quick mode, the limits),
    applied here because a forkserver's environment is the one it started with. Every outcome ends in the
    store (``execute`` records failures); an error before training started is recorded here, and so is a
    run that reached its memory limit (:func:`memory_message` replaces the allocator's words).

    A worker runs at a lower CPU priority (``WORKER_NICENESS``) than the web server: when a page reruns
    while runs train, the page gets the cores first and training waits those few milliseconds. It is the
    kernel's first pick when memory runs out (``OOM_SCORE_ADJ``), and it holds the hard limits of
    ``core.config.limits()``: memory (:func:`limit_memory`) and wall-clock time (a stop after the deadline,
    :func:`start_watchdog` behind it).
    """
    apply_env(env)
    with contextlib.suppress(OSError):  # not allowed here: train at the same priority
        os.nice(WORKER_NICENESS)
    raise_oom_score()
    from core.config import limits
    from core.training.store import store_at

    store = store_at(db_path)  # the SQLite file, or the PostgreSQL URL, the server trains with
    memory: MemoryLimit | None = None
    try:
        bounds = limits()
        if bounds.run_wall_s > 0:
            start_watchdog(store, run_id, bounds.run_wall_s)  # before the memory limit: its stack is no run's
        memory = limit_memory(bounds.worker_mb, config)
        execute_reporting(RunConfig.from_dict(config), store, run_id, wall_s=bounds.run_wall_s, memory=memory)
    except BaseException as err:  # noqa: BLE001 - execute stored the failure; a crash before it is stored here too
        over = memory if memory is not None and is_memory_error(err) else None
        message = memory_message(over.worker_mb) if over is not None else f"{type(err).__name__}: {err}"
        if over is not None:  # room to record it: the reserve, and the failed batch's tensors (held by its frames)
            over.release()
            _drop_frames(err)
            gc.collect()
        run = store.get_run(run_id)
        if run is not None and (
            run["status"] in ("queued", "running")  # execute's own record failed too
            or (over is not None and run["status"] == "failed" and run["error"] != message)
        ):
            store.fail(run_id, message)
        raise SystemExit(1) from None


def _drop_frames(err: BaseException | None) -> None:
    """Let go of the frames (and so the tensors) that ``err`` and the errors it chains hold."""
    seen = 0
    while err is not None and seen < 10:
        err.__traceback__ = None
        err, seen = err.__cause__ or err.__context__, seen + 1
