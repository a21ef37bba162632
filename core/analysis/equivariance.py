"""Equivariance measurements for any image model. Every function RETURNS numbers; none asserts.

Group elements
    A group name (``"C4"``, ``"D4"``, ``"SO2"``..., see ``core.models.escnn_net.groups.parse_group``) stands for
    the elements measured: ``CN`` -> the rotations by ``360 k / N`` degrees, named ``"r0"``, ``"r90"``,
    ``"r22.5"``...; ``DN`` -> those rotations plus the mirrored ones, named ``"f r0"``, ``"f r90"``...;
    ``SO2`` -> rotations every 15 degrees (24 samples). ``"f rA"`` means: mirror left-right
    (``torch.flip(x, dims=[-1])``), then rotate by A degrees counter-clockwise (``core.data.transforms.rotate``).
    This matches escnn's element ``(flip=1, rotation=A)`` of ``flipRot2dOnR2`` (checked by the tests).
    An element is *exact on the grid* when its rotation is a multiple of 90 degrees: the pixel grid is
    then mapped onto itself (``torch.rot90``), while other angles need interpolation, which by itself
    breaks exact invariance.

Relative error
    For one image, ``||a - b|| / ||b||`` (``b`` is the reference); the functions report the mean over
    the images. Feature maps are compared inside the disk inscribed in the map (pixel centres within
    ``(S - 1) / 2`` of the centre), because a rotation by a non-multiple of 90 degrees moves the
    corners of a square map out of the grid.

Functions
    ``accuracy_by_angle(model, images, labels)`` -> ``{angle: accuracy}``
    ``logit_invariance_error(model, images, group)`` -> ``{element: {"angle", "flip", "exact", "error", "agree"}}``
    ``layer_equivariance_error(model, images, group)`` -> ``{layer: {element: error}}``, each layer named as people
    say it ("steerable conv 1", "pool 2", "group pool": ``core.models.layer_names``)
    ``feature_maps(model, image, element)`` -> :class:`FeatureMaps` (rotated-input map, transformed map)

The model is put in eval mode (and moved to ``device``) for the measurement and restored afterwards.
Images may be ``(n, H, W)`` or ``(n, 1, H, W)``, torch or NumPy, float in [0, 1] (uint8 is divided by 255).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import torch
from torch import nn

from core.errors import UserInputError

DEFAULT_ANGLES = tuple(range(0, 360, 15))
SO2_STEP_DEG = 15.0  # sampling of SO(2) for the group "SO2"
_EPS = 1e-12

ArrayLike = torch.Tensor | np.ndarray


# ----------------------------------------------------------------------------------------------
# group elements


def exact_on_grid(angle: float) -> bool:
    """True when a rotation by ``angle`` degrees maps the square pixel grid onto itself (a multiple of 90)."""
    from core.data.transforms import rotate_exact_ok

    return rotate_exact_ok(angle)


def _fmt_angle(angle: float) -> str:
    return f"{round(angle, 6):g}"


@dataclass(frozen=True)
class Element:
    """A rotation by ``angle`` degrees (counter-clockwise), preceded by a left-right mirror if ``flip``."""

    angle: float
    flip: bool = False

    @property
    def name(self) -> str:
        return ("f " if self.flip else "") + "r" + _fmt_angle(self.angle)

    @property
    def exact(self) -> bool:
        return exact_on_grid(self.angle)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Transform images / feature maps ``(B, C, H, W)`` spatially (no channel transform)."""
        from core.data.transforms import rotate

        if self.flip:
            x = torch.flip(x, dims=[-1])
        if self.angle % 360 == 0:
            return x
        return rotate(x, self.angle)


def group_elements(group: str) -> list[Element]:
    """The elements measured for ``group`` (see the module docstring), identity first; for a group schedule
    (``"D16,D16,C16"``) those of its first, largest group."""
    from core.models.escnn_net.groups import parse_group, parse_schedule

    kind, n = parse_group(parse_schedule(group)[0])
    if kind == "SO2":
        angles = [k * SO2_STEP_DEG for k in range(round(360 / SO2_STEP_DEG))]
    else:
        angles = [360.0 * k / n for k in range(n)]
    els = [Element(a) for a in angles]
    if kind == "D":
        els += [Element(a, True) for a in angles]
    return els


