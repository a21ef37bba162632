"""A small load test in a real browser: three sessions press Start together while a fourth browses.

Drives ``benchmarks/load_test.py``'s ``run_load_test`` (its own server in quick mode, a fresh data folder, one
headless Chromium with one context per session) and checks what must hold under load, whatever the machine's
speed: every click makes a run, every run finishes, each browser is its own session, the Graph Builder keeps
answering and the memory sampler saw the server's process tree. No timing is asserted (the script prints them).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.browser_helpers import PssSampler, descendants
from benchmarks.load_test import CHROMIUM, run_load_test


def test_pss_sampler_counts_a_process_and_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(64 << 20); time.sleep(30)"])
    try:
        for _ in range(100):  # until the child has touched its 64 MB
            sampler = PssSampler(os.getpid())
            sampler.sample()
            if sampler.peak_total_kb - sampler.peak_own_kb > 60 << 10:
                break
            time.sleep(0.1)
        assert child.pid in descendants(os.getpid())
        assert sampler.peak_own_kb > 0
        assert sampler.peak_total_kb - sampler.peak_own_kb > 60 << 10  # the child's 64 MB bytearray
        assert sampler.max_processes >= 2
    finally:
        child.kill()
        child.wait()


def test_three_sessions_start_together_while_one_browses():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `bash run.sh test` installs Debian's chromium"
    r = run_load_test(sessions=3, browsers=1, epochs=1, timeout_s=300, slider_steps=2, own_seeds=True)
    assert json.loads(json.dumps(r)) == r  # what --json prints
    assert r["completed"], r
    assert r["clicks_recorded"] == 3, r
    assert r["runs_stored"] == 3 and r["runs_finished"] == 3, r
    assert r["runs_lost"] == 0 and r["clicks_without_run"] == 0, r
    assert r["refused_by_session_limit"] == 0 and r["other_click_errors"] == [], r
    assert r["distinct_sessions_in_store"] == 3, r  # each browser context is its own visitor
    assert r["train_pages_without_finish"] == 0, r  # every Start page showed its run's end
    assert r["time_to_all_finished_s"] is not None and r["time_to_all_finished_s"] > 0, r
    assert 0.5 < r["test_accuracy_min"] <= 1, r
    slider = r["slider_while_training"]
    assert slider["count"] >= 1 and math.isfinite(slider["max_s"]) and slider["max_s"] > 0, r
    assert r["peak_pss_server_mb"] > 0 and r["peak_pss_total_mb"] > r["peak_pss_server_mb"], r  # workers counted
    assert r["max_processes"] >= 3, r  # the server, its forkserver and at least one worker were seen
    assert r["streamlit_exceptions"] == 0 and r["server_tracebacks"] == [] and r["browse_failures"] == [], r


def test_a_class_pressing_start_on_the_same_settings_trains_one_run_that_every_session_sees():
    """Issue 32's class on one link: every session presses Start on the same default settings and seed; one run
    trains and every page shows its result (the time each waited is printed by ``python -m benchmarks.load_test``)."""
    r = run_load_test(sessions=3, browsers=0, epochs=1, timeout_s=300, slider_steps=1)
    assert r["completed"], r
    assert r["clicks_recorded"] == 3 and r["runs_stored"] == 1 and r["runs_finished"] == 1, r
    assert r["distinct_runs_shown"] == 1 and r["runs_lost"] == 0, r
    shown = r["click_to_result_shown"]
    assert shown["count"] == 3 and shown["sessions_without"] == 0 and shown["max_s"] > 0, r
    assert r["streamlit_exceptions"] == 0 and r["server_tracebacks"] == [], r
