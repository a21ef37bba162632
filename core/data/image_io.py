"""Read a user's own digit (an upload, or a drawing) into the data sets' format: (28, 28) float32 in [0, 1].

Both go through :func:`mnist_digit`, MNIST's own preprocessing (LeCun et al.): the ink's bounding box is
scaled so its longer side is 20 pixels, keeping its aspect ratio, and placed in a 28 x 28 frame with its
centre of mass at the centre. Anything that is not a readable image, or is too large, raises
UserInputError("image", ...) with a one-line reason; nothing is written anywhere.

Every image bytes a browser sends (an upload, a drawing) is untrusted and is decoded only through
:func:`open_untrusted_image`, which checks its size in bytes, its format and its pixel count from the header
before a single pixel is decoded: a 140 KB PNG can declare 12000 x 12000 pixels and decode to over 1 GB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import UserInputError

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class ImageLimits:
    """What one kind of untrusted image may be: at most ``max_bytes`` long, at most ``max_pixels`` pixels (from its
    header, checked before decoding), in one of ``formats`` (PIL's names; no other decoder is ever tried)."""

    max_bytes: int
    max_pixels: int
    formats: tuple[str, ...]


LIMITS = {
    # matches .streamlit/config.toml's maxUploadSize and the uploaders' file types (PIL sniffs the content, so a
    # .png name on an EPS or TIFF file opens no other decoder)
    "upload": ImageLimits(5 * 1024 * 1024, 4096 * 4096, ("PNG", "JPEG", "BMP", "GIF", "WEBP")),
    # the canvas is 280 x 280 screen pixels; room for a high-DPI screen's 2048 x 2048 PNG, and nothing else
    "drawing": ImageLimits(2 * 1024 * 1024, 2048 * 2048, ("PNG",)),
}
MAX_BYTES = LIMITS["upload"].max_bytes
MAX_PIXELS = LIMITS["upload"].max_pixels


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
    inked = img > INK  # (H, W); the box from its rows and columns, not np.nonzero's 16 bytes per inked pixel
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if not len(rows):
        return np.zeros((FRAME, FRAME), dtype=np.float32)
    crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w) the ink's bounding box
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float32)
    small = np.clip(small, 0.0, 1.0)  # (nh, nw), Lanczos may overshoot
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    top, left = (FRAME - nh) // 2, (FRAME - nw) // 2
    frame[top : top + nh, left : left + nw] = small
    mass = frame.sum()
    if mass > 0:  # shift the centre of mass to the centre, keeping the box inside the frame
        r, c = np.indices(frame.shape)
        dr = round((FRAME - 1) / 2 - float((r * frame).sum() / mass))
        dc = round((FRAME - 1) / 2 - float((c * frame).sum() / mass))
        dr = min(max(dr, -top), FRAME - nh - top)
        dc = min(max(dc, -left), FRAME - nw - left)
        frame = np.roll(frame, (dr, dc), axis=(0, 1))
    return frame


