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
