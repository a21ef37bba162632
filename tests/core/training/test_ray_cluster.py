"""The Ray backend on a real two-node cluster started with ``ray start`` (token authentication on), as a
user runs it: the checkout's code is shipped to the nodes, the CLI and the app's Start train there, a sweep
spreads over both nodes, and losing a node fails only the run that trained on it, naming the node.

One cluster serves the whole module (``ray_cluster`` in conftest.py); each node has one CPU, so two runs at
once must train on different nodes. The losing-a-node test kills the second node and starts a new one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from polling import wait_for  # noqa: E402
from ray_cluster import has_ray_client, ray_cli  # noqa: E402

from core.config import REPO_ROOT  # noqa: E402
from core.training.ray_backend import RayBackend  # noqa: E402
from core.training.runner import RunManager  # noqa: E402
from core.training.runs import RunConfig  # noqa: E402
from core.training.store import RunStore, load_checkpoint  # noqa: E402
from core.training.sweep import new_sweep_kind, stored_sweeps, sweep_configs  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the nodes cannot import this module


@dataclass
class Driver:
    """This test process connected to the cluster as the app's launcher connects (a RayBackend)."""

    backend: RayBackend
    head: str  # node ids
    worker: str


def _reload_ray_auth() -> None:
    """Make Ray re-read ``RAY_AUTH_MODE`` and the token: a local ``ray.init()`` earlier in this process
    (test_ray_backend.py) cached its own settings and ~/.ray/auth_token."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def two_live_nodes() -> dict[int, str] | None:
    """node-manager port -> node id of the live nodes when there are two, else None."""
    alive = {n["NodeManagerPort"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}
    return alive if len(alive) == 2 else None


@pytest.fixture(scope="module")
def driver(ray_cluster):
    if ray.is_initialized():  # never reuse another module's Ray
        ray.shutdown()
    with pytest.MonkeyPatch.context() as mp:
        for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("RAY_AUTH_MODE", "token")  # a driver given an explicit address must say so itself
        mp.setenv("RAY_AUTH_TOKEN_PATH", str(ray_cluster.token_path))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        _reload_ray_auth()
        try:
            backend = RayBackend(ray_cluster.address)
            nodes = wait_for(two_live_nodes, 60, "both nodes alive")
            yield Driver(backend, head=nodes[ray_cluster.head.node_manager], worker=nodes[ray_cluster.worker.node_manager])
        finally:
            ray.shutdown()
    _reload_ray_auth()


def mlp(**kw) -> RunConfig:
    return RunConfig(**{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", "seed": 3, **kw})


def listing() -> list[str]:
    """Every path (folders too) under the current directory, relative to it: a task's shipped working dir."""
    import os

    top = os.getcwd()
    return [os.path.relpath(os.path.join(d, name), top) for d, dirs, files in os.walk(top) for name in dirs + files]


def shipped_to_this_job() -> set[str]:
    """What a task of this process's Ray job (the backend's runtime_env) finds in its working directory."""
    return set(ray.get(ray.remote(num_cpus=0)(listing).remote(), timeout=180))


# A driver of its own: Ray takes a local working_dir only for a whole job (ray.init), never for one task.
SHIP_AND_LIST = """
import json, sys
from pathlib import Path
import ray
from core.training.ray_backend import runtime_env
exec(sys.argv[3])  # defines listing()
ray.init(address=sys.argv[1], runtime_env=runtime_env(sys.argv[1], root=Path(sys.argv[2])), log_to_driver=False)
print(json.dumps(ray.get(ray.remote(num_cpus=0)(listing).remote(), timeout=180)))
"""


