"""Background training: every run trains in a worker process, never in the web server's process.

A process-wide ``RunManager`` (``get_manager()``) owns a queue and a dispatcher thread. ``submit``
validates a config, stores it as ``queued`` and returns its id; the dispatcher starts at most
``max_concurrent`` workers (``GRAPHCONV_MAX_RUNS``) through a backend. Its default comes from the
machine (``core.training.cpu_share.default_max_runs``): one run per usable CPU, as many as half the
memory holds at a measured ~300 MB per worker, and at least 2. More runs than CPUs would not finish
sooner: every run trains with at least one thread, so they would time-slice the same cores. Runs
training at once share the CPUs fairly (``GRAPHCONV_CPUS``, default the CPUs this process may use; see
``core.training.cpu_share``), on a GPU host too. The backends:

``process`` (default)
    one operating-system process per run, forked from a forkserver that has torch and the data
    already imported (``spawn`` where there is no forkserver). See ``core.training.worker``.
``ray``
    one Ray task per run on the cluster at ``GRAPHCONV_RAY_ADDRESS`` (``local`` starts Ray here);
    see ``core.training.ray_backend``. Imported only when chosen.

Everything a page shows comes from the run store: epochs, live progress, the queue position, the
status. So a reloaded page or a second browser sees the same live run, and the server's own
garbage collection and reruns never compete with training for the interpreter lock.

Queue order is fair between sessions (``core.training.fair_queue``): the next free slot goes to the queued
run whose session has the fewest runs training (oldest first among equals), so one visitor's sweep cannot
hold back everybody else, and a visitor trains a second run only while nobody else waits; picking costs
O(log n). What a visitor may add is bounded (``core.config.limits``): at most ``GRAPHCONV_SESSION_RUNS``
(default 12, one full sweep) runs queued or training per session, and in public mode per client address
too (``GRAPHCONV_ADDRESS_RUNS``, default half the queue), at most slots x ``GRAPHCONV_QUEUE_PER_SLOT``
runs waiting in all (past that, Start says the server is busy), and every run within its cost budget
(``core.training.cost``), checked before anything is stored. Runs belong to the session that submitted them: anyone
may watch, only the owner (or a caller without a session: the CLI, scripts, tests) may stop them. A stop request goes
through the store; a worker that has not stopped ``stop_grace_s`` seconds later is terminated and
its run ends ``stopped`` with every finished epoch kept. A worker that dies (killed, segfault, out of
memory) has its run marked ``failed`` with the reason within a dispatcher tick.

A server that starts takes over the runs whose owner died (:meth:`RunManager.take_over`, issue 32): the store lists
queued and training runs whose process is gone from its host or whose heartbeat went stale, and each is claimed by a
compare-and-set in the store, so when several servers share one store exactly one takes each run. Queued runs are
queued again under their ids; a run that was training trains on from its last finished epoch (its resume point,
saved by its worker after every epoch), its finished epoch rows kept; only a run that cannot go on ends
``interrupted``, with the reason (``core.training.resume.plan_takeover``). ``live`` and :func:`progress_text` say
"resumed from epoch N after a restart".

``identical_runs`` / ``find_identical`` find a stored run (finished, queued or training) whose config equals a new
one's exactly, seed included, so a page can show it instead of training the same run again (the Lessons page).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core.config import limits, public_mode
from core.errors import UserInputError
from core.training import cost
from core.training.backend import Backend, JobControl
from core.training.cpu_share import default_max_runs
from core.training.fair_queue import FairQueue, fair_order  # noqa: F401  (fair_order: re-exported)
from core.training.resume import resume_note
from core.training.runs import RunConfig, validate
from core.training.store import Run, RunGroup, StoreError, as_run
from core.training.sweep import grid_configs, new_sweep_group

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
TICK_S = 0.2  # how often the dispatcher looks at its workers, stop requests and the queue
HEARTBEAT_S = 5.0  # how often it vouches for its queued and training runs in the store
# settings a worker takes from its submitter (a forkserver's own environment is the one it started with)
ENV_KEYS = (
    "GRAPHCONV_DATA_DIR",
    "GRAPHCONV_QUICK",
    "GRAPHCONV_CPUS",
    "GRAPHCONV_CPU_DIR",
    "GRAPHCONV_PUBLIC",
    "GRAPHCONV_WORKER_MB",
    "GRAPHCONV_RUN_WALL_S",
    "GRAPHCONV_EXACT",
)
REUSABLE = ("finished", "queued", "running")  # a stored run with these statuses stands for an identical new one
R = TypeVar("R", bound=Run | Mapping[str, Any])  # a stored run as the caller holds it: a Run or its dict form


def config_key(config: Any) -> str:
    """A run config (a RunConfig or its ``to_dict``) as one canonical string: equal strings, identical runs."""
    import json

    return json.dumps(config.to_dict() if isinstance(config, RunConfig) else config, sort_keys=True, default=str)


def identical_runs(store, configs: Sequence[Any], statuses: Sequence[str] = REUSABLE) -> list[dict[str, Any] | None]:
    """For each config (RunConfig or dict), the stored run trained, queued or training with exactly that config,
    seed included (every setting equal, as stored), or None: the oldest finished one, else the oldest queued or
    training one. One read of the store for all of them. Pages reuse such a run instead of training a copy that
    would give the same numbers (exact in exact mode: ``core.training.worker.exact_mode``)."""
    runs: list[dict[str, Any]] = store.list_runs(status=list(statuses))  # the dict form, which the pages read
    return pick_identical(runs, configs, statuses)


def pick_identical(runs: Sequence[R], configs: Sequence[Any], statuses: Sequence[str] = REUSABLE) -> list[R | None]:
    """:func:`identical_runs` among ``runs`` (store rows already read, as Runs or their dict form, each returned as
    given; other statuses than ``statuses`` skipped)."""
    wanted = [config_key(c) for c in configs]
    found: dict[str, tuple[tuple[int, int], R]] = {}
    rank = {status: i for i, status in enumerate(statuses)}
    for given in runs:
        run = as_run(given)
        key = config_key(run.config)
        if run.status not in rank or key not in wanted:
            continue
        order = (rank[run.status], run.id)
        if key not in found or order < found[key][0]:
            found[key] = (order, given)
    return [found[key][1] if key in found else None for key in wanted]


def find_identical(store, config: Any, statuses: Sequence[str] = REUSABLE) -> dict | None:
    """The stored run with exactly ``config`` (seed included) that is finished, else queued or training; None."""
    return identical_runs(store, [config], statuses)[0]


class QueueFullError(UserInputError):
    """This session (or client address) already has as many runs queued or training as it may, or the server's
    queue is full."""


@dataclass(eq=False)
class Job:
    run_id: int
    session: str | None
    config: dict[str, Any]
    env: dict[str, str | None]
    client: str | None = None  # the client's network address, where the platform passes one
    growth_mb: float = 0.0  # its estimated memory above the worker's start (core.training.cost)
    handle: Any = None  # the backend's handle once started
    stop_asked: bool = False  # stop() was called in this process (also when the store could not be written)
    stop_seen: float | None = None  # monotonic time the dispatcher first saw a stop request
    terminated: bool = False  # the dispatcher ended the worker after the grace period
    started: float | None = None  # monotonic time its worker started
    ended_why: str = ""  # why the dispatcher ended it, when not for a stop request
    control: JobControl | None = None  # who polls, describes and ends it when not the manager's backend (a search)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return max(1, int(raw)) if raw else default
    except ValueError:
        raise UserInputError(name, f"must be a whole number, got {raw!r}") from None


class RunManager:
    """Queues, starts, stops and reports runs that train in worker processes (one manager per data folder)."""

    def __init__(
        self,
        store=None,
        max_concurrent: int | None = None,
        backend: Backend | None = None,
        session_limit: int | None = None,
        stop_grace_s: float = 10.0,
        public: bool | None = None,
        queue_limit: int | None = None,
    ):
        from core.training.store import open_store

        self.store = store or open_store()  # GRAPHCONV_STORE_URL's store (PostgreSQL), else the data folder's SQLite
        # default_max_runs() reads GRAPHCONV_CPUS, so a bad value is refused here, before any run is stored
        local = default_max_runs()
        self.public = public_mode() if public is None else public
        self.limits = limits(self.public)
        self.session_limit = session_limit or self.limits.visitor_runs or 12
        self.stop_grace_s = float(stop_grace_s)
        self.backend: Backend = backend or make_backend()
        # the backend's own slots (Ray: the cluster's CPUs), else this machine's; asked only when nobody says
        self.max_concurrent = max_concurrent or _env_int("GRAPHCONV_MAX_RUNS", self.backend.capacity() or local)
        # runs that may wait in all (0: no bound): slots x GRAPHCONV_QUEUE_PER_SLOT in public mode
        self.queue_limit = self.max_concurrent * self.limits.queue_per_slot if queue_limit is None else queue_limit
        # runs one client address may have queued or training (0: no bound): half the queue unless set
        self.address_limit = (
            _env_int("GRAPHCONV_ADDRESS_RUNS", max(self.session_limit, self.queue_limit // 2))
            if self.public and self.queue_limit
            else 0
        )
        self._cond = threading.Condition()
        self._queue = FairQueue()
        self._running: list[Job] = []  # jobs in the local training slots
        self._searching: list[Job] = []  # Tune trials: they run on the cluster's CPUs, not in the slots
        self._closed = False
        self._last_beat = 0.0
        self.taken_over = self.take_over()  # the runs of a dead server: queued again here, or ended with the reason
        self._thread = threading.Thread(target=self._loop, name="graphconv-dispatcher", daemon=True)
        self._thread.start()

    # -- what pages and the CLI call ------------------------------------------------------

    def submit(
        self,
        cfg: RunConfig,
        session: str | None = None,
        kind: str = "image",
        client: str | None = None,
        epochs: int | None = None,
        group: RunGroup | None = None,
    ) -> int:
        """Validate and cost the run (raises UserInputError: a bad setting, a run over the budget, no room), store
        it as queued and return its id; a worker starts it when a slot is free. ``kind`` is what the run is
        (``image``, ``starter``), ``group`` the sweep, search or lesson launch it belongs to; ``client`` is the
        submitter's network address where known; ``epochs`` the epochs it will train when fewer than
        ``cfg.epochs`` (a continuation)."""
        validate(cfg)
        priced = cost.check(cfg, self.public, self.limits, epochs=epochs)
        return self._enqueue([cfg], session, kind, group, client, [priced])[0]

    def submit_many(
        self,
        configs: Sequence[RunConfig],
        session: str | None = None,
        kind: str = "image",
        client: str | None = None,
        group: RunGroup | Sequence[RunGroup | None] | None = None,
    ) -> list[int]:
        """Submit a sweep's, a lesson's or a trio's runs (``group``: one for all, or one per run, as a lesson's
        parts): all of them (each validated and costed, their time together within the budget, room for all) or
        none of them."""
        for cfg in configs:
            validate(cfg)
        priced = cost.check_all(configs, self.public, self.limits)
        return self._enqueue(list(configs), session, kind, group, client, priced)

    def _enqueue(
        self,
        configs: list[RunConfig],
        session: str | None,
        kind: str,
        group: RunGroup | Sequence[RunGroup | None] | None,
        client: str | None,
        priced: list[cost.Cost],
    ) -> list[int]:
        groups: list[RunGroup | None] = (
            [group] * len(configs) if group is None or isinstance(group, RunGroup) else list(group)
        )
        env = {k: os.environ.get(k) for k in ENV_KEYS}
        env["GRAPHCONV_DATA_DIR"] = str(self.store.data_folder)
        with self._cond:  # the room check and the queueing are one step: two sessions cannot both take the last place
            self.check_room(session, len(configs), client)
            jobs = [
                Job(
                    self.store.create_run(
                        cfg.to_dict(), name=cfg.label(), session=session, status="queued", kind=kind, group=g
                    ),
                    session,
                    cfg.to_dict(),
                    dict(env),
                    client,
                    max(price.peak_mb - cost.WORKER_MB, 0.0),
                )
                for cfg, g, price in zip(configs, groups, priced, strict=True)
            ]
            for job in jobs:
                self._queue.append(job)
            self._cond.notify()
        return [job.run_id for job in jobs]

    def continue_run(self, parent_id: int, epochs: int, session: str | None = None, client: str | None = None) -> int:
        """Submit a NEW run that trains run ``parent_id`` (finished or stopped) ``epochs`` more epochs from its
        weights, optimiser, schedule and random streams (``core.training.resume``): queued like any run, in
        ``session`` and counted against its limit; the parent is never changed, so anyone may continue any run.
        Raises UserInputError (a bad count, a run that cannot be continued, the Ray backend) or CheckpointError
        (no saved training state)."""
        from core.training.resume import check_backend
        from core.training.runs import continuation_config

        check_backend(self.backend.name)
        return self.submit(
            continuation_config(self.store, parent_id, epochs), session=session, client=client, epochs=epochs
        )

    def submit_sweep(
        self,
        base: RunConfig,
        param: str,
        values: list[Any],
        param2: str | None = None,
        values2: list[Any] | None = None,
        session: str | None = None,
        client: str | None = None,
    ) -> tuple[RunGroup, list[RunConfig]]:
        """Submit a sweep: ``base`` with every value of ``param`` (every combination with ``param2``'s values when
        given), in a fresh sweep group: (the group, its runs' configs). All of it or none of it: each run validated
        and within the budget, their time together too, room for all (raises UserInputError), as ``submit_search``
        does for a search's trials."""
        configs = grid_configs(base, param, values, param2, values2)
        group = new_sweep_group(param, param2)
        self.submit_many(configs, session=session, client=client, group=group)
        return group, configs

    def check_room(self, session: str | None, runs: int = 1, client: str | None = None) -> None:
        """Raise :class:`QueueFullError` unless ``runs`` more runs fit: the server's queue (public mode), the
        session's limit and the client address's (no session and no address: the CLI, scripts; only the queue)."""
        with self._cond:
            waiting = len(self._queue)
            if self.queue_limit and session is not None and waiting + runs > self.queue_limit:
                raise QueueFullError(
                    "run",
                    f"the server is busy: {waiting} run(s) are waiting for a training slot "
                    f"and at most {self.queue_limit} may wait; try again in a few minutes",
                )
            if client is not None and self.address_limit:
                mine = sum(job.client == client for job in list(self._queue) + self._running)
                if mine + runs > self.address_limit:
                    raise QueueFullError(
                        "run",
                        f"your network address has {mine} run(s) queued or training and may "
                        f"have at most {self.address_limit} at once (GRAPHCONV_ADDRESS_RUNS); "
                        "wait for one to finish",
                    )
        if session is None:
            return
        mine = len(self.store.list_runs(status=ACTIVE, session=session))
        if mine + runs > self.session_limit:
            raise QueueFullError(
                "run",
                f"this session has {mine} run(s) queued or training and may have at most "
                f"{self.session_limit} at once (GRAPHCONV_SESSION_RUNS): {runs} more would be "
                "too many; wait for one to finish or stop one",
            )

    @property
    def early_stopping(self) -> bool:
        """Whether searches get early stopping here (Ray Tune's ASHA, on the Ray backend)."""
        return self.backend.early_stopping

    def submit_search(
        self,
        configs: list[RunConfig],
        session: str | None = None,
        kind: str = "search",
        early_stopping: bool = True,
        client: str | None = None,
        group: RunGroup | None = None,
    ) -> tuple[list[int], bool]:
        """Store a search's trials (in ``group``; ``kind``: an old search kind string, for callers that still pass
        one) and start them: (run ids, whether early stopping is on).

        On a backend that can (Ray) the trials run as one Ray Tune search with ASHA early stopping; elsewhere
        (worker processes) they queue like a sweep's runs and train to their last epoch."""
        if not (early_stopping and self.early_stopping):
            return self.submit_many(configs, session=session, kind=kind, client=client, group=group), False
        for cfg in configs:
            validate(cfg)
        cost.check_all(configs, self.public, self.limits)
        self.check_room(session, len(configs), client)  # all of the search or none of it
        env = {k: os.environ.get(k) for k in ENV_KEYS}
        jobs = [
            Job(
                self.store.create_run(
                    cfg.to_dict(), name=cfg.label(), session=session, status="queued", kind=kind, group=group
                ),
                session,
                cfg.to_dict(),
                env,
            )
            for cfg in configs
        ]
        try:
            search = self.backend.start_search(self.store.location, env, [(j.run_id, j.config) for j in jobs])
        except Exception as err:
            for job in jobs:
                self.store.fail(job.run_id, f"could not start the Tune search: {type(err).__name__}: {err}")
            raise
        for job, handle in zip(jobs, search.trials, strict=True):
            job.handle, job.control = handle, search
        with self._cond:
            self._searching.extend(jobs)
            self._cond.notify()
        return [job.run_id for job in jobs], True

    def stop(self, run_id: int, session: str | None = None) -> bool:
        """Ask a queued or training run to stop; ``False`` when it is unknown or already ended.

        Raises ``UserInputError`` when ``session`` is given and did not start the run."""
        run = self.store.run(run_id)
        if run is None:
            return False
        if session is not None and run.session != session:
            raise UserInputError("run", f"run {run_id} was started in another session: only that session can stop it")
        if not run.active:
            return False
        with self._cond:  # a run of this manager stops even if the store cannot take the request (a frozen
            mine = next(
                (j for j in list(self._queue) + self._running + self._searching if j.run_id == run_id), None
            )  # worker holding its lock)
            if mine is not None:
                mine.stop_asked = True
                self._cond.notify()
        try:
            return self.store.request_stop(run_id) or mine is not None
        except StoreError:
            if mine is None:
                raise
            return True

    def live(self, run_id: int) -> dict[str, Any] | None:
        """A run's state as every page shows it, read from the store (None for an unknown id); ``run`` is its
        stored row (name, summary, device, error), so a page polling this needs no second read; ``resumed`` says
        whether a restarted server took it over (``core.training.resume.resume_note``)."""
        run = self.store.get_run(run_id)
        if run is None:
            return None
        prog = self.store.progress(run_id) or {}
        epochs = int((run.get("config") or {}).get("epochs") or 1)
        epoch, batch, num_batches = prog.get("epoch", 0), prog.get("batch", 0), prog.get("num_batches", 0)
        preparing = epoch == 0 and num_batches > 0  # before epoch 1: batch of num_batches graphs built
        done = (max(epoch - 1, 0) * num_batches + batch) if num_batches and not preparing else 0
        state = run["status"]
        fraction = 1.0 if state == "finished" else (min(done / (epochs * num_batches), 1.0) if num_batches else 0.0)
        return {
            "run_id": run_id,
            "state": state,
            "epoch": epoch,
            "epochs": epochs,
            "batch": batch,
            "preparing": preparing,
            "num_batches": num_batches,
            "loss": prog.get("loss"),
            "error": run.get("error"),
            "progress": fraction,
            "stop_requested": run.get("stop_requested") is not None,
            "losses": prog.get("points", []),
            "queue_position": self.queue_position(run_id, state),
            "session": run.get("session"),
            "resumed": resume_note(self.store, run_id),  # "resumed from epoch 2 after a restart", or ""
            "run": run,
        }

    def queue_position(self, run_id: int, state: str | None = None) -> int:
        """1 when the run gets the next free slot, 2 after that, ...; 0 when it is not queued."""
        with self._cond:
            position = self._queue.position(run_id)
        if position:
            return position
        if state == "queued":  # queued by another process: its place among the store's queued runs
            return self.store.queue_position(run_id)
        return 0

    def active(self, session: str | None = None) -> list[int]:
        """Ids of queued or training runs (of one session when given), oldest first."""
        return sorted(r["id"] for r in self.store.list_runs(status=ACTIVE, session=session))

    def wait(self, run_id: int, timeout: float = 600.0) -> dict[str, Any] | None:
        """Block until the run leaves queued/running (tests and scripts); return its live state."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            snap = self.live(run_id)
            if snap is None or snap["state"] not in ACTIVE:
                return snap
            time.sleep(0.1)
        return self.live(run_id)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the dispatcher and end every worker (their runs end ``stopped``); for tests and shutdown."""
        with self._cond:
            self._closed = True
            jobs, self._queue = self._running + self._searching + list(self._queue), FairQueue()
            self._cond.notify()
        self._thread.join(timeout)
        for control in {id(j.control): j.control for j in jobs if j.control is not None}.values():
            control.shutdown()  # a Tune search ends its trials and itself
        for job in jobs:
            if job.handle is not None:
                self._control(job).terminate(job.handle)
                job.terminated = True
            self._settle(job)

    # -- taking over a dead server's runs -----------------------------------------------------

    def take_over(self, stale_after: float = 60.0) -> list[int]:
        """Take over every queued or training run whose owner is dead (no heartbeat for ``stale_after`` seconds, or
        its process gone from this host), as ``core.training.resume.plan_takeover`` says: queue it again here
        under its id (from the start, or on from its last finished epoch), end it (finished or stopped, from its
        resume point), or end it ``interrupted`` with the reason. Each is claimed in the store first, by a
        compare-and-set: a run another server claimed meanwhile is left to it. Called when the manager starts;
        returns the ids queued here."""
        from core.training.resume import end_from_point, plan_takeover, record_resume

        queued: list[int] = []
        for run in self.store.orphaned_runs(stale_after):
            claimed = False
            try:
                plan = plan_takeover(self.store, run, self.backend.name)
                if plan.action == "interrupt":
                    self.store.interrupt_orphan(run, plan.reason)
                    continue
                claimed = self.store.claim_orphan(run, resume_from=plan.resume_from)
                if not claimed:
                    continue  # another server took it
                if plan.resume_from or (run.status == "running" and plan.action == "queue"):
                    record_resume(self.store, run.id, plan.resume_from)
                if plan.action == "end":
                    end_from_point(self.store, run, plan)
                    continue
                self._requeue(run, plan.resume_from)
                queued.append(run.id)
            except Exception as err:  # one run that cannot be taken over never stops a server
                log.exception("run %s could not be taken over", run.id)
                if claimed:  # ours now, so nobody else would end it (unclaimed, the next server tries again)
                    with contextlib.suppress(Exception):
                        self.store.fail(run.id, f"could not be taken over after a restart: {type(err).__name__}: {err}")
        return queued

    def _requeue(self, run: Run, done: int) -> None:
        """Queue claimed run ``run`` here, to train after epoch ``done``, with this server's settings for workers."""
        cfg = run.run_config()
        env = {k: os.environ.get(k) for k in ENV_KEYS}
        env["GRAPHCONV_DATA_DIR"] = str(self.store.data_folder)
        growth = max(cost.estimate(cfg, epochs=max(cfg.training.epochs - done, 1)).peak_mb - cost.WORKER_MB, 0.0)
        with self._cond:
            self._queue.append(Job(run.id, run.session, cfg.to_dict(), env, None, growth))
            self._cond.notify()

    # -- the dispatcher -------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(TICK_S)
                if self._closed:
                    return
            try:
                self._tick()
            except Exception:  # a locked store, say: try again next tick, never die
                log.exception("run dispatcher tick failed")

    def _tick(self) -> None:
        with self._cond:
            running, queued = self._running + self._searching, list(self._queue)
        for job in running:  # workers that ended: their runs must have ended too
            if job.handle is not None and self._control(job).poll(job.handle) is not None:
                self._settle(job)
                with self._cond:
                    if job in self._searching:
                        self._searching.remove(job)
                    else:
                        self._running.remove(job)
                        self._queue.ended(job)
        if running or queued:
            asked = {r["id"] for r in self.store.list_runs(status=ACTIVE) if r.get("stop_requested") is not None}
            now = time.monotonic()
            for job in queued:
                if job.run_id in asked or job.stop_asked:
                    with self._cond:
                        try:
                            self._queue.remove(job)
                        except ValueError:  # the manager closed meanwhile
                            continue
                    self._stop_queued(job)
            for job in running:
                if (job.run_id in asked or job.stop_asked) and (job in self._running or job in self._searching):
                    job.stop_seen = job.stop_seen or now
                    if now - job.stop_seen > self.stop_grace_s and not job.terminated:
                        job.terminated = True
                        self._control(job).terminate(job.handle)
                elif self._past_wall_clock(job, now):  # its worker's own limit and watchdog did not end it
                    job.terminated = True
                    job.ended_why = (
                        f"stopped: reached the time limit of {self.limits.run_wall_s:g} s "
                        "(GRAPHCONV_RUN_WALL_S) and its worker did not stop by itself, so the app ended it"
                    )
                    self._control(job).terminate(job.handle)
            if now - self._last_beat > HEARTBEAT_S:  # vouch for runs whose worker is alive or not yet started
                self._last_beat = now
                with self._cond:
                    alive = [j.run_id for j in list(self._queue) + self._running + self._searching]
                for run_id in alive:
                    self.store.heartbeat(run_id)
        while True:  # fill free slots; a backend may take a while to start a job, so not under the lock
            with self._cond:
                if not self._queue or len(self._running) >= self.max_concurrent or self._closed:
                    return
                if self._running and not self._memory_fits(self._queue.peek()):
                    return  # the next run waits until enough of the training runs' memory is free
                job = self._queue.pop_next()  # O(log n); counted as training from now on
                self._running.append(job)
            try:
                job.started = time.monotonic()
                job.handle = self.backend.start(self.store.location, job.env, job.run_id, job.config)
            except Exception as err:  # noqa: BLE001 - no worker could be started: the run fails with the reason
                with self._cond:
                    self._running.remove(job)
                    self._queue.ended(job)
                self.store.fail(
                    job.run_id, f"could not start a {self.backend.name} worker: {type(err).__name__}: {err}"
                )

    def _stop_queued(self, job: Job) -> None:
        """End queued ``job`` stopped (a stop request before a worker took it): "stopped before it started", or, for
        a run queued again after a restart with finished epochs, with those epochs and its resume point's weights
        kept (``core.training.resume.stop_before_going_on``)."""
        if self.store.epochs(job.run_id):
            from core.training.resume import stop_before_going_on

            stop_before_going_on(self.store, self.store.require_run(job.run_id))
            return
        self.store.finish(
            job.run_id, {"run_id": job.run_id, "status": "stopped"}, status="stopped", error="stopped before it started"
        )

    def _control(self, job: Job) -> JobControl:
        """Who polls, describes and ends ``job``: its search's control (a Tune trial), else the backend."""
        return job.control or self.backend

    def _memory_fits(self, job: Job) -> bool:
        """Whether ``job`` may start beside the runs training now: their estimated memory above their workers'
        start, added up, within ``GRAPHCONV_TRAINING_MB`` (public mode; a run alone always starts)."""
        budget = self.limits.training_mb
        return not budget or sum(j.growth_mb for j in self._running) + job.growth_mb <= budget

    def _past_wall_clock(self, job: Job, now: float) -> bool:
        """Whether ``job``'s worker outlived the wall-clock limit, its watchdog's grace and the stop grace: the
        backstop for a worker too stuck to end itself (``core.training.worker`` enforces the limit first)."""
        from core.training.worker import WATCHDOG_GRACE_S

        wall = self.limits.run_wall_s
        return bool(
            wall
            and not job.terminated
            and job.started is not None
            and job.handle is not None
            and now - job.started > wall + WATCHDOG_GRACE_S + self.stop_grace_s
        )

    def _settle(self, job: Job) -> None:
        """After a worker ended: a run it left queued or running ends ``stopped`` (we terminated it
        after a stop request) or ``failed`` with how the worker died."""
        run = self.store.get_run(job.run_id)
        if run is None or run["status"] not in ACTIVE:
            return
        epochs = self.store.epochs(job.run_id)
        if job.handle is None:  # never started (the manager closed)
            self.store.finish(
                job.run_id,
                {"run_id": job.run_id, "status": "stopped"},
                status="stopped",
                error="stopped before it started",
            )
        elif job.terminated:
            last = epochs[-1]["test_accuracy"] if epochs else None
            self.store.finish(
                job.run_id,
                {"run_id": job.run_id, "status": "stopped", "test_accuracy": last, "epochs_done": len(epochs)},
                status="stopped",
                error=job.ended_why or f"ended by the app: the worker did not stop within {self.stop_grace_s:g} s",
            )
        else:
            kept = f"; its {len(epochs)} finished epoch(s) are kept" if epochs else ""
            self.store.fail(job.run_id, self._control(job).describe_exit(job.handle) + kept)


def progress_text(live: dict[str, Any]) -> str:
    """A running run's progress in words, from ``RunManager.live``: "epoch 2/3, batch 10/16, loss 0.4321", the
    superpixel graphs being built, or "starting the worker…" before the first batch (never "batch 0/0"); then, for a
    run a restarted server took over, " · resumed from epoch 2 after a restart"."""
    resumed = f" · {live['resumed']}" if live.get("resumed") else ""
    if live.get("preparing"):
        return f"building superpixel graphs (once, then cached): {live['batch']:,}/{live['num_batches']:,}" + resumed
    if not live.get("num_batches"):
        return "starting the worker…" + resumed
    text = f"epoch {live['epoch']}/{live['epochs']}, batch {live['batch']}/{live['num_batches']}"
    return text + (f", loss {live['loss']:.4f}" if live.get("loss") is not None else "") + resumed


def ray_address() -> str:
    """``GRAPHCONV_RAY_ADDRESS`` (empty when runs train in worker processes on this machine)."""
    return os.environ.get("GRAPHCONV_RAY_ADDRESS", "").strip()


def make_backend(name: str | None = None) -> Backend:
    """The backend named ``name``, else ``ray`` when ``GRAPHCONV_RAY_ADDRESS`` is set, else ``process``."""
    address = ray_address()
    name = name or ("ray" if address else "process")
    if name == "process":
        from core.training.process_backend import ProcessBackend

        return ProcessBackend()
    if name == "ray":
        from core.training.tune_search import TuneBackend

        return TuneBackend(address or "local")  # Ray tasks, and searches with Ray Tune's ASHA
    raise UserInputError("backend", f"unknown backend {name!r} (choose from process, ray)")


_managers: dict[str, RunManager] = {}
_manager_lock = threading.Lock()


def manager_key() -> str:
    """Which manager :func:`get_manager` gives: one per data folder and store (a PostgreSQL URL, or the folder's
    SQLite file)."""
    from core.config import data_dir
    from core.training.store import store_location

    return f"{data_dir()}|{store_location()}"


def get_manager() -> RunManager:
    """The process-wide manager of the current data folder (created on first use)."""
    key = manager_key()
    with _manager_lock:
        if key not in _managers:
            _managers[key] = RunManager()
        return _managers[key]
