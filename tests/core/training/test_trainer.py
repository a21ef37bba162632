"""The trainer on real quick-mode MNIST: determinism, failure paths that end a run without raising,
stopping, callbacks and device choice."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from core.models.mlp import MLP
from core.training.runs import RunConfig, build_everything
from core.training.trainer import Callbacks, TrainerConfig, TrainingFailed, fit, lr_at, pick_device

EPOCHS = 2


def quick_setup(seed: int = 0, model: str = "mlp", **kw):
    """(train Batches, test Batches, model) for quick mode; the model is built right after seeding."""
    cfg = RunConfig.make(model=model, quick=True, seed=seed, hidden=16, epochs=EPOCHS, **kw)
    _, train, test, net, _ = build_everything(cfg)
    assert len(train.labels) == 1000 and len(test.labels) == 200  # quick mode
    return train, test, net


def tcfg(seed: int = 0, lr: float = 1e-3, epochs: int = EPOCHS) -> TrainerConfig:
    return TrainerConfig(epochs=epochs, lr=lr, batch_size=64, seed=seed, device="cpu")


def curve(result) -> list[tuple[float, float, float]]:
    return [(r["train_loss"], r["train_accuracy"], r["test_accuracy"]) for r in result.epochs]


def test_same_seed_same_curve_other_seed_other_curve():
    train, test, net = quick_setup(seed=0)
    first = fit(net, train, test, tcfg(0))
    train, test, net = quick_setup(seed=0)
    second = fit(net, train, test, tcfg(0))
    train, test, net = quick_setup(seed=1)
    other = fit(net, train, test, tcfg(1))

    for r in (first, second, other):
        assert r.status == "finished" and r.error is None and len(r.epochs) == EPOCHS
        assert [row["epoch"] for row in r.epochs] == list(range(1, EPOCHS + 1))
    assert curve(first) == curve(second)  # bit-identical on CPU
    assert [row["train_loss"] for row in first.epochs] != [row["train_loss"] for row in other.epochs]
    # it learns: the loss falls and the test accuracy is well above chance (10%)
    assert first.epochs[-1]["train_loss"] < first.epochs[0]["train_loss"]
    assert first.test_accuracy == first.epochs[-1]["test_accuracy"] > 0.3
    assert first.images_per_second > 0


def test_divergence_ends_failed_without_raising():
    train, test, net = quick_setup()
    result = fit(net, train, test, tcfg(lr=1e15))  # Adam steps of 1e15 overflow float32 within a few batches
    assert result.status == "failed"
    assert "loss" in result.error and "learning rate" in result.error
    assert "nan" in result.error.lower() or "inf" in result.error.lower() or "diverged" in result.error


def test_exploding_but_finite_loss_ends_failed():
    """lr 10 sends a real MLP's loss to ~1e6 without NaN; without a check the run would "finish" at chance."""
    train, test, net = quick_setup()
    losses: list[float] = []
    result = fit(net, train, test, tcfg(lr=10.0), Callbacks(on_batch=lambda row: losses.append(row["loss"])))
    assert result.status == "failed" and "diverged" in result.error and "lower learning rate than 10" in result.error
    assert all(math.isfinite(x) and x <= 1e4 for x in losses)  # every reported batch was below the limit
    big = float(result.error.split("loss became ")[1].split(" ")[0])
    assert 1e4 < big < math.inf  # the loss that ended it was finite but exploding


class NaNAfter(nn.Module):
    """A tiny linear model whose logits become NaN from training call ``n + 1`` on."""

    def __init__(self, n: int):
        super().__init__()
        self.lin = nn.Linear(784, 10)
        self.n, self.calls = n, 0

    def forward(self, x):
        out = self.lin(x.flatten(1))
        if self.training:
            self.calls += 1
            if self.calls > self.n:
                out = out * float("nan")
        return out


def test_nan_in_second_epoch_keeps_first_epoch():
    train, test, _ = quick_setup()
    torch.manual_seed(0)
    model = NaNAfter(len(train) + 3)
    result = fit(model, train, test, tcfg())
    assert result.status == "failed"
    assert "epoch 2, batch 4" in result.error and "learning rate" in result.error
    assert len(result.epochs) == 1 and result.epochs[0]["epoch"] == 1
    assert result.test_accuracy == result.epochs[0]["test_accuracy"]


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        RuntimeError("CUDA error: out of memory"),
    ],
    ids=["cuda-oom", "runtime-oom"],
)
def test_out_of_memory_ends_failed_without_raising(monkeypatch, error):
    train, test, net = quick_setup()
    real_forward, calls = MLP.forward, []

    def forward(self, x):
        if self.training:
            calls.append(1)
            if len(calls) > len(train) + 1:  # second batch of epoch 2
                raise error
        return real_forward(self, x)

    monkeypatch.setattr(MLP, "forward", forward)
    result = fit(net, train, test, tcfg())
    assert result.status == "failed"
    assert "out of memory" in result.error and "batch size 64" in result.error
    assert "smaller batch size" in result.error
    assert [row["epoch"] for row in result.epochs] == [1]  # the finished epoch is kept