def shipped_from(cluster, root: Path) -> set[str]:
    """What a task finds in its working directory when a driver ships ``root`` with the backend's runtime_env."""
    import inspect

    done = subprocess.run([sys.executable, "-c", SHIP_AND_LIST, cluster.address, str(root), inspect.getsource(listing)],
                          cwd=REPO_ROOT, env=cluster.client_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def core_packages(root: Path) -> set[str]:
    return {str(init.parent.relative_to(root)) for init in (root / "core").rglob("__init__.py")
            if "__pycache__" not in init.parts}


def test_the_cluster_refuses_a_wrong_token(ray_cluster, tmp_path):
    """Token authentication is on, as ``ray start --head`` sets it up when it finds a token."""
    assert ray_cluster.gcs_environment().get("RAY_AUTH_MODE") == "token"
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * 64)
    status = [ray_cli(), "status", "--address", ray_cluster.address]
    refused = subprocess.run(status, env={**ray_cluster.client_env(), "RAY_AUTH_TOKEN_PATH": str(wrong)},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "InvalidAuthToken" in refused.stdout + refused.stderr
    allowed = subprocess.run(status, env=ray_cluster.client_env(), capture_output=True, text=True, timeout=120)
    assert allowed.returncode == 0, allowed.stderr[-2000:]


def test_every_core_package_is_shipped_and_no_data_or_weights(driver, ray_cluster, tmp_path):
    packages = core_packages(REPO_ROOT)
    assert {"core", "core/data", "core/training", "core/models/layers"} <= packages
    on_cluster = shipped_to_this_job()  # what every run's task gets
    assert {f"{p}/__init__.py" for p in packages} <= on_cluster
    assert not {".venv", ".git", "data"} & on_cluster

    # a copy of the checkout without its .gitignore, so only the backend's own excludes keep these out
    copy = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "core", copy / "core", ignore=shutil.ignore_patterns("__pycache__"))
    planted = ["data/mnist/train.npz", "data/runs.db", "runs.db", "a.pt", "core/models/weights.pt",
               ".venv/lib/site.py", "artifacts/log.txt", "core/__pycache__/cli.cpython-311.pyc", ".git/HEAD"]
    for name in planted:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text("x")
    got = shipped_from(ray_cluster, copy)
    assert {f"{p}/__init__.py" for p in core_packages(copy)} <= got
    assert "core/data/datasets.py" in got
    assert not set(planted) & got
    assert not {"data", ".venv", "artifacts", ".git", "core/__pycache__"} & got


def test_channels_are_pinned_to_the_launchers_node(driver):
    """A run's channel must outlive the node its task trains on: it lives where the launcher does (the head)."""
    assert driver.backend.node == driver.head  # Ray attaches a driver on the head's machine to the head
    channels = [driver.backend.new_channel() for _ in range(6)]
    try:
        homes = ray.get([c.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()) for c in channels],
                        timeout=120)
    finally:
        for channel in channels:
            ray.kill(channel)
    assert homes == [driver.head] * 6  # soft affinity put about half on the other node


