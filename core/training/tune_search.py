"""A search on Ray with Ray Tune: every trial a stored run, ASHA stopping the weak ones early.

``core.training.search`` draws the trials' configs and the run manager stores them as queued runs.
:class:`TuneSearch` then drives one ``Tuner.fit()`` in a thread of the launching process (the app's
server or the CLI), whose Ray connection it shares: one Tune trial per stored run, each trial a function
trainable that trains its run's config exactly as a Ray task of the backend does, reporting every epoch
with ``tune.report`` (Tune's ``training_iteration`` is the epoch) and writing to its run's channel as a
task does. ASHA (``ASHAScheduler(time_attr="training_iteration", ...)``) stops a trial at a rung (epoch 1,
2, 4, ...) when its test accuracy is not in the best half of those that reached that rung. Tune ends a
stopped trial's process before the run can close itself, so when the search ends, a trial whose run is
still open is closed here as ``stopped`` with "stopped early by ASHA after epoch e of E" and
``summary["early_stopped"]``; its epochs up to there are kept (its weights are not: Tune ended the process
that held them).

Each trial's run is a job of the run manager with this search as its backend (``poll``,
``describe_exit``, ``terminate``), so it shows, stops and settles like any run; a stop request reaches the
trial through its channel, and one that is not obeyed in time is enforced by a Tune ``Stopper`` at the
trial's next report (Tune has no call that ends one named trial). Trials do not take the app's local
training slots: Tune runs as many at once as the cluster has CPUs (one each). Tune's trials are actors of the
backend's Ray job, so they run in its ``runtime_env``: the code they receive is the same allow-list as a task's
(``ray_backend.SHIPPED_CODE``), never the checkout.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from core.training.backend import Search
from core.training.ray_backend import RayBackend, RayRun
from core.training.search import ASHA_GRACE, ASHA_REDUCTION

log = logging.getLogger(__name__)


@dataclass
class TrialRun(RayRun):
    """One trial's run: a RayRun without a task of its own (Tune runs it), and the search it belongs to."""

    search: Any = None
    index: int = 0


def tune_trial(config: dict[str, Any], plan: list[dict[str, Any]], env: dict[str, str | None]) -> None:
    """Tune's function trainable: train trial ``config["index"]`` of ``plan``, reporting each epoch to Tune."""
    from ray import tune

    from core.training.ray_backend import train_task

    item = plan[int(config["index"])]
    last = int(item["config"].get("epochs") or 1)

    def report(row: dict) -> None:  # after the epoch reached the channel (ChannelStore.log_epoch waits for it)
        if row["epoch"] < last:  # the last epoch has nothing left to decide, and the run must close itself
            tune.report({"test_accuracy": float(row["test_accuracy"]), "epoch": int(row["epoch"])})

    train_task(item["channel"], item["run_id"], item["config"], env, on_epoch=report)


