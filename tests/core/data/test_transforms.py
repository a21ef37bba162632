"""core.data.transforms.rotate: exact quarter turns, bilinear angles, and one shared direction."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import UserInputError
from core.data.transforms import RandomRotation, rotate, rotate_exact_ok


def _smooth_images(b: int = 3, size: int = 28) -> torch.Tensor:
    """Low-frequency images in [0, 1], so bilinear resampling error stays small: (B, H, W)."""
    g = torch.Generator().manual_seed(0)
    c = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")  # (H, W)
    out = []
    for _ in range(b):
        fx, fy, ph = (torch.rand(3, generator=g) * torch.tensor([0.25, 0.25, 6.28])).tolist()
        blob = torch.exp(-(xx**2 + yy**2) / 60.0)
        out.append(0.5 * blob + 0.25 * (1 + torch.sin(fx * xx + fy * yy + ph)) * blob)
    return torch.stack(out)  # (B, H, W)


def _disk(size: int, radius: float) -> torch.Tensor:
    c = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return (xx**2 + yy**2) <= radius**2  # (H, W) bool


def test_rotate_exact_ok() -> None:
    assert rotate_exact_ok(0) and rotate_exact_ok(90) and rotate_exact_ok(-270) and rotate_exact_ok(720.0)
    assert not rotate_exact_ok(45) and not rotate_exact_ok(90.0000001) and not rotate_exact_ok(math.nan)


def test_multiples_of_90_are_rot90_exactly() -> None:
    x = torch.rand(4, 28, 28)  # (B, H, W)
    for angle, k in [(0, 0), (90, 1), (180, 2), (270, 3), (-90, 3), (450, 1)]:
        assert torch.equal(rotate(x, angle), torch.rot90(x, k, dims=(-2, -1)))


def test_four_quarter_turns_are_identity() -> None:
    x = torch.rand(2, 3, 16, 16)  # (B, C, H, W)
    y = x
    for _ in range(4):
        y = rotate(y, 90.0)
    assert torch.equal(y, x)


def test_counter_clockwise_direction_both_paths() -> None:
    x = torch.zeros(1, 9, 9)
    x[0, 1, 4] = 1.0  # straight above the centre (4, 4)
    for out in (rotate(x, 90), rotate(x, 90, exact=False), rotate(x, 90.0000001)):
        assert out[0, 4, 1] == pytest.approx(1.0, abs=1e-4)  # now straight left of the centre
        assert out.sum() == pytest.approx(1.0, abs=1e-4)


def test_interpolated_90_matches_rot90() -> None:
    x = torch.rand(5, 28, 28)
    expected = torch.rot90(x, 1, dims=(-2, -1))
    assert torch.allclose(rotate(x, 90.0000001), expected, atol=1e-4)
    assert torch.allclose(rotate(x, 90, exact=False), expected, atol=1e-4)
    assert torch.allclose(rotate(x, -90, exact=False), torch.rot90(x, 3, dims=(-2, -1)), atol=1e-4)


def test_45_plus_45_close_to_90_away_from_corners() -> None:
    x = _smooth_images()
    twice = rotate(rotate(x, 45.0), 45.0)
    inside = _disk(28, 11.0)
    err = (twice - torch.rot90(x, 1, dims=(-2, -1)))[:, inside].abs()
    assert err.max() < 0.05
    assert err.mean() < 0.01


def test_rotation_back_and_forth_recovers_image() -> None:
    x = _smooth_images()
    back = rotate(rotate(x, 33.0), -33.0)
    inside = _disk(28, 11.0)
    assert (back - x)[:, inside].abs().max() < 0.05


def test_per_image_angles_match_single_calls() -> None:
    x = torch.rand(4, 1, 12, 12)  # (B, C, H, W)
    angles = torch.tensor([0.0, 30.0, 90.0, 200.0])
    out = rotate(x, angles)
    assert out.shape == x.shape
    for i, a in enumerate(angles.tolist()):
        assert torch.allclose(out[i], rotate(x[i : i + 1], a)[0], atol=1e-6)


def test_shape_dtype_range_and_non_square() -> None:
    x = torch.rand(2, 3, 10, 14)  # (B, C, H, W) non-square: no rot90 shortcut
    out = rotate(x, 180.0)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.allclose(out, torch.rot90(x, 2, dims=(-2, -1)), atol=1e-5)
    y = rotate(torch.rand(3, 28, 28), 17.0)
    assert y.min() >= 0.0 and y.max() <= 1.0 + 1e-6


def test_integer_images_rot90_ok_interpolation_refused() -> None:
    x = torch.randint(0, 255, (2, 8, 8), dtype=torch.uint8)
    assert torch.equal(rotate(x, 270), torch.rot90(x, 3, dims=(-2, -1)))
    with pytest.raises(UserInputError):
        rotate(x, 10.0)


def test_bad_inputs() -> None:
    with pytest.raises(UserInputError):
        rotate(torch.rand(28, 28), 10.0)
    with pytest.raises(UserInputError):
        rotate(torch.rand(3, 28, 28), torch.tensor([1.0, 2.0]))
    with pytest.raises(UserInputError):
        rotate(torch.rand(3, 28, 28), float("inf"))


def test_random_rotation_is_seeded_per_image_and_keeps_mass() -> None:
    x = _smooth_images(6)  # (6, 28, 28)
    a, b, c = RandomRotation(seed=3), RandomRotation(seed=3), RandomRotation(seed=4)
    ya, yb, yc = a(x.unsqueeze(1)), b(x.unsqueeze(1)), c(x.unsqueeze(1))
    assert ya.shape == (6, 1, 28, 28)
    assert torch.equal(ya, yb) and not torch.allclose(ya, yc)
    assert not torch.allclose(a(x.unsqueeze(1)), ya)  # a new draw every call (every batch)
    # each image got its own angle: it matches rotate() by exactly one of the angles the generator drew
    angles = torch.rand(6, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 360
    assert torch.allclose(ya, rotate(x.unsqueeze(1), angles))
    assert len({round(float(t), 3) for t in angles}) == 6
    # content stays inside the disk, so rotation keeps the total intensity to within interpolation error
    assert torch.allclose(ya.sum((1, 2, 3)), x.sum((1, 2)), rtol=0.03)
