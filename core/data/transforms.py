"""Image rotations shared by the data sets (MNIST-rot) and the equivariance checks.

Convention: a positive angle turns the image **counter-clockwise as displayed** (row 0 at the
top, as ``imshow`` draws it), about the image centre (pixel ``((H-1)/2, (W-1)/2)``).
``rotate(x, 90)`` equals ``torch.rot90(x, 1, dims=(-2, -1))``: the top-right corner moves to the
top-left.

Multiples of 90 degrees on square images use ``torch.rot90`` (exact, a pure permutation of
pixels). Other angles use bilinear interpolation (``F.affine_grid`` + ``F.grid_sample``,
``align_corners=False``) with zero padding, so content rotated past the border is lost and the
corners that come in from outside are black. Both paths turn the same way; the tests check it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.errors import UserInputError

Angle = float | int | torch.Tensor

_EXACT_ATOL_DEG = 1e-9  # an angle this close to a multiple of 90 degrees takes the rot90 path


def rotate_exact_ok(angle: float) -> bool:
    """True when ``angle`` (degrees) is a multiple of 90, so ``torch.rot90`` rotates exactly."""
    a = float(angle)
    return math.isfinite(a) and abs(a / 90.0 - round(a / 90.0)) * 90.0 <= _EXACT_ATOL_DEG


def rotate(images: torch.Tensor, angle_deg: Angle, *, exact: bool = True) -> torch.Tensor:
    """Rotate images counter-clockwise by ``angle_deg`` degrees about their centre.

    Args:
        images: ``(B, H, W)`` or ``(B, C, H, W)``. Interpolated angles need a floating dtype.
        angle_deg: one angle for the whole batch, or a ``(B,)`` tensor with one angle per image.
        exact: use ``torch.rot90`` for multiples of 90 degrees (square images only). ``False``
            forces bilinear interpolation for every angle (used to test that both paths agree).

    Returns:
        A tensor of the same shape and dtype as ``images``.
    """
    x = _as_bchw(images)  # (B, C, H, W)
    angles = _angles(angle_deg, x.shape[0])  # (B,) float64
    square = x.shape[-1] == x.shape[-2]
    use_rot90 = torch.tensor(
        [exact and square and rotate_exact_ok(a) for a in angles.tolist()], dtype=torch.bool
    )  # (B,) on the CPU, like ``angles``
    out = torch.empty_like(x)  # (B, C, H, W)
    for k in range(4):
        sel = use_rot90 & (torch.remainder(torch.round(angles / 90.0), 4) == k)  # (B,)
        if sel.any():
            idx = sel.nonzero().squeeze(1).to(x.device)  # (b,)
            out[idx] = torch.rot90(x[idx], k, dims=(-2, -1))
    if (~use_rot90).any():
        idx = (~use_rot90).nonzero().squeeze(1)  # (b,)
        out[idx.to(x.device)] = _rotate_bilinear(x[idx.to(x.device)], angles[idx])
    return out.reshape(images.shape)


def _as_bchw(images: torch.Tensor) -> torch.Tensor:
    """View ``(B, H, W)`` as ``(B, 1, H, W)``; pass ``(B, C, H, W)`` through."""
    if not isinstance(images, torch.Tensor) or images.dim() not in (3, 4):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UserInputError("images", f"expected a (B, H, W) or (B, C, H, W) tensor, got {shape}")
    return images.unsqueeze(1) if images.dim() == 3 else images


def _angles(angle_deg: Angle, batch: int) -> torch.Tensor:
    """One float64 angle per image, validated: ``(B,)``."""
    a = torch.as_tensor(angle_deg, dtype=torch.float64).detach().cpu()
    if a.dim() == 0:
        a = a.expand(batch)
    if a.shape != (batch,):
        raise UserInputError("angle_deg", f"expected a number or a ({batch},) tensor, got shape {tuple(a.shape)}")
    if not torch.isfinite(a).all():
        raise UserInputError("angle_deg", "angles must be finite numbers of degrees")
    return a


def _rotate_bilinear(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Bilinear rotation with zero padding. ``x``: (B, C, H, W); ``angles``: (B,) degrees."""
    if not x.is_floating_point():
        raise UserInputError("images", f"interpolated rotation needs float images, got {x.dtype}")
    h, w = x.shape[-2:]
    t = torch.deg2rad(angles)  # (B,)
    cos, sin = torch.cos(t), torch.sin(t)
    # affine_grid maps each output location (x=col, y=row, normalised to [-1, 1]) to the input
    # location it samples. For a counter-clockwise turn as displayed (y pointing down), the output
    # pixel at p samples the input at R(theta) p in pixel units, R = [[cos, -sin], [sin, cos]];
    # the h/w factors convert between the two normalised axes on non-square images.
    zero = torch.zeros_like(cos)
    theta = torch.stack(
        [
            torch.stack([cos, -sin * h / w, zero], dim=-1),
            torch.stack([sin * w / h, cos, zero], dim=-1),
        ],
        dim=1,
    ).to(device=x.device, dtype=x.dtype)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RandomRotation:
    """Training-time augmentation: turn every image of a batch by its own uniform random angle.

    Angles are drawn in [0, ``max_degrees``) from a private, seeded generator (so runs repeat and the
    global RNG is untouched) and applied with :func:`rotate` (bilinear; multiples of 90 exact).
    ``x``: (B, C, H, W) or (B, H, W) on any device -> the same shape.
    """

    def __init__(self, seed: int = 0, max_degrees: float = 360.0):
        self.max_degrees = float(max_degrees)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        angles = torch.rand(x.shape[0], generator=self.generator, dtype=torch.float64) * self.max_degrees  # (B,)
        return rotate(x, angles)

    def __repr__(self) -> str:
        return f"RandomRotation(max_degrees={self.max_degrees:g})"
