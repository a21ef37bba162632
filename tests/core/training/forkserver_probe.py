"""A probe of the app's training forkserver (``core.training.process_backend``): does it hand workers a clean CUDA?

A process that starts CUDA's driver (``torch.cuda.device_count()``, ``is_available()``, a CUDA tensor; on some
versions importing PyG) poisons every later ``fork`` of itself: CUDA fails in the child (pytorch#138453).
Workers fork from the forkserver, so the forkserver must never do so. ``run_probe`` starts a fresh
interpreter that plays the server: it imports PyG and the app's modules, then starts the app's
forkserver with this module preloaded first, and a worker forked from it reports before it touches CUDA.

With ``FORKSERVER_PROBE=1`` in the environment, importing this module records every call of the watched
``torch.cuda`` functions in ``CALLS`` (so the forkserver's calls are inherited by the worker's copy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

WATCHED = ("device_count", "is_available", "init", "_lazy_init")  # the calls that start CUDA's driver
CALLS: list[str] = []  # watched calls made in this process (and, in a forked child, in its parent)
LOADED_IN = os.getpid()  # the process that imported this module (a worker's forkserver when preloaded there)


def _watch() -> None:
    for name in WATCHED:
        fn = getattr(torch.cuda, name)

        def recorded(*args, _fn=fn, _name=name, **kwargs):
            CALLS.append(_name)
            return _fn(*args, **kwargs)

        setattr(torch.cuda, name, recorded)  # torch.cuda's own calls look these up in its namespace too


if os.environ.get("FORKSERVER_PROBE") == "1":
    _watch()


def report(queue) -> None:
    """A worker's first act: the CUDA state it was forked with, and what its forkserver called."""
    queue.put(
        {
            "preloaded_in_forkserver": LOADED_IN == os.getppid() != os.getpid(),
            "forkserver_calls": list(CALLS),
            "bad_fork": torch.cuda._is_in_bad_fork(),
            "initialized": torch.cuda.is_initialized(),
        }
    )


def _plain_fork_bad() -> bool:
    """Whether a plain ``fork`` of this process would start poisoned (the control: this process asked CUDA)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, b"1" if torch.cuda._is_in_bad_fork() else b"0")
        os._exit(0)
    os.close(w)
    value = os.read(r, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(r)
    return value


def main(db_path: str, cuda: bool) -> None:
    import torch_geometric.nn  # noqa: F401  the server's pages import PyG and the app's modules before any run

    import core.models  # noqa: F401 - for its registrations, as the server has them
    from core.training import process_backend
    from core.training.runner import RunManager
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    out: dict[str, Any] = {"parent_calls_after_imports": list(CALLS)}
    if cuda:  # the server asks CUDA (a page's pick_device): a plain fork of it is poisoned, its workers must not be
        out["parent_devices"] = torch.cuda.device_count()
        out["plain_fork_bad"] = _plain_fork_bad()
    process_backend.PRELOAD = [__name__, *process_backend.PRELOAD]
    backend = process_backend.ProcessBackend()
    out["method"] = backend.method
    queue = backend.ctx.Queue()
    worker = backend.ctx.Process(target=report, args=(queue,))
    worker.start()
    out["worker"] = queue.get(timeout=300)
    worker.join(30)
    if cuda:  # a real run through the app's manager and worker, on the GPU
        manager = RunManager(store=RunStore(db_path), max_concurrent=1, backend=backend)
        run_id = manager.submit(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True, device="cuda"))
        done = manager.wait(run_id, timeout=300) or {}
        out["run"] = {
            "state": done.get("state"),
            "error": done.get("error"),
            "device": manager.store.require_run(run_id).device,
        }
        manager.close()
    print(json.dumps(out))


def run_probe(db_path: Path, cuda: bool = False, timeout: float = 540.0) -> dict[str, Any]:
    """Run ``main`` in a fresh interpreter (its own forkserver, this probe preloaded) and return its report."""
    here, root = Path(__file__).resolve().parent, Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "FORKSERVER_PROBE": "1",
        "PYTHONPATH": os.pathsep.join([str(here), str(root), os.environ.get("PYTHONPATH", "")]),
    }
    code = f"import forkserver_probe as p; p.main({str(db_path)!r}, {bool(cuda)!r})"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
