"""Is a run's worker still alive? Heartbeats, pid and zombie checks, and recovery of dead runs.

A worker's every write (epoch, progress, :meth:`Liveness.heartbeat`) refreshes its run's heartbeat.
A run's owner (the process in its ``pid`` column: the server that queued it, then its worker) is dead when that
process is gone (or a zombie) on the host it ran on (``host``, :func:`this_host`), or when its heartbeat went stale:
:func:`orphan_reason`. A pid is looked up only on its own host: several servers on several machines may share one
store, and another machine's pid says nothing here, so there the heartbeat alone decides.
:meth:`Liveness.recover_interrupted` marks such ``queued``/``running`` runs ``interrupted``; a later heartbeat from a
worker that was in fact alive sets its run running again. A starting server takes them over instead
(``orphaned_runs``, ``claim_orphan``, ``interrupt_orphan`` in :class:`~core.training.store.RunStore`;
``core.training.resume``).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from functools import cache
from pathlib import Path

from core.errors import RunNotFoundError
from core.training.store.database import Database
from core.training.store.schema import ACTIVE_STATUSES


def _pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host (zombies count as dead)."""
    if os.name == "nt":  # os.kill(pid, 0) would signal the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


@cache
def this_host() -> str:
    """Which pid namespace this process lives in, as a run's ``host`` records it: the host's name, its boot id and
    the namespace's inode, so that two containers with the same host name, or one machine after a reboot, never pass
    for each other (the host name alone where there is no /proc)."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8])
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:  # not Linux: the host name alone
        pass
    return "/".join(parts)


def orphan_reason(
    pid: int | None, host: str | None, heartbeat: float | None, now: float, stale_after: float
) -> str | None:
    """Why an active run's owner is dead ("interrupted: ..."), or ``None`` if it looks alive: its process ``pid`` is
    gone, looked up only when it ran here (``host`` is :func:`this_host`, or None: a row written before hosts were
    recorded, by a store on this machine), or its heartbeat is older than ``stale_after`` seconds or never came."""
    return _interruption_reason(pid if host is None or host == this_host() else None, heartbeat, now, stale_after)


def _interruption_reason(pid: int | None, heartbeat: float | None, now: float, stale_after: float) -> str | None:
    """Why an active run should be marked interrupted, or ``None`` if it looks alive (``pid``: None when it is not
    this host's to look up)."""
    if pid is not None and not _pid_alive(pid):
        return f"interrupted: process {pid} is no longer running"
    if heartbeat is None:
        return "interrupted: the run never sent a heartbeat"
    if now - heartbeat > stale_after:
        return f"interrupted: no heartbeat for {now - heartbeat:.0f} s"
    return None


def beat(conn: sqlite3.Connection, run_id: int, now: float) -> None:
    """Refresh the heartbeat; a run wrongly marked ``interrupted`` goes back to running.

    Only a live worker heartbeats, so an ``interrupted`` mark it contradicts (e.g. a
    long pause between heartbeats seen by another process) is undone here.
    """
    cursor = conn.execute(
        "UPDATE runs SET heartbeat = ?,"
        " error = CASE WHEN status = 'interrupted' THEN NULL ELSE error END,"
        " updated_at = CASE WHEN status = 'interrupted' THEN ? ELSE updated_at END,"
        " status = CASE WHEN status = 'interrupted' THEN 'running' ELSE status END"
        " WHERE id = ?",
        (now, now, int(run_id)),
    )
    if cursor.rowcount == 0:
        raise RunNotFoundError(f"run {run_id} does not exist")


class Liveness(Database):
    """The run store's heartbeat and recovery calls (part of :class:`~core.training.store.RunStore`)."""

    def heartbeat(self, run_id: int) -> None:
        """Tell :meth:`recover_interrupted` the run is still alive (see :func:`beat`)."""
        with self._write() as conn:
            beat(conn, run_id, time.time())

    def recover_interrupted(self, stale_after: float = 60.0) -> list[int]:
        """Mark dead ``queued``/``running`` runs as ``interrupted`` and return their ids.

        A run is dead when its pid no longer exists on the host it ran on, or when its heartbeat
        is older than ``stale_after`` seconds (this also catches a reused pid): :func:`orphan_reason`.
        Runs in any other status are never touched. The CLI calls it when it starts (a starting server
        takes such runs over instead: ``RunStore.orphaned_runs``). If a worker marked this way is in
        fact alive, its next heartbeat or epoch sets it running again.
        """
        now = time.time()
        recovered: list[int] = []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, pid, host, heartbeat FROM runs WHERE status IN (?, ?)", ACTIVE_STATUSES
            ).fetchall()
            for row in rows:
                reason = orphan_reason(row["pid"], row["host"], row["heartbeat"], now, stale_after)
                if reason is not None:
                    self._update(conn, row["id"], status="interrupted", error=reason, updated_at=now)
                    recovered.append(int(row["id"]))
        return recovered
