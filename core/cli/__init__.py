"""Headless command line: ``python -m core {graph,train,continue,sweep,search,tutorial,accuracy,stop,runs,download,
bench,karate,equivariance,store,export} ... [--json]``.

Every invalid value exits non-zero with one line on stderr naming the parameter, never a traceback. The commands
live by topic: ``core/cli/training.py`` (those that train and store runs, and the run flags they share) and
``core/cli/measure.py`` (graph facts, download, benchmark, karate, equivariance), ``core/cli/store.py`` (export and
import runs: ``store_archive.py``, ``store_checks.py``), ``core/cli/export.py`` (a run as an ONNX file); here are the
parser and ``main``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.cli.export import cmd_export, export_parser
from core.cli.measure import cmd_bench, cmd_download, cmd_equivariance, cmd_graph, cmd_karate
from core.cli.store import cmd_store, store_parser
from core.cli.training import (
    add_graph_flags,
    cmd_accuracy,
    cmd_continue,
    cmd_runs,
    cmd_search,
    cmd_stop,
    cmd_sweep,
    cmd_train,
    cmd_tutorial,
    train_parser,
)
from core.errors import DataUnavailableError, UserInputError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m core", description="GraphConv Lab engine (headless)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    g = sub.add_parser("graph", help="build a graph and print its facts")
    g.add_argument("--kind", required=True, help="grid, knn, gaussian or superpixels")
    add_graph_flags(g)
    g.add_argument("--image", type=int, default=None, help="index of the embedded training digit (superpixels)")
    g.add_argument("--norm", default="none", help="none, sum, rw, sym, gcn or cheb")
    g.add_argument("--json", action="store_true")

    train_parser(sub)
    c = sub.add_parser(
        "continue",
        help="train a finished or stopped run N more epochs as a new run linked to it "
        "(weights, optimiser, schedule and random state restored)",
    )
    c.add_argument("run", type=int, help="id of the run to continue (see `runs`)")
    c.add_argument("--epochs", type=int, default=1, help="how many more epochs (default 1: one step)")
    c.add_argument(
        "--backend",
        choices=("inline", "process", "ray"),
        default=None,
        help="inline: train in this process (default); process: in a worker process (ray: refused)",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object")

    w = train_parser(
        sub,
        "sweep",
        "train one setting over several values (or a grid over two), one run after "
        "the other, and print accuracy per value",
    )
    w.add_argument("--param", required=True, help="the setting to sweep, e.g. restriction, K, sigma, seed")
    w.add_argument("--values", required=True, help="comma-separated values, e.g. 0,1,2")
    w.add_argument("--param2", default=None, help="a second setting: every combination is trained")
    w.add_argument("--values2", default=None, help="its comma-separated values")

    h = train_parser(
        sub,
        "search",
        "a hyper-parameter search: N trials over chosen settings (random or grid); on "
        "Ray with Ray Tune's ASHA early stopping",
    )
    h.add_argument(
        "--space",
        action="append",
        metavar="SETTING=VALUES",
        help="a setting and its values (K=3,5,8) or range (lr=1e-4..1e-2, drawn log-uniformly); repeat it",
    )
    h.add_argument("--trials", type=int, default=8, help="random trials to draw (default 8, at most 12)")
    h.add_argument(
        "--sampler",
        choices=("random", "grid"),
        default="random",
        help="random (default) or grid (every combination of listed values)",
    )
    h.add_argument("--search-seed", type=int, default=0, dest="search_seed", help="seed of the random draws")
    h.add_argument("--no-early-stopping", action="store_true", help="train every trial to its last epoch on Ray too")

    s = sub.add_parser("stop", help="ask a queued or training run to stop (any process's, app or CLI)")
    s.add_argument("run", type=int, help="run id (see `runs`)")
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("runs", help="list stored runs")
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--json", action="store_true")

    d = sub.add_parser("download", help="download an optional data set (mnist: full 70,000 digits)")
    d.add_argument("dataset", choices=["mnist"])
    d.add_argument("--json", action="store_true")

    b = sub.add_parser("bench", help="throughput benchmark: shared-graph GCN vs PyG, ChebNet vs CNN")
    b.add_argument("--epochs", type=int, default=1)
    b.add_argument("--quick", action="store_true")
    b.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, or auto (CUDA, then MPS, then CPU); default cpu, with --full-epoch auto",
    )
    b.add_argument(
        "--full-epoch",
        action="store_true",
        help="time one 60,000-image epoch of the published ChebNet (K=25) and of the CNN",
    )
    b.add_argument(
        "--images",
        type=int,
        default=None,
        help="--full-epoch: time this many images and extrapolate (default 60,000 on a GPU, 6,000 on the CPU)",
    )
    b.add_argument("--batch-size", type=int, default=64)
    b.add_argument("--json", action="store_true")

    k = sub.add_parser("karate", help="semi-supervised node classification on the karate club (one label per class)")
    k.add_argument("--model", default="gcn", help="gcn, cheb, sage, gin or gat")
    k.add_argument("--epochs", type=int, default=None, help="training steps (default 200)")
    k.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 0.01)")
    k.add_argument("--seed", type=int, default=None, help="initialisation seed (default 0)")
    k.add_argument("--hidden", default=None, help="layer widths, comma-separated, last one 2 (default 16,8,2)")
    k.add_argument("--json", action="store_true")

    t = sub.add_parser(
        "tutorial",
        help="the graph-convolution tutorial's experiment: one graph layer + linear with "
        "no graph, a fixed Gaussian and learned edges; prints the four accuracies",
    )
    t.add_argument("--data", default="mnist-5k", help="mnist-5k (default), mnist-rot or mnist")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3, the tutorial's)")
    t.add_argument("--only", default=None, help="comma-separated adjacencies to train (default: all five)")
    t.add_argument("--json", action="store_true")

    e = sub.add_parser("equivariance", help="rotate a stored run's test digits: accuracy by angle, logit invariance")
    e.add_argument("--run", type=int, required=True, help="id of a finished run (see `runs`)")
    e.add_argument("--angles", default=None, help="comma-separated degrees (default 0,15,...,345)")
    e.add_argument(
        "--group",
        default=None,
        help="group whose elements are measured: C1..C16, D1..D16 or SO2 (default: the run's group for escnn, else C4)",
    )
    e.add_argument("--images", type=int, default=500, help="test images used (default 500)")
    e.add_argument("--layers", action="store_true", help="also per-layer equivariance errors (up to 64 images)")
    e.add_argument("--json", action="store_true")

    a = sub.add_parser(
        "accuracy",
        help="train the models on mnist-5k and print a Markdown table of their test "
        "accuracy beside each published reference",
    )
    a.add_argument("--epochs", type=int, default=8)
    a.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    a.add_argument("--only", default=None, help="comma-separated entry names (default: every entry; see --list)")
    a.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; 1 per run with --jobs)")
    a.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    a.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process (default 1)")
    a.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a setting in every entry, e.g. positions=raw or batch_size=32; repeat it",
    )
    a.add_argument("--out", default=None, help="also append one JSON line per run to this file")
    a.add_argument("--list", action="store_true", help="print the entry names and exit")
    a.add_argument("--json", action="store_true")

    store_parser(sub)
    export_parser(sub)
    return parser


# each command returns what is printed: a dict (with "exit_code" when it failed), or a list of run rows
COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "graph": cmd_graph,
    "train": cmd_train,
    "continue": cmd_continue,
    "stop": cmd_stop,
    "runs": cmd_runs,
    "download": cmd_download,
    "bench": cmd_bench,
    "karate": cmd_karate,
    "equivariance": cmd_equivariance,
    "tutorial": cmd_tutorial,
    "sweep": cmd_sweep,
    "search": cmd_search,
    "accuracy": cmd_accuracy,
    "store": cmd_store,
    "export": cmd_export,
}


def _print_human(out: Any) -> None:
    if isinstance(out, list):
        from core.training.store import as_run

        for run in map(as_run, out):  # the rows of `runs` (list_runs: JSON output prints them whole)
            acc = run.summary.test_accuracy
            acc_s = f"{acc:.4f}" if acc is not None else "-"
            print(f"{run.id:>5}  {run.status:<11} {acc_s:>7}  {run.name}")
        return
    if "table" in out:
        print(out["table"])
        return
    for key, value in out.items():
        if key != "epochs":
            print(f"{key}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    from core.training.store import CheckpointError, StoreError
    from core.training.trainer import TrainingFailed

    args = build_parser().parse_args(argv)
    try:
        out = COMMANDS[args.command](args)
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DataUnavailableError, StoreError, CheckpointError, TrainingFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    code = out.pop("exit_code", 0) if isinstance(out, dict) else 0
    line = out.pop("line", None) if isinstance(out, dict) else None  # a command's one line for a person
    if getattr(args, "json", False):
        print(json.dumps(out, default=str))
    elif line is not None:
        print(line)
    else:
        _print_human(out)
    if code:
        what = {"train": "run failed", "continue": "run failed", "stop": "not stopped"}.get(args.command, "runs failed")
        print(f"error: {what}: {out.get('error')}", file=sys.stderr)
    return code
