"""Read a user's own digit (an upload, or a drawing) into the data sets' format: (28, 28) float32 in [0, 1].

Both go through :func:`mnist_digit`, MNIST's own preprocessing (LeCun et al.): the ink's bounding box is
scaled so its longer side is 20 pixels, keeping its aspect ratio, and placed in a 28 x 28 frame with its
centre of mass at the centre. Anything that is not a readable image, or is too large, raises
UserInputError("image", ...) with a one-line reason; nothing is written anywhere.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from core.errors import UserInputError

MAX_BYTES = 5 * 1024 * 1024  # matches .streamlit/config.toml's maxUploadSize
MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (decompression bombs)


BOX = 20  # MNIST: the digit's bounding box is scaled to fit 20 x 20 ...
FRAME = 28  # ... and centred by its centre of mass in 28 x 28
INK = 0.05  # pixels brighter than this (on [0, 1]) count as ink for the bounding box


def mnist_digit(gray: np.ndarray) -> np.ndarray:
    """(H, W) grayscale, bright strokes on black, values in [0, 1] -> (28, 28) float32 as MNIST prepares digits.

    The ink's bounding box (pixels above ``INK``) is resized with antialiasing so that its longer side is 20
    pixels, then pasted into a 28 x 28 black frame and shifted (by whole pixels) so that its intensity-weighted
    centre of mass lands on the frame's centre (13.5, 13.5). An image without ink gives an all-zero frame.
    """
    from PIL import Image

    img = np.clip(np.asarray(gray, dtype=np.float32), 0.0, 1.0)
    if img.ndim != 2 or min(img.shape) < 1:
        raise UserInputError("image", f"must be a 2-D grayscale image, got shape {img.shape}")
    rows, cols = np.nonzero(img > INK)
    if not len(rows):
        return np.zeros((FRAME, FRAME), dtype=np.float32)
    crop = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]  # (h, w) the ink's bounding box
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.LANCZOS), dtype=np.float32)
    small = np.clip(small, 0.0, 1.0)  # (nh, nw), Lanczos may overshoot
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    top, left = (FRAME - nh) // 2, (FRAME - nw) // 2
    frame[top:top + nh, left:left + nw] = small
    mass = frame.sum()
    if mass > 0:  # shift the centre of mass to the centre, keeping the box inside the frame
        r, c = np.indices(frame.shape)
        dr = int(round((FRAME - 1) / 2 - float((r * frame).sum() / mass)))
        dc = int(round((FRAME - 1) / 2 - float((c * frame).sum() / mass)))
        dr = min(max(dr, -top), FRAME - nh - top)
        dc = min(max(dc, -left), FRAME - nw - left)
        frame = np.roll(frame, (dr, dc), axis=(0, 1))
    return frame


def ink(img) -> np.ndarray:
    """A PIL image -> (H, W) float32 in [0, 1], bright ink on black: a transparent background counts as black,
    and a light background is inverted (MNIST digits are bright strokes on black)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        flat.alpha_composite(rgba)
        img = flat
    gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0  # (h, w)
    return 1.0 - gray if gray.mean() > 0.5 else gray


def drawing_ink(rgba) -> np.ndarray:
    """A canvas drawing, (H, W, 4) uint8 RGBA or the bytes of its PNG -> (H, W) ink in [0, 1], exactly as an upload
    of it would be read."""
    from PIL import Image

    if isinstance(rgba, (bytes, bytearray)):
        try:
            return ink(Image.open(io.BytesIO(rgba)))
        except Exception as err:  # a drawing that is no PNG: say so, never a stack trace
            raise UserInputError("image", f"the drawing could not be read ({type(err).__name__})") from None
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise UserInputError("image", f"a drawing must be (H, W, 4) RGBA, got shape {arr.shape}")
    return ink(Image.fromarray(arr.astype(np.uint8), "RGBA"))


def load_digit_image(data: bytes, size: int = 28) -> np.ndarray:
    """Decode ``data`` (PNG, JPEG, ...), make it grayscale white-on-black like MNIST, and prepare it as MNIST
    prepares its digits (:func:`mnist_digit`). A light background is inverted (MNIST digits are bright
    strokes on black). Returns (28, 28) float32 in [0, 1]; other ``size`` values resize that frame.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UserInputError("image", "the file is empty")
    if len(data) > MAX_BYTES:
        raise UserInputError("image", f"the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise UserInputError("image", f"the image is {w}x{h} pixels; the limit is {MAX_PIXELS:,} pixels")
            img.load()
    except UserInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError, OSError,
            ValueError, SyntaxError) as err:
        raise UserInputError("image", f"not a readable image ({type(err).__name__})") from None
    digit = mnist_digit(ink(img))  # (28, 28)
    if size == FRAME:
        return digit
    resized = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0  # (size, size)


def gray_png(gray: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W) grayscale image in [0, 1] as an 8-bit PNG, upscaled ``scale`` times (nearest neighbour).

    A drawing saved at scale 1 uploads again (:func:`load_digit_image`) to the very digit it gave when drawn."""
    from PIL import Image

    img = (np.clip(np.asarray(gray, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    if scale > 1:
        img = np.kron(img, np.ones((scale, scale), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()
