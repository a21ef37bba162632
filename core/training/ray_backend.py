"""Training on a Ray cluster: one Ray task per run, its metrics sent back through Ray to the launcher.

Chosen with ``GRAPHCONV_RAY_ADDRESS`` (the app and its sweeps) or ``--backend ray`` (the CLI). The value
is a Ray address (``auto``, ``host:6379``, ``ray://host:10001``) or ``local``, which starts Ray on this
machine (how the tests exercise this path). Ray is imported only here, so the hosted demo never loads it.

Workers on other machines cannot write the launcher's SQLite file. A task therefore trains with a
:class:`ChannelStore`: the part of the run store that ``execute`` and the worker's reporter use, whose
every write becomes an event pushed to a small actor, the run's channel (start, epochs, live progress,
the per-epoch PCA snapshot, the checkpoint's bytes, the end). The launching process drains each channel
on every dispatcher tick and writes the events to its store, so a run looks the same on every page
whichever backend trained it. Stop requests travel the other way: the launcher sets the channel's flag,
the task reads it between batches. A task that dies (its node lost, its worker killed) fails its run
with Ray's reason; ``terminate`` cancels a task that ignored a stop.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from core.config import REPO_ROOT

# What a cluster must not receive when the code is shipped to it (runtime_env working_dir).
LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # bytes; Ray's default takes 30% of memory
SHIP_EXCLUDES = [".git", ".venv", "data", "artifacts", "**/__pycache__", "*.pt", "*.db"]


class Channel:
    """Ray actor between one task and its launcher: events one way, the stop flag the other."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.stop = False

    def push(self, *events: tuple) -> None:
        self.events.extend(events)

    def drain(self) -> list[tuple]:
        out, self.events = self.events, []
        return out

    def request_stop(self) -> None:
        self.stop = True

    def stop_requested(self) -> bool:
        return self.stop


class ChannelStore:
    """Duck-types the :class:`~core.training.store.RunStore` calls a worker makes, as channel events."""

    def __init__(self, channel) -> None:
        self.channel = channel

    def _push(self, *event: Any) -> None:
        self.channel.push.remote(tuple(event))  # actor calls from one caller run in order

    def start(self, run_id: int, device: str) -> None:
        self._push("start", device)

    def heartbeat(self, run_id: int) -> None:
        pass  # the launcher vouches for its runs while their tasks run

    def log_epoch(self, run_id: int, **row: Any) -> None:
        self._push("epoch", row)

    def save_artifact(self, run_id: int, name: str, data: Any, epoch: Optional[int] = None) -> None:
        self._push("artifact", name, data, epoch)

    def log_progress(self, run_id: int, epoch: int, batch: int, num_batches: int, loss: Optional[float],
                     points=()) -> None:
        self._push("progress", epoch, batch, num_batches, loss, [tuple(p) for p in points])

    def stop_requested(self, run_id: int) -> bool:
        import ray

        return bool(ray.get(self.channel.stop_requested.remote()))

    def fail(self, run_id: int, error: str) -> None:
        import ray

        ray.get(self.channel.push.remote(("fail", str(error))))

    def finish(self, run_id: int, summary: dict, status: str = "finished", error: Optional[str] = None,
               checkpoint: Optional[str] = None) -> None:
        import ray

        weights = Path(checkpoint).read_bytes() if checkpoint else None
        ray.get(self.channel.push.remote(("finish", dict(summary), status, error, weights)))  # delivered before return


def train_task(channel, run_id: int, config: dict[str, Any], env: dict[str, Optional[str]]) -> str:
    """The Ray task: train one run, reporting through ``channel``; returns the run's final status."""
    from core.training.worker import apply_env, execute_reporting

    apply_env(env)
    os.environ["GRAPHCONV_DATA_DIR"] = tempfile.mkdtemp(prefix="graphconv-ray-")  # this node's scratch space
    from core.training.runs import RunConfig

    summary = execute_reporting(RunConfig.from_dict(config), ChannelStore(channel), run_id)
    return summary["status"]


@dataclass
class RayRun:
    run_id: int
    ref: Any  # the task's ObjectRef
    channel: Any  # its Channel actor
    store: Any  # the launcher's RunStore
    stop_sent: bool = False
    exit: Optional[int] = None
    reason: str = ""


