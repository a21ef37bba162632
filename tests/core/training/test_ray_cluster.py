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

from core.config import REPO_ROOT
from core.training.ray_backend import RayBackend
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint
from core.training.sweep import new_sweep_group, stored_sweeps, sweep_configs
from core.training.tune_search import TuneBackend
from tests.core.training.polling import wait_for
from tests.core.training.ray_cluster import has_ray_client, ray_cli

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
    # both are compiled into ray/_raylet.so, and ray's _raylet.pyi lists neither
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

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
            backend = TuneBackend(ray_cluster.address)  # make_backend("ray"): Ray tasks and Tune searches
            nodes = wait_for(two_live_nodes, 60, "both nodes alive")
            yield Driver(
                backend, head=nodes[ray_cluster.head.node_manager], worker=nodes[ray_cluster.worker.node_manager]
            )
        finally:
            ray.shutdown()
    _reload_ray_auth()


def mlp(**kw) -> RunConfig:
    return RunConfig.make(
        **{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", "seed": 3, **kw}
    )


def listing() -> list[str]:
    """Every path (folders too) under the current directory, relative to it: a task's shipped working dir."""
    import os

    top = os.getcwd()
    return [os.path.relpath(os.path.join(d, name), top) for d, dirs, files in os.walk(top) for name in dirs + files]


def shipped_to_this_job() -> set[str]:
    """What a task of this process's Ray job (the backend's runtime_env) finds in its working directory."""
    return set(ray.get(ray.remote(num_cpus=0)(listing).remote(), timeout=180))


def engine_code(root: Path) -> set[str]:
    """The allow-list's files under ``root`` (core/**/*.py) and the folders that hold them, relative to ``root``."""
    files = {f.relative_to(root) for f in root.glob("core/**/*.py")}
    return {str(p) for f in files for p in (f, *f.parents) if str(p) != "."}


def core_packages(root: Path) -> set[str]:
    return {
        str(init.parent.relative_to(root))
        for init in (root / "core").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


# A launcher of its own, in a copy of the checkout (so the real backend ships that copy): Ray takes a working dir
# only for a whole job (ray.init). It trains one run through RayBackend and the run manager, then asks a task on
# every live node what it received; one JSON line on stdout.
LAUNCH_IN_COPY = """
import json, os, sys, tempfile
from pathlib import Path
import ray
from core.config import REPO_ROOT
from core.training.ray_backend import RayBackend
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore

def probe(marker, planted):
    import os, sys, zipfile
    import core
    top = os.getcwd()
    files = sorted(os.path.relpath(os.path.join(d, n), top) for d, dirs, names in os.walk(top) for n in dirs + names)
    reachable = sorted(os.path.join(p or top, name) for p in sys.path for name in planted
                       if os.path.exists(os.path.join(p or top, name)))
    leaked = []  # any file of Ray's unpacked packages on this node holding a planted file's text
    resources = top.split("/runtime_resources/")[0] + "/runtime_resources"
    for d, _, names in os.walk(resources):
        for n in names:
            path = os.path.join(d, n)
            try:
                data = open(path, "rb").read()
                inner = zipfile.ZipFile(path).namelist() if n.endswith(".zip") else []
            except (OSError, zipfile.BadZipFile):
                continue
            leaked += [path] * (marker.encode() in data) + [path + "!" + i for i in inner if i.split("/")[0] != "core"]
    return {"node": ray.get_runtime_context().get_node_id(), "cwd": top, "core": core.__file__, "files": files,
            "reachable": reachable, "leaked": leaked}

marker, planted = sys.argv[2], json.loads(sys.argv[3])
assert REPO_ROOT == Path.cwd().resolve(), (REPO_ROOT, Path.cwd())  # this launcher runs the copy's code
backend = RayBackend(sys.argv[1])
manager = RunManager(store=RunStore(Path(tempfile.mkdtemp()) / "runs.db"), backend=backend)
try:
    run_id = manager.submit(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True, device="cpu", seed=3))
    state = manager.wait(run_id, timeout=300)["state"]
    run = manager.store.get_run(run_id)
finally:
    manager.close()
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
task = ray.remote(num_cpus=0)(probe)
seen = ray.get([task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote(marker, planted)
                for n in nodes], timeout=180)
print(json.dumps({"state": state, "error": run["error"], "node": (run["summary"] or {}).get("ray_node"), "seen": seen}))
"""


def page_text(at) -> str:
    """Everything an AppTest page holds, as the protobuf text of its every element (text, labels, help, values)."""

    def walk(node) -> list[str]:
        proto = getattr(node, "proto", None)
        children = getattr(node, "children", {}) or {}
        return [str(proto) if proto is not None else ""] + [t for child in children.values() for t in walk(child)]

    return "\n".join(walk(at._tree))


def test_the_cluster_refuses_a_wrong_token(ray_cluster, tmp_path):
    """Token authentication is on, as ``ray start --head`` sets it up when it finds a token."""
    assert ray_cluster.gcs_environment().get("RAY_AUTH_MODE") == "token"
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * 64)
    status = [ray_cli(), "status", "--address", ray_cluster.address]
    refused = subprocess.run(
        status,
        env={**ray_cluster.client_env(), "RAY_AUTH_TOKEN_PATH": str(wrong)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0 and "InvalidAuthToken" in refused.stdout + refused.stderr
    allowed = subprocess.run(status, env=ray_cluster.client_env(), capture_output=True, text=True, timeout=120)
    assert allowed.returncode == 0, allowed.stderr[-2000:]


def test_every_core_package_is_shipped_and_nothing_else(driver):
    packages = core_packages(REPO_ROOT)
    assert {"core", "core/data", "core/training", "core/models/layers"} <= packages
    on_cluster = shipped_to_this_job()  # what every run's task gets
    assert {f"{p}/__init__.py" for p in packages} <= on_cluster
    assert all(p.startswith("core") and (p.endswith(".py") or "." not in p) for p in on_cluster), on_cluster
    assert not {".venv", ".git", "data", "tests", "app.py", "ui"} & on_cluster


def test_a_run_on_the_cluster_receives_only_the_engines_code(driver, ray_cluster, tmp_path):
    """Secrets, tests, data and weights planted in a copy of the checkout reach no node, while a run launched from
    that copy through the real backend trains there and finishes."""
    import secrets

    copy = tmp_path / "checkout"
    keep = shutil.ignore_patterns("__pycache__")
    for folder in ("core", "ui", "app_pages"):
        shutil.copytree(REPO_ROOT / folder, copy / folder, ignore=keep)
    for name in ("app.py", "requirements.txt", ".gitignore"):
        shutil.copy(REPO_ROOT / name, copy / name)
    marker = secrets.token_hex(16)
    secret_files = [
        ".streamlit/secrets.toml",
        ".env",
        "ray_auth_token",
        "tests/test_planted.py",
        "core/.env",
        "core/training/secrets.toml",
    ]
    data_files = [
        "data/mnist/train.npz",
        "data/runs.db",
        "runs.db",
        "a.pt",
        "core/models/weights.pt",
        ".venv/lib/site.py",
        "artifacts/log.txt",
        "core/__pycache__/cli.cpython-311.pyc",
        ".git/HEAD",
    ]
    for name in secret_files + data_files:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(f"TOKEN = '{marker}'\n")
    expected = engine_code(copy)  # before the launcher's imports write caches into the copy (not *.py either)

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCH_IN_COPY,
            ray_cluster.address,
            marker,
            json.dumps([".streamlit/secrets.toml", ".env", "ray_auth_token", "tests"]),
        ],
        cwd=copy,
        env=ray_cluster.client_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])

    assert got["state"] == "finished", got["error"]  # the run still trains on the cluster and finishes
    assert got["node"]["id"] in (driver.head, driver.worker)
    assert {seen["node"] for seen in got["seen"]} == {driver.head, driver.worker}
    for seen in got["seen"]:  # as each node's task found it
        assert "/runtime_resources/working_dir_files/" in seen["cwd"], seen["cwd"]  # Ray's unpacked copy ...
        assert seen["core"].startswith(seen["cwd"] + "/"), seen["core"]  # ... whose code the task runs
        assert set(seen["files"]) == expected  # exactly the engine's source: no planted name, no cache
        assert not (set(secret_files) | set(data_files)) & set(seen["files"])
        assert not seen["reachable"]  # nor anything planted on the task's import path (the launcher's folder)
        assert not seen["leaked"]  # nor a planted file's text anywhere in the node's Ray packages