@pytest.mark.parametrize("model, form", [("cheb", "host:port"), ("mlp", "ray://")])
def test_the_cli_trains_on_the_cluster(driver, ray_cluster, tmp_path, model, form):
    if form == "ray://" and not has_ray_client():
        pytest.skip('ray:// needs pip install "ray[client]==2.60.*"')
    data = tmp_path / "cli-data"
    address = ray_cluster.client_address if form == "ray://" else ray_cluster.address
    env = {**ray_cluster.client_env(), "GRAPHCONV_RAY_ADDRESS": address, "GRAPHCONV_DATA_DIR": str(data),
           "GRAPHCONV_QUICK": "1"}
    done = subprocess.run([sys.executable, "-m", "core", "train", "--model", model, "--epochs", "1", "--quick",
                           "--backend", "ray", "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["backend"] == "ray" and summary["status"] == "finished" and summary["test_accuracy"] > 0.3
    assert summary["ray_node"]["id"] in (driver.head, driver.worker)
    (run,) = RunStore(data / "runs.db").list_runs()  # the CLI's own store got the run, from the cluster
    assert run["status"] == "finished" and run["config"]["model"] == model
    assert load_checkpoint(RunStore(data / "runs.db").get_run(run["id"])["checkpoint"])


def test_start_on_the_train_page_trains_on_the_cluster(driver, ray_cluster, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.analysis import results
    from core.config import data_dir
    from core.training import runner

    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    monkeypatch.setenv("GRAPHCONV_RAY_ADDRESS", ray_cluster.address)
    results.clear_cache()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="model").set_value("mlp").run()
    at.slider(key="epochs").set_value(1).run()
    at.button[0].click().run()  # Start
    assert not at.exception, [e.value for e in at.exception]
    run_id = at.session_state["run_id"]
    manager = runner.get_manager()  # the app's process-wide manager, made by the page
    try:
        assert isinstance(manager.backend, RayBackend) and manager.backend.address == ray_cluster.address
        snap = manager.wait(run_id, timeout=300)
        assert snap["state"] == "finished", snap
        at.run()
        assert any("Finished: test accuracy" in s.value for s in at.success)
    finally:
        manager.close()
        with runner._manager_lock:  # the next test must not find this manager (or its Ray backend)
            runner._managers.pop(str(data_dir()), None)
    assert manager.store.get_run(run_id)["summary"]["ray_node"]["id"] in (driver.head, driver.worker)


def test_a_sweeps_members_spread_over_both_nodes(driver, tmp_path):
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=4, backend=driver.backend)
    kind = new_sweep_kind("seed")
    try:
        ids = [manager.submit(cfg, kind=kind) for cfg in sweep_configs(mlp(), "seed", [0, 1, 2, 3])]
        states = [manager.wait(run_id, timeout=300)["state"] for run_id in ids]
    finally:
        manager.close()
    assert states == ["finished"] * 4
    runs = [manager.store.get_run(run_id) for run_id in ids]
    assert {run["summary"]["ray_node"]["id"] for run in runs} == {driver.head, driver.worker}
    assert [s["runs"] for s in stored_sweeps(manager.store.list_runs())] == [4]


def test_a_tune_search_runs_its_trials_on_both_nodes_and_asha_stops_the_weak_ones(driver, tmp_path):
    from core.training.search import new_search_kind, parse_space, search_configs

    space = parse_space(["lr=0.003,0.001,0.000001,0.0000011"])  # two that learn first, then two that barely move
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), backend=driver.backend)
    try:
        ids, early = manager.submit_search(search_configs(mlp(epochs=3), space, sampler="grid"),
                                           kind=new_search_kind(space, True))
        ended = [manager.wait(run_id, timeout=600)["run"] for run_id in ids]
    finally:
        manager.close()
    assert early and all(run["status"] in ("finished", "stopped") for run in ended), ended
    assert {run["summary"]["ray_node"]["id"] for run in ended} == {driver.head, driver.worker}
    for weak in ended[2:]:
        assert weak["status"] == "stopped" and weak["error"].startswith("stopped early by ASHA after epoch 1 of 3")
    assert any(run["status"] == "finished" and load_checkpoint(run["checkpoint"]) for run in ended[:2])


def test_losing_a_node_fails_its_run_with_the_node_named_and_spares_the_other(driver, ray_cluster, tmp_path):
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    class Holder:
        def ready(self) -> bool:
            return True

    manager = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=2, backend=driver.backend)
    on_head = NodeAffinitySchedulingStrategy(driver.head, soft=False)
    holder = ray.remote(num_cpus=1)(Holder).options(scheduling_strategy=on_head).remote()
    try:
        assert ray.get(holder.ready.remote(), timeout=120)  # the head's one CPU is taken ...
        doomed = manager.submit(mlp(epochs=300))  # ... so this run trains on the second node
        wait_for(lambda: manager.store.epochs(doomed), 240, "the run on the second node to train")
        ray.kill(holder)
        spared = manager.submit(mlp(epochs=2))  # the head's CPU is free again: it trains there
        wait_for(lambda: manager.store.get_run(spared)["status"] == "running", 240, "the run on the head to start")
        killed = ray_cluster.kill_worker_node()
        lost, kept = manager.wait(doomed, timeout=120), manager.wait(spared, timeout=240)
    finally:
        manager.close()
        ray_cluster.add_worker_node()  # later tests (and reruns) get two nodes again
    assert killed and lost["state"] == "failed", lost
    assert lost["error"].startswith(f"the Ray node {driver.worker[:8]} (") and " running it was lost: " in lost["error"]
    assert 1 <= len(manager.store.epochs(doomed)) < 300  # the epochs it finished are kept
    assert kept["state"] == "finished", kept
    assert manager.store.get_run(spared)["summary"]["ray_node"]["id"] == driver.head
    wait_for(lambda: driver.backend.node_dead(driver.worker), 30, "the cluster to declare the node dead")
    new = wait_for(two_live_nodes, 60, "the new second node")
    assert driver.worker not in new.values()
