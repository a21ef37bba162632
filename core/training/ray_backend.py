"""Training on a Ray cluster: one Ray task per run, its metrics sent back through Ray to the launcher.

Chosen with ``GRAPHCONV_RAY_ADDRESS`` (the app and its sweeps) or ``--backend ray`` (the CLI). The value
is a Ray address (``auto``, ``host:6379``, ``ray://host:10001``) or ``local``, which starts Ray on this
machine (how the tests exercise this path). Ray is imported only here, so the hosted demo never loads it.

Workers on other machines cannot write the launcher's SQLite file. A task therefore trains with a
:class:`ChannelStore`: the part of the run store that ``execute`` and the worker's reporter use (the
:class:`~core.training.store.protocol.RunWriter` calls), whose every write becomes an event pushed to a
small actor, the run's channel (start, epochs, live progress, the per-epoch PCA snapshot, the
checkpoint's bytes, the end). The launching process drains each channel on every dispatcher tick and
writes the events to its store, so a run looks the same on every page whichever backend trained it.
Stop requests travel the other way: the launcher sets the channel's flag, the task reads it between
batches. A task that dies fails its run with Ray's reason; when its node was lost, the reason names
that node (the start event tells the launcher where each run trains, and a finished run's summary keeps
it as ``ray_node``). ``terminate`` cancels a task that ignored a stop.

The code travels by an allow-list, :data:`SHIPPED_CODE` (the engine's Python source): :func:`runtime_env`
stages a copy of it as the job's working directory when the launcher connects, so a task, and a Tune trial
of the same connection, never receives the checkout's secrets, tests, data or weights.

Tasks are spread over the nodes (``SPREAD``); channels are pinned to the launcher's node, so losing a
worker node never loses a channel. :func:`runtime_env`, :class:`Channel` (through
:meth:`RayBackend.new_channel`), :class:`ChannelStore` and :meth:`RayBackend.drain` are what another
launcher on Ray (``core.training.tune_search``) reuses. ``tests/core/training/test_ray_cluster.py``
exercises all of it on a real two-node cluster with token authentication.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import REPO_ROOT
from core.errors import UserInputError
from core.training.backend import Backend
from core.training.store.protocol import RunWriter

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # bytes; Ray's default takes 30% of memory
# The one allow-list of what a cluster receives with every task (and every Tune trial: both run in the job's
# runtime_env), as glob patterns relative to the checkout: the engine's Python source and nothing else. Never
# the checkout root: its .streamlit/secrets.toml, .env, token files, tests/, the app's pages, data, weights and
# caches stay on the launcher (none is core/**/*.py, so neither are weights or caches inside core/).
SHIPPED_CODE = ("core/**/*.py",)


def stage_code(root: Path, into: Path) -> list[str]:
    """Copy what :data:`SHIPPED_CODE` allows from checkout ``root`` into folder ``into``; the copied paths.

    A file whose real path lies outside ``root`` (a symbolic link out of the checkout) is left out."""
    top = root.resolve()
    copied = []
    for pattern in SHIPPED_CODE:
        for source in sorted(root.glob(pattern)):
            if not source.is_file() or not source.resolve().is_relative_to(top):
                continue
            relative = source.relative_to(root)
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(relative.as_posix())
    return copied


@contextmanager
def runtime_env(address: str, root: Path = REPO_ROOT) -> Iterator[dict[str, Any]]:
    """The Ray ``runtime_env`` every task of this app runs in, on ``address``; pass it to ``ray.init`` inside.

    ``local`` (Ray on this machine): the code is already here, so only ``PYTHONPATH`` points at ``root``.
    A cluster: what :data:`SHIPPED_CODE` allows from ``root`` is copied to a temporary folder, which is
    shipped as each task's working directory (``ray.init`` zips and uploads it, so the folder is removed
    when this context ends; every node that runs a task unpacks it and starts the task there). With a
    working directory Ray also leaves the launcher's own folder off the tasks' ``sys.path``. ``root`` is a
    parameter so a test can ship a copy of the checkout with planted secrets, data and weights."""
    if address == "local":
        yield {"env_vars": {"PYTHONPATH": str(root)}}
        return
    with tempfile.TemporaryDirectory(prefix="graphconv-shipped-") as folder:
        stage_code(root, Path(folder))
        yield {"working_dir": folder}


def this_node() -> dict[str, str]:
    """The Ray node this process runs on: ``{"id": node id (hex), "ip": its address}``."""
    import ray

    return {"id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address()}


class Channel:
    """Ray actor between one task and its launcher: events one way, the stop flag the other.

    Create it with :meth:`RayBackend.new_channel`, which pins it to the launcher's node: a lost worker
    node then takes its task down but not the channel, so what the task sent before is still drained."""

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


class ChannelStore(RunWriter):
    """The :class:`~core.training.store.protocol.RunWriter` of a Ray task: every write a channel event."""

    def __init__(self, channel) -> None:
        self.channel = channel

    def _push(self, *event: Any) -> None:
        self.channel.push.remote(tuple(event))  # actor calls from one caller run in order

    def start(self, run_id: int, device: str) -> None:
        self._push("start", device, this_node())  # the launcher learns where the run trains

    def heartbeat(self, run_id: int) -> None:
        pass  # the launcher vouches for its runs while their tasks run

    def _deliver(self, *event: Any) -> None:
        import ray

        ray.get(self.channel.push.remote(tuple(event)))  # in the channel before the call returns

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        self._deliver("epoch", {"epoch": epoch, **metrics})  # once an epoch: delivered before anyone (Tune) hears of it

    def save_artifact(self, run_id: int, name: str, data: Any, epoch: int | None = None) -> None:
        self._deliver("artifact", name, data, epoch)

    def log_progress(
        self,
        run_id: int,
        epoch: int,
        batch: int,
        num_batches: int,
        loss: float | None,
        points: Iterable[tuple[float, float]] = (),
    ) -> None:
        self._push("progress", epoch, batch, num_batches, loss, [tuple(p) for p in points])

    def stop_requested(self, run_id: int) -> bool:
        import ray

        return bool(ray.get(self.channel.stop_requested.remote()))

    def fail(self, run_id: int, error: str) -> None:
        import ray

        ray.get(self.channel.push.remote(("fail", str(error))))

    def finish(
        self,
        run_id: int,
        summary: Mapping[str, Any],
        status: str = "finished",
        error: str | None = None,
        checkpoint: str | Path | None = None,
    ) -> None:
        import ray

        weights = Path(checkpoint).read_bytes() if checkpoint else None
        ray.get(self.channel.push.remote(("finish", dict(summary), status, error, weights)))  # delivered before return


def train_task(
    channel,
    run_id: int,
    config: dict[str, Any],
    env: dict[str, str | None],
    on_epoch: Callable[[dict], None] | None = None,
) -> str:
    """The Ray task: train one run, reporting through ``channel``; returns the run's final status.

    A Tune trial calls it too, with ``on_epoch`` reporting each epoch to Tune."""
    from core.training.worker import apply_env, execute_reporting

    apply_env(env)
    os.environ["GRAPHCONV_DATA_DIR"] = tempfile.mkdtemp(prefix="graphconv-ray-")  # this node's scratch space
    import ray

    from core.training.runs import RunConfig

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)  # Ray already shares the node's CPUs
    summary = execute_reporting(
        RunConfig.from_dict(config), ChannelStore(channel), run_id, on_epoch=on_epoch, threads=max(1, int(cpus))
    )
    return summary["status"]


@dataclass
class RayRun:
    run_id: int
    ref: Any  # the task's ObjectRef
    channel: Any  # its Channel actor
    store: Any  # the launcher's RunStore
    stop_sent: bool = False
    exit: int | None = None
    reason: str = ""
    node: dict | None = None  # {"id", "ip"} of the Ray node it trains on, from its start event


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
            common: dict[str, Any] = dict(
                include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, configure_logging=False
            )
            with runtime_env(address) as env:
                if address == "local":  # this machine: the code is here; a small object store (only metrics travel)
                    ray.init(runtime_env=env, object_store_memory=LOCAL_OBJECT_STORE, **common)
                else:  # a cluster: ship the engine's code (SHIPPED_CODE, nothing else of the checkout) with every task
                    ray.init(address=address, runtime_env=env, **common)
        except BaseException as err:  # noqa: BLE001 - on Ray's thread: whatever init raised is reported by the caller
            failure.append(err)
        done.set()
        if not failure:
            threading.Event().wait()  # keep this thread (and Ray's connection) alive

    threading.Thread(target=hold, name="graphconv-ray-driver", daemon=True).start()
    done.wait()
    if failure:
        if address == "local":
            raise failure[0]
        raise cannot_connect(address, failure[0]) from None


def cannot_connect(address: str, err: BaseException) -> UserInputError:
    """A one-line error for a cluster that refused or never answered this launcher, with the likely cure.

    A driver given an explicit address (unlike ``auto``) does not turn token authentication on by itself,
    and then only sees its connection retried until Ray gives up ("Failed to connect")."""
    text = str(err).strip()
    first = text.splitlines()[0].strip() if text else type(err).__name__
    if os.environ.get("RAY_AUTH_MODE", "").strip().lower() != "token":
        hint = (
            "; a cluster with token authentication (on when `ray start --head` found a token) also needs "
            "RAY_AUTH_MODE=token here, and its token in ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN"
        )
    else:  # a wrong token looks the same from here: retried, then "Failed to connect"
        hint = "; check that the token here (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) is the cluster's"
    return UserInputError("GRAPHCONV_RAY_ADDRESS", f"cannot connect to the Ray cluster at {address}: {first}{hint}")


def _driver_node_id() -> str | None:
    """The node id of this (connected) driver, None where Ray cannot tell (some ``ray://`` clients)."""
    import ray

    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - an informational lookup outside a task or cluster: no node to name
        return None


class RayBackend(Backend):
    """One Ray task per run on the cluster at ``address`` (with searches as Ray Tune experiments:
    ``core.training.tune_search.TuneBackend``, what ``make_backend("ray")`` gives)."""

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
        self.node = _driver_node_id()
        self._channel = ray.remote(num_cpus=0)(Channel)
        # SPREAD: runs go to the least busy nodes first rather than filling the launcher's node
        self._task = ray.remote(num_cpus=num_cpus_per_run, max_retries=0, scheduling_strategy="SPREAD")(train_task)

    def start(self, db_path: str, env: dict[str, str | None], run_id: int, config: dict[str, Any]) -> RayRun:
        from core.training.store import store_at

        channel = self.new_channel()
        task_env = {k: v for k, v in env.items() if k != "GRAPHCONV_DATA_DIR"}
        return RayRun(run_id, self._task.remote(channel, run_id, config, task_env), channel, store_at(db_path))

    def capacity(self) -> int:
        """Runs the cluster can train at once: its CPUs (each run takes one), at least 2."""
        return max(2, int(self.ray.cluster_resources().get("CPU", 0)))

    def new_channel(self):
        """A fresh channel actor for one run (a task's, or a Tune trial's), pinned to the launcher's node.

        Pinned hard: with ``soft=True`` Ray 2.60 put about half of the channels on the other node of an
        idle two-node cluster, and losing that node then lost runs that trained elsewhere. A channel needs
        no CPU (``num_cpus=0``), so the launcher's node, alive as long as the launcher is, always takes it.
        Where Ray cannot name that node, it places the channel itself."""
        if self.node is None:
            return self._channel.remote()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return self._channel.options(scheduling_strategy=NodeAffinitySchedulingStrategy(self.node, soft=False)).remote()

    def forward(self, run: RayRun) -> None:
        """Write what the run's channel holds to the store, and pass a stop request on to the run."""
        self.drain(run)
        if not run.stop_sent and run.store.stop_requested(run.run_id):
            run.channel.request_stop.remote()
            run.stop_sent = True

    def poll(self, run: RayRun) -> int | None:
        """Write what the task sent to the store; forward a stop request; None while the task runs."""
        if run.exit is not None:
            return run.exit
        with contextlib.suppress(self.ray.exceptions.RayActorError):  # the channel is gone: the task's end says why
            self.forward(run)
        ready, _ = self.ray.wait([run.ref], timeout=0)
        if not ready:
            return None
        try:
            self.ray.get(run.ref)
            run.exit, run.reason = 0, ""
        except Exception as err:  # noqa: BLE001 - TaskError, WorkerCrashedError, a lost node, a cancel: its reason
            run.exit, run.reason = 1, self._ended_because(run, err)
        try:
            self.drain(run)  # whatever it pushed before it ended
        except Exception as err:  # noqa: BLE001 - the channel died with its node: nothing more to write
            log.debug("run %s: nothing more to drain (%s)", run.run_id, err)
        return run.exit

    def describe_exit(self, run: RayRun) -> str:
        return run.reason or "the Ray task ended before its run did"

    def _ended_because(self, run: RayRun, err: Exception) -> str:
        """Why a task ended with ``err``: the node it trained on (from its start event) named when that node
        was lost, else Ray's reason.

        Ray says ``NodeDiedError`` within a second or two of a node's raylet dying, before its health checks
        declare the node dead; a node already declared dead counts too (its worker may have died first)."""
        text = str(err).strip()
        first = text.splitlines()[-1].strip() if text else ""
        node = run.node
        if isinstance(err, self.ray.exceptions.NodeDiedError) or (node is not None and self.node_dead(node["id"])):
            where = f" {node['id'][:8]} ({node['ip']})" if node is not None else ""
            because = first.split(". ")[0].rstrip(".") if first else type(err).__name__  # the rest names the node again
            return f"the Ray node{where} running it was lost: {because}"
        return f"the Ray task ended with {type(err).__name__}: {first}".rstrip(": ")

    def node_dead(self, node_id: str) -> bool:
        """Whether the cluster has declared node ``node_id`` dead (False when it cannot say)."""
        try:
            return any(n["NodeID"] == node_id and not n["Alive"] for n in self.ray.nodes())
        except Exception:  # noqa: BLE001 - the cluster cannot say (its GCS unreachable): not known dead
            return False

    def terminate(self, run: RayRun) -> None:
        self.ray.cancel(run.ref, force=True)

    def drain(self, run: RayRun) -> None:
        """Write every event the run's channel holds to the launcher's store."""
        from core.training.store import save_checkpoint

        store, run_id = run.store, run.run_id
        for event in self.ray.get(run.channel.drain.remote()):
            kind, args = event[0], event[1:]
            if kind == "start":
                run.node = args[1] if len(args) > 1 else None
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
                if run.node is not None:
                    summary = {**summary, "ray_node": run.node}  # where it trained, on every page's run
                path = None
                if weights is not None:
                    import torch

                    state = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
                    path = save_checkpoint(state, store.data_folder / "checkpoints" / f"run-{run_id}.pt")
                store.finish(run_id, summary, status=status, error=error, checkpoint=path)
