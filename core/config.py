"""Where GraphConv Lab keeps its files, and the quick mode that shrinks every run.

``GRAPHCONV_DATA_DIR`` moves the data folder (downloads, the run database, checkpoints);
the default is ``./data`` beside the repository. ``GRAPHCONV_QUICK=1`` turns on quick mode.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data folder, created on first use."""
    path = Path(os.environ.get("GRAPHCONV_DATA_DIR", REPO_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when runs should be shrunk (tests, the hosted demo)."""
    return os.environ.get("GRAPHCONV_QUICK", "0").lower() in {"1", "true", "yes", "on"}
