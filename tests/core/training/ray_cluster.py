"""A real two-node Ray cluster on this machine, started the way a user starts one, for the cluster tests.

The head and a second node are two ``ray start`` commands of this project's virtualenv (so their workers
import the same packages), each with one CPU, on free ports, with every file under one temporary folder.
Token authentication stays on as Ray 2.60 sets it up: ``ray start --head`` turns it on by itself when
``RAY_AUTH_MODE`` is unset and it finds a token (``RAY_AUTH_TOKEN``, the file at ``RAY_AUTH_TOKEN_PATH``, or
``~/.ray/auth_token``); here a fresh token is written to ``<temp>/auth_token`` (never to the home folder).
Everything else that joins (the second node, a driver given an explicit address, ``ray status``) must
set ``RAY_AUTH_MODE=token`` itself and find the same token: :meth:`RayCluster.client_env`.

Stopping kills only this cluster's processes: the ones whose command line names its temporary folder
(GCS, raylets, monitors, the log monitor, the dashboard process) and their children (workers, agents,
whose titles Ray rewrites). ``ray stop`` is never used: it ends every Ray process on the machine,
including another test session's.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# A lost node is declared dead after about 3 x 1 s of failed health checks (Ray's default is ~30 s).
HEALTH_CHECKS = (
    '{"health_check_period_ms": 1000, "health_check_timeout_ms": 1000, '
    '"health_check_failure_threshold": 3, "health_check_initial_delay_ms": 1000}'
)
START_TIMEOUT_S = 120
RAY_VARS_CLEARED = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now (held together while chosen, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def has_ray_client() -> bool:
    """Whether ``ray[client]`` is installed: then the head serves ``ray://`` (and refuses the port flag otherwise)."""
    return importlib.util.find_spec("grpc") is not None


