"""One pixel of a steerable (escnn) net: the first steerable convolution's field channels at that pixel, for the
digit and for the digit turned by 90 degrees, and how the turn permutes them.

The first ``R2Conv`` of an :class:`~core.models.escnn_net.net.EscnnNet` maps the digit (resampled to the odd
29 x 29 grid) to F fields of |G| channels each (regular fields of C_N / D_N; SO2: band-limited Fourier fields).
Turning the digit by 90 degrees counter-clockwise moves pixel (r, c) of that S x S grid to (S - 1 - c, r), and there
the field's channels are those of the original pixel transformed by the field's representation:
:math:`f'(g p) = \\rho(g) f(p)`. For a regular field :math:`\\rho(g)` is a permutation: the channels cycle (C8:
a quarter turn shifts them by two places). No streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.errors import UserInputError

TURN = 90.0  # degrees counter-clockwise


@dataclass(frozen=True)
class SteerableNode:
    """The first steerable convolution's output at one pixel, for the digit and for it turned by 90 degrees."""

    group: str  # the first block's group, e.g. "C8"
    size: int  # the conv's grid is size x size (29 for MNIST)
    pixel: tuple[int, int]  # (row, col) on that grid
    turned_pixel: tuple[int, int]  # where the turn moves it: (size - 1 - col, row)
    field_size: int  # channels per field (|G| for a regular field)
    channels: np.ndarray  # (F, field_size) at ``pixel`` for the digit
    turned_channels: np.ndarray  # (F, field_size) at ``turned_pixel`` for the turned digit
    representation: np.ndarray  # (field_size, field_size) rho(r90): turned = rho @ channels, field by field
    permutation: tuple[int, ...] | None  # p[c]: channel c moves to channel p[c]; None when rho permutes nothing
    maps: np.ndarray  # (field_size, size, size) the chosen field's channels over the grid, for the digit
    turned_maps: np.ndarray  # (field_size, size, size) the same for the turned digit

    @property
    def expected(self) -> np.ndarray:
        """(F, field_size) rho(r90) applied to each field at the original pixel."""
        return self.channels @ self.representation.T

    @property
    def error(self) -> float:
        """max |turned channels - rho(r90) channels| over every field at the pixel."""
        return float(np.abs(self.turned_channels - self.expected).max())

    @property
    def shift(self) -> int | None:
        """For a cyclic permutation (a C_N regular field): how many places the channels move (p[c] = c + shift)."""
        if self.permutation is None:
            return None
        n = len(self.permutation)
        s = self.permutation[0] % n
        return s if all(self.permutation[c] == (c + s) % n for c in range(n)) else None


def is_steerable(model: Any) -> bool:
    return hasattr(model, "body") and hasattr(model, "to_geometric") and hasattr(model, "schedule")


def first_conv(model):
    """The first ``R2Conv`` of an EscnnNet."""
    from escnn import nn as enn

    return next(m for m in model.body.modules() if isinstance(m, enn.R2Conv))


def turned_position(pixel: tuple[int, int], size: int) -> tuple[int, int]:
    """Where a 90-degree counter-clockwise turn of a size x size grid moves (row, col)."""
    r, c = pixel
    return size - 1 - c, r


def _as_image(image: Any) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if x.numel() != 28 * 28:
        raise UserInputError("image", f"must be one 28 x 28 digit, got shape {tuple(x.shape)}")
    return x.reshape(1, 1, 28, 28)


@torch.no_grad()
def _conv_output(model, x: torch.Tensor):
    conv = first_conv(model)
    found: dict[str, Any] = {}  # "out": the conv's GeometricTensor (escnn ships no types)
    handle = conv.register_forward_hook(lambda _m, _i, out: found.__setitem__("out", out))
    try:
        model(x)
    finally:
        handle.remove()
    return found["out"].tensor[0].detach().double(), found["out"].type  # (C, S, S), FieldType


def conv_grid_size(model) -> int:
    return int(model.size)


def steerable_node(model, image: Any, pixel: tuple[int, int], field: int = 0) -> SteerableNode:
    """The first steerable convolution's fields at ``pixel`` ((row, col) on its size x size grid, 29 x 29 for
    MNIST) for ``image`` and, at the turned pixel, for ``image`` turned by 90 degrees counter-clockwise
    (``torch.rot90``, exact on the grid). ``UserInputError`` for a model that is not an EscnnNet, a pixel off the
    grid, or a group without the quarter turn (C_N, D_N with N not a multiple of 4). ``maps`` / ``turned_maps``
    hold field ``field``'s channels over the grid."""
    from core.models.escnn_net.groups import escnn_element_of

    if not is_steerable(model):
        raise UserInputError("model", f"a steerable (escnn) net is needed, not {type(model).__name__}")
    size = conv_grid_size(model)
    r, c = (int(v) if not isinstance(v, bool) and isinstance(v, (int, np.integer)) else -1 for v in pixel)
    if not (0 <= r < size and 0 <= c < size):
        raise UserInputError("pixel", f"must be a (row, col) on the {size} x {size} grid, got {tuple(pixel)!r}")
    x = _as_image(image)
    was_training = model.training
    model.eval()
    try:
        out, ftype = _conv_output(model, x)
        turned_out, _ = _conv_output(model, torch.rot90(x, 1, dims=(-2, -1)))
    finally:
        model.train(was_training)
    g = escnn_element_of(ftype.gspace, TURN, False)
    if g is None:
        raise UserInputError(
            "group", f"{model.schedule[0]} has no quarter turn: its fields are not defined for a 90-degree turn"
        )
    fsize = ftype.representations[0].size
    rho = np.asarray(ftype.representations[0](g), dtype=np.float64)  # (fsize, fsize)
    perm = None
    rounded = np.rint(rho)
    one_per_column = ((rounded == 1).sum(axis=0) == 1).all() and np.abs(rounded).sum() == fsize
    if np.allclose(rho, rounded, atol=1e-9) and one_per_column:
        perm = tuple(int(np.flatnonzero(rounded[:, i])[0]) for i in range(fsize))  # rho[p[i], i] = 1
    tr, tc = turned_position((r, c), size)
    fields = out.shape[0] // fsize
    if isinstance(field, bool) or not isinstance(field, (int, np.integer)) or not 0 <= int(field) < fields:
        raise UserInputError("field", f"must be a field between 0 and {fields - 1}, got {field!r}")
    f0 = int(field) * fsize
    return SteerableNode(
        group=str(model.schedule[0]),
        size=size,
        pixel=(r, c),
        turned_pixel=(tr, tc),
        field_size=fsize,
        channels=out[:, r, c].numpy().reshape(fields, fsize),
        turned_channels=turned_out[:, tr, tc].numpy().reshape(fields, fsize),
        representation=rho,
        permutation=perm,
        maps=out[f0 : f0 + fsize].numpy(),
        turned_maps=turned_out[f0 : f0 + fsize].numpy(),
    )
