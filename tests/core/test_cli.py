"""``python -m core``: graph facts, training into the run store, and one-line errors.

The end-to-end cases start real processes. Each start imports torch and PyG (seconds), so the full
matrix of invalid values runs through ``core.cli.main`` in this process: the same code path, exit code
and stderr, and an uncaught exception would fail the test just as a traceback would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.training.store import RunStore
from tests.core.cli_helpers import assert_one_line_error, in_process

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def env_for(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(data_dir)}
    env.pop("GRAPHCONV_QUICK", None)  # quick mode only where a command asks for it
    return env


def start(data_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        cwd=REPO,
        env=env_for(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def cli(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """Run ``python -m core ARGS`` in a fresh process: (exit code, stdout, stderr)."""
    return finish(start(data_dir, *args))


def cli_many(data_dir: Path, *commands: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """Several independent commands at once (their start-up imports overlap)."""
    return [finish(p) for p in [start(data_dir, *c) for c in commands]]


# ----------------------------------------------------------------------------- graph


def test_graph_grid_subprocess(isolated_data_dir):
    code, out, err = cli(isolated_data_dir, "graph", "--kind", "grid", "--neighbours", "8", "--json")
    assert code == 0, err
    g8 = json.loads(out)
    assert (g8["kind"], g8["num_nodes"], g8["num_edges"], g8["symmetric"], g8["self_loops"]) == (
        "grid",
        784,
        5940,
        True,
        0,
    )
    assert g8["params"]["neighbours"] == 8


def test_graph_grid_4_neighbours(capsys):
    code, out, _ = in_process(capsys, "graph", "--kind", "grid", "--neighbours", "4", "--json")
    g4 = json.loads(out)
    assert code == 0 and (g4["num_nodes"], g4["num_edges"], g4["symmetric"]) == (784, 3024, True)
    assert g4["params"]["neighbours"] == 4


def test_graph_human_output(capsys):
    code, out, _ = in_process(capsys, "graph", "--kind", "grid", "--neighbours", "4")
    assert code == 0 and "num_edges: 3024" in out and "num_nodes: 784" in out


def test_graph_knn_and_gaussian(capsys):
    code, out, _ = in_process(capsys, "graph", "--kind", "knn", "--k", "8", "--json")
    knn = json.loads(out)
    assert code == 0 and knn["num_nodes"] == 784 and knn["symmetric"] and knn["self_loops"] == 0
    # k nearest per node, then symmetrised: at least N*k directed edges, and mean degree >= k
    assert knn["num_edges"] >= 784 * 8 and knn["mean_degree"] >= 8

    code, out, _ = in_process(capsys, "graph", "--kind", "gaussian", "--sigma", "0.1", "--topk", "6", "--json")
    gauss = json.loads(out)
    assert code == 0 and gauss["num_nodes"] == 784 and gauss["symmetric"]
    assert 784 * 6 <= gauss["num_edges"] < 784 * 12 and gauss["params"]["topk"] == 6


def test_graph_superpixels(capsys):
    code, out, _ = in_process(capsys, "graph", "--kind", "superpixels", "--image", "3", "--json")
    sp = json.loads(out)
    assert code == 0 and sp["kind"] == "superpixels" and sp["image"] == 3
    assert 20 < sp["num_nodes"] < 200 and sp["symmetric"] and sp["num_edges"] > 0
    code, out, _ = in_process(capsys, "graph", "--kind", "superpixels", "--segments", "30", "--json")
    fewer = json.loads(out)
    assert code == 0 and fewer["image"] == 0 and fewer["num_nodes"] < sp["num_nodes"]


@pytest.mark.parametrize("kind, extra", [("grid", ()), ("knn", ("--k", "5"))])
def test_graph_gcn_norm_adds_one_self_loop_per_node(capsys, kind, extra):
    code, out, _ = in_process(capsys, "graph", "--kind", kind, *extra, "--json")
    plain = json.loads(out)
    code, out, _ = in_process(capsys, "graph", "--kind", kind, *extra, "--norm", "gcn", "--json")
    gcn = json.loads(out)
    assert code == 0 and gcn["params"]["norm"] == "gcn"
    assert gcn["self_loops"] == gcn["num_nodes"] == 784 and plain["self_loops"] == 0
    assert gcn["num_edges"] == plain["num_edges"] + 784 and gcn["symmetric"]


GRAPH_ERRORS = [
    (("--kind", "knn", "--k", "784"), "k"),  # k >= number of nodes
    (("--kind", "gaussian", "--sigma", "0"), "sigma"),
    (("--kind", "knn", "--sigma", "-1"), "sigma"),
    (("--kind", "superpixels", "--segments", "1"), "segments"),
    (("--kind", "hexagons"), "graph kind"),
    (("--kind", "grid", "--norm", "laplace"), "norm"),
    (("--kind", "grid", "--k", "3"), "k"),  # a parameter of another kind
    (("--kind", "grid", "--neighbours", "6"), "neighbours"),
    (("--kind", "knn", "--k", "abc"), "--k"),  # not an int
    (("--kind", "superpixels", "--image", "5000"), "image"),
    ((), "--kind"),  # required
]


@pytest.mark.parametrize("args, param", GRAPH_ERRORS, ids=[" ".join(a) or "no-kind" for a, _ in GRAPH_ERRORS])
def test_graph_errors_are_one_line(capsys, args, param):
    code, out, err = in_process(capsys, "graph", *args, "--json")
    assert_one_line_error(code, err, param)
    assert out == ""


def test_errors_in_a_real_process_are_one_line(isolated_data_dir):
    results = cli_many(
        isolated_data_dir,
        ("graph", "--kind", "knn", "--k", "abc"),  # argparse's error
        ("train", "--model", "cheb", "--graph", "knn", "--k", "784", "--quick", "--json"),
    )
    for (code, out, err), param in zip(results, ("--k", "k"), strict=True):
        assert code == 2
        assert_one_line_error(code, err, param)
        assert out == ""
    assert RunStore().list_runs() == []


# ----------------------------------------------------------------------------- train and runs


def test_train_then_runs(isolated_data_dir):
    code, out, err = cli(
        isolated_data_dir, "train", "--model", "mlp", "--epochs", "1", "--lr", "0.003", "--quick", "--json"
    )
    assert code == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["model"] == "mlp" and summary["status"] == "finished" and summary["device"] == "cpu"
    assert isinstance(summary["run_id"], int)
    assert summary["test_accuracy"] > 0.5  # far above chance (0.1) after one quick epoch
    assert summary["images_per_second"] > 0
    assert (summary["train_images"], summary["test_images"]) == (1000, 200)
    (epoch,) = summary["epochs"]
    assert epoch["epoch"] == 1 and epoch["train_loss"] > 0 and epoch["seconds"] > 0
    assert epoch["test_accuracy"] == summary["test_accuracy"]
    assert "epoch 1: loss" in err  # progress goes to stderr, JSON alone to stdout

    code, out, err = cli(isolated_data_dir, "runs", "--json")
    assert code == 0, err
    (run,) = json.loads(out)
    assert run["id"] == summary["run_id"] and run["status"] == "finished"
    assert run["config"]["model"] == "mlp" and run["config"]["epochs"] == 1 and run["config"]["quick"] is True
    assert run["config"]["lr"] == 0.003
    assert run["summary"]["test_accuracy"] == summary["test_accuracy"]
    assert Path(run["checkpoint"]).is_file() and Path(run["checkpoint"]).is_relative_to(isolated_data_dir)


def test_train_graph_model_in_process(capsys, isolated_data_dir):
    code, out, err = in_process(
        capsys,
        "train",
        "--model",
        "gcn",
        "--graph",
        "grid",
        "--neighbours",
        "4",
        "--hidden",
        "4",
        "--layers",
        "1",
        "--epochs",
        "1",
        "--quick",
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["label"] == "GCN on the 4-neighbour grid" and summary["status"] == "finished"
    (run,) = RunStore().list_runs()
    assert run["config"]["graph_params"] == {"neighbours": 4} and run["config"]["hidden"] == 4


TRAIN_ERRORS = [
    (("--epochs", "0"), "epochs"),
    (("--model", "nope"), "model"),
    (("--model", "cheb", "--graph", "superpixels"), "graph"),
    (("--model", "superpixel", "--graph", "grid"), "graph"),
    (("--model", "escnn", "--group", "C3"), "group"),
    (("--model", "escnn", "--group", "C4,D4,C4"), "group"),  # D4 is not a subgroup of C4
    (("--model", "escnn", "--group", ""), "group"),  # an empty schedule
    (("--model", "escnn", "--group", "C8,C4", "--layers", "3"), "group"),  # two groups for three blocks
    (("--lr", "0"), "lr"),
    (("--batch-size", "0"), "batch_size"),
    (("--dropout", "1.0"), "dropout"),
    (("--data", "cifar"), "data"),
    (("--model", "cheb", "--graph", "knn", "--k", "784"), "k"),
    (("--model", "cheb", "--graph", "grid", "--k", "3"), "k"),
    (("--epochs", "two"), "--epochs"),
]


@pytest.mark.parametrize("args, param", TRAIN_ERRORS, ids=[" ".join(a) for a, _ in TRAIN_ERRORS])
def test_train_errors_are_one_line_and_store_nothing(capsys, args, param):
    code, out, err = in_process(capsys, "train", "--quick", "--json", *args)
    assert_one_line_error(code, err, param)
    assert out == ""
    code, out, _ = in_process(capsys, "runs", "--json")
    assert code == 0 and json.loads(out) == []


def test_train_notes_the_settings_its_model_does_not_read(capsys, isolated_data_dir):
    code, _, err = in_process(
        capsys,
        "train",
        "--model",
        "mlp",
        "--graph",
        "knn",
        "--k",
        "8",
        "--group",
        "C4",
        "--K",
        "3",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--quick",
        "--json",
    )
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: model mlp does not use --graph; ignored",
        "note: model mlp does not use --K; ignored",
        "note: model mlp does not use --group; ignored",
    ]
    (run,) = RunStore().list_runs()
    assert run["config"]["graph"] is None and run["config"]["hidden"] == 8  # hidden is read, so no note

    code, _, err = in_process(
        capsys,
        "train",
        "--model",
        "gcn",
        "--graph",
        "grid",
        "--neighbours",
        "4",
        "--layers",
        "1",
        "--hidden",
        "4",
        "--epochs",
        "1",
        "--quick",
        "--json",
    )
    assert code == 0, err
    assert "note:" not in err  # a graph model reads its graph and graph parameters


def test_train_superpixel_model_reports_building_its_graphs(capsys, isolated_data_dir):
    args = (
        "train",
        "--model",
        "superpixel",
        "--conv",
        "sage",
        "--layers",
        "1",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--quick",
        "--json",
    )
    code, out, err = in_process(capsys, *args)
    assert code == 0, err
    built = [line for line in err.splitlines() if line.startswith("building superpixel graphs: ")]
    assert built[-1] == "building superpixel graphs: 1,200/1,200"  # quick mode: 1,000 train + 200 test digits
    assert json.loads(out)["label"] == "Superpixel GNN, GraphSAGE layers"
    code, out, err = in_process(capsys, *args)  # the second run reads the cached graphs
    assert code == 0 and "building superpixel graphs" not in err


def test_tutorial_prints_five_accuracies_beside_the_tutorials(capsys, isolated_data_dir, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    code, out, err = in_process(capsys, "tutorial", "--epochs", "1")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[1] == "| adjacency | test accuracy | parameters | s/epoch | tutorial |"
    rows = [line.split(" | ") for line in lines[3:]]
    assert [r[0].strip("| ") for r in rows] == ["none", "gaussian", "learned", "learned-offset", "learned-local"]
    assert [r[-1].strip("| ") for r in rows] == [
        "about 91% (linear classifier)",
        "92.24% (fixed Gaussian)",
        "91.05% (learned from coordinates)",
        "-",
        "92.39% (learned, with the tutorial's tricks)",
    ]
    runs = RunStore().list_runs()
    assert sorted(r["config"]["adjacency"] for r in runs) == [
        "gaussian",
        "learned",
        "learned-local",
        "learned-offset",
        "none",
    ]
    for r, row in zip(sorted(runs, key=lambda r: r["id"]), rows, strict=True):
        assert r["status"] == "finished" and f"{r['summary']['test_accuracy']:.2%}" == row[1]


def test_sweep_trains_every_value_and_prints_the_table(capsys, isolated_data_dir):
    code, out, err = in_process(
        capsys,
        "sweep",
        "--model",
        "mlp",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--quick",
        "--param",
        "seed",
        "--values",
        "0,1",
        "--param2",
        "lr",
        "--values2",
        "0.001,0.01",
    )
    assert code == 0, err
    lines = out.strip().splitlines()  # the sweep's readable name, a blank line, then the table
    assert lines[0].startswith("Sweep of random seed (seed) over 0, 1 × learning rate (lr)") and lines[1] == ""
    assert lines[2] == "| run | seed | lr | test accuracy |" and len(lines) == 4 + 4
    store = RunStore()
    runs = store.list_runs()
    assert len({r["group_id"] for r in runs}) == 1
    sweep = store.get_group(runs[0]["group_id"])
    assert sweep is not None and sweep.type == "sweep" and sweep.params == ("seed", "lr")
    assert sorted((r["config"]["seed"], r["config"]["lr"]) for r in runs) == [
        (0, 0.001),
        (0, 0.01),
        (1, 0.001),
        (1, 0.01),
    ]
    code, out, err = in_process(
        capsys, "sweep", "--model", "escnn", "--group", "C8", "--param", "restriction", "--values", "0,1"
    )  # nothing to restrict to: refused before any run
    assert_one_line_error(code, err, "restriction")
    assert len(RunStore().list_runs()) == 4


def test_search_draws_its_trials_trains_them_and_prints_them_best_first(capsys, isolated_data_dir):
    code, out, err = in_process(
        capsys,
        "search",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--quick",
        "--space",
        "lr=1e-4..1e-2",
        "--space",
        "hidden=8,16",
        "--trials",
        "3",
    )
    assert code == 0, err
    assert "no early stopping" in err  # worker processes: every trial trains to its last epoch
    lines = out.strip().splitlines()
    assert lines[0] == "| run | lr | hidden | status | epochs | test accuracy |" and len(lines) == 2 + 3
    store = RunStore()
    runs = store.list_runs()
    assert len(runs) == 3 and len({r["group_id"] for r in runs}) == 1
    search = store.get_group(runs[0]["group_id"])
    assert search is not None and search.type == "search" and search.params == ("lr", "hidden")
    assert search.early_stopping is False  # worker processes: no ASHA
    assert all(r["status"] == "finished" and 1e-4 <= r["config"]["lr"] <= 1e-2 for r in runs)
    accuracies = [float(line.rsplit("|", 2)[1].strip().rstrip("%")) for line in lines[2:]]
    assert accuracies == sorted(accuracies, reverse=True)
    code, out, err = in_process(capsys, "search", "--model", "mlp", "--space", "lr=1e-4..1e-2", "--sampler", "grid")
    assert_one_line_error(code, err, "lr")  # a grid takes listed values: refused before any run
    assert len(RunStore().list_runs()) == 3


# ----------------------------------------------------------------------------- worker processes and stop


def test_train_in_a_worker_process_matches_the_inline_run(capsys, isolated_data_dir):
    """--backend process trains in another process; the same seed gives the inline run's numbers."""
    args = ("train", "--model", "mlp", "--hidden", "16", "--epochs", "2", "--seed", "3", "--quick", "--json")
    code, out, err = in_process(capsys, *args, "--backend", "process")
    assert code == 0, err
    worker = json.loads(out)
    assert worker["status"] == "finished" and worker["backend"] == "process"
    assert "epoch 2: loss" in err
    code, out, err = in_process(capsys, *args)
    inline = json.loads(out)
    assert [e["train_loss"] for e in worker["epochs"]] == [e["train_loss"] for e in inline["epochs"]]
    assert worker["test_accuracy"] == inline["test_accuracy"]
    store = RunStore()
    assert store.get_run(worker["run_id"])["pid"] != os.getpid() == store.get_run(inline["run_id"])["pid"]


def test_stop_command_stops_a_run_training_elsewhere(capsys, isolated_data_dir):
    from core.training.runner import RunManager
    from core.training.runs import RunConfig

    manager = RunManager(max_concurrent=1)
    try:
        run_id = manager.submit(
            RunConfig.make(model="mlp", hidden=16, epochs=300, quick=True, device="cpu"), session="someone"
        )
        deadline = time.time() + 120
        while not manager.store.epochs(run_id) and time.time() < deadline:
            time.sleep(0.05)
        code, out, err = in_process(capsys, "stop", str(run_id), "--json")
        assert code == 0, err
        assert json.loads(out) == {"run_id": run_id, "stop_requested": True, "status": "running"}
        assert manager.wait(run_id, timeout=30)["state"] == "stopped"
        code, out, err = in_process(capsys, "stop", str(run_id))
        assert code == 1 and "is not queued or training (status stopped)" in err
    finally:
        manager.close()
    code, out, err = in_process(capsys, "stop", "999")
    assert_one_line_error(code, err, "run")
