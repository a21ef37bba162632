"""Per-run random streams (core.rng): runs that train side by side repeat exactly under their seeds."""

import threading
import time

import torch

from core.rng import RunRNG, isolated_rng
from core.training.runs import RunConfig, execute
from core.training.store import RunStore


def test_run_stream_matches_manual_seed_and_leaves_the_global_one_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    rng = RunRNG(7)
    with rng.active():
        first = torch.rand(5)
    assert torch.equal(torch.get_rng_state(), before)  # the process-wide stream did not move
    with rng.active():
        second = torch.rand(5)  # carries on where the run's stream stopped
    torch.manual_seed(7)
    assert torch.equal(torch.cat([first, second]), torch.rand(10))


def test_isolated_rng_seeds_a_scratch_stream_and_restores_the_global_one():
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    with isolated_rng(11):
        inside = torch.rand(3)
    torch.manual_seed(11)
    assert torch.equal(inside, torch.rand(3))
    torch.manual_seed(5)
    with isolated_rng():
        torch.rand(100)
    assert torch.equal(torch.rand(3), expected_next)


def test_two_runs_training_at_once_each_repeat_the_run_alone():
    # an MLP with dropout 0.5: every step draws a dropout mask; the callbacks pause so the threads interleave
    cfg = RunConfig.make(model="mlp", hidden=32, layers=2, epochs=2, quick=True, seed=3)
    store = RunStore()
    alone = execute(cfg, store)["epochs"]

    results, barrier = {}, threading.Barrier(2)

    def train(name: str) -> None:
        barrier.wait()
        results[name] = execute(cfg, store, on_batch=lambda row: time.sleep(0.002))["epochs"]

    threads = [threading.Thread(target=train, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("a", "b"):
        assert [(e["train_loss"], e["test_accuracy"]) for e in results[name]] == [
            (e["train_loss"], e["test_accuracy"]) for e in alone
        ]
