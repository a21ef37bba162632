"""Superpixel graphs of a whole data set: built in parallel with progress, cached, weights kept."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from core.config import data_dir
from core.data.datasets import load_dataset
from core.graphs import build_graph
from core.graphs.superpixel_dataset import degree_histogram, superpixel_graphs

PARAMS = {"segments": 40, "compactness": 0.25, "k": 6, "edges": "knn", "weights": "gaussian"}


@pytest.fixture()
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path))
    ds = load_dataset("mnist-5k", quick=True)
    return SimpleNamespace(
        name="tiny", x_train=ds.x_train[:30], y_train=ds.y_train[:30], x_test=ds.x_test[:12], y_test=ds.y_test[:12]
    )


def test_graphs_equal_the_builder_and_progress_counts_every_image(tiny, monkeypatch):
    import core.graphs.superpixel_dataset as spd

    monkeypatch.setattr(spd, "CHUNK", 8)  # several chunks, built by the thread pool
    calls = []
    train, test = superpixel_graphs(tiny, PARAMS, progress=lambda done, total: calls.append((done, total)))
    assert len(train) == 30 and len(test) == 12
    assert calls[-1] == (42, 42) and all(t == 42 for _, t in calls) and len(calls) == 4 + 2
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    for data, img, label in (
        (train[3], tiny.x_train[3], tiny.y_train[3]),
        (test[11], tiny.x_test[11], tiny.y_test[11]),
    ):
        g = build_graph("superpixels", image=img.numpy(), **PARAMS)
        assert torch.equal(data.x, g.x.float()) and torch.equal(data.edge_index, g.edge_index)
        assert torch.equal(data.edge_weight, g.edge_weight) and int(data.y) == int(label)


def test_cache_is_reused_and_a_corrupt_one_rebuilt(tiny):
    train, _ = superpixel_graphs(tiny, PARAMS)
    calls = []
    again, _ = superpixel_graphs(tiny, PARAMS, progress=lambda d, t: calls.append(d))
    assert not calls and torch.equal(again[5].edge_weight, train[5].edge_weight)  # read from the cache
    (cache,) = (data_dir() / "cache").glob("superpixels-*.pt")
    cache.write_bytes(b"not a checkpoint")
    rebuilt, _ = superpixel_graphs(tiny, PARAMS, progress=lambda d, t: calls.append(d))
    assert calls and torch.equal(rebuilt[5].x, train[5].x)


def test_degree_histogram_counts_in_degrees():
    from torch_geometric.data import Data

    a = Data(edge_index=torch.tensor([[1, 2, 0], [0, 0, 1]]), num_nodes=3)  # in-degrees 2, 1, 0
    b = Data(edge_index=torch.tensor([[1], [0]]), num_nodes=2)  # in-degrees 1, 0
    assert degree_histogram([a, b]).tolist() == [2, 2, 1]
