"""``python -m core equivariance``: a stored steerable run measured from the command line, and one-line errors.

One quick escnn C4 run (hidden 8, one epoch on 1,000 digits) is trained once for the module in its own data
folder; each test points GRAPHCONV_DATA_DIR at that folder (the suite's autouse fixture gives every test a
fresh one first). The commands run through ``core.cli.main`` in this process: same code path, exit code and
stderr as ``python -m core``; one error case also runs in a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.cli_helpers import assert_one_line_error, in_process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def c4_run(tmp_path_factory) -> tuple[Path, int]:
    from core.training.runs import RunConfig, execute

    data = tmp_path_factory.mktemp("equivariance-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(data))
        summary = execute(RunConfig.make(model="escnn", group="C4", hidden=8, epochs=1, quick=True))
    assert summary["status"] == "finished", summary
    return data, summary["run_id"]


@pytest.fixture
def run_id(c4_run, monkeypatch) -> int:
    """The module's run, with this test's GRAPHCONV_DATA_DIR pointing at its folder."""
    data, rid = c4_run
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(data))
    return rid


def test_c4_run_is_invariant_at_right_angles(capsys, run_id):
    code, out, err = in_process(capsys, "equivariance", "--run", str(run_id), "--angles", "0,90,180,270", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["run_id"] == run_id and res["model"] == "escnn" and res["group"] == "C4"
    assert res["images"] == 200  # the quick test set
    acc = res["accuracy_by_angle"]
    assert list(acc) == ["0", "90", "180", "270"]
    assert max(acc.values()) - min(acc.values()) <= 0.005
    errors = res["logit_invariance_error"]
    assert list(errors) == ["r0", "r90", "r180", "r270"]
    assert errors["r0"] == 0.0
    assert all(errors[e] < 1e-4 for e in ("r90", "r180", "r270")), errors
    assert res["exact"] == {"r0": True, "r90": True, "r180": True, "r270": True}
    assert all(v == 1.0 for v in res["prediction_agreement"].values())


def test_default_angles_other_group_and_layers(capsys, run_id):
    code, out, err = in_process(
        capsys, "equivariance", "--run", str(run_id), "--group", "c8", "--images", "20", "--layers", "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["images"] == 20 and res["group"] == "C8"
    assert list(res["accuracy_by_angle"]) == [str(a) for a in range(0, 360, 15)]
    assert all(0.0 <= v <= 1.0 for v in res["accuracy_by_angle"].values())
    assert res["exact"]["r45"] is False and res["exact"]["r90"] is True
    assert res["logit_invariance_error"]["r45"] > res["logit_invariance_error"]["r90"]
    layers = res["layer_equivariance_error"]
    assert list(layers)[:3] == ["round mask 1", "steerable conv 1", "batch norm 1"] and "group pool" in layers
    for row in layers.values():
        assert row["r90"] < 1e-4
        assert row["r45"] is None  # not in the model's group (C4): NaN in Python, null in JSON


def test_human_output(capsys, run_id):
    code, out, err = in_process(capsys, "equivariance", "--run", str(run_id), "--angles", "0,90", "--images", "10")
    assert code == 0, err
    assert "accuracy_by_angle:" in out and "logit_invariance_error:" in out


@pytest.mark.parametrize(
    "args, param",
    [
        (["--run", "999"], "run"),
        (["--angles", "0,ninety"], "angles"),
        (["--angles", ""], "angles"),
        (["--angles", "0,nan"], "angles"),
        (["--group", "C3"], "group"),
        (["--group", "SO3"], "group"),
        (["--images", "0"], "images"),
        (["--images", "many"], "--images"),
    ],
)
def test_errors_are_one_line(capsys, run_id, args, param):
    args = ["--run", str(run_id), *args] if "--run" not in args else args
    code, out, err = in_process(capsys, "equivariance", *args, "--json")
    assert_one_line_error(code, err, param)
    assert out == ""


def test_run_without_checkpoint_is_refused(capsys, run_id):
    from core.training.store import RunStore

    queued = RunStore().create_run({"model": "cnn"}, name="never trained", status="queued")
    code, _, err = in_process(capsys, "equivariance", "--run", str(queued), "--json")
    assert_one_line_error(code, err, "run")
    assert "checkpoint" in err


def test_missing_run_flag_is_refused(capsys):
    code, _, err = in_process(capsys, "equivariance", "--json")
    assert code != 0 and "--run" in err and "Traceback" not in err


def test_escnn_with_unsupported_group_fails_validation(capsys, isolated_data_dir):
    from core.training.store import RunStore

    code, _, err = in_process(capsys, "train", "--model", "escnn", "--group", "C3", "--epochs", "1", "--quick")
    assert_one_line_error(code, err, "group")
    assert RunStore().list_runs() == []


def test_unknown_run_in_a_real_process(isolated_data_dir):
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(isolated_data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "core", "equivariance", "--run", "7", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_one_line_error(proc.returncode, proc.stderr, "run")
    assert proc.stdout == ""
