"""Uploads: real images are read MNIST-style; broken or oversized ones give one clear error."""

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import UserInputError
from core.data.image_io import MAX_BYTES, load_digit_image


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_dark_digit_on_white_is_inverted_and_resized():
    img = np.full((100, 60), 255, dtype=np.uint8)
    img[20:80, 25:35] = 0  # a black vertical stroke: a "1"
    out = load_digit_image(_png(img))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[14, 14] > 0.8 and out[14, 2] < 0.05  # bright stroke in the middle, black background


def test_real_mnist_digit_round_trips():
    from core.data.datasets import load_dataset

    digit = load_dataset("mnist-5k", quick=True).x_train[0].numpy()
    out = load_digit_image(_png((digit * 255).astype(np.uint8)))
    assert np.corrcoef(out.ravel(), digit.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"this is not an image at all", "not a readable image"),
    (_png(np.zeros((10, 10), np.uint8))[:40], "not a readable image"),  # truncated PNG
    (b"x" * (MAX_BYTES + 1), "limit"),
])
def test_bad_uploads_raise_one_clear_error(data, words):
    with pytest.raises(UserInputError) as err:
        load_digit_image(data)
    assert err.value.param == "image" and words in str(err.value) and "\n" not in str(err.value)


def test_huge_dimensions_refused_before_decoding():
    header = _png(np.zeros((5000, 5000), np.uint8))  # compresses to a few KB, 25 megapixels
    assert len(header) < MAX_BYTES
    with pytest.raises(UserInputError, match="pixels"):
        load_digit_image(header)


# ----------------------------------------------------------------------------- a digit in a link


def test_a_digit_travels_in_a_link_on_16_grey_levels():
    from core.data.datasets import load_dataset
    from core.data.image_io import LINK_CHARS, decode_digit_link, encode_digit_link, quantize_digit

    rng = np.random.default_rng(0)
    for digit in (load_dataset("mnist-5k", quick=True).x_test[0].numpy(), rng.random((28, 28), dtype=np.float32)):
        code = encode_digit_link(digit)
        assert len(code) == LINK_CHARS == 523 and set(code) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # URL-safe: nothing to escape
        back = decode_digit_link(code)
        assert back.shape == (28, 28) and back.dtype == np.float32
        assert np.abs(back - digit).max() <= 1 / 30 + 1e-6  # quantisation error at most half a level
        assert np.array_equal(back, quantize_digit(digit)) and encode_digit_link(back) == code  # a fixed point
        assert len(np.unique(back)) <= 16
    ones = np.ones((28, 28), np.float32)
    assert np.array_equal(decode_digit_link(encode_digit_link(ones)), ones)
    corner = np.zeros((28, 28), np.float32)
    corner[0, 0], corner[27, 27] = 1.0, 0.5  # the first and the last pixel land where they were
    back = decode_digit_link(encode_digit_link(corner))
    assert back[0, 0] == 1.0 and abs(back[27, 27] - 0.5) <= 1 / 30 + 1e-6 and back.sum() < 1.6


def _valid_code() -> str:
    from core.data.image_io import encode_digit_link

    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 12:16] = 1.0
    return encode_digit_link(digit)


@pytest.mark.parametrize("value, words", [
    ("", "523 characters"),
    ("abc", "523 characters"),
    (_valid_code()[:-1], "523 characters"),
    (_valid_code() + "A", "523 characters"),
    ("A" * 10**6, "523 characters"),  # refused from its length: nothing decoded
    (_valid_code()[:-1] + "=", "only A-Z"),
    (_valid_code()[:100] + "+" + _valid_code()[101:], "only A-Z"),  # base64's own, not base64url's
    (_valid_code()[:100] + "é" + _valid_code()[101:], "only A-Z"),
    (_valid_code()[:100] + " " + _valid_code()[101:], "only A-Z"),
    (_valid_code()[:-1] + "B", "canonical"),  # the last character's spare bits set
    ("A" * 523, "no ink"),
    (None, "NoneType"),
    (b"A" * 523, "bytes"),
])
def test_a_bad_linked_digit_is_refused_with_one_line_that_does_not_echo_it(value, words):
    from core.data.image_io import decode_digit_link

    with pytest.raises(UserInputError) as err:
        decode_digit_link(value)
    text = str(err.value)
    assert err.value.param == "image" and words in text and "\n" not in text and len(text) < 200


def test_only_a_28_by_28_digit_goes_into_a_link():
    from core.data.image_io import encode_digit_link

    with pytest.raises(UserInputError, match="28 x 28"):
        encode_digit_link(np.zeros((20, 20)))
    noisy = np.full((28, 28), np.nan)
    noisy[3, 3] = 7.0  # NaN reads as no ink, values beyond [0, 1] are clipped
    assert encode_digit_link(noisy) == encode_digit_link(np.where(np.arange(784).reshape(28, 28) == 87, 1.0, 0.0))
