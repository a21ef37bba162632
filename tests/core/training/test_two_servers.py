"""Two app servers on one PostgreSQL database (issue 32): each starts every queued run once.

A crashed server leaves queued runs behind (its process gone). Two servers, each its own process with its own data
folder and its own runs to train, then start at the same moment on the same database: each takes over what it can
claim (a compare-and-set in the store), trains its own runs beside them, and nothing is trained twice: every run
ends finished, with one epoch row per epoch, one start, and its id claimed by exactly one server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core.training.runs import RunConfig, validate
from core.training.store import store_at

ROOT = Path(__file__).resolve().parents[3]
SERVER = textwrap.dedent(
    """
    import json, sys, time
    from core.training.runner import RunManager
    from core.training.runs import RunConfig
    go = float(sys.argv[1])
    while time.time() < go:  # both servers start together
        time.sleep(0.005)
    manager = RunManager(max_concurrent=2)  # takes over the dead server's runs as it starts
    mine = [manager.submit(RunConfig.make(model="mlp", hidden=8, epochs=2, quick=True, device="cpu", seed=s))
            for s in (int(sys.argv[2]), int(sys.argv[2]) + 1)]
    for run_id in [*manager.taken_over, *mine]:
        manager.wait(run_id, timeout=600)
    manager.close()
    print(json.dumps({"taken_over": manager.taken_over, "mine": mine}))
    """
)


def config(seed: int) -> dict:
    return validate(RunConfig.make(model="mlp", hidden=8, epochs=2, quick=True, device="cpu", seed=seed)).to_dict()


def test_two_servers_on_one_database_start_each_queued_run_once(postgres_url, tmp_path):
    dead = subprocess.run(  # the crashed server: it queued four runs, then its process ended
        [
            sys.executable,
            "-c",
            "import json, sys\nfrom core.training.store import store_at\n"
            "store = store_at(sys.argv[1])\n"
            "print(json.dumps([store.create_run(c) for c in json.loads(sys.argv[2])]))",
            postgres_url,
            json.dumps([config(s) for s in range(100, 104)]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    orphans = json.loads(dead.stdout)
    go = time.time() + 8  # both are importing torch by then
    servers = [
        subprocess.Popen(
            [sys.executable, "-c", SERVER, str(go), str(seed)],
            cwd=ROOT,
            env={
                **os.environ,
                "GRAPHCONV_STORE_URL": postgres_url,
                "GRAPHCONV_DATA_DIR": str(tmp_path / f"server-{seed}"),  # each its own disk
                "GRAPHCONV_QUICK": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (0, 10)
    ]
    outs = []
    for server in servers:
        out, err = server.communicate(timeout=900)
        assert server.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    taken = [set(o["taken_over"]) for o in outs]
    assert not (taken[0] & taken[1]), outs  # no run taken over by both
    assert taken[0] | taken[1] == set(orphans), outs  # and every one by one of them
    store = store_at(postgres_url)
    everyone = orphans + [i for o in outs for i in o["mine"]]
    assert len(set(everyone)) == 8
    for run_id in everyone:
        run = store.require_run(run_id)
        assert run.status == "finished", (run_id, run.status, run.error)
        assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2], run_id  # trained once: one row per epoch
