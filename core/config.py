"""Where GraphConv Lab keeps its files, and the quick mode that shrinks every run.

``GRAPHCONV_DATA_DIR`` moves the data folder (downloads, the run database, checkpoints);
the default is ``./data`` beside the repository. ``GRAPHCONV_QUICK=1`` turns on quick mode (and
``GRAPHCONV_QUICK=0`` off); unset, it is on only on Streamlit Community Cloud (the hosted demo).
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


QUICK_EPOCHS = 3  # the Train page's default epochs in quick mode (8 otherwise)
CLOUD_ROOT = Path("/mount/src")  # where Streamlit Community Cloud checks out an app's repository


def on_community_cloud(root: Path = REPO_ROOT) -> bool:
    """True when this checkout lives where Streamlit Community Cloud puts deployed apps."""
    return CLOUD_ROOT in root.resolve().parents


def quick_mode() -> bool:
    """True when runs should be shrunk (tests, the hosted demo).

    ``GRAPHCONV_QUICK`` decides when it is set (1/true/yes/on or 0/false/no/off); otherwise quick mode
    is on exactly when the app runs on Streamlit Community Cloud, so the hosted demo is quick by
    default and a local checkout is not.
    """
    raw = os.environ.get("GRAPHCONV_QUICK", "").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    return on_community_cloud()