def test_channels_are_pinned_to_the_launchers_node(driver):
    """A run's channel must outlive the node its task trains on: it lives where the launcher does (the head)."""
    assert driver.backend.node == driver.head  # Ray attaches a driver on the head's machine to the head
    channels = [driver.backend.new_channel() for _ in range(6)]
    try:
        homes = ray.get(
            [c.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()) for c in channels], timeout=120
        )
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
    env = {
        **ray_cluster.client_env(),
        "GRAPHCONV_RAY_ADDRESS": address,
        "GRAPHCONV_DATA_DIR": str(data),
        "GRAPHCONV_QUICK": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            "--model",
            model,
            "--epochs",
            "1",
            "--quick",
            "--backend",
            "ray",
            "--json",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
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
        # a visitor learns that runs train on a Ray cluster, never where it is
        assert any("runs train on a Ray cluster" in m.value for m in at.markdown)
        page = page_text(at)
        port = ray_cluster.address.rsplit(":", 1)[1]
        assert ray_cluster.address not in page and f":{port}" not in page and "127.0.0.1" not in page
    finally:
        manager.close()
        with runner._manager_lock:  # the next test must not find this manager (or its Ray backend)
            runner._managers.pop(runner.manager_key(), None)
    assert manager.store.get_run(run_id)["summary"]["ray_node"]["id"] in (driver.head, driver.worker)


def test_a_sweeps_members_spread_over_both_nodes(driver, tmp_path):
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=4, backend=driver.backend)
    sweep = new_sweep_group("seed")
    try:
        ids = [manager.submit(cfg, group=sweep) for cfg in sweep_configs(mlp(), "seed", [0, 1, 2, 3])]
        states = [manager.wait(run_id, timeout=300)["state"] for run_id in ids]
    finally:
        manager.close()
    assert states == ["finished"] * 4
    runs = [manager.store.get_run(run_id) for run_id in ids]
    assert {run["summary"]["ray_node"]["id"] for run in runs} == {driver.head, driver.worker}
    assert [s["runs"] for s in stored_sweeps(manager.store.list_runs(), manager.store.groups())] == [4]


def test_a_tune_search_runs_its_trials_on_both_nodes_and_asha_stops_the_weak_ones(driver, tmp_path):
    from core.training.search import new_search_group, parse_space, search_configs

    space = parse_space(["lr=0.003,0.001,0.000001,0.0000011"])  # two that learn first, then two that barely move
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), backend=driver.backend)
    try:
        ids, early = manager.submit_search(
            search_configs(mlp(epochs=3), space, sampler="grid"), group=new_search_group(space, True)
        )
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
