"""Per-image SLIC superpixel graphs for a whole data set, cached on disk.

Building 5,000 graphs takes about 10 s on two cores (SLIC releases the interpreter lock, so a
thread pool runs it in parallel, also inside daemonic worker processes that may not fork), so the
result is saved under ``data_dir()/cache/superpixels-<hash>.pt`` as plain tensors (loaded with
``weights_only=True``). ``progress(done, total)`` is called as graphs are built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from core.config import data_dir


def _cache_path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"superpixels-{digest}.pt"


Progress = Callable[[int, int], None]  # (graphs built, graphs in all)
CHUNK = 250  # images per pool task (and per progress report)


def _build_chunk(images: torch.Tensor, params: dict[str, Any]) -> list:
    from core.graphs import build_graph

    return [build_graph("superpixels", size=img.shape[-1], image=img.numpy(), **params) for img in images]


def _pack(
    images: torch.Tensor,
    params: dict[str, Any],
    progress: Progress | None = None,
    done: int = 0,
    total: int | None = None,
) -> dict[str, torch.Tensor]:
    """Build one graph per image (in a thread pool); pack them as concatenated tensors plus per-graph counts."""
    total = len(images) if total is None else total
    chunks = [images[i : i + CHUNK] for i in range(0, len(images), CHUNK)]
    graphs: list = []
    with ThreadPoolExecutor(max_workers=max(1, min(4, torch.get_num_threads()))) as pool:  # the run's CPU share
        for part in pool.map(lambda c: _build_chunk(c, params), chunks):
            graphs += part
            if progress:
                progress(done + len(graphs), total)
    return {
        "x": torch.cat([g.x.float() for g in graphs]),
        "edge_index": torch.cat([g.edge_index for g in graphs], dim=1),
        "edge_weight": torch.cat([g.edge_weight.float() for g in graphs]),
        "num_nodes": torch.tensor([g.num_nodes for g in graphs]),
        "num_edges": torch.tensor([g.num_edges for g in graphs]),
    }


def _unpack(packed: dict[str, torch.Tensor], labels: torch.Tensor) -> list:
    from torch_geometric.data import Data

    graphs, n0, e0 = [], 0, 0
    for i, (n, e) in enumerate(zip(packed["num_nodes"].tolist(), packed["num_edges"].tolist(), strict=True)):
        graphs.append(
            Data(
                x=packed["x"][n0 : n0 + n],
                edge_index=packed["edge_index"][:, e0 : e0 + e],
                edge_weight=packed["edge_weight"][e0 : e0 + e],
                y=labels[i : i + 1],
            )
        )
        n0, e0 = n0 + n, e0 + e
    return graphs


def superpixel_graphs(ds, params: dict[str, Any], progress: Progress | None = None) -> tuple[list, list]:
    """(train graphs, test graphs) as lists of PyG ``Data`` (x (N, 3), edge_index, edge_weight, y) for an
    ImageDataset, cached on disk; ``progress`` hears about each built chunk (not called on a cache hit)."""
    key = {
        "data": ds.name,
        "n_train": len(ds.y_train),
        "n_test": len(ds.y_test),
        "params": params,
        "checksum": float(ds.x_train.sum() + ds.x_test.sum()),
        "version": 2,
    }
    path = _cache_path(key)
    packed = None
    if path.exists():
        try:
            packed = torch.load(path, weights_only=True, map_location="cpu")
        except Exception:  # noqa: BLE001 - a corrupt cache (any unpickling error) is rebuilt, never trusted
            packed = None
        if not isinstance(packed, dict) or not all(
            isinstance(packed.get(part), dict) and "edge_weight" in packed[part] for part in ("train", "test")
        ):
            packed = None  # written by another version
    if packed is None:
        total = len(ds.y_train) + len(ds.y_test)
        packed = {
            "train": _pack(ds.x_train, params, progress, 0, total),
            "test": _pack(ds.x_test, params, progress, len(ds.y_train), total),
        }
        tmp = path.with_suffix(".part")
        torch.save(packed, tmp)
        tmp.replace(path)
    return _unpack(packed["train"], ds.y_train), _unpack(packed["test"], ds.y_test)


def superpixel_batches(ds, params: dict[str, Any], batch_size: int, seed: int, progress: Progress | None = None):
    """(train Batches, test Batches) over superpixel graphs, collated with PyG's ``Batch``."""
    from torch_geometric.data import Batch

    from core.data.batches import EVAL_BATCH, Batches

    train, test = superpixel_graphs(ds, params, progress)
    collate = Batch.from_data_list
    return (
        Batches(train, ds.y_train, batch_size, shuffle=True, seed=seed, collate=collate),
        Batches(test, ds.y_test, EVAL_BATCH, shuffle=False, collate=collate),
    )


def degree_histogram(graphs: list) -> torch.Tensor:
    """(D + 1,) counts of node in-degrees over ``graphs`` (PNA's degree scalers are set from it)."""
    counts = [torch.bincount(g.edge_index[1], minlength=g.num_nodes) for g in graphs]  # per graph, (N,)
    return torch.bincount(torch.cat(counts))
