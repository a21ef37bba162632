"""Seeded mini-batches over in-memory tensors or lists of graphs, and the evaluation batch size."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

# Test images per evaluation step. One step's activations set the peak memory of a run: an escnn C8 net of
# width 48 holds ~46 MB per 29x29 feature map for 100 images (230 MB for 500), which keeps the demo under 1 GB.
EVAL_BATCH = 100


class Batches:
    """Seeded mini-batches over in-memory tensors (or a list of PyG graphs with a collate function)."""

    def __init__(
        self,
        inputs: Any,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        collate: Callable[[Sequence[Any]], Any] | None = None,
    ):
        self.inputs, self.labels, self.batch_size = inputs, labels, batch_size
        self.shuffle, self.collate = shuffle, collate
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.collate is None:
                yield self.inputs[idx], self.labels[idx]
            else:
                yield self.collate([self.inputs[i] for i in idx.tolist()]), self.labels[idx]
