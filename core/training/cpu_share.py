"""Fair CPU shares for the runs that train on this machine at the same time.

Every worker process used to take torch's default thread count, all cores: two runs side by side then
fought over the same cores and trained at 412 + 412 images/s with 2 threads each, against 1,331 + 1,240
with one thread each (cheb, 2 cores; solo about 2,100). So each run that trains here holds a
:class:`CpuShare`: a lease in a machine-wide folder of runs training now, and ``torch.set_num_threads``
set to its share of the usable CPUs, re-evaluated (at most every ``REFRESH_S`` seconds) as runs start
and end.

The folder (``GRAPHCONV_CPU_DIR``, default ``<tmp>/graphconv-cpu-<uid>``) holds one file per run, locked
with ``flock`` for the run's lifetime. The kernel drops the lock when its process dies, however it dies,
so a killed worker stops counting at once (a lockable file is stale and is removed), with no process ids
to go stale or be reused. File names start with the time the lease was taken, so sorting them ranks the
runs oldest first and a run's rank never changes while it trains.

Interop threads (``torch.set_num_interop_threads``) are left as they are: torch allows setting them
once per process, before any parallel work, and these models do no inter-op parallel work anyway.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from core.errors import UserInputError

REFRESH_S = 0.5  # how often a training run looks at the registry again (between batches)
SUFFIX = ".lease"
# Peak proportional set size (PSS) of a worker training quick-mode cheb for 2 epochs, forked from the
# forkserver: 302-304 MB (RSS 443 MB; full mnist-5k, 1 epoch: 299 MB), read from /proc/<pid>/smaps_rollup
# every 30 ms. Larger nets need more (a width-48 escnn net peaked near 1 GB), so this is a floor.
WORKER_PSS_MB = 300
MEMORY_FRACTION = 0.5  # of the machine's (or its cgroup's) memory that training workers may plan on

_counter = itertools.count()
log = logging.getLogger(__name__)


def usable_cpus() -> int:
    """CPUs training may use: ``GRAPHCONV_CPUS`` when set, else the CPUs this process may run on."""
    raw = os.environ.get("GRAPHCONV_CPUS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise UserInputError("GRAPHCONV_CPUS", f"must be a positive whole number, got {raw!r}")
        return value
    try:
        return len(os.sched_getaffinity(0))  # a container or taskset may allow fewer than the machine has
    except (AttributeError, OSError):  # macOS has no affinity call
        return os.cpu_count() or 1


def memory_mb() -> int:
    """This machine's memory in MB, or its cgroup's limit when lower (a container)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = int(Path(path).read_text().strip()) // 2**20  # "max" (no limit) fails here
        except (OSError, ValueError):
            continue
        return max(1, min(total, limit))
    return max(1, total)