def test_other_runtime_errors_are_not_swallowed(monkeypatch):
    train, test, net = quick_setup()

    def forward(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(MLP, "forward", forward)
    with pytest.raises(RuntimeError, match="shapes"):
        fit(net, train, test, tcfg())


def test_should_stop_ends_stopped_and_keeps_finished_epochs():
    train, test, net = quick_setup()
    full = fit(net, train, test, tcfg(epochs=3))

    train, test, net = quick_setup()
    batches = []
    stop_after = len(train) + 4  # in epoch 2
    result = fit(
        net,
        train,
        test,
        tcfg(epochs=3),
        Callbacks(on_batch=batches.append, should_stop=lambda: len(batches) >= stop_after),
    )
    assert result.status == "stopped" and result.error is None
    assert len(batches) == stop_after  # polled after every batch: no batch after the request
    # epoch 1 is kept as it was in the uninterrupted run; epoch 2 holds the 4 batches it ran
    assert [row["epoch"] for row in result.epochs] == [1, 2]
    assert curve(result)[0] == curve(full)[0]
    assert result.test_accuracy == result.epochs[-1]["test_accuracy"]


def test_should_stop_at_first_batch():
    train, test, net = quick_setup()
    result = fit(net, train, test, tcfg(), Callbacks(should_stop=lambda: True))
    assert result.status == "stopped"
    assert [row["epoch"] for row in result.epochs] == [1]  # the one batch it ran, evaluated


def test_callbacks_called_once_per_batch_and_epoch():
    train, test, net = quick_setup()
    batches, epochs = [], []
    result = fit(net, train, test, tcfg(), Callbacks(on_batch=batches.append, on_epoch=epochs.append))
    per_epoch = math.ceil(len(train.labels) / train.batch_size)
    assert len(train) == per_epoch
    assert len(batches) == EPOCHS * per_epoch
    assert [(b["epoch"], b["batch"]) for b in batches] == [
        (e, i) for e in range(1, EPOCHS + 1) for i in range(1, per_epoch + 1)
    ]
    assert all(b["num_batches"] == per_epoch and math.isfinite(b["loss"]) for b in batches)
    assert epochs == result.epochs and len(epochs) == EPOCHS
    for row in epochs:
        assert {"epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds", "images_per_second"} <= set(row)
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["seconds"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_pick_device_without_cuda():
    mps = getattr(torch.backends, "mps", None)
    expected = "mps" if mps is not None and mps.is_available() else "cpu"
    assert pick_device("auto").type == expected
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(TrainingFailed, match="no CUDA GPU is available"):
        pick_device("cuda")
    with pytest.raises(TrainingFailed, match="CUDA"):
        pick_device("cuda:0")


def test_cosine_schedule_values():
    assert lr_at("constant", 0.1, 57, 100) == 0.1
    assert lr_at("cosine", 0.1, 0, 100) == pytest.approx(0.1)
    assert lr_at("cosine", 0.1, 50, 100) == pytest.approx(0.05)
    assert lr_at("cosine", 0.1, 100, 100) == pytest.approx(0.0, abs=1e-12)
    steps = [lr_at("cosine", 0.1, t, 100) for t in range(100)]
    assert all(a > b for a, b in itertools.pairwise(steps))  # strictly decreasing
    with pytest.raises(ValueError):
        lr_at("step", 0.1, 0, 10)


def test_cosine_schedule_drives_the_optimiser(monkeypatch):
    train, test, net = quick_setup()
    seen = []
    opt_lrs = []

    class Spy(torch.optim.Adam):  # records the learning rate each step really used
        def step(self, closure=None):
            opt_lrs.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    result = fit(
        net,
        train,
        test,
        TrainerConfig(epochs=2, lr=0.01, batch_size=64, device="cpu", schedule="cosine"),
        Callbacks(on_epoch=seen.append),
    )
    total = 2 * len(train)
    assert result.status == "finished" and len(opt_lrs) == total
    assert opt_lrs[0] == pytest.approx(0.01) and opt_lrs[total // 2] == pytest.approx(0.005)
    assert opt_lrs[-1] == pytest.approx(lr_at("cosine", 0.01, total - 1, total))
    assert opt_lrs[-1] < 1e-4


def test_plateau_halves_after_patience_epochs_without_a_lower_loss():
    from core.training.trainer import Plateau

    p = Plateau(patience=2, factor=0.5)
    scales = [p.step(loss) for loss in (1.0, 0.8, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.69)]
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_plateau_schedule_drives_the_optimiser(monkeypatch):
    train, test, net = quick_setup()
    lrs = []

    class Spy(torch.optim.Adam):
        def step(self, closure=None):
            lrs.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    losses = iter([1.0, 1.0, 1.0, 1.0])  # a flat training loss: halved after every second epoch
    import core.training.trainer as trainer

    real = trainer.Plateau.step
    monkeypatch.setattr(trainer.Plateau, "step", lambda self, loss: real(self, next(losses)))
    result = fit(net, train, test, TrainerConfig(epochs=4, lr=0.01, batch_size=64, device="cpu", schedule="plateau"))
    n = len(train)
    assert result.status == "finished" and len(lrs) == 4 * n
    assert [lrs[e * n] for e in range(4)] == pytest.approx([0.01, 0.01, 0.01, 0.005])


def test_augment_sees_every_training_batch_but_not_the_test_set():
    train, test, net = quick_setup()
    calls = []

    def augment(x):
        calls.append(x.shape[0])
        return x.flip(-1)

    result = fit(net, train, test, TrainerConfig(epochs=1, lr=1e-3, batch_size=64, device="cpu", augment=augment))
    assert result.status == "finished"
    assert sum(calls) == len(train.labels) and len(calls) == len(train)