def _init_in_a_lasting_thread(address: str) -> None:
    """``ray.init`` from a thread that lives as long as the process.

    Ray's driver state belongs to the thread that connected it: initialised from a Streamlit script
    thread (which ends with its script run), later calls from the dispatcher hung in the GCS client.
    """
    import threading

    import ray

    done, failure = threading.Event(), []

    def hold() -> None:
        try:
            common = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                          configure_logging=False)
            if address == "local":  # this machine: the code is already here; a small object store (only metrics travel)
                ray.init(runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}}, object_store_memory=LOCAL_OBJECT_STORE,
                         **common)
            else:  # a cluster: ship this checkout's code (not its data or environment) with every task
                ray.init(address=address, runtime_env={"working_dir": str(REPO_ROOT), "excludes": SHIP_EXCLUDES},
                         **common)
        except BaseException as err:  # reported by the caller
            failure.append(err)
        done.set()
        if not failure:
            threading.Event().wait()  # keep this thread (and Ray's connection) alive

    threading.Thread(target=hold, name="graphconv-ray-driver", daemon=True).start()
    done.wait()
    if failure:
        raise failure[0]


class RayBackend:
    name = "ray"

    def __init__(self, address: str = "local", num_cpus_per_run: float = 1.0):
        # No usage statistics: nothing leaves this machine but the runs (and in a Streamlit server their
        # report hung actor creation).
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        if not ray.is_initialized():
            _init_in_a_lasting_thread(address)
        self.ray = ray
        self.address = address
        self._channel = ray.remote(num_cpus=0)(Channel)
        self._task = ray.remote(num_cpus=num_cpus_per_run, max_retries=0)(train_task)

    def start(self, db_path: str, env: dict[str, Optional[str]], run_id: int, config: dict[str, Any]) -> RayRun:
        from core.training.store import RunStore

        channel = self._channel.remote()
        task_env = {k: v for k, v in env.items() if k != "GRAPHCONV_DATA_DIR"}
        return RayRun(run_id, self._task.remote(channel, run_id, config, task_env), channel, RunStore(db_path))

    def poll(self, run: RayRun) -> Optional[int]:
        """Write what the task sent to the store; forward a stop request; None while the task runs."""
        if run.exit is not None:
            return run.exit
        self._drain(run)
        if not run.stop_sent and run.store.stop_requested(run.run_id):
            run.channel.request_stop.remote()
            run.stop_sent = True
        ready, _ = self.ray.wait([run.ref], timeout=0)
        if not ready:
            return None
        try:
            self.ray.get(run.ref)
            run.exit, run.reason = 0, ""
        except Exception as err:  # TaskError, WorkerCrashedError, a lost node, a cancel
            first = str(err).strip().splitlines()[-1] if str(err).strip() else ""
            run.exit, run.reason = 1, f"the Ray task ended with {type(err).__name__}: {first}".rstrip(": ")
        try:
            self._drain(run)  # whatever it pushed before it ended
        except Exception:  # the channel died with its node: nothing more to write
            pass
        return run.exit

    def describe_exit(self, run: RayRun) -> str:
        return run.reason or "the Ray task ended before its run did"

    def terminate(self, run: RayRun) -> None:
        self.ray.cancel(run.ref, force=True)

    def _drain(self, run: RayRun) -> None:
        from core.training.store import save_checkpoint

        store, run_id = run.store, run.run_id
        for event in self.ray.get(run.channel.drain.remote()):
            kind, args = event[0], event[1:]
            if kind == "start":
                store.start(run_id, args[0])
            elif kind == "epoch":
                store.log_epoch(run_id, **args[0])
            elif kind == "artifact":
                store.save_artifact(run_id, args[0], args[1], epoch=args[2])
            elif kind == "progress":
                store.log_progress(run_id, *args)
            elif kind == "fail":
                store.fail(run_id, args[0])
            elif kind == "finish":
                summary, status, error, weights = args
                path = None
                if weights is not None:
                    import torch

                    state = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
                    path = save_checkpoint(state, store.path.parent / "checkpoints" / f"run-{run_id}.pt")
                store.finish(run_id, summary, status=status, error=error, checkpoint=path)
