"""Small jobs in bounded worker processes (core.training.jobs): results, one job per key, the bounds, the time
limit, errors and crashes; real worker processes throughout."""

import math
import operator
import os
import time

import pytest

from core.errors import UserInputError
from core.training.jobs import BusyError, JobPool


def test_a_job_runs_in_another_process_once_per_key():
    pool = JobPool("test", workers=1, waiting=2)
    first = pool.submit("pid", os.getpid)
    assert first.pending
    done = pool.wait("pid", timeout=120)
    assert done.state == "done" and done.result != os.getpid()  # not in this process
    assert pool.submit("pid", os.getpid).result == done.result  # kept: asked again, not run again
    assert pool.counts["started"] == 1


def test_the_worker_gets_the_submitters_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCONV_SOMETHING", str(tmp_path))
    pool = JobPool("test")
    pool.submit("env", os.getenv, ("GRAPHCONV_SOMETHING",))
    assert pool.wait("env", timeout=120).result == str(tmp_path)


def test_bounds_one_at_a_time_a_few_waiting_one_per_owner():
    pool = JobPool("test", workers=1, waiting=1, per_owner=1)
    assert pool.submit("a", time.sleep, (3,), owner="x").state == "running"
    assert pool.submit("a", time.sleep, (3,), owner="y").state == "running"  # joins the same job
    with pytest.raises(BusyError, match="your last request"):
        pool.submit("b", time.sleep, (0,), owner="x")  # x already has one unfinished
    assert pool.submit("b", time.sleep, (0,), owner="z") == pool.state("b")
    assert pool.state("b").state == "waiting" and pool.state("b").position == 1
    with pytest.raises(BusyError, match="the server is busy, try again in a moment"):
        pool.submit("c", time.sleep, (0,))  # one running, one waiting: full
    assert pool.counts["refused"] == 2
    assert pool.wait("b", timeout=120).state == "done"
    assert pool.state("a").state == "done" and pool.counts["started"] == 2
    assert pool.submit("c", time.sleep, (0,), owner="x").pending  # room again, and x has none unfinished


def test_a_job_past_its_time_limit_is_killed():
    pool = JobPool("slow", limit_s=1.0)
    t0 = time.monotonic()
    pool.submit("sleep", time.sleep, (60,))
    out = pool.wait("sleep", timeout=60)
    assert out.state == "failed" and isinstance(out.error, TimeoutError)
    assert "took longer than 1 s" in str(out.error) and time.monotonic() - t0 < 30


def test_errors_come_back_by_class_and_crashes_say_how():
    pool = JobPool("test", workers=2, waiting=4, failure_ttl_s=60)
    from core.data.datasets import load_dataset

    pool.submit("bad", load_dataset, ("nope",))
    pool.submit("zero", operator.truediv, (1, 0))
    pool.submit("exit", os._exit, (3,))
    bad, zero, gone = (pool.wait(k, timeout=120) for k in ("bad", "zero", "exit"))
    assert isinstance(bad.error, UserInputError) and bad.error.param == "dataset" and "nope" in bad.error.message
    assert type(zero.error) is RuntimeError and str(zero.error) == "ZeroDivisionError: division by zero"
    assert "exited with code 3" in str(gone.error)
    assert pool.submit("zero", operator.truediv, (1, 0)).state == "failed"  # remembered: not retried at once
    assert pool.counts == {"started": 3, "done": 0, "failed": 3, "refused": 0}


def test_a_failure_is_retried_after_its_time_and_results_are_bounded():
    pool = JobPool("test", keep=2, failure_ttl_s=1.0)
    pool.submit("zero", operator.truediv, (1, 0))
    assert pool.wait("zero", timeout=120).state == "failed"
    time.sleep(1.1)
    assert pool.submit("zero", operator.truediv, (1, 0)).pending  # asked again: run again
    pool.wait("zero", timeout=120)
    for n in (3, 4, 5):
        pool.submit(n, math.factorial, (n,))
        assert pool.wait(n, timeout=120).result == math.factorial(n)
    assert pool.state(3) is None and pool.state(5).result == 120  # only the last two are kept
