"""Per-image SLIC superpixel graphs for a whole data set, cached on disk.

Building 5,000 graphs takes tens of seconds, so the result is saved under
``data_dir()/cache/superpixels-<hash>.pt`` as plain tensors (loaded with ``weights_only=True``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from core.config import data_dir


def _cache_path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"superpixels-{digest}.pt"


def _pack(images: torch.Tensor, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Build one graph per image; pack them as concatenated tensors plus per-graph counts."""
    from core.graphs import build_graph

    xs, eis, ns, es = [], [], [], []
    for img in images:  # (H, W)
        g = build_graph("superpixels", size=img.shape[-1], image=img.numpy(), **params)
        xs.append(g.x.float())
        eis.append(g.edge_index)
        ns.append(g.num_nodes)
        es.append(g.num_edges)
    return {"x": torch.cat(xs), "edge_index": torch.cat(eis, dim=1), "num_nodes": torch.tensor(ns),
            "num_edges": torch.tensor(es)}


def _unpack(packed: dict[str, torch.Tensor], labels: torch.Tensor) -> list:
    from torch_geometric.data import Data

    graphs, n0, e0 = [], 0, 0
    for i, (n, e) in enumerate(zip(packed["num_nodes"].tolist(), packed["num_edges"].tolist())):
        graphs.append(Data(x=packed["x"][n0:n0 + n], edge_index=packed["edge_index"][:, e0:e0 + e],
                           y=labels[i:i + 1]))
        n0, e0 = n0 + n, e0 + e
    return graphs


def superpixel_graphs(ds, params: dict[str, Any]) -> tuple[list, list]:
    """(train graphs, test graphs) as lists of PyG ``Data`` for an ImageDataset, cached on disk."""
    key = {"data": ds.name, "n_train": len(ds.y_train), "n_test": len(ds.y_test), "params": params,
           "checksum": float(ds.x_train.sum() + ds.x_test.sum()), "version": 1}
    path = _cache_path(key)
    packed = None
    if path.exists():
        try:
            packed = torch.load(path, weights_only=True, map_location="cpu")
        except Exception:  # a corrupt cache is rebuilt, never trusted
            packed = None
    if packed is None:
        packed = {"train": _pack(ds.x_train, params), "test": _pack(ds.x_test, params)}
        tmp = path.with_suffix(".part")
        torch.save(packed, tmp)
        tmp.replace(path)
    return _unpack(packed["train"], ds.y_train), _unpack(packed["test"], ds.y_test)


def superpixel_batches(ds, params: dict[str, Any], batch_size: int, seed: int):
    """(train Batches, test Batches) over superpixel graphs, collated with PyG's ``Batch``."""
    from torch_geometric.data import Batch

    from core.data.batches import EVAL_BATCH, Batches

    train, test = superpixel_graphs(ds, params)
    collate = Batch.from_data_list
    return (Batches(train, ds.y_train, batch_size, shuffle=True, seed=seed, collate=collate),
            Batches(test, ds.y_test, EVAL_BATCH, shuffle=False, collate=collate))
