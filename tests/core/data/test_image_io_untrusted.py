"""Images a browser sends are checked before decoding: a forged drawing that declares 12000 x 12000 pixels is
refused with one line and costs next to no memory; disallowed formats and oversized bytes are refused too."""

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.image_io import LIMITS, drawing_ink, load_digit_image, open_untrusted_image
from core.errors import UserInputError

ROOT = Path(__file__).resolve().parents[3]


def black_png(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG, all black, written chunk by chunk: 12000 x 12000 is 18 MB of rows that
    compress to ~20 KB, and building it never holds the decoded image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _one_line_refusal(fn, *words: str) -> str:
    with pytest.raises(UserInputError) as err:
        fn()
    text = str(err.value)
    assert err.value.param == "image" and "\n" not in text and all(w in text for w in words), text
    return text


def test_the_forged_png_is_a_real_image_that_decodes_when_small():
    small = black_png(300, 200)
    assert Image.open(io.BytesIO(small)).size == (300, 200)
    ink = drawing_ink(small)  # the same bytes, small enough: read like any drawing
    assert ink.shape == (200, 300) and not ink.any()


def test_a_forged_12000_pixel_drawing_is_refused_with_one_line_under_100_mb(tmp_path):
    """In a fresh interpreter (its own peak RSS): the refusal's message, and how much the peak grew while refusing.
    Decoding these bytes unguarded grows the peak by about 960 MB (measured on the code before this guard)."""
    forged = tmp_path / "forged.png"
    forged.write_bytes(black_png(12000, 12000))
    assert forged.stat().st_size < 200_000
    probe = (
        "import resource, sys\n"
        "from core.data.image_io import drawing_ink\n"
        "from core.errors import UserInputError\n"
        f"data = open({str(forged)!r}, 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    drawing_ink(data)\n"
        "    print('DECODED')\n"
        "except UserInputError as err:\n"
        "    print(err)\n"
        "grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"  # KiB on Linux
        "print(grew)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    message, grew_kib = out.stdout.strip().splitlines()
    assert message == "image: the drawing is 12000x12000 pixels; the limit is 4,194,304 pixels"
    assert int(grew_kib) < 100 * 1024, f"peak RSS grew by {int(grew_kib) / 1024:.0f} MB"


def test_pixel_limits_are_checked_from_the_header_for_drawings_and_uploads():
    drawing, upload = LIMITS["drawing"], LIMITS["upload"]
    assert drawing.max_pixels == 2048 * 2048 and drawing.max_bytes == 2 * 2**20 and drawing.formats == ("PNG",)
    open_untrusted_image(black_png(2048, 2048), "drawing")  # the largest drawing allowed decodes
    _one_line_refusal(lambda: drawing_ink(black_png(2049, 2048)), "2049x2048 pixels", "limit")
    assert open_untrusted_image(black_png(2049, 2048), "upload").size == (2049, 2048)  # an upload may be larger
    _one_line_refusal(lambda: load_digit_image(black_png(4097, 4096)), "upload", "4097x4096 pixels")
    # above twice PIL's own decompression-bomb limit PIL raises from the header itself: still one line
    _one_line_refusal(lambda: drawing_ink(black_png(20000, 20000)), "drawing", "pixels", "limit")
    assert upload.max_pixels >= drawing.max_pixels


def test_byte_limits_and_empty_input():
    big_png = b"\x89PNG\r\n\x1a\n" + b"\0" * LIMITS["drawing"].max_bytes  # over 2 MB: refused unread
    _one_line_refusal(lambda: drawing_ink(big_png), "2.0 MB", "limit is 2 MB")
    _one_line_refusal(lambda: drawing_ink(b""), "drawing is empty")
    _one_line_refusal(lambda: load_digit_image(b"x" * (LIMITS["upload"].max_bytes + 1)), "limit is 5 MB")


@pytest.mark.parametrize("fmt", ["TIFF", "PPM", "ICO"])
def test_formats_outside_the_uploaders_list_are_never_decoded(fmt):
    """PIL sniffs the content: without a format list a .png name on a TIFF (or EPS, PSD, ...) opens that decoder."""
    data = _encoded(Image.fromarray(np.full((32, 32), 200, np.uint8)), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # PIL alone would read it
    _one_line_refusal(lambda: load_digit_image(data), "not a readable image", "PNG, JPEG")


def test_a_drawing_must_be_a_png_and_uploads_take_the_listed_formats():
    img = Image.fromarray(np.full((40, 40), 30, np.uint8))
    img.paste(255, (15, 5, 25, 35))  # a bright bar on a dark background
    for fmt in ("PNG", "JPEG", "BMP", "GIF", "WEBP"):
        digit = load_digit_image(_encoded(img, fmt))
        assert digit.shape == (28, 28) and digit[14, 14] > 0.5, fmt
    _one_line_refusal(lambda: drawing_ink(_encoded(img, "JPEG")), "drawings may be PNG")
    assert drawing_ink(_encoded(img, "PNG")).max() == 1.0