def parse_element(element: str | float | int | Element) -> Element:
    """``"r90"`` / ``"f r45"`` / ``90`` / an :class:`Element` -> :class:`Element`."""
    if isinstance(element, Element):
        return element
    if isinstance(element, (int, float)) and not isinstance(element, bool):
        return Element(float(element) % 360.0)
    if isinstance(element, str):
        s = element.strip().lower()
        flip = s.startswith("f")
        if flip:
            s = s[1:].strip()
        if s.startswith("r"):
            s = s[1:]
        try:
            return Element(float(s) % 360.0, flip)
        except ValueError:
            pass
    raise UserInputError("element", f"cannot read group element {element!r} (expected e.g. 'r90' or 'f r90')")


# ----------------------------------------------------------------------------------------------
# helpers


def _as_images(images: ArrayLike) -> torch.Tensor:
    """(n, H, W) / (n, 1, H, W), torch or numpy -> float32 (n, 1, H, W)."""
    x = torch.as_tensor(images)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise UserInputError("images", f"expected (n, H, W) or (n, 1, H, W) images, got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    return x.float()


@contextlib.contextmanager
def _evaluating(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """Eval mode (and ``device``) for the duration; the previous mode and device are restored."""
    was_training = model.training
    params = list(model.parameters()) + list(model.buffers())
    old_device = params[0].device if params else torch.device("cpu")
    dev = torch.device(device) if device is not None else old_device
    if dev != old_device:
        model.to(dev)
    model.eval()
    try:
        with torch.no_grad():
            yield dev
    finally:
        model.train(was_training)
        if dev != old_device:
            model.to(old_device)


def _batches(n: int, batch_size: int) -> Iterable[slice]:
    batch_size = max(1, int(batch_size))
    for i in range(0, n, batch_size):
        yield slice(i, min(n, i + batch_size))


def _rel_err(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample ``||a - b|| / ||b||`` (B,), optionally restricted to ``mask`` (H, W)."""
    if mask is not None:
        a, b = a * mask, b * mask
    num = (a - b).flatten(1).norm(dim=1)
    den = b.flatten(1).norm(dim=1).clamp_min(_EPS)
    return num / den


def _disk(h: int, w: int, device) -> torch.Tensor:
    ci, cj = (h - 1) / 2, (w - 1) / 2
    ii = torch.arange(h, dtype=torch.float64).view(-1, 1)
    jj = torch.arange(w, dtype=torch.float64).view(1, -1)
    r = min(ci, cj) + 1e-9
    return (((ii - ci) ** 2 + (jj - cj) ** 2) <= r * r).to(device=device, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------
# accuracy and logits


def accuracy_by_angle(
    model: nn.Module,
    images: ArrayLike,
    labels: ArrayLike,
    angles: Iterable[float] = DEFAULT_ANGLES,
    batch_size: int = 256,
    device: str | torch.device | None = "cpu",
    progress: Callable[[float], None] | None = None,
) -> dict[float, float]:
    """Accuracy of ``model`` on ``images`` rotated by each angle (degrees, counter-clockwise).

    Returns ``{angle: accuracy in [0, 1]}`` in the order of ``angles``. ``progress(fraction)`` is called
    after each angle if given. Works for any model mapping (B, 1, H, W) to logits.
    """
    from core.data.transforms import rotate

    x = _as_images(images)
    y = torch.as_tensor(labels).long().view(-1)
    if y.shape[0] != x.shape[0]:
        raise UserInputError("labels", f"{y.shape[0]} labels for {x.shape[0]} images")
    angles = [float(a) for a in angles]
    out: dict[float, float] = {}
    with _evaluating(model, device) as dev:
        for i, a in enumerate(angles):
            correct = 0
            for sl in _batches(x.shape[0], batch_size):
                xb = x[sl].to(dev)
                xb = rotate(xb, a) if a % 360 != 0 else xb
                correct += (model(xb).argmax(dim=1).cpu() == y[sl]).sum().item()
            out[a] = correct / max(1, x.shape[0])
            if progress is not None:
                progress((i + 1) / len(angles))
    return out


def logit_invariance_error(
    model: nn.Module,
    images: ArrayLike,
    group: str = "C4",
    batch_size: int = 256,
    device: str | torch.device | None = "cpu",
) -> dict[str, dict[str, Any]]:
    """How far the logits move when the input is transformed by each element of ``group``.

    Returns ``{element name: {"angle": float, "flip": bool, "exact": bool, "error": float, "agree": float}}``
    in group order (identity first): ``error`` is the mean over images of
    ``||f(g x) - f(x)|| / ||f(x)||``; ``agree`` the fraction of images whose predicted class is unchanged;
    ``exact`` whether the transform is exact on the pixel grid (a multiple of 90 degrees). An invariant
    model has error ~1e-7 on exact elements; on the others interpolation alone causes some error.
    """
    x = _as_images(images)
    elements = group_elements(group)
    errs: dict[str, list[torch.Tensor]] = {e.name: [] for e in elements}
    agree = {e.name: 0 for e in elements}
    with _evaluating(model, device) as dev:
        for sl in _batches(x.shape[0], batch_size):
            xb = x[sl].to(dev)
            ref = model(xb).float()
            pred = ref.argmax(dim=1)
            for e in elements:
                out = ref if (e.angle % 360 == 0 and not e.flip) else model(e.apply(xb)).float()
                errs[e.name].append(_rel_err(out, ref).cpu())
                agree[e.name] += (out.argmax(dim=1) == pred).sum().item()
    n = max(1, x.shape[0])
    return {
        e.name: {
            "angle": e.angle,
            "flip": e.flip,
            "exact": e.exact,
            "error": float(torch.cat(errs[e.name]).mean()) if x.shape[0] else 0.0,
            "agree": agree[e.name] / n,
        }
        for e in elements
    }


# ----------------------------------------------------------------------------------------------
# per-layer equivariance


def _is_escnn_model(model: nn.Module) -> bool:
    return any(type(m).__module__.startswith("escnn.") for m in model.modules())


class _Layer(NamedTuple):
    name: str  # readable key: "steerable conv 1", "pool 2", "group pool" (core.models.layer_names)
    module: nn.Module
    escnn: bool  # outputs a GeometricTensor


def _layers(model: nn.Module) -> list[_Layer]:
    """The modules whose outputs are compared, in forward (registration) order, named as people say them.

    escnn models: the innermost escnn modules (R2Conv, batch norm, nonlinearity, pooling, group pooling...).
    Other models: leaf modules (no children); only those that output (B, C, H, W) maps are reported.
    """
    picked: list[tuple[str, nn.Module, bool]] = []
    if _is_escnn_model(model):
        from escnn import nn as enn

        for path, m in model.named_modules():
            if not isinstance(m, enn.EquivariantModule) or isinstance(m, enn.SequentialModule):
                continue
            if any(isinstance(c, enn.EquivariantModule) for c in m.children()):
                continue
            picked.append((path, m, True))
    else:
        for path, m in model.named_modules():
            if path and not any(True for _ in m.children()):
                picked.append((path, m, False))
    names = _readable(model, [(path, m) for path, m, _ in picked])
    return [_Layer(names[path], m, escnn) for path, m, escnn in picked]


def _readable(model: nn.Module, picked: list[tuple[str, nn.Module]]) -> dict[str, str]:
    """``{path: readable name}`` for the modules ``picked``: ``layer_names(model)``'s ("conv 1", "round mask 1",
    "steerable conv 1", "pool 1", "group pool"); a restriction says to which subgroup ("restriction to C4"); any other
    kind is numbered in forward order ("layer 3"). The names are unique (they key the results)."""
    from core.models.layer_names import kind_of, layer_names

    known = layer_names(model)
    out: dict[str, str] = {}
    counts: dict[str, int] = {}
    for path, m in picked:
        name = known.get(path)
        if name is None:
            counts["layer"] = counts.get("layer", 0) + 1
            name = f"layer {counts['layer']}"
        elif kind_of(m) == "restriction":
            group = getattr(getattr(getattr(m, "out_type", None), "gspace", None), "fibergroup", None)
            name = f"restriction to {group.name}" if group is not None else name
        while name in out.values():  # never two layers under one name
            name += "\u2032"
        out[path] = name
    return out


def _is_conv(module: nn.Module) -> bool:
    from core.models.layer_names import kind_of

    return kind_of(module) in ("conv", "steerable conv")


def _capture(model: nn.Module, layers: list[_Layer], x: torch.Tensor) -> dict[str, tuple[torch.Tensor, Any]]:
    """Run ``model(x)`` and return ``{layer: (output tensor, escnn FieldType or None)}`` for 4-D outputs."""
    store: dict[str, tuple[torch.Tensor, Any]] = {}
    handles = []

    def hook_for(layer: _Layer):
        def hook(_m, _inp, out):
            if layer.escnn:
                t, ftype = out.tensor, out.type
            elif isinstance(out, torch.Tensor):
                t, ftype = out, None
            else:
                return
            if t.dim() == 4:  # clone: in-place activations would overwrite it
                store[layer.name] = (t.detach().clone(), ftype)

        return hook

    for layer in layers:
        handles.append(layer.module.register_forward_hook(hook_for(layer)))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return store


def _transform_map(t: torch.Tensor, ftype, e: Element) -> torch.Tensor | None:
    """g acting on a feature map: spatially (flip, rotate) and, for escnn fields, on the channels (with the
    layer's own group: past a restriction, a subgroup of the model's). None when g is not in that group."""
    from core.models.escnn_net.groups import escnn_element_of

    out = e.apply(t)
    if ftype is not None:
        g = escnn_element_of(ftype.gspace, e.angle, e.flip)
        if g is None:
            return None
        out = ftype.transform_fibers(out, g)
    return out


def _pool_fields(t: torch.Tensor, ftype) -> torch.Tensor | None:
    """(B, C, H, W) -> (B, F, H, W): the max over each field's channels (a map no group element permutes), or
    None when the fields differ in size or are not permutation (regular-like) fields."""
    sizes = {r.size for r in ftype.representations}
    if len(sizes) != 1 or ftype.gspace.fibergroup.continuous:
        return None
    size = sizes.pop()
    return t.view(t.shape[0], t.shape[1] // size, size, *t.shape[2:]).amax(dim=2)


def layer_equivariance_error(
    model: nn.Module,
    images: ArrayLike,
    group: str = "C4",
    batch_size: int = 64,
    device: str | torch.device | None = "cpu",
) -> dict[str, dict[str, float]]:
    """Per-layer equivariance error: ``{layer: {element name: mean relative error}}``.

    For each element g and each layer L: ``L(g x)`` against ``g . L(x)``, compared inside the inscribed
    disk. For escnn models ``g . L(x)`` also transforms the channels (``FieldType.transform_fibers``, i.e.
    the field representation: a cyclic shift of a regular field, a rotation of a Fourier field...), so a
    steerable net gives ~1e-7 on exact elements; an element outside the model's group (e.g. a flip for a
    CN model) gives ``nan``. Past a group restriction (a schedule such as ``D16,D16,C16``) a layer's fields
    belong to the subgroup; for an element outside it, the layer is compared on its fields' maxima
    (``max`` over each field's channels, which no element of the field's own group changes): exact up to
    and including the restriction, growing after it. For other models (plain CNNs) the map is only moved spatially,
    channels unpermuted, which is what "equivariant" would mean for a network without field types; a trained or
    random CNN gives large errors. Layers whose outputs are not (B, C, H, W) maps (e.g. Linear, graph
    layers) are left out, so a model without any conv feature maps yields ``{}``.
    """
    from core.models.escnn_net.groups import escnn_element_of

    x = _as_images(images)
    elements = group_elements(group)
    layers = _layers(model)
    # an escnn module's input field type (escnn ships no types, so the module is read as Any)
    gspace = next((cast(Any, layer.module).in_type.gspace for layer in layers if layer.escnn), None)
    sums: dict[str, dict[str, float]] = {}
    order: list[str] = []
    n = 0
    with _evaluating(model, device) as dev:
        for sl in _batches(x.shape[0], batch_size):
            xb = x[sl].to(dev)
            ref = _capture(model, layers, xb)
            for name in ref:
                if name not in sums:
                    order.append(name)
                    sums[name] = {e.name: 0.0 for e in elements}
            for e in elements:
                moved = _capture(model, layers, e.apply(xb))
                for name, (t, ftype) in ref.items():
                    if name not in moved or moved[name][0].shape != t.shape:
                        sums[name][e.name] = float("nan")
                        continue
                    target, got = _transform_map(t, ftype, e), moved[name][0]
                    if target is None and ftype is not None and escnn_element_of(gspace, e.angle, e.flip) is not None:
                        # an element of the model's group, not of this layer's: both maps pooled (or neither: the
                        # fields decide, and t and got have the same field type)
                        pooled, pooled_got = _pool_fields(t, ftype), _pool_fields(got, ftype)
                        if pooled is not None and pooled_got is not None:
                            target, got = e.apply(pooled), pooled_got
                    if target is None:
                        sums[name][e.name] = float("nan")
                        continue
                    mask = _disk(t.shape[-2], t.shape[-1], t.device)
                    sums[name][e.name] += float(_rel_err(got, target, mask).sum())
            n += xb.shape[0]
    return {name: {k: v / max(1, n) for k, v in sums[name].items()} for name in order}


class FeatureMaps(NamedTuple):
    """One layer's response for the UI, each (C, h, w) on the CPU.

    ``of_rotated``: the layer's output for the transformed image, ``L(g x)``;
    ``transformed``: the transformed output of the original image, ``g . L(x)``; equal for an
    equivariant layer. ``field_size``: channels per field (1 for plain CNNs), e.g. to lay fields out in
    rows; ``error``: their relative difference (inside the inscribed disk); ``image``: the transformed input
    ``g x``, (H, W).
    """

    of_rotated: torch.Tensor
    transformed: torch.Tensor
    layer: str
    field_size: int
    error: float
    image: torch.Tensor


def feature_maps(
    model: nn.Module,
    image: ArrayLike,
    element: str | float | Element = "r90",
    layer: str | None = None,
    device: str | torch.device | None = "cpu",
) -> FeatureMaps:
    """Side-by-side maps for one digit: ``L(g x)`` and ``g . L(x)`` for the first conv layer (or ``layer``,
    a key of :func:`layer_equivariance_error`). ``image``: (H, W), (1, H, W) or (1, 1, H, W)."""
    x = _as_images(torch.as_tensor(image).reshape(1, 1, *torch.as_tensor(image).shape[-2:]))
    e = parse_element(element)
    layers = _layers(model)
    if not layers:
        raise UserInputError("model", "the model has no layers to show")
    with _evaluating(model, device) as dev:
        xb = x.to(dev)
        ref = _capture(model, layers, xb)
        turned = e.apply(xb)  # (1, 1, H, W)
        moved = _capture(model, layers, turned)
    if not ref:
        raise UserInputError("model", "the model has no (B, C, H, W) feature maps to show")
    if layer is None:  # the first convolution (plain or steerable), else the first map
        convs = [lay.name for lay in layers if lay.name in ref and _is_conv(lay.module)]
        layer = convs[0] if convs else next(iter(ref))
    if layer not in ref:
        raise UserInputError("layer", f"unknown layer {layer!r} (choose from {', '.join(ref)})")
    t, ftype = ref[layer]
    target = _transform_map(t, ftype, e)
    if target is None:
        raise UserInputError("element", f"{e.name} is not in the model's group")
    field = (
        ftype.representations[0].size if ftype is not None and len({r.size for r in ftype.representations}) == 1 else 1
    )
    mask = _disk(t.shape[-2], t.shape[-1], t.device)
    err = float(_rel_err(moved[layer][0], target, mask)[0])
    return FeatureMaps(moved[layer][0][0].cpu(), target[0].cpu(), layer, field, err, turned[0, 0].cpu())
