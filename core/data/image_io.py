"""Read a user's own digit image (an upload) into the data sets' format: (28, 28) float32 in [0, 1].

Anything that is not a readable image, or is too large, raises UserInputError("image", ...) with a
one-line reason; nothing is written anywhere.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from core.errors import UserInputError

MAX_BYTES = 5 * 1024 * 1024  # matches .streamlit/config.toml's maxUploadSize
MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (decompression bombs)


def load_digit_image(data: bytes, size: int = 28) -> np.ndarray:
    """Decode ``data`` (PNG, JPEG, ...), make it grayscale white-on-black like MNIST, fit it to size x size.

    A light background is inverted (MNIST digits are bright strokes on black); the image is padded to
    a square and resized with antialiasing. Returns (size, size) float32 in [0, 1].
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
    gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0  # (h, w)
    if gray.mean() > 0.5:  # dark strokes on a light background: invert to MNIST's convention
        gray = 1.0 - gray
    side = max(gray.shape)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - gray.shape[0]) // 2, (side - gray.shape[1]) // 2
    square[top:top + gray.shape[0], left:left + gray.shape[1]] = gray
    resized = Image.fromarray((square * 255).astype(np.uint8)).resize((size, size), Image.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0  # (size, size)
