"""ByteLRU: entries measured in bytes (tensors, arrays, models), dropped least recently used first when over budget,
shared blocks counted once, thread-safe; and the ``cached`` decorator the pages use."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import torch

from ui.byte_cache import MB, MISSING, ByteLRU, cached, entry_blocks, entry_nbytes


def block(mb: float) -> torch.Tensor:
    return torch.zeros(int(mb * MB), dtype=torch.uint8)


def test_an_entry_is_measured_from_what_it_holds():
    t = torch.zeros(1000, dtype=torch.float32)  # 4,000 bytes
    a = np.zeros((10, 10), dtype=np.float64)  # 800 bytes
    assert entry_nbytes(t) == 4000 and entry_nbytes(a) == 800
    assert entry_nbytes((t, {"a": a, "again": t[:10]}, [a[2:5]], "text", 3)) == 4800  # views count their base once
    assert entry_nbytes(b"x" * 500) == 500
    model = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.BatchNorm1d(20))
    params = sum(p.numel() for p in model.parameters()) * 4
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    assert entry_nbytes(model) == params + buffers
    sparse = torch.eye(50).to_sparse()
    assert entry_nbytes(sparse) == 2 * 50 * 8 + 50 * 4  # (2, 50) int64 indices, 50 float32 values


def test_objects_and_dataclasses_are_followed():
    from core.graphs import build_graph

    g = build_graph("grid", size=4)
    expected = g.edge_index.nbytes + g.edge_weight.nbytes + g.pos.nbytes
    assert entry_nbytes(g) == expected

    class Holder:
        def __init__(self):
            self.model = torch.nn.Linear(4, 4)
            self.cache = {"x": torch.ones(8)}

    assert entry_nbytes(Holder()) == (16 + 4) * 4 + 8 * 4


def test_least_recently_used_entries_go_first_when_over_budget():
    cache = ByteLRU(10 * MB)
    for key in "abc":
        cache.put(key, block(3))
    assert cache.nbytes == 9 * MB and len(cache) == 3
    cache.get("a")  # a is now the most recently used
    cache.put("d", block(3))  # 12 MB > 10: b (least recently used) goes
    assert cache.keys() == ["c", "a", "d"] and cache.nbytes == 9 * MB
    cache.put("e", block(7))  # needs 7 MB: c and a go, d stays
    assert cache.keys() == ["d", "e"] and cache.nbytes == 10 * MB
    assert cache.get("b") is MISSING and cache.get("b", None) is None


def test_many_small_entries_are_kept_where_few_large_ones_fit():
    cache = ByteLRU(10 * MB)
    for i in range(100):
        cache.put(i, block(0.05))
    assert len(cache) == 100 and cache.nbytes == 100 * int(0.05 * MB)


def test_an_entry_larger_than_the_budget_is_returned_but_not_kept():
    cache = ByteLRU(4 * MB)
    cache.put("small", block(1))
    big = block(5)
    assert cache.put("big", big) is big
    assert "big" not in cache and cache.keys() == ["small"] and cache.nbytes == 1 * MB
    calls = []
    value = cache.get_or_compute("big", lambda: calls.append(1) or big)
    assert value is big and "big" not in cache
    cache.get_or_compute("big", lambda: calls.append(1) or big)
    assert len(calls) == 2  # computed again each time: never kept
    cache.put("small", block(6))  # a replacement too large drops the old value as well
    assert len(cache) == 0 and cache.nbytes == 0


def test_blocks_shared_between_entries_are_counted_once():
    cache = ByteLRU(10 * MB)
    shared = block(6)
    cache.put("a", (shared, block(1)))
    cache.put("b", (shared, block(1)))  # 8 MB held, not 14
    assert cache.nbytes == 8 * MB and len(cache) == 2
    cache.discard("a")
    assert cache.nbytes == 7 * MB  # the shared block stays while b holds it
    cache.discard("b")
    assert cache.nbytes == 0


def test_replacing_a_key_does_not_count_it_twice():
    cache = ByteLRU(10 * MB)
    cache.put("a", block(4))
    cache.put("a", block(4))
    cache.put("a", block(2))
    assert len(cache) == 1 and cache.nbytes == 2 * MB


def test_an_exception_keeps_nothing():
    cache = ByteLRU(10 * MB)
    with pytest.raises(ValueError):
        cache.get_or_compute("k", lambda: (_ for _ in ()).throw(ValueError("bad")))
    assert "k" not in cache and cache.get_or_compute("k", lambda: 7) == 7


def test_sessions_asking_for_one_key_at_once_compute_it_once():
    cache = ByteLRU(10 * MB)
    calls, results = [], []
    start = threading.Barrier(8)

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return block(1)

    def session():
        start.wait()
        results.append(cache.get_or_compute("graph", compute))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)


def test_concurrent_sessions_never_push_it_over_budget():
    cache = ByteLRU(5 * MB)
    over, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            if cache.nbytes > cache.budget:
                over.append(cache.nbytes)

    def session(seed: int):
        for i in range(60):
            cache.get_or_compute((seed, i % 15), lambda: block(0.7))
            cache.get((seed + 1) % 4, None)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=session, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not over
    kept = cache.keys()  # a snapshot taken under the cache's lock (ByteLRU has no __iter__)
    assert cache.nbytes == sum(sum(entry_blocks(cache.get(k)).values()) for k in kept) <= 5 * MB


def test_the_decorator_keys_on_arguments_without_a_leading_underscore():
    cache = ByteLRU(10 * MB)
    calls = []

    @cached(cache)
    def load(run_id: int, version: str = "v1", _store=None):
        calls.append((run_id, version))
        return torch.ones(run_id)

    a = load(3, _store=object())
    assert load(3, "v1", _store=object()) is a and load(run_id=3) is a  # the same key, however it is passed
    load(3, "v2")
    load(4)
    assert calls == [(3, "v1"), (3, "v2"), (4, "v1")] and len(cache) == 3

    @cached(cache)
    def other(run_id: int):  # another function in the same pool: its own keys
        return torch.zeros(run_id)

    assert not torch.equal(other(3), a)
    load.clear()
    assert len(cache) == 1  # only load's entries went


def test_a_function_defined_again_finds_its_entries() -> None:
    """A page script defines its cached functions on every rerun: the second definition uses the first's entries."""
    cache = ByteLRU(10 * MB)
    source = "def load(n):\n    calls.append(n)\n    return [n]\n"
    calls: list = []
    first: dict[str, Any] = {"calls": calls}  # the globals of two runs of the same page script
    second: dict[str, Any] = {"calls": calls}
    exec(compile(source, "app_pages/some_page.py", "exec"), first)
    exec(compile(source, "app_pages/some_page.py", "exec"), second)
    assert cached(cache)(first["load"])(5) is cached(cache)(second["load"])(5)
    assert calls == [5]


def test_sizing_a_non_leaf_tensor_warns_nothing(recwarn):
    """A cached value may hold a tensor computed from parameters; sizing it must not read its .grad, which torch
    answers with a UserWarning in the server's log (issue 30: the log carries only real warnings)."""
    import torch

    from ui.byte_cache import entry_blocks

    leaf = torch.ones(3, requires_grad=True)
    blocks = entry_blocks({"made": leaf * 2, "leaf": leaf})
    assert sorted(blocks.values()) == [12, 12]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)], [str(w.message) for w in recwarn]
