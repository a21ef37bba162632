"""A small abuse run in a real browser: scripted visitors against one public server, an honest one beside them.

Drives ``benchmarks/abuse.py``'s ``run_abuse`` at its ``QUICK`` scale (its own server in public quick mode on a fresh
data folder, one headless Chromium with a fresh context per made-up identity): 10 sigma values on each of two
normalisations, 5 identities launching the largest sweep the budget allows, an over-budget run from every entry
point (Train links, the Compare search box and sweep, a lesson), one forged link per page, and an honest visitor who
presses Start. It checks what must hold whatever the machine's speed: no traceback and no injected link on any page
or in the server's log, no run lost, a queue within its bound, the over-budget link and search refused with the
budget's message, and the server's resident memory within a bound. No timing is asserted (the script prints them).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.abuse import BUDGET, QUICK, forged_links, run_abuse
from benchmarks.load_test import CHROMIUM

SERVER_RSS_MB = 1024  # the target the full run prints; quick runs peaked at 670-790 MB


def test_a_small_abuse_is_refused_cleanly_and_leaves_no_trace():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `bash run.sh test` installs Debian's chromium"
    r = run_abuse(QUICK)
    json.dumps(r)  # what --json prints
    summary = {k: r[k] for k in ("completed", "error", "phase", "runs", "sweeps", "pages", "memory", "honest")}
    assert r["completed"], json.dumps(summary, indent=1)

    pages = r["pages"]
    shown = json.dumps(pages, indent=1)
    assert pages["forged_visited"] == len(forged_links()) and pages["forged_failures"] == [], shown  # every page
    assert pages["tracebacks"] == 0, shown  # none shown in a page, none in the server's log
    assert pages["injected_links"] == 0, shown  # no <a href> to evil.example or javascript: rendered anywhere

    runs, sweeps = r["runs"], r["sweeps"]
    assert runs["lost"] == 0, runs
    assert runs["max_queued"] <= r["limits"]["queue_bound"], runs
    assert sweeps["failures"] == [], sweeps
    if r["limits"]["queue_bound"] >= 12:  # a whole sweep fits an empty queue: the first identity's is accepted
        assert sweeps["accepted"] >= 1, sweeps
    assert sweeps["unanswered"] == 0, sweeps  # every Launch sweep got the sweep shown or a message
    assert sweeps["accepted"] + sum(sweeps["refused"].values()) == QUICK.identities, sweeps
    assert sweeps["refused"]["other"] == 0 and sweeps["refused"]["budget"] == 0, sweeps  # busy or limits only
    assert sweeps["stored_sweep_runs"] == 12 * sweeps["accepted"], sweeps  # all of a sweep or none of it

    over = {o["entry"]: o for o in r["over_budget"]}
    assert {"Train link (the widgets' maxima)", "Compare search box (grid sampler)"} <= {
        name for name, o in over.items() if o["expect_budget"]
    }, over  # always far over: 6 GB and 150 GB a run
    for o in over.values():
        if o["expect_budget"]:  # every entry point, with what the budget refuses
            assert o["refused"] == "budget" and BUDGET in o["error"], o
    assert over["Compare search box (the page's sampler: random, 6 trials)"]["refused"] is not None, over
    assert r["over_budget_all_refused"], r["over_budget"]

    walk = r["graph_builder"]
    assert walk["failures"] == [] and walk["distinct_values"] == 2 * QUICK.sigma_values, walk
    assert walk["script_s"]["count"] == walk["steps"] == 2 * (QUICK.sigma_values - 1), walk  # the server's times
    honest = r["honest"]
    assert honest["failures"] == [] and honest["first_outcome"] in ("queued", "busy"), honest

    memory = r["memory"]
    assert 0 < memory["server_peak_rss_mb"] < SERVER_RSS_MB, memory
    assert memory["all_peak_pss_mb"] > memory["server_peak_pss_mb"], memory  # workers trained and were counted
