"""Continue training (core/training/resume.py): a finished or stopped run trains N more epochs as a new run linked
to it, with its weights, optimiser, schedule and random streams restored, so 3 + 2 epochs equal 5."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.errors import CheckpointError, UserInputError
from core.training import trainer
from core.training.process_backend import ProcessBackend
from core.training.resume import (
    TRAIN_STATE_ARTIFACT,
    continuable,
    lineage,
    lineage_epochs,
    load_train_state,
    state_bytes,
)
from core.training.runner import RunManager
from core.training.runs import RunConfig, continuation_config, execute
from core.training.store import RunStore, load_checkpoint, save_checkpoint


def quick(**kw) -> RunConfig:
    """A quick MLP with dropout 0.5 on the CPU: its training draws dropout masks, so the random state matters."""
    return RunConfig.make(
        **{"model": "mlp", "quick": True, "hidden": 16, "dropout": 0.5, "device": "cpu", "seed": 3, "epochs": 3, **kw}
    )


def weights(store: RunStore, run_id: int) -> dict[str, torch.Tensor]:
    checkpoint = store.require_run(run_id).checkpoint
    assert checkpoint is not None, f"run {run_id} saved no weights"
    return load_checkpoint(checkpoint)


def max_weight_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.mark.parametrize("schedule", ["constant", "plateau"])
def test_three_then_two_more_epochs_equal_five_epochs(schedule):
    store = RunStore()
    five = execute(quick(epochs=5, schedule=schedule), store)
    three = execute(quick(epochs=3, schedule=schedule), store)
    parent_row, parent_epochs = store.get_run(three["run_id"]), store.epochs(three["run_id"])
    parent_bytes = Path(parent_row["checkpoint"]).read_bytes()

    cfg = continuation_config(store, three["run_id"], 2)
    assert (cfg.training.parent, cfg.training.epochs, cfg.training.seed, cfg.training.schedule) == (
        three["run_id"],
        5,
        3,
        schedule,
    )
    more = execute(cfg, store)

    assert more["status"] == "finished" and more["run_id"] not in (three["run_id"], five["run_id"])
    assert [e["epoch"] for e in more["epochs"]] == [4, 5]  # epoch numbers carry on
    assert max_weight_difference(weights(store, five["run_id"]), weights(store, more["run_id"])) <= 1e-6
    joined = three["epochs"] + more["epochs"]
    for a, b in zip(five["epochs"], joined, strict=True):
        assert a["epoch"] == b["epoch"]
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1e-6)
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6)
    # the parent is exactly as it was: result, epochs, checkpoint
    assert store.get_run(three["run_id"])["summary"] == parent_row["summary"]
    assert store.epochs(three["run_id"]) == parent_epochs
    assert Path(parent_row["checkpoint"]).read_bytes() == parent_bytes
    # the continuation's curve shows the parent's epochs first
    whole = lineage_epochs(store, more["run_id"])
    assert [(r["epoch"], r["run"]) for r in whole] == [
        (1, three["run_id"]),
        (2, three["run_id"]),
        (3, three["run_id"]),
        (4, more["run_id"]),
        (5, more["run_id"]),
    ]
    assert [r["test_accuracy"] for r in whole] == pytest.approx([e["test_accuracy"] for e in five["epochs"]], abs=1e-6)


def test_the_random_state_is_what_makes_them_equal():
    """A control: the same continuation with the parent's dropout stream replaced ends elsewhere."""
    store = RunStore()
    five = execute(quick(epochs=5), store)
    three = execute(quick(epochs=3), store)
    state = load_train_state(store, three["run_id"])
    state["rng"]["torch"] = torch.Generator().manual_seed(99).get_state()
    store.save_artifact(three["run_id"], TRAIN_STATE_ARTIFACT, state_bytes(state))
    more = execute(continuation_config(store, three["run_id"], 2), store)
    assert max_weight_difference(weights(store, five["run_id"]), weights(store, more["run_id"])) > 1e-4