def ray_cli() -> str:
    """The ``ray`` command of the interpreter running the tests (the project's virtualenv)."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


@dataclass
class NodePorts:
    """The ports one node listens on (chosen free, so nothing collides with another Ray on this machine)."""

    node_manager: int
    object_manager: int
    agent_listen: int
    agent_grpc: int
    runtime_env_agent: int
    metrics_export: int

    @classmethod
    def pick(cls) -> NodePorts:
        return cls(*free_ports(6))

    def flags(self) -> list[str]:
        return [
            "--node-manager-port",
            str(self.node_manager),
            "--object-manager-port",
            str(self.object_manager),
            "--dashboard-agent-listen-port",
            str(self.agent_listen),
            "--dashboard-agent-grpc-port",
            str(self.agent_grpc),
            "--runtime-env-agent-port",
            str(self.runtime_env_agent),
            "--metrics-export-port",
            str(self.metrics_export),
            "--min-worker-port",
            "0",
            "--max-worker-port",
            "0",
        ]  # workers: any free port


@dataclass
class RayCluster:
    """A head and a second node (two ``ray start``) under ``root``; :meth:`start`, :meth:`kill_worker_node`,
    :meth:`stop`."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gcl-ray-")))  # short: socket paths
    gcs_port: int = 0
    client_port: int = 0
    dashboard_port: int = 0
    head: NodePorts | None = None
    worker: NodePorts | None = None

    @property
    def address(self) -> str:
        """The GCS address a driver, a second node or ``GRAPHCONV_RAY_ADDRESS`` is given."""
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def client_address(self) -> str:
        """The ``ray://`` address of the head's Ray Client server (only with ``ray[client]``)."""
        return f"ray://127.0.0.1:{self.client_port}"

    @property
    def token_path(self) -> Path:
        return self.root / "auth_token"

    @property
    def temp_dir(self) -> Path:
        return self.root / "ray"

    def base_env(self) -> dict[str, str]:
        """This process's environment without Ray connection settings, no usage statistics, this cluster's token."""
        env = {k: v for k, v in os.environ.items() if k not in RAY_VARS_CLEARED}
        env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_TOKEN_PATH=str(self.token_path))
        return env

    def client_env(self) -> dict[str, str]:
        """The environment of anything joining the cluster: a second node, a driver, the CLI."""
        return {**self.base_env(), "RAY_AUTH_MODE": "token"}

    def head_command(self) -> list[str]:
        client = ["--ray-client-server-port", str(self.client_port)] if has_ray_client() else []
        return [
            ray_cli(),
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(self.gcs_port),
            "--num-cpus",
            "1",
            "--temp-dir",
            str(self.temp_dir),
            *client,
            "--include-dashboard",
            "false",
            "--dashboard-port",
            str(self.dashboard_port),
            "--disable-usage-stats",
            "--system-config",
            HEALTH_CHECKS,
            *self._ports(self.head).flags(),
        ]

    def worker_command(self) -> list[str]:
        return [
            ray_cli(),
            "start",
            "--address",
            self.address,
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "1",
            "--temp-dir",
            str(self.temp_dir),
            "--disable-usage-stats",
            *self._ports(self.worker).flags(),
        ]

    def start(self) -> RayCluster:
        """Write a token, start the head (auth turns on because a token exists), then the second node."""
        self.token_path.write_text(secrets.token_hex(32))  # the format of `ray get-auth-token --generate`
        self.token_path.chmod(0o600)
        self.gcs_port, self.client_port, self.dashboard_port = free_ports(3)
        self.head = NodePorts.pick()
        self._run(self.head_command(), self.base_env())  # RAY_AUTH_MODE unset: Ray's default decides
        self.add_worker_node()
        return self

    def add_worker_node(self) -> None:
        """Start (or, after :meth:`kill_worker_node`, restart) the second node on fresh ports."""
        self.worker = NodePorts.pick()
        self._run(self.worker_command(), self.client_env())

    def _run(self, command: list[str], env: dict[str, str]) -> None:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def processes(self) -> list[psutil.Process]:
        """Every live process of this cluster: those naming its folder on their command line, and their children."""
        marker = str(self.root)
        roots = []
        for proc in psutil.process_iter(["cmdline"]):
            if any(marker in arg for arg in proc.info["cmdline"] or ()):
                roots.append(proc)
        return _with_children(roots)

    @staticmethod
    def _ports(node: NodePorts | None) -> NodePorts:
        """A node's ports, picked by :meth:`start` (or :meth:`add_worker_node`) before any command uses them."""
        if node is None:
            raise RuntimeError("the node has no ports yet: start the cluster first")
        return node

    def raylet(self, ports: NodePorts) -> psutil.Process | None:
        """The raylet serving on ``ports.node_manager`` (None once it is gone)."""
        flag = f"--node_manager_port={ports.node_manager}"
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.info["name"] == "raylet" and flag in (proc.info["cmdline"] or ()):
                return proc
        return None

    def gcs_environment(self) -> dict[str, str]:
        """The environment the head's GCS server runs with (where Ray's auth mode shows)."""
        for proc in self.processes():
            try:
                if proc.name() == "gcs_server":
                    return proc.environ()
            except psutil.NoSuchProcess:
                continue
        raise RuntimeError("the cluster's GCS server is not running")

    def kill_worker_node(self) -> list[int]:
        """Kill the second node as a crash would: its raylet and every process under it (workers, agents).
        Returns the killed pids."""
        raylet = self.raylet(self._ports(self.worker))
        if raylet is None:
            raise RuntimeError("the second node's raylet is not running")
        procs = _with_children([raylet])
        _kill(procs)
        return [p.pid for p in procs]

    def stop(self) -> None:
        """Kill every process of this cluster (also after a failed test), then remove its folder."""
        for _ in range(3):  # a dying raylet may still have started a worker
            procs = self.processes()
            if not procs:
                break
            _kill(procs)
        shutil.rmtree(self.root, ignore_errors=True)


def _with_children(roots: list[psutil.Process]) -> list[psutil.Process]:
    found = {p.pid: p for p in roots}
    for root in roots:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.update({c.pid: c for c in root.children(recursive=True)})
    return list(found.values())


def _kill(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)
