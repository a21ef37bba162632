"""Full MNIST on disk: the four IDX files, downloaded once (md5-checked, from mirrors) and parsed with bounded work.

Never downloads behind the user's back: ``python -m core download mnist`` calls ``download_mnist``; offline, it fails
with one clear ``DataUnavailableError``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.config import data_dir
from core.errors import DataUnavailableError

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror torchvision uses
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_FILES = {  # file name -> md5 (the values torchvision checks)
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DOWNLOAD_TIMEOUT_S = 20.0
_CHUNK = 1 << 16

# progress(fraction in [0, 1], message), e.g. a Streamlit progress bar's ``progress``.
ProgressFn = Callable[[float, str], None]


def mnist_dir() -> Path:
    """Where the four MNIST IDX files live: ``data_dir()/mnist``."""
    return data_dir() / "mnist"


def mnist_available() -> bool:
    """True when the four MNIST files are in the cache folder (sizes and md5 are not checked)."""
    folder = mnist_dir()
    return all((folder / name).is_file() for name in MNIST_FILES)


def download_mnist(progress: ProgressFn | None = None) -> Path:
    """Fetch the four MNIST files into ``mnist_dir()`` (skips those already there) and return it.

    Each file goes to a temporary ``.part`` file, is md5-checked, then renamed into place.
    Raises ``DataUnavailableError`` with a one-line message when offline or on a checksum
    mismatch at every mirror.
    """
    folder = mnist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, md5) in enumerate(MNIST_FILES.items()):
        if progress is not None:
            progress(i / len(MNIST_FILES), f"Downloading {name}")
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        _fetch_verified(name, md5, target)
    if progress is not None:
        progress(1.0, "MNIST downloaded")
    return folder


def _fetch_verified(name: str, md5: str, target: Path) -> None:
    """Try each mirror in turn until one serves ``name`` with the right md5."""
    network_errors: list[str] = []
    bad_checksum: list[str] = []
    for mirror in MNIST_MIRRORS:
        url = mirror + name
        fd, tmp = tempfile.mkstemp(prefix=f"{name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        part = Path(tmp)
        try:
            digest = _download_into(url, part)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            part.unlink(missing_ok=True)
            network_errors.append(f"{url}: {_reason(err)}")
            continue
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        if digest != md5:
            part.unlink(missing_ok=True)
            bad_checksum.append(url)
            continue
        os.replace(part, target)
        return
    if bad_checksum:
        raise DataUnavailableError(
            f"MNIST file {name} failed its checksum (expected md5 {md5}) from {', '.join(bad_checksum)}; "
            "the partial download was deleted. Try again later, or use mnist-5k."
        )
    raise DataUnavailableError(
        f"Full MNIST is not downloaded and the download failed (offline?): {'; '.join(network_errors)}. "
        "Use mnist-5k, or run `python -m core download mnist` when online."
    )


def _download_into(url: str, part: Path) -> str:
    """Stream ``url`` into the file ``part``; return the md5 hex digest of what was written."""
    digest = hashlib.md5()
    with open(part, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        while chunk := resp.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _reason(err: BaseException) -> str:
    """A short one-line reason for a network error."""
    reason = getattr(err, "reason", None) or err
    return str(reason).splitlines()[0] if str(reason) else type(err).__name__


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse a gzipped IDX file (the MNIST format) into a NumPy array.

    Header: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then one
    big-endian uint32 size per dimension. Raises ``DataUnavailableError`` when the file is not
    gzip, the magic number is wrong, or the payload size does not match the header.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise DataUnavailableError(
            f"{path.name} is not a readable gzip file ({err}); delete it and download again."
        ) from None
    return _parse_idx(raw, path.name)


def _parse_idx(raw: bytes, label: str) -> np.ndarray:
    """Parse IDX bytes; ``label`` names the file in error messages."""

    def corrupt(why: str) -> DataUnavailableError:
        return DataUnavailableError(f"{label} is corrupt ({why}); delete it and download again.")

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise corrupt("bad magic number")
    dtype = _IDX_DTYPES.get(raw[2])
    ndim = raw[3]
    if dtype is None or ndim == 0:
        raise corrupt(f"bad magic number 0x{raw[:4].hex()}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise corrupt("truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise corrupt(f"{len(raw) - header} data bytes, header says {expected}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)
