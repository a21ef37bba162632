"""The Reproduce line (core/training/reproduce.py): every setting has a flag, the line parses back to its config for
every model, and the lines, run for real as ``python -m core`` processes, store runs with the original's config (and,
for a stored run, its numbers)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser
from core.cli.training import run_config_from_args
from core.errors import UserInputError
from core.models import MODELS
from core.training.reproduce import continue_command, export_command, flag, reproduce_run, train_args, train_command
from core.training.runs import RunConfig, setting_type, validate
from core.training.store import RunStore
from tests.core.cli_helpers import in_process

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 600  # a process's whole run: imports (seconds) and one quick epoch, on a loaded 2-core machine


def parsed(line: str) -> RunConfig:
    """The config ``python -m core train`` builds from ``line`` (the CLI's own parser, in this process)."""
    words = shlex.split(line)
    assert words[:4] == ["python", "-m", "core", "train"], line
    return run_config_from_args(build_parser().parse_args(words[3:]))


def env_for(data_dir: Path) -> dict[str, str]:
    """A child's environment: this test's data folder, no quick or exact mode unless the line sets it, and this
    interpreter's ``python`` first on PATH (the lines say ``python``)."""
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(data_dir)}
    env.pop("GRAPHCONV_QUICK", None)
    env.pop("GRAPHCONV_EXACT", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_lines(data_dir: Path, lines: list[str]) -> list[dict]:
    """Run each shell line (with ``--json``) in bash at once, from the repository; their JSON summaries."""
    procs = [
        subprocess.Popen(
            ["bash", "-c", line + " --json"],
            cwd=REPO,
            env=env_for(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in lines
    ]
    out = []
    for line, proc in zip(lines, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, f"{line}\n{stderr}"
        out.append(json.loads(stdout))
    return out


# ---------------------------------------------------------------- the flags


def test_every_setting_of_a_run_config_has_a_flag_of_python_m_core_train():
    """A new RunConfig setting (a model's, a training one) or graph parameter without a ``train`` flag fails here: the
    Reproduce line could not carry it. Switches take ``--no-...`` too, for one whose default is on."""
    from core.graphs import GRAPH_PARAMS

    parser = build_parser()
    for name in RunConfig.flat_names():
        if name in ("graph_params", "parent"):  # the graph's own flags below; a continuation is `continue`'s
            continue
        if setting_type(name) is bool:
            assert getattr(parser.parse_args(["train", flag(name)]), name) is True, name
            assert getattr(parser.parse_args(["train", "--no-" + name.replace("_", "-")]), name) is False, name
        else:  # "1" parses as any of int, float, str
            assert getattr(parser.parse_args(["train", flag(name), "1"]), name) is not None, name
    for kind, params in GRAPH_PARAMS.items():
        for name in params:
            assert getattr(parser.parse_args(["train", flag(name), "1"]), name) is not None, (kind, name)
    for name in ("graph_params", "parent"):
        with pytest.raises(SystemExit):
            parser.parse_args(["train", flag(name), "1"])


def other_value(setting, default):
    """A valid value of ``setting`` other than ``default``: the next choice, a step inside the range, the switch
    flipped."""
    if setting.type is bool:
        return not default
    if setting.options:
        return next(o for o in setting.options if o != default)
    if setting.type is int:
        return default + 1 if setting.hi is None or default + 1 <= setting.hi else default - 1
    if setting.type is float:
        return (setting.lo + default) / 2 if setting.lo is not None and setting.lo != default else default / 2
    raise AssertionError(f"no other value for {setting.name}")


def configs_of_every_model() -> list[RunConfig]:
    """Each registered model at its defaults, then with each of its settings changed in turn (kept when the change is
    valid), and a few training settings and graphs off their defaults."""
    out = []
    for spec in MODELS.specs():
        base = RunConfig.make(model=spec.name, graph=spec.graphs[0] if spec.graphs else "grid")
        out.append(base)
        for s in spec.settings:
            try:
                out.append(validate(base.with_values(**{s.name: other_value(s, base.value(s.name))})))
            except UserInputError:  # a combination the model refuses (its own check): nothing to reproduce
                continue
    out += [
        RunConfig.make(model="cheb", graph="knn", graph_params={"k": 4, "sigma": 0.1}, K=3, hidden=16, epochs=3),
        RunConfig.make(model="gcn", graph="gaussian", graph_params={"sigma": 0.05, "cutoff": 0.2, "topk": 6}),
        RunConfig.make(
            model="superpixel",
            graph="superpixels",
            graph_params={"segments": 40, "compactness": 0.5, "k": 6, "edges": "rag", "weights": "unit"},
            conv="cheb",
        ),
        RunConfig.make(model="escnn", group="C8,C4,C1", schedule="plateau", augment="rotate", data="mnist-rot"),
        RunConfig.make(model="mlp", lr=1e-5, batch_size=17, seed=123, device="cpu", quick=True, epochs=500),
    ]
    return [validate(c) for c in out]


@pytest.mark.parametrize("quick", ["0", "1"])
def test_the_line_parses_back_to_its_config_for_every_model_in_either_mode(monkeypatch, quick):
    """The CLI's parser, given the line, builds the same config (``to_dict`` equal), whatever quick mode the shell
    is in (quick mode changes some models' defaults: the line leaves nothing to them)."""
    monkeypatch.setenv("GRAPHCONV_QUICK", quick)
    configs = configs_of_every_model()
    assert len(configs) > 40 and {c.model for c in configs} == set(MODELS.names())
    for cfg in configs:
        line = train_command(cfg)
        assert parsed(line).to_dict() == cfg.to_dict(), line


def test_the_line_is_stable_quoted_and_says_what_matters():
    cfg = RunConfig.make(model="escnn", group="C8,C4,C1", hidden=16, epochs=2, seed=3)
    line = train_command(cfg)
    assert line == train_command(RunConfig.from_dict(cfg.to_dict()))  # the same config, the same line
    assert line == (
        "python -m core train --data mnist-5k --model escnn --layers 3 --hidden 16 --dropout 0.1 --group C8,C4,C1 "
        "--epochs 2 --lr 0.003 --schedule cosine --seed 3"
    )
    assert "--graph" not in line  # escnn takes no graph
    odd = RunConfig.make(model="cheb", graph="knn", graph_params={"k": 4}, device="cuda:1")
    assert "--k 4" in train_command(odd) and "--device cuda:1" in train_command(odd)
    assert "--device cpu" in train_command(odd, device="cpu")
    assert train_command(odd, env={"GRAPHCONV_QUICK": "1"}).startswith("GRAPHCONV_QUICK=1 python -m core train ")
    assert train_args(RunConfig.make(model="learned", edge_frozen=True)).count("--edge-frozen") == 1
    assert "--edge-frozen" not in train_args(RunConfig.make(model="learned"))  # a switch only when it is on
    with pytest.raises(UserInputError, match="continue"):
        train_command(RunConfig.make(model="mlp", epochs=3, parent=1))
    assert continue_command(4, 2) == "python -m core continue 4 --epochs 2"
    assert export_command(7) == "python -m core export 7 --onnx run-7.onnx"


# ---------------------------------------------------------------- run for real

LINES = {
    "cnn": RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True),
    "cheb on a knn graph": RunConfig.make(
        model="cheb", graph="knn", graph_params={"k": 4, "sigma": 0.1}, K=3, hidden=8, epochs=1, quick=True
    ),
    "gat, its own settings": RunConfig.make(
        model="gat",
        graph="grid",
        graph_params={"neighbours": 4},
        layers=1,
        hidden=8,
        heads=2,
        readout="global",
        lr=0.01,
        batch_size=128,
        seed=7,
        epochs=1,
        quick=True,
    ),
    "mlp, a schedule and rotations": RunConfig.make(
        model="mlp", hidden=16, schedule="cosine", augment="rotate", data="mnist-rot", epochs=1, quick=True
    ),
}


def test_the_lines_run_and_store_the_same_configs(isolated_data_dir):
    """Each line, run as its own ``python -m core train`` process, stores a run whose config is the original's,
    key for key (nothing differs: the lines name no device, so ``auto`` is stored as the original says)."""
    lines = [train_command(validate(cfg)) for cfg in LINES.values()]
    summaries = run_lines(isolated_data_dir, lines)
    store = RunStore()
    for (what, cfg), line, summary in zip(LINES.items(), lines, summaries, strict=True):
        assert summary["status"] == "finished", (what, summary)
        assert store.require_run(summary["run_id"]).config == cfg.to_dict(), (what, line)


def test_a_stored_runs_line_reproduces_its_config_and_its_numbers(isolated_data_dir, monkeypatch, capsys):
    """A run trained on a server in quick and exact mode (its config says neither: ``quick`` False, device
    ``auto``): its Reproduce line sets both variables and names the CPU, and the run it stores has the same config
    but for the device, the same data and the same numbers to the last bit."""
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    monkeypatch.setenv("GRAPHCONV_EXACT", "1")
    code, out, err = in_process(capsys, "train", "--model", "mlp", "--hidden", "16", "--epochs", "1", "--json")
    assert code == 0, err
    store = RunStore()
    original = store.require_run(json.loads(out)["run_id"])
    assert original.config["quick"] is False and original.config["device"] == "auto" and original.device == "cpu"
    repro = reproduce_run(store, original)
    assert repro.command.startswith("GRAPHCONV_QUICK=1 GRAPHCONV_EXACT=1 python -m core train --data mnist-5k ")
    assert "--device cpu" in repro.command and "--quick" not in repro.command
    assert any("quick mode" in n for n in repro.notes) and any("1 CPU thread" in n for n in repro.notes)
    monkeypatch.delenv("GRAPHCONV_QUICK")
    monkeypatch.delenv("GRAPHCONV_EXACT")
    (summary,) = run_lines(isolated_data_dir, [repro.command])
    again = store.require_run(summary["run_id"])
    # device: the one setting that differs, on purpose (the config's auto would pick a GPU where there is one)
    assert again.config == {**original.config, "device": "cpu"}
    assert again.summary.train_images == original.summary.train_images == 1000
    (first,), (second,) = store.epochs(original.id), store.epochs(again.id)
    assert (second["train_loss"], second["test_accuracy"]) == (first["train_loss"], first["test_accuracy"])


def test_a_continuations_line_continues_its_parent(isolated_data_dir, capsys):
    """A continued run has no ``train`` line: its Reproduce line continues its parent from the parent's stored state
    and stores a run with the continuation's config."""
    code, out, err = in_process(capsys, "train", "--model", "mlp", "--epochs", "1", "--quick", "--json")
    assert code == 0, err
    parent = json.loads(out)["run_id"]
    code, out, err = in_process(capsys, "continue", str(parent), "--epochs", "1", "--json")
    assert code == 0, err
    store = RunStore()
    child = store.require_run(json.loads(out)["run_id"])
    repro = reproduce_run(store, child)
    assert repro.command == f"python -m core continue {parent} --epochs 1"
    assert any(f"continues run {parent}" in n for n in repro.notes)
    (summary,) = run_lines(isolated_data_dir, [repro.command])
    assert store.require_run(summary["run_id"]).config == child.config  # parent, epochs 2 and the rest
