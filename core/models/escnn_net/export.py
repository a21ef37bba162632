"""Plain-torch modules: the two an :class:`~core.models.escnn_net.net.EscnnNet` shares with its exported twin
(``ResampleOdd``, ``RingPool``), the twins of the escnn modules that have no ``.export()`` of their own, and
``ExportedEscnnNet``, the escnn-free model ``EscnnNet.export()`` returns.

No escnn import at module level (``export_module`` imports it to recognise escnn's modules).
"""

from __future__ import annotations

import itertools
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from core.models.base import ImageModel

RING_EDGES = (0.46, 0.75, 1.03)  # ring boundaries as fractions of the map's half-width (S - 1) / 2


class ResampleOdd(nn.Module):
    """Bilinear, align_corners=True resize of an even-sized (H, W) to the next odd size (centre-preserving)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % 2 == 1 and w % 2 == 1:
            return x
        size = (h + 1 - h % 2, w + 1 - w % 2)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def ring_weights(size: int, edges=RING_EDGES) -> torch.Tensor:
    """(R, S, S) averaging weights: ring r holds the pixels whose distance to the centre lies in
    [e_r, e_{r+1}) * (S - 1) / 2 (the last ring reaches the corners); each ring's weights sum to 1."""
    c = (size - 1) / 2
    ii, jj = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    r = ((ii - c) ** 2 + (jj - c) ** 2).sqrt() / max(c, 0.5)
    bounds = (0.0, *edges, float("inf"))
    masks = torch.stack([((r >= a) & (r < b)).double() for a, b in itertools.pairwise(bounds)])
    masks = masks[masks.sum(dim=(1, 2)) > 0]  # tiny maps: drop empty rings
    return (masks / masks.sum(dim=(1, 2), keepdim=True)).float()


