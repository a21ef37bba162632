"""The steerable net's sizes from its config alone (no escnn import): the field size of a group and the number of
fields per conv block. ``net`` builds with them and ``footprint`` prices with them (each imports this module, not the
other)."""

from __future__ import annotations

import math

from core.models.escnn_net.groups import parse_group, parse_schedule

SO2_MAX_FREQUENCY = 3  # band limit of the SO(2) Fourier fields (field size 2 * 3 + 1 = 7)
SO2_GRID = 16  # group samples used by the SO(2) Fourier nonlinearity
MIN_LAYERS, MAX_LAYERS = 2, 6
CLASSIFIER_HIDDEN = 64
MAX_WIDEN = 4.0  # at most 4x the channel budget (only D16, |G| = 32, is capped: sqrt(32) = 5.7)


def field_size(group: str) -> int:
    """Size of one feature field: |G| for CN / DN (regular repr), 2 * maxF + 1 for SO2."""
    kind, n = parse_group(group)
    return {"C": n, "D": 2 * n}.get(kind, 2 * SO2_MAX_FREQUENCY + 1)


def fields_per_block(group: str, hidden: int, layers: int) -> list[int]:
    """Number of fields of each conv block (see net.py's docstring for the width rule); ``group`` may be a
    schedule, each block then sized for its own group."""
    budgets = [hidden * (1, 2, 4)[min(i, 2)] for i in range(layers)]
    out = []
    for c, name in zip(budgets, parse_schedule(group, layers), strict=True):
        size = field_size(name)
        widen = min(math.sqrt(size), MAX_WIDEN)  # channels = budget * widen
        out.append(max(1, round(c * widen / size)))
    return out