def ink(img) -> np.ndarray:
    """A PIL image -> (H, W) float32 in [0, 1], bright ink on black: a transparent background counts as black,
    and a light background is inverted (MNIST digits are bright strokes on black)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        flat = Image.new("RGBA", img.size, (0, 0, 0, 255))
        flat.alpha_composite(img if img.mode == "RGBA" else img.convert("RGBA"))
        img = flat
    gray = np.asarray(img.convert("L"), dtype=np.float32)  # (h, w); in place from here: a 16-Mpx upload is 64 MB
    gray /= 255.0
    return np.subtract(1.0, gray, out=gray) if gray.mean() > 0.5 else gray


def open_untrusted_image(data: bytes | bytearray, what: str = "upload") -> Image.Image:
    """Bytes a browser sent -> a decoded PIL image, refused with one line *before decoding* when they are too long,
    not in an allowed format, or declare too many pixels (``LIMITS[what]``: "upload" or "drawing").

    The header is read with PIL's lazy ``Image.open`` (no pixel is decoded) and only an image within the limits is
    ``load()``-ed; PIL's decompression-bomb error, and its warning while decoding, are refusals too. Any failure to
    parse or decode is a UserInputError("image", ...) naming the error's type, never a stack trace.
    """
    from PIL import Image

    limits = LIMITS[what]
    if not data:
        raise UserInputError("image", f"the {what} is empty")
    if len(data) > limits.max_bytes:
        raise UserInputError(
            "image", f"the {what} is {len(data) / 2**20:.1f} MB; the limit is {limits.max_bytes / 2**20:g} MB"
        )
    try:
        with warnings.catch_warnings():
            # PIL warns from the header alone above its own limit (89 Mpx); ours is far lower and comes next, so
            # the warning may pass here and the refusal names the declared size. Above twice PIL's limit it raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=limits.formats)  # the header only: no pixel decoded yet
        w, h = img.size
        if w * h > limits.max_pixels:
            raise UserInputError("image", f"the {what} is {w}x{h} pixels; the limit is {limits.max_pixels:,} pixels")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except UserInputError:
        raise
    except Image.DecompressionBombError:
        raise UserInputError(
            "image",
            f"the {what} declares over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels; the "
            f"limit is {limits.max_pixels:,} pixels",
        ) from None
    except Exception as err:  # noqa: BLE001 - the bytes are the browser's: whatever the decoder trips on, one line
        raise UserInputError(
            "image",
            f"the {what} could not be read: not a readable image ({type(err).__name__}; "
            f"{what}s may be {', '.join(limits.formats)})",
        ) from None
    return img


def drawing_ink(rgba) -> np.ndarray:
    """A canvas drawing, (H, W, 4) uint8 RGBA or the bytes of its PNG -> (H, W) ink in [0, 1], exactly as an upload
    of it would be read. PNG bytes are the browser's and pass :func:`open_untrusted_image`'s drawing limits."""
    from PIL import Image

    if isinstance(rgba, (bytes, bytearray)):
        return ink(open_untrusted_image(rgba, "drawing"))
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise UserInputError("image", f"a drawing must be (H, W, 4) RGBA, got shape {arr.shape}")
    return ink(Image.fromarray(arr.astype(np.uint8), "RGBA"))


def load_digit_image(data: bytes, size: int = 28) -> np.ndarray:
    """Decode ``data`` (PNG, JPEG, ...), make it grayscale white-on-black like MNIST, and prepare it as MNIST
    prepares its digits (:func:`mnist_digit`). A light background is inverted (MNIST digits are bright
    strokes on black). Returns (28, 28) float32 in [0, 1]; other ``size`` values resize that frame.
    """
    from PIL import Image

    digit = mnist_digit(ink(open_untrusted_image(data, "upload")))  # (28, 28)
    if size == FRAME:
        return digit
    resized = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.Resampling.LANCZOS)
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


# ---------------------------------------------------------------- a digit in a link
# A prepared 28 x 28 digit travels in a URL (the Playground's ``pg_ink``) as 16 grey levels, one 4-bit nibble per
# pixel (row by row, high nibble first), base64url without padding: 784 nibbles = 392 bytes = 523 characters. A
# value from a link is anyone's to write: its length and alphabet are checked before a single byte is decoded.
LINK_LEVELS = 16  # grey levels a linked digit keeps: 0, 1/15, ..., 1 (the error is at most 1/30)
LINK_BYTES = FRAME * FRAME // 2  # two pixels a byte
LINK_CHARS = -(-LINK_BYTES * 4 // 3)  # 523: base64 without its padding
_LINK_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def quantize_digit(digit: np.ndarray) -> np.ndarray:
    """A (28, 28) digit in [0, 1] on the ``LINK_LEVELS`` grey levels a link keeps: what its link reopens."""
    levels = _link_levels(digit)
    return (levels / np.float32(LINK_LEVELS - 1)).astype(np.float32)


def _link_levels(digit: np.ndarray) -> np.ndarray:
    img = np.asarray(digit, dtype=np.float32)
    if img.shape != (FRAME, FRAME):
        raise UserInputError("image", f"a digit for a link must be {FRAME} x {FRAME}, got shape {img.shape}")
    img = np.nan_to_num(img, nan=0.0)
    return np.rint(np.clip(img, 0.0, 1.0) * (LINK_LEVELS - 1)).astype(np.uint8)  # (28, 28) in 0..15


def encode_digit_link(digit: np.ndarray) -> str:
    """A (28, 28) digit in [0, 1] -> ``LINK_CHARS`` URL-safe characters (``A-Z a-z 0-9 - _``); decoding them gives
    :func:`quantize_digit` of it."""
    import base64

    flat = _link_levels(digit).reshape(-1)  # (784,)
    packed = (flat[0::2] << 4 | flat[1::2]).astype(np.uint8).tobytes()  # (392,) bytes
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_digit_link(text: object) -> np.ndarray:
    """A link's digit (:func:`encode_digit_link`) -> (28, 28) float32 on the link's grey levels.

    Anything but exactly ``LINK_CHARS`` characters of the base64url alphabet, in their one canonical form, holding
    some ink, raises UserInputError("image", ...) with one line that does not echo the value; the length and the
    alphabet are checked before any decoding, so a forged value costs at most ``LINK_CHARS`` steps."""
    import base64
    import binascii

    if not isinstance(text, str) or len(text) != LINK_CHARS:
        size = f"{len(text):,} characters" if isinstance(text, str) else f"a {type(text).__name__}"
        raise UserInputError("image", f"a linked digit is {LINK_CHARS} characters; this one is {size}")
    if not _LINK_ALPHABET.issuperset(text):
        raise UserInputError("image", "a linked digit uses only A-Z, a-z, 0-9, - and _")
    try:
        packed = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        raise UserInputError("image", "the linked digit is not valid base64url") from None
    if len(packed) != LINK_BYTES or base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=") != text:
        raise UserInputError("image", "the linked digit is not in its canonical form")  # spare bits set
    raw = np.frombuffer(packed, dtype=np.uint8)
    levels = np.empty(FRAME * FRAME, dtype=np.uint8)
    levels[0::2], levels[1::2] = raw >> 4, raw & 0x0F
    if not levels.any():
        raise UserInputError("image", "the linked digit holds no ink")
    return (levels.reshape(FRAME, FRAME) / np.float32(LINK_LEVELS - 1)).astype(np.float32)
