"""Public mode's bounds on what visitors can queue: the budget at every manager entry point (before anything
is stored or built), the queue's bound, per-session and per-address limits, one run training per visitor."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.training.cost import BudgetError
from core.training.runner import QueueFullError, RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore

HUGE: dict[str, Any] = dict(model="escnn", group="D16", hidden=512, layers=6, epochs=500)  # the search-box net


def mlp(**kw) -> RunConfig:
    return RunConfig.make(**{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", **kw})


@pytest.fixture
def public(tmp_path):
    """A public manager with one slot and room for 3 waiting runs; closed after the test."""
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=1, public=True, queue_limit=3, stop_grace_s=1.0)
    yield m
    m.close()


def test_over_budget_runs_are_refused_at_every_entry_point_before_anything_is_stored(public):
    entry_points = {
        "submit (Train, links)": lambda: public.submit(RunConfig.make(**HUGE), session="s"),
        "submit_many (sweeps, lessons, the trio)": lambda: public.submit_many(
            [mlp(), RunConfig.make(**HUGE)], session="s"
        ),
        "submit_search (the search box)": lambda: public.submit_search([RunConfig.make(**HUGE)], session="s"),
    }
    for name, call in entry_points.items():
        start = time.perf_counter()
        with pytest.raises(BudgetError) as refused:
            call()
        assert time.perf_counter() - start < 0.5, name  # microseconds of arithmetic; nothing is built
        assert refused.value.param == "hidden" and "GRAPHCONV_RUN_MB" in str(refused.value), name
    assert public.store.list_runs() == []  # nothing stored, not even the sweep's small run


def test_a_continuation_is_costed_for_its_new_epochs_only(public):
    """Step (1 epoch) of a long run fits, where training the whole run again would not."""
    parent = public.submit(mlp(epochs=2), session="s")
    assert public.wait(parent, timeout=120)["state"] == "finished"
    child = public.continue_run(parent, 1, session="s")
    assert public.wait(child, timeout=120)["state"] == "finished"


def test_the_queue_has_a_bound_and_a_full_queue_says_the_server_is_busy(public):
    running = public.submit(mlp(epochs=300), session="a")
    deadline = time.time() + 60
    while time.time() < deadline and public.live(running)["state"] != "running":  # it holds the one slot
        time.sleep(0.1)
    waiting = [public.submit(mlp(), session=f"visitor-{i}") for i in range(3)]  # made-up identities
    with pytest.raises(QueueFullError, match="the server is busy") as busy:
        public.submit(mlp(), session="honest")
    assert busy.value.param == "run"
    assert len(public.store.list_runs()) == 4 and len(waiting) == 3  # the refused run was not stored
    with pytest.raises(QueueFullError, match="busy"):  # a sweep that does not fit is refused whole
        public.submit_many([mlp(), mlp()], session="honest")
    public.stop(waiting[0])
    public.wait(waiting[0], timeout=30)
    assert public.submit(mlp(), session="honest")  # a place freed up
    public.stop(running)


def test_one_address_cannot_fill_the_queue_with_made_up_identities(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_ADDRESS_RUNS", "2")
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=1, public=True, queue_limit=10)
    try:
        for i in range(2):
            m.submit(mlp(epochs=300), session=f"made-up-{i}", client="203.0.113.7")
        with pytest.raises(QueueFullError, match="network address"):
            m.submit(mlp(), session="made-up-2", client="203.0.113.7")
        assert m.submit(mlp(), session="someone-else", client="198.51.100.2")  # another address is not affected
    finally:
        m.close()


def test_local_mode_has_no_queue_bound(tmp_path):
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=1, public=False)
    try:
        assert m.queue_limit == 0 and m.address_limit == 0
        ids = [m.submit(mlp(epochs=300), session=f"s{i}") for i in range(5)]
        assert len(ids) == 5
    finally:
        m.close()


def test_a_visitor_trains_one_run_while_others_wait(tmp_path):
    """Two slots, alice queues three runs first, bob one: bob's run takes the second slot, not alice's second."""
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=2, public=True, queue_limit=8)
    try:
        with m._cond:  # queue all four before the dispatcher's next look, as a burst of clicks would
            alice = [m.submit(mlp(epochs=300), session="alice") for _ in range(3)]
            bob = m.submit(mlp(epochs=300), session="bob")
        deadline = time.time() + 60
        while time.time() < deadline and len(m._running) < 2:
            time.sleep(0.1)
        training = sorted(job.run_id for job in m._running)
        assert training == sorted([alice[0], bob]), training
        assert m.queue_position(alice[1]) == 1 and m.queue_position(alice[2]) == 2
    finally:
        m.close()


def test_the_dispatcher_ends_a_worker_that_outlives_the_wall_clock(tmp_path, monkeypatch):
    """The backstop behind the worker's own limit and watchdog: here the worker was started without a limit (its
    environment has none), so only the dispatcher knows it; the run ends stopped with the reason, epochs kept."""
    from dataclasses import replace

    from core.training import worker

    monkeypatch.setattr(worker, "WATCHDOG_GRACE_S", 0.0)
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=1, public=True, stop_grace_s=1.0)
    m.limits = replace(m.limits, run_wall_s=3.0)
    try:
        run_id = m.submit(mlp(epochs=300), session="s")
        live = m.wait(run_id, timeout=120)
    finally:
        m.close()
    assert live["state"] == "stopped" and "GRAPHCONV_RUN_WALL_S" in live["error"], live["error"]
    assert "did not stop by itself" in live["error"]


def test_a_run_waits_while_the_training_runs_memory_would_pass_the_budget(tmp_path):
    """Two slots, but what the training runs add above their workers' start may not pass GRAPHCONV_TRAINING_MB:
    the second run waits for the first to end, then starts (a run alone always starts)."""
    from dataclasses import replace

    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=2, public=True, stop_grace_s=1.0)
    m.limits = replace(m.limits, training_mb=8)  # one quick mlp (~6 MB above its worker's start) fits, two do not
    try:
        first = m.submit(mlp(epochs=300), session="a")
        second = m.submit(mlp(epochs=1), session="b")
        deadline = time.time() + 60
        while time.time() < deadline and m.live(first)["state"] != "running":
            time.sleep(0.1)
        time.sleep(1.5)  # several dispatcher ticks
        assert m.live(first)["state"] == "running" and m.live(second)["state"] == "queued"
        assert m.queue_position(second) == 1
        m.stop(first, session="a")
        assert m.wait(second, timeout=120)["state"] == "finished"
    finally:
        m.close()