def _hooks(search: _Shared):
    """Tune's ``Stopper`` and ``Callback`` for one search, sharing ``search``'s plain containers (Tune calls
    them in the driver, this process; it only pickles copies for its own records).

    The stopper ends the trials in ``search.enforce_stop`` (runs asked to stop that did not stop by themselves)
    and, once the launcher closes, every trial; the callback notes each trial as it ends, so its run is closed
    then, not when the whole search ends."""
    from ray import tune

    class StopAsked(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return int((result.get("config") or {}).get("index", -1)) in search.enforce_stop

        def stop_all(self) -> bool:
            return bool(search.closing)

    class NoteEnded(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
            search.ended[int(trial.config["index"])] = None

        def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
            message = getattr(trial, "error_msg", None) or "the trial raised an error"
            search.ended[int(trial.config["index"])] = _last_line(RuntimeError(message))

    return StopAsked(), NoteEnded()


@dataclass
class _Shared:
    """What the Tune driver's hooks and the run manager's polls share (plain containers, no locks needed)."""

    enforce_stop: set = field(default_factory=set)  # trial indices Tune must end at their next report
    ended: dict = field(default_factory=dict)  # trial index -> None (completed) or its error, as Tune ends it
    closing: list = field(default_factory=list)  # non-empty once the launcher closes: end every trial


class TuneSearch(Search):
    """One Ray Tune search with ASHA over stored runs; the run manager polls each trial's run through it."""

    name = "ray-tune"

    def __init__(
        self, backend: RayBackend, db_path: str, env: dict[str, str | None], plan: list[tuple[int, dict[str, Any]]]
    ):
        from core.training.store import store_at

        self.backend = backend
        self.max_epochs = max(int(config.get("epochs") or 1) for _, config in plan)
        store = store_at(db_path)  # the SQLite path or PostgreSQL URL the server trains with
        self.trials = [
            TrialRun(run_id, None, backend.new_channel(), store, search=self, index=i)
            for i, (run_id, _) in enumerate(plan)
        ]
        self.configs = [config for _, config in plan]
        self.env = {k: v for k, v in env.items() if k != "GRAPHCONV_DATA_DIR"}
        self.shared = _Shared()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drive, name="graphconv-tune", daemon=True)
        self._thread.start()

    # -- the Tune driver (a thread of this process) ---------------------------------------------

    def _drive(self) -> None:
        try:
            self._fit()
        except BaseException as err:  # noqa: BLE001 - Tune's driver thread: every trial's open run fails with it
            self.failure = err

    def _fit(self) -> None:
        os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler

        plan = [
            {"run_id": t.run_id, "channel": t.channel, "config": c}
            for t, c in zip(self.trials, self.configs, strict=True)
        ]
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=self.max_epochs,
            grace_period=ASHA_GRACE,
            reduction_factor=ASHA_REDUCTION,
        )
        storage = tempfile.mkdtemp(prefix="graphconv-tune-")  # Tune's own files; the runs live in the store
        stopper, callback = _hooks(self.shared)
        trainable = tune.with_resources(tune.with_parameters(tune_trial, plan=plan, env=self.env), {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(list(range(len(plan))))},
            tune_config=tune.TuneConfig(metric="test_accuracy", mode="max", scheduler=scheduler),
            run_config=tune.RunConfig(
                name="graphconv",
                storage_path=storage,
                stop=stopper,
                callbacks=[callback],
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        try:
            grid = tuner.fit()  # a ResultGrid: len() and grid[i] (it declares no __iter__)
            for i in range(len(grid)):  # a trial the callback missed (none should be): its result says how it ended
                result = grid[i]
                assert result.config is not None  # a trial's result holds the config it ran ({"index": i})
                error = f"{type(result.error).__name__}: {_last_line(result.error)}" if result.error else None
                self.shared.ended.setdefault(int(result.config["index"]), error)
        finally:
            shutil.rmtree(storage, ignore_errors=True)

    # -- what the run manager calls for each trial's run --------------------------------------------

    def poll(self, trial: TrialRun) -> int | None:
        """Write what the trial sent; forward a stop request; None while the trial runs, else the exit."""
        if trial.exit is not None:
            return trial.exit
        try:
            self.backend.forward(trial)
        except Exception as err:  # noqa: BLE001 - its channel is gone (its node lost): the trial's end decides
            log.debug("trial %s: its channel is gone (%s)", trial.index, err)
        if trial.index not in self.shared.ended and self._thread.is_alive():
            return None
        try:
            self.backend.drain(trial)  # whatever it pushed before it ended
        except Exception as err:  # noqa: BLE001 - the channel died with its node: nothing more to write
            log.debug("trial %s: nothing more to drain (%s)", trial.index, err)
        trial.exit, trial.reason = self._close(trial)
        return trial.exit

    def _close(self, trial: TrialRun) -> tuple[int, str]:
        """(exit, reason) for a trial Tune ended. A run it left open was stopped by ASHA, or (asked to stop,
        or the launcher closing) by the stopper: closed here as ``stopped`` saying which."""
        if trial.index not in self.shared.ended:
            failure = self.failure or RuntimeError("Tune ended the search without this trial")
            return 1, f"the Tune search failed: {type(failure).__name__}: {_last_line(failure)}"
        error = self.shared.ended[trial.index]
        if error:
            return 1, f"the Tune trial failed: {error}"
        run = trial.store.get_run(trial.run_id)
        if run is None or run["status"] not in ("queued", "running"):
            return 0, ""
        epochs = trial.store.epochs(trial.run_id)
        asked = run.get("stop_requested") is not None or trial.index in self.shared.enforce_stop or self.shared.closing
        summary = {
            "run_id": trial.run_id,
            "status": "stopped",
            "early_stopped": not asked,
            "epochs_done": len(epochs),
            "test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
            "ray_node": trial.node,
        }
        planned = int((run.get("config") or {}).get("epochs") or 1)
        reason = (
            f"stopped on request after epoch {len(epochs)} of {planned}"
            if asked
            else f"stopped early by ASHA after epoch {len(epochs)} of {planned}: its test accuracy was not among "
            "the best half at that point"
        )
        trial.store.finish(trial.run_id, summary, status="stopped", error=reason)
        return 0, ""

    def describe_exit(self, trial: TrialRun) -> str:
        return trial.reason or "the Tune trial ended before its run did"

    def terminate(self, trial: TrialRun) -> None:
        """A trial that ignored its stop request, or the launcher closing: Tune ends it (and, once the launcher
        closes, the whole search) at its next report."""
        self.shared.enforce_stop.add(trial.index)

    def shutdown(self) -> None:
        """The launcher closes: Tune ends every trial and the search."""
        self.shared.closing.append(True)


class TuneBackend(RayBackend):
    """Ray tasks for runs, and a search as one Ray Tune experiment with ASHA: the backend ``make_backend("ray")``
    gives (it lives here, beside :class:`TuneSearch`, so the Ray backend's module never imports Tune's)."""

    early_stopping = True

    def start_search(
        self, db_path: str, env: dict[str, str | None], plan: list[tuple[int, dict[str, Any]]]
    ) -> TuneSearch:
        """One Ray Tune search with ASHA over the stored runs of ``plan``."""
        return TuneSearch(self, db_path, env, plan)


def _last_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[-1] if text else ""