class RingPool(nn.Module):
    """(B, F, S, S) -> (B, F * R): the mean of each map over R concentric rings (field-major order)."""

    weights: torch.Tensor  # (R, S, S) buffer (register_buffer sets it; declared for type checkers)

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("weights", ring_weights(size))

    @property
    def rings(self) -> int:
        return int(self.weights.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bfhw,rhw->bfr", x, self.weights).flatten(1)


# ----------------------------------------------------------------------------------------------
# plain-torch twins of escnn modules that have no (escnn-free) .export()


class _Mask(nn.Module):
    mask: torch.Tensor  # buffer

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class _BlurPool(nn.Module):
    """Plain version of escnn's PointwiseAvgPoolAntialiased2D (depthwise Gaussian blur, strided)."""

    filter: torch.Tensor  # buffer

    def __init__(self, filt: torch.Tensor, stride, padding):
        super().__init__()
        self.register_buffer("filter", filt.detach().clone())
        self.stride, self.padding = tuple(stride), tuple(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.filter, stride=self.stride, padding=self.padding, groups=x.shape[1])


class _FourierReLU(nn.Module):
    """Plain version of escnn's FourierPointwise with ReLU (same in/out band limit)."""

    A: torch.Tensor  # buffers
    Ainv: torch.Tensor

    def __init__(self, A: torch.Tensor, Ainv: torch.Tensor, field_size: int):
        super().__init__()
        self.register_buffer("A", A.detach().clone())
        self.register_buffer("Ainv", Ainv.detach().clone())
        self.field_size = field_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        xh = x.view(b, c // self.field_size, self.field_size, *x.shape[2:])
        y = torch.relu(torch.einsum("bcf...,gf->bcg...", xh, self.A))
        return torch.einsum("bcg...,fg->bcf...", y, self.Ainv).reshape(b, -1, *x.shape[2:])


class _FieldNorm(nn.Module):
    """Plain version of escnn's NormPool for fields of equal size: the L2 norm of each field."""

    def __init__(self, field_size: int):
        super().__init__()
        self.field_size = field_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        return x.view(b, c // self.field_size, self.field_size, *x.shape[2:]).norm(dim=2)


class _GroupMax(nn.Module):
    """Plain version of escnn's GroupPooling for fields of equal size: the max over each field.

    The same function as escnn's ``MaxPoolChannels(field_size)``, which ``GroupPooling.export()`` returns (escnn
    1.0.11), but that class is defined in escnn (``escnn.nn.modules.invariantmaps.gpool``): reusing it would put an
    escnn module back into the twin, which holds none so that it runs without escnn (the export tests check this).
    escnn's ``NormMaxPool`` is a different function (a spatial max pool of the field norms).
    """

    def __init__(self, field_size: int):
        super().__init__()
        self.field_size = field_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        return x.view(b, c // self.field_size, self.field_size, *x.shape[2:]).amax(dim=2)


class SteerableConv2d(nn.Conv2d):
    """escnn's ``R2Conv`` exported: a plain ``Conv2d`` holding the expanded filter (C_out, C_in, k, k), which also
    keeps the filter's factors, as escnn builds it from them: the learned basis coefficients (F_out, F_in, K) of
    each pair of fields and the sampled steerable basis (K, o, i, k*k) of fields of sizes o and i:

        weight[p*o + a, q*i + c] = sum_b coefficients[p, q, b] * basis[b, a, c]     (reshaped to k x k)

    ``compact()`` makes ``forward`` expand the filter from its factors: what an ONNX export then stores is many
    times smaller (a C8 net's 4.7 M filter values are 0.27 M coefficients and 3 bases of 0.14 M), and onnxruntime
    folds the expansion once when it loads the file. The same numbers up to float rounding."""

    coefficients: torch.Tensor  # buffers (not saved: the twin is rebuilt from the escnn net)
    basis: torch.Tensor

    def __init__(self, conv: nn.Conv2d, coefficients: torch.Tensor, basis: torch.Tensor):
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]  # a tuple, as Conv2d takes it
            conv.stride,  # type: ignore[arg-type]
            conv.padding,  # type: ignore[arg-type]
            conv.dilation,  # type: ignore[arg-type]
            conv.groups,
            conv.bias is not None,
        )
        self.load_state_dict(conv.state_dict())
        self.register_buffer("coefficients", coefficients.detach().clone(), persistent=False)
        self.register_buffer("basis", basis.detach().clone(), persistent=False)
        self.from_factors = False

    def expanded(self) -> torch.Tensor:
        """The filter (C_out, C_in, k, k) from its factors."""
        p, q, _ = self.coefficients.shape
        _, o, i, _ = self.basis.shape
        w = torch.einsum("pqb,baci->paqci", self.coefficients, self.basis)  # (F_out, o, F_in, i, k*k)
        return w.reshape(p * o, q * i, *self.kernel_size)

    def compact(self) -> None:
        """Expand the filter from its factors in every forward from now on (for an export)."""
        self.from_factors = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.from_factors:
            return super().forward(x)
        return self._conv_forward(x, self.expanded(), self.bias)


def steerable_conv(m) -> nn.Module:
    """escnn ``R2Conv`` -> a :class:`SteerableConv2d` with its filter's factors, when its filter is one block of
    fields (one field type in, one out: every net here) and the factors give back escnn's filter; else escnn's own
    ``Conv2d`` (``R2Conv.export``)."""
    conv = m.export()
    expansion = m.basisexpansion
    try:  # escnn 1.0.11's BlocksBasisExpansion keeps one basis per pair of field types
        if expansion._n_pairs != 1:
            return conv
        pair = expansion._representations_pairs[0]
        basis = getattr(expansion, f"block_expansion_{expansion._escape_pair(pair)}").sampled_basis  # (K, o, i, S)
        k, o, i, _ = basis.shape
        coefficients = m.weights.detach().reshape(m.out_type.size // o, m.in_type.size // i, k)
    except (AttributeError, RuntimeError, ValueError):
        return conv
    twin = SteerableConv2d(conv, coefficients, basis)
    with torch.no_grad():
        again = twin.expanded()
    same = again.shape == conv.weight.shape and torch.allclose(again, conv.weight, rtol=1e-5, atol=1e-7)
    return twin if same else conv


def export_module(m: nn.Module) -> nn.Module:
    """escnn EquivariantModule -> plain torch module computing the same function in eval mode."""
    from escnn import nn as enn

    if isinstance(m, enn.SequentialModule):
        return nn.Sequential(*[export_module(s) for s in m._modules.values()])
    if isinstance(m, enn.MaskModule):
        return _Mask(m.mask.data)
    if isinstance(m, enn.PointwiseAvgPoolAntialiased2D):
        return _BlurPool(m.filter, m.stride, m.padding)
    if isinstance(m, enn.FourierPointwise):
        return _FourierReLU(m.A, m.Ainv, m.rho.size)
    if isinstance(m, enn.NormPool):
        return _FieldNorm(m.in_type.representations[0].size)
    if isinstance(m, enn.GroupPooling):
        return _GroupMax(m.in_type.representations[0].size)
    if isinstance(m, enn.R2Conv):
        return steerable_conv(m)
    return m.export()  # type: ignore[operator]  # escnn's modules export(); escnn ships no type information


class ExportedEscnnNet(ImageModel):
    """The pure-torch twin of an ``EscnnNet`` (eval-mode function, no escnn in the forward)."""

    def __init__(self, body: nn.Module, head: nn.Module, pool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.resample = ResampleOdd()
        self.body, self.head = body, head
        self.pool = pool
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.body(self.resample(x))))

    def prepare_export(self) -> None:
        for m in self.modules():  # a narrow block's filter can be smaller than its basis: it stays expanded
            if isinstance(m, SteerableConv2d) and m.coefficients.numel() + m.basis.numel() < m.weight.numel():
                m.compact()

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and each block's output, (B, C_l, h_l, w_l): every field's group channels (15, 8, 8 pixels a side
        for a 29 x 29 resampled digit)."""
        found, h = [], self.resample(x)
        for block in cast(nn.Sequential, self.body):
            h = block(h)
            found.append(h)
        return self.classifier(self.pool(self.head(h))), found