def test_one_step_at_a_time_equals_the_whole_run():
    store = RunStore()
    whole = execute(quick(epochs=3), store)
    run_id = execute(quick(epochs=1), store)["run_id"]
    for _ in range(2):  # Step, Step
        run_id = execute(continuation_config(store, run_id, 1), store)["run_id"]
    assert max_weight_difference(weights(store, whole["run_id"]), weights(store, run_id)) <= 1e-6
    assert len(lineage(store, run_id)) == 3
    assert [r["epoch"] for r in lineage_epochs(store, run_id)] == [1, 2, 3]


def test_the_training_state_loads_weights_only_and_the_checkpoint_stays_plain_weights():
    store = RunStore()
    out = execute(quick(epochs=2, schedule="plateau"), store)
    blob = store.load_artifact(out["run_id"], TRAIN_STATE_ARTIFACT)
    state = torch.load(io.BytesIO(blob), weights_only=True)  # tensors and plain containers only
    assert state["epoch"] == 2 and state["step"] == 2 * state["batches_per_epoch"]
    assert state["optimizer"]["state"] and set(state["plateau"]) == {"scale", "best", "bad"}
    assert isinstance(state["rng"]["torch"], torch.Tensor) and isinstance(state["rng"]["shuffle"], torch.Tensor)
    ckpt = weights(store, out["run_id"])  # still the model's state dict: every page loads it as before
    assert all(isinstance(v, torch.Tensor) for v in ckpt.values()) and "optimizer" not in ckpt


def test_cosine_continues_from_the_step_reached_over_the_new_horizon(monkeypatch):
    store = RunStore()
    three = execute(quick(epochs=3, schedule="cosine"), store)
    per_epoch = load_train_state(store, three["run_id"])["batches_per_epoch"]
    seen = []
    real = trainer.lr_at
    monkeypatch.setattr(trainer, "lr_at", lambda *a: seen.append(a[2:]) or real(*a))
    more = execute(continuation_config(store, three["run_id"], 2), store)
    assert more["status"] == "finished"
    assert seen[0] == (3 * per_epoch, 5 * per_epoch) and seen[-1] == (5 * per_epoch - 1, 5 * per_epoch)


def test_augmented_runs_continue_exactly():
    store = RunStore()
    two = execute(quick(epochs=2, augment="rotate"), store)
    one = execute(quick(epochs=1, augment="rotate"), store)
    more = execute(continuation_config(store, one["run_id"], 1), store)
    assert max_weight_difference(weights(store, two["run_id"]), weights(store, more["run_id"])) <= 1e-6


def test_a_stopped_run_continues_after_the_epoch_it_stopped_in():
    store = RunStore()
    calls = []
    stopped = execute(quick(epochs=3), store, should_stop=lambda: calls.append(1) or len(calls) >= 4)
    assert stopped["status"] == "stopped" and [e["epoch"] for e in stopped["epochs"]] == [1]
    more = execute(continuation_config(store, stopped["run_id"], 2), store)
    assert more["status"] == "finished" and [e["epoch"] for e in more["epochs"]] == [2, 3]


def test_runs_without_a_training_state_open_but_cannot_be_continued():
    """A run stored before continuing existed: its weights, no ``train_state``."""
    store = RunStore()
    out = execute(quick(epochs=1), store)
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM artifacts WHERE name = ?", (TRAIN_STATE_ARTIFACT,))
    run = store.get_run(out["run_id"])
    assert load_checkpoint(run["checkpoint"])  # still opens for viewing
    assert "before continuing existed" in continuable(store, run)
    with pytest.raises(UserInputError, match="cannot be continued"):
        continuation_config(store, out["run_id"], 1)
    with pytest.raises(CheckpointError, match="no saved training state"):
        load_train_state(store, out["run_id"])


