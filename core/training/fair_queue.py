"""The run queue, shared fairly between visitors: the next free slot goes to the visitor with the fewest runs
training; among equals, to the one served longest ago (a visitor never served first), then the oldest run. So one
visitor's sweep never holds back everybody else, a visitor gets a second slot only while nobody else waits, and
visitors with sweeps take turns with newcomers instead of winning every freed slot on their older run ids (the
abuse benchmark saw an honest run wait behind 22 runs of two sweeps under the older tie-break, oldest run first).

Choosing the next run costs O(log n): each visitor's runs wait in their own first-in-first-out line, and a
heap holds one entry per visitor keyed by (runs training, when last served, oldest waiting run id). An entry goes
stale when any of those change; stale entries are skipped when they reach the top (lazy deletion), and a
fresh one is pushed with every change. A queue position (every page polls it) is looked up in the order
computed once per change of the queue, not recomputed per poll.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any


class FairQueue:
    """Jobs (anything with ``run_id`` and ``session``) waiting for a training slot; not thread-safe (the run
    manager holds its lock around every call)."""

    def __init__(self) -> None:
        self._lines: dict[str | None, deque] = {}  # session -> its waiting jobs, oldest first
        self._running: Counter = Counter()  # session -> runs training now
        self._served: dict[str | None, int] = {}  # session -> when it last got a slot (a count of picks)
        self._picks = 0
        self._heap: list[tuple[int, int, int, int, str | None]] = []  # (running, served, oldest run, tie, session)
        self._tie = 0  # keeps heap entries comparable when sessions are None
        self._size = 0
        self._order: dict[int, int] | None = None  # run id -> queue position, until the queue changes

    # -- the queue ------------------------------------------------------------------------------------------
    def append(self, job: Any) -> None:
        line = self._lines.setdefault(job.session, deque())
        line.append(job)
        self._size += 1
        if len(line) == 1:
            self._push(job.session)
        self._order = None

    def remove(self, job: Any) -> None:
        """Take a waiting job out (stopped before it started); ValueError when it is not waiting."""
        line = self._lines.get(job.session)
        if line is None or job not in line:
            raise ValueError(f"run {job.run_id} is not waiting")
        head = line[0] is job
        line.remove(job)
        self._size -= 1
        if not line:
            del self._lines[job.session]
        elif head:
            self._push(job.session)
        self._order = None

    def peek(self) -> Any:
        """The job that :meth:`pop_next` would take, left waiting (stale heap entries on top are dropped)."""
        while self._heap:
            running, served, head, _, session = self._heap[0]
            line = self._lines.get(session)
            if (
                line
                and line[0].run_id == head
                and self._running[session] == running
                and self._served.get(session, -1) == served
            ):
                return line[0]
            heapq.heappop(self._heap)
        raise IndexError("no run is waiting")

    def pop_next(self) -> Any:
        """The job that gets the next free slot, taken out of the queue and counted as training."""
        while self._heap:
            running, served, head, _, session = heapq.heappop(self._heap)
            line = self._lines.get(session)
            if (
                line
                and line[0].run_id == head
                and self._running[session] == running
                and self._served.get(session, -1) == served
            ):
                job = line.popleft()
                self._size -= 1
                if not line:
                    del self._lines[session]
                self._picks += 1
                self._served[session] = self._picks
                self.started(job)
                return job
        raise IndexError("no run is waiting")

    # -- training slots -------------------------------------------------------------------------------------
    def started(self, job: Any) -> None:
        """``job`` trains now (popped here, or started outside the queue)."""
        self._running[job.session] += 1
        self._push(job.session)

    def ended(self, job: Any) -> None:
        """``job`` no longer trains."""
        if self._running[job.session] > 0:
            self._running[job.session] -= 1
            if not self._running[job.session]:
                del self._running[job.session]
        self._push(job.session)

    # -- what pages read ------------------------------------------------------------------------------------
    def position(self, run_id: int) -> int:
        """1 when the run gets the next free slot, 2 after that, ...; 0 when it is not waiting here."""
        if self._order is None:
            self._order = {job.run_id: i for i, job in enumerate(self.order(), 1)}
        return self._order.get(run_id, 0)

    def order(self) -> list[Any]:
        """Every waiting job in the order they will get a slot (O(n log n), on a copy)."""
        copy = FairQueue()
        copy._running, copy._served, copy._picks = Counter(self._running), dict(self._served), self._picks
        for session, line in self._lines.items():
            copy._lines[session] = deque(line)
            copy._size += len(line)
            copy._push(session)
        return [copy.pop_next() for _ in range(copy._size)]

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        for line in self._lines.values():
            yield from line

    def _push(self, session: str | None) -> None:
        self._order = None  # every change of a line, a count or a turn goes through here
        line = self._lines.get(session)
        if line:
            heapq.heappush(self._heap, self._key(session, line))
        if len(self._heap) > 4 * (len(self._lines) + 16):  # stale entries pile up: rebuild (amortised O(1))
            self._heap = [self._key(s, waiting) for s, waiting in self._lines.items()]
            heapq.heapify(self._heap)

    def _key(self, session: str | None, line: deque) -> tuple[int, int, int, int, str | None]:
        self._tie += 1
        return self._running[session], self._served.get(session, -1), line[0].run_id, self._tie, session


def fair_order(queued: list, running: list) -> list:
    """The order in which ``queued`` jobs will get a slot while ``running`` jobs train (see :class:`FairQueue`;
    the running jobs count as served in their order, before every queued one)."""
    q = FairQueue()
    for job in running:
        q._picks += 1
        q._served[job.session] = q._picks
        q.started(job)
    for job in sorted(queued, key=lambda j: j.run_id):
        q.append(job)
    return q.order()
