"""The server's graph cache is bounded in bytes: 100 distinct dense graphs (the Graph Builder's Gaussian kernel with
no cutoff, 613,872 edges, one per sigma, gcn normalisation) grow a fresh process's memory by less than twice the
cache's budget.

Measured in a subprocess (its own allocator, nothing else cached) through ``ui.resources.graph``, the function the
Graph Builder, Filters and Spectral pages call. The bound, 2 x GRAPH_CACHE_MB (96 MB): the budget itself, plus one
graph being built beside it (its (N, N) kernel, mask and normalisation: 16 MB above what it keeps), plus what the
allocator keeps of freed memory. The entry-counting cache this replaced (``st.cache_resource(max_entries=64)``, no
shared index) grew the same process by 1,767 MB: 64 graphs of 24.6 MB each, and what the allocator kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.ui.ui_helpers import ROOT
from ui.resources import GRAPH_CACHE_MB

GRAPHS = 100

PROBE = r"""
import json, sys

def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024

from core.training.memory import limit_malloc_arenas
limit_malloc_arenas(2)  # as app.py does for the server
from ui import resources

def params(sigma):
    return json.dumps({"sigma": sigma, "cutoff": None, "topk": None}, sort_keys=True)

resources.graph("grid", json.dumps({"neighbours": 8}), "gcn")  # imports, first allocations
first = resources.graph("gaussian", params(0.05), "gcn")  # the Graph Builder's default dense graph
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := VmRSS: the peak counts from here
start = rss_mb()
count = int(sys.argv[1])
for i in range(count):
    raw, normed, facts = resources.graph("gaussian", params(round(0.1 + 0.005 * i, 4)), "gcn")
    assert raw.num_edges == 784 * 783 and facts["self_loops"] == 784
pool = getattr(resources, "GRAPHS", None)
print(json.dumps({"start_mb": start, "end_mb": rss_mb(), "peak_mb": rss_mb("VmHWM"),
                  "budget_mb": getattr(resources, "GRAPH_CACHE_MB", None),
                  "kept": None if pool is None else len(pool),
                  "kept_mb": None if pool is None else pool.nbytes / 2**20}))
"""


def test_a_hundred_dense_graphs_stay_within_the_graph_budget():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRAPHCONV_QUICK": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(GRAPHS)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    m = json.loads(done.stdout.strip().splitlines()[-1])
    grown, peak = m["end_mb"] - m["start_mb"], m["peak_mb"] - m["start_mb"]
    print(
        f"RSS {m['start_mb']:.0f} MB -> {m['end_mb']:.0f} MB (peak {m['peak_mb']:.0f} MB) after {GRAPHS} graphs; "
        f"cache: {m['kept']} graphs, {m['kept_mb']} MB"
    )
    assert grown < 2 * GRAPH_CACHE_MB, m
    assert peak < 2 * GRAPH_CACHE_MB + 32, m  # and at no moment more than two builds' temporaries above that
    assert m["budget_mb"] == GRAPH_CACHE_MB == 48
    assert 0 < m["kept_mb"] <= GRAPH_CACHE_MB and m["kept"] >= 5  # the shared index once, then 4.9 MB a sigma
