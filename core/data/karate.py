"""Zachary's karate club (34 nodes, 4 classes), built into torch_geometric, with PyG's split:
one labelled node per class."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class KarateSplit(NamedTuple):
    labelled: torch.Tensor  # (34,) bool, one node per class
    unlabelled: torch.Tensor  # (34,) bool, the rest


def load_karate() -> Any:
    """Zachary's karate club as a PyG ``Data`` (34 nodes, 156 directed edges, 4 classes).

    Built into torch_geometric: no download. ``x`` is the (34, 34) identity, ``y`` the
    community labels, ``train_mask`` one node per class.
    """
    from torch_geometric.datasets import KarateClub

    return KarateClub()[0]


def karate_split(data: Any = None) -> KarateSplit:
    """One labelled node per class (PyG's ``train_mask``: nodes 0, 4, 8, 24) and the rest.

    If a future PyG mask were not exactly one node per class, the first node of each class in
    node order is used instead.
    """
    data = load_karate() if data is None else data
    y = data.y  # (34,)
    labelled = data.train_mask.clone().bool()  # (34,)
    if sorted(y[labelled].tolist()) != list(range(int(y.max()) + 1)):
        labelled = torch.zeros_like(labelled)
        for c in range(int(y.max()) + 1):
            labelled[int(torch.nonzero(y == c)[0])] = True
    return KarateSplit(labelled=labelled, unlabelled=~labelled)
