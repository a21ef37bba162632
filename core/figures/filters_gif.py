"""A filter moving across the pixels as an animated GIF (the Filters page's download), from ``Frame``s.

Each frame is coloured with a matplotlib colormap on one shared scale, upscaled with nearest neighbours, and the
current pixel is outlined in ``MARKER_RGB``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from core.analysis.filters import MARKER_RGB, MAX_GIF_FRAMES, Frame, check_pixel
from core.errors import UserInputError


def colormap_lut(name: str, n: int) -> np.ndarray:
    """(n, 3) uint8 colours of matplotlib colormap ``name``."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise UserInputError("colormap", f"unknown colormap {name!r} (e.g. viridis, magma, gray)") from None
    return (np.asarray(cmap(np.linspace(0.0, 1.0, n)))[:, :3] * 255).round().astype(np.uint8)


def filters_gif(
    frames: Sequence[Frame],
    scale: int = 8,
    duration_ms: int = 150,
    colormap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> bytes:
    """An animated GIF (looping) of ``frames``: each filter coloured with ``colormap`` on one shared
    scale (``vmin``..``vmax``, the frames' range by default), upscaled ``scale`` times with nearest
    neighbours, the current pixel outlined in red.

    Raises ``UserInputError`` for no frames, frames of different or non-square shapes, or a scale or
    duration out of range (1..32, 20..10,000 ms). Frames of distinct pixels always differ (the outline
    moves); two identical consecutive frames would be merged into one longer frame by the encoder.
    """
    from PIL import Image

    frames = list(frames)
    if not frames:
        raise UserInputError("frames", "need at least one frame for a GIF")
    if len(frames) > MAX_GIF_FRAMES:
        raise UserInputError(
            "frames", f"at most {MAX_GIF_FRAMES} frames per GIF, got {len(frames)} (take a larger step)"
        )
    for name, value, least, most in (("scale", scale, 1, 32), ("duration_ms", duration_ms, 20, 10_000)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not least <= value <= most:
            raise UserInputError(name, f"must be a whole number in [{least}, {most}], got {value!r}")
    shapes = {np.shape(f.image) for f in frames}
    shape = next(iter(shapes))
    if len(shapes) != 1 or len(shape) != 2 or shape[0] != shape[1]:
        raise UserInputError("frames", "every frame must be the same square 2-D image")
    stack = np.stack([np.asarray(f.image, dtype=np.float64) for f in frames])  # (F, side, side)
    if not np.isfinite(stack).all():
        raise UserInputError("frames", "frames contain NaN or infinite values")
    side = stack.shape[1]
    pixels = [check_pixel(f.pixel, side) for f in frames]
    lo = float(stack.min()) if vmin is None else float(vmin)
    hi = float(stack.max()) if vmax is None else float(vmax)
    span = hi - lo if hi > lo else 1.0
    levels = 255  # palette entries 0..254 for the colormap, 255 for the marker
    index = np.clip(np.rint((stack - lo) / span * (levels - 1)), 0, levels - 1).astype(np.uint8)
    palette = np.concatenate([colormap_lut(colormap, levels), np.array([MARKER_RGB], np.uint8)]).ravel().tolist()
    width = max(1, scale // 4)
    h = w = side * scale
    images = []
    for idx, (r, c) in zip(index, pixels, strict=True):
        big = np.kron(idx, np.ones((scale, scale), np.uint8))  # (h, w) nearest-neighbour upscaling
        top, left = r * scale, c * scale
        ring = np.zeros(big.shape, dtype=bool)  # a red outline inside the pixel's cell: its neighbours stay visible
        ring[top : top + scale, left : left + scale] = True
        ring[top + width : top + scale - width, left + width : left + scale - width] = False
        big[ring] = levels
        img = Image.frombytes("P", (w, h), np.ascontiguousarray(big).tobytes())
        img.putpalette(palette)
        images.append(img)
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(duration_ms),
        loop=0,
        optimize=False,
        disposal=1,
    )
    return buf.getvalue()