def test_what_cannot_be_continued_is_refused_clearly():
    store = RunStore()
    out = execute(quick(epochs=1), store)
    with pytest.raises(UserInputError) as err:
        continuation_config(store, out["run_id"], 0)
    assert err.value.param == "epochs"
    with pytest.raises(UserInputError, match="does not exist"):
        continuation_config(store, 999, 1)
    queued = store.create_run(quick().to_dict(), status="queued")
    with pytest.raises(UserInputError, match="finished or stopped"):
        continuation_config(store, queued, 1)
    with pytest.raises(UserInputError) as err:
        continuation_config(store, out["run_id"], 500)
    assert err.value.param == "epochs"  # 501 epochs in all: over the limit
    # a continuation that changes a setting is refused, and its run ends failed with the reason
    bad = RunConfig.from_dict({**continuation_config(store, out["run_id"], 1).to_dict(), "lr": 0.5})
    with pytest.raises(UserInputError, match="lr"):
        execute(bad, store)
    failed = store.list_runs(status="failed")
    assert failed and "parent's settings" in failed[0]["error"]


def test_an_old_style_checkpoint_of_another_model_does_not_fit():
    store = RunStore()
    out = execute(quick(epochs=1), store)
    save_checkpoint({"w": torch.zeros(2)}, store.get_run(out["run_id"])["checkpoint"])
    with pytest.raises(CheckpointError, match="does not fit"):
        execute(continuation_config(store, out["run_id"], 1), store)


class RayLikeBackend(ProcessBackend):
    """A declared backend (``core.training.backend.Backend``) that calls itself Ray; it must never start a run."""

    name = "ray"

    def start(self, *a):  # pragma: no cover - never reached
        raise AssertionError("a continuation must be refused before it starts")


def test_the_manager_queues_a_continuation_like_any_run(isolated_data_dir):
    store = RunStore()
    manager = RunManager(store, max_concurrent=1, session_limit=2)
    try:
        parent = manager.submit(quick(epochs=1), session="me")
        assert manager.wait(parent, timeout=120)["state"] == "finished"
        child = manager.continue_run(parent, 1, session="you")  # anyone may continue anyone's run
        snap = manager.wait(child, timeout=120)
        assert snap["state"] == "finished", snap
        run = store.get_run(child)
        assert run["session"] == "you" and run["config"]["parent"] == parent and run["config"]["epochs"] == 2
        assert "continued from run" in run["name"] and [e["epoch"] for e in store.epochs(child)] == [2]
        assert snap["epochs"] == 2 and snap["progress"] == 1.0
    finally:
        manager.close()
    ray = RunManager(store, max_concurrent=1, backend=RayLikeBackend())
    try:
        with pytest.raises(UserInputError, match="Ray"):
            ray.continue_run(parent, 1)
    finally:
        ray.close()


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m core ARGS`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse exits with an int; None means 0 and a message 1, as for the interpreter
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, param: str) -> None:
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {param}: ") or (param.startswith("--") and param in lines[0]), lines[0]


def test_cli_continue(capsys, isolated_data_dir):
    import json

    code, out, err = in_process(
        capsys, "train", "--model", "mlp", "--hidden", "16", "--epochs", "2", "--quick", "--device", "cpu", "--json"
    )
    assert code == 0, err
    parent = json.loads(out)
    code, out, err = in_process(capsys, "continue", str(parent["run_id"]), "--epochs", "1", "--json")
    assert code == 0, err
    child = json.loads(out)
    assert child["status"] == "finished" and child["parent"] == parent["run_id"]
    assert [e["epoch"] for e in child["epochs"]] == [3] and "epoch 3: loss" in err
    assert f"continuing run {parent['run_id']} from epoch 2 to 3" in err

    assert_one_line_error(*in_process(capsys, "continue", "999")[::2], "run")
    assert_one_line_error(*in_process(capsys, "continue", str(parent["run_id"]), "--epochs", "0")[::2], "epochs")
    assert_one_line_error(*in_process(capsys, "continue", str(parent["run_id"]), "--backend", "ray")[::2], "run")
    assert_one_line_error(*in_process(capsys, "train", "--model", "mlp", "--parent", "1")[::2], "--parent")
