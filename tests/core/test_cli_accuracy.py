"""``python -m core accuracy``: the accuracy table (core/training/accuracy_table.py) as a CLI command.

Runs through ``core.cli.main`` in this process (see tests/core/cli_helpers.py); one tiny table trains a single
quick-mode MLP epoch per seed, so the whole file takes seconds.
"""

from __future__ import annotations

import json

import pytest

from core.training.accuracy_table import ENTRIES
from core.training.store import RunStore
from tests.core.cli_helpers import assert_one_line_error, in_process


def test_list_names_every_entry(capsys):
    code, out, err = in_process(capsys, "accuracy", "--list")
    assert code == 0, err
    assert out.split() == list(ENTRIES)
    code, out, _ = in_process(capsys, "accuracy", "--list", "--json")
    assert json.loads(out)["entries"]["cnn"].startswith("C32-P4-C64-P4-FC512")


@pytest.mark.parametrize(
    "args, param",
    [
        (["--only", "cnn,nope"], "only"),
        (["--seeds", "0,x"], "seeds"),
        (["--set", "nonsense=1"], "set"),
        (["--set", "batch_size=many"], "set"),
        (["--set", "positions"], "set"),
        (["--jobs", "0"], "jobs"),
        (["--epochs", "many"], "--epochs"),
    ],
)
def test_bad_values_are_one_line_errors(capsys, args, param):
    code, _, err = in_process(capsys, "accuracy", "--only", "mlp", *args)
    assert_one_line_error(code, err, param)


def test_a_tiny_table_stores_its_runs(capsys, tmp_path):
    log = tmp_path / "runs.jsonl"
    code, out, err = in_process(
        capsys,
        "accuracy",
        "--only",
        "mlp",
        "--epochs",
        "1",
        "--seeds",
        "0,1",
        "--set",
        "quick=true",
        "--set",
        "batch_size=128",
        "--out",
        str(log),
        "--json",
    )
    assert code == 0, err
    table = json.loads(out)
    assert [r["seed"] for r in table["runs"]] == [0, 1] and table["failed"] == []
    assert len(table["rows"]) == 1 and table["rows"][0].startswith("| mlp | ")
    assert "batch_size': 128" in table["title"] and table["table"].splitlines()[1].startswith("| entry |")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["run_id"] for r in lines] == [r["run_id"] for r in table["runs"]]
    stored = {r["id"]: r for r in RunStore().list_runs()}
    assert all(stored[r["run_id"]]["status"] == "finished" for r in lines)
    assert "| mlp |" in err  # the row as soon as its seeds have ended, on stderr