def default_max_runs() -> int:
    """Runs to train at once when ``GRAPHCONV_MAX_RUNS`` is not set: one per usable CPU, as many as half the
    memory holds at ``WORKER_PSS_MB`` each, and at least 2 (a short run need not wait behind a long one).

    More runs than CPUs would not finish sooner: each run gets at least one thread, so the CPUs would be
    time-sliced between them and every run would slow down while holding its memory for longer."""
    return max(2, min(usable_cpus(), int(memory_mb() * MEMORY_FRACTION) // WORKER_PSS_MB))


def share_of(rank: int, runs: int, cpus: int) -> int:
    """Threads for the run ranked ``rank`` (0: the oldest) of ``runs`` training on ``cpus`` CPUs:
    ``cpus // runs``, plus one for the ``cpus % runs`` oldest runs, and at least 1."""
    runs = max(runs, 1)
    return max(1, cpus // runs + (1 if rank < cpus % runs else 0))


def lease_dir() -> Path:
    """The registry folder of runs training on this machine (created if missing)."""
    raw = os.environ.get("GRAPHCONV_CPU_DIR", "").strip()
    folder = Path(raw) if raw else Path(tempfile.gettempdir()) / f"graphconv-cpu-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _locked(path: Path) -> bool:
    """True while another open file holds ``path``'s lock; a lockable (stale) file is removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # its holder released it just now
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True
    try:  # we got the lock: its holder is gone
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return False


def live_leases(folder: Path) -> list[str]:
    """Names of the leases held now, oldest first (stale ones are removed on the way)."""
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))
    return [name for name in names if _locked(folder / name)]


class Lease:
    """One run's place in the registry: a locked file, named by the time it was taken, until ``release``."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)  # (again, should a cleaner of the temp folder have removed it)
        self.name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(_counter):04d}{SUFFIX}"
        hidden = folder / f".{self.name}.tmp"  # locked before it gets its listed name, so no probe sees it unlocked
        self._fd: int | None = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            os.rename(hidden, folder / self.name)
        except OSError:  # no lease after all: leave neither the descriptor nor the hidden file behind
            os.close(self._fd)
            self._fd = None
            hidden.unlink(missing_ok=True)
            raise

    def held(self) -> bool:
        """False once released, or when the file was removed (say by a cleaner of the temp folder)."""
        return self._fd is not None and (self.folder / self.name).exists()

    def release(self) -> None:
        if self._fd is None:
            return
        (self.folder / self.name).unlink(missing_ok=True)
        os.close(self._fd)  # drops the lock
        self._fd = None


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _get_threads() -> int:
    import torch

    return torch.get_num_threads()


class CpuShare:
    """Hold a fair share of the CPUs while one run trains (a context manager).

    With ``threads=None`` the run takes a lease in the registry and trains with its share of
    :func:`usable_cpus`; :meth:`refresh` (called between batches) looks again at most every ``every_s``
    seconds and changes torch's thread count only when the share changed. A fixed ``threads`` (a Ray
    task's assigned CPUs: Ray's scheduler already shares the node) takes no lease. :meth:`epoch_threads`
    says which thread counts an epoch trained with, for its stored row. ``apply`` and ``clock`` are
    injectable for tests.
    """

    def __init__(
        self,
        threads: int | None = None,
        folder: Path | None = None,
        every_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
        apply: Callable[[int], None] = _set_threads,
    ):
        self.fixed = None if threads is None else max(1, int(threads))
        self.cpus = self.fixed or usable_cpus()  # reads GRAPHCONV_CPUS now: a bad value fails before training
        self.folder, self.every_s, self.clock, self.apply = folder, float(every_s), clock, apply
        self.lease: Lease | None = None
        self.threads = 0  # torch's thread count now
        self.runs: int | None = None  # runs training on this machine at the last look (None: fixed)
        self._low = self._high = 0  # thread counts since the last epoch_threads()
        self._last = -float("inf")
        self._before: int | None = None
        self._warned = False

    def __enter__(self) -> Self:
        self._before = _get_threads() if self.apply is _set_threads else None
        self._evaluate()
        self._low = self._high = self.threads
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.lease is not None:
            self.lease.release()
        if self._before is not None:  # an in-process run (the CLI) leaves torch as it found it
            self.apply(self._before)

    def share(self) -> int:
        """This run's threads by the registry now (its fixed count when it has one)."""
        if self.fixed is not None:
            return self.fixed
        try:
            if self.lease is None or not self.lease.held():  # the first look, or our file was removed: (re)take one
                if self.lease is not None:
                    self.lease.release()
                self.folder = self.folder or lease_dir()
                self.lease = Lease(self.folder)
            names = live_leases(self.lease.folder)
        except OSError as err:  # no registry (a read-only or missing folder): sharing must never end a run
            if not self._warned:
                log.warning(
                    "CPU share registry %s unusable (%s): training with %s threads",
                    self.folder,
                    err,
                    self.threads or self.cpus,
                )
                self._warned = True
            return self.threads or self.cpus
        if self.lease.name not in names:
            names = sorted([*names, self.lease.name])
        self.runs = len(names)
        return share_of(names.index(self.lease.name), self.runs, self.cpus)

    def refresh(self) -> int:
        """Look at the registry again if ``every_s`` has passed; return the thread count in use."""
        if self.fixed is None and self.clock() - self._last >= self.every_s:
            self._evaluate()
        return self.threads

    def _evaluate(self) -> None:
        self._last = self.clock()
        share = self.share()
        if share != self.threads:
            self.apply(share)
            self.threads = share
            self._low, self._high = min(self._low, share), max(self._high, share)

    def epoch_threads(self) -> dict[str, Any]:
        """The thread counts used since the last call (``min``, ``max``), the CPUs shared and the runs
        training at the last look (``runs``: None for a fixed count); starts the next epoch's record."""
        record = {"min": self._low, "max": self._high, "cpus": self.cpus, "runs": self.runs}
        self._low = self._high = self.threads
        return record


def describe(record: dict[str, Any] | None) -> str:
    """An epoch's ``threads`` record in words, e.g. '1 of 2 cores (2 runs training)'; '' without one."""
    if not record or not record.get("max"):
        return ""
    low, high = record.get("min") or record["max"], record["max"]
    threads = f"{high}" if low == high else f"{low}–{high}"
    runs = record.get("runs")
    if not runs:  # a fixed count (a Ray task)
        return f"{threads} thread{'s' if high > 1 else ''}"
    return f"{threads} of {record['cpus']} cores ({runs} run{'s' if runs > 1 else ''} training)"
