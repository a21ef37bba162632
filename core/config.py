"""Where GraphConv Lab keeps its files, the quick mode that shrinks every run, and public mode's limits.

``GRAPHCONV_DATA_DIR`` moves the data folder (downloads, the run database, checkpoints);
the default is ``./data`` beside the repository. ``GRAPHCONV_STORE_URL`` puts the run store in a PostgreSQL
database instead (:func:`store_url`). ``GRAPHCONV_PUBLIC=1`` turns on public mode (and ``=0``
off); unset, it is on where the app is hosted for others (Streamlit Community Cloud, a Hugging Face Space).
Public mode bounds what any visitor can cause (:func:`limits`). ``GRAPHCONV_QUICK=1`` turns on quick mode
(and ``GRAPHCONV_QUICK=0`` off); unset, it follows public mode.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Where the data folder is (``GRAPHCONV_DATA_DIR``, else ``./data`` beside the repository); nothing is created."""
    return Path(os.environ.get("GRAPHCONV_DATA_DIR", REPO_ROOT / "data")).expanduser()


def data_dir() -> Path:
    """The data folder, created on first use."""
    path = data_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def evict_least_recent(folder: Path, pattern: str, limit: int, spare=None) -> None:
    """Delete the least recently used files of ``folder`` matching ``pattern`` (oldest mtime first: a reader marks a
    use by touching its file) until those left hold at most ``limit`` bytes. ``spare(path, mtime)`` True keeps a file
    whatever its age; a deleted file's siblings of the same stem (``x.onnx`` and ``x.json``) go with it."""
    files = []
    for f in folder.glob(pattern):
        try:
            st = f.stat()
        except OSError:  # deleted meanwhile
            continue
        files.append((st.st_mtime, st.st_size, f))
    total = sum(size for _, size, _ in files)
    for mtime, size, f in sorted(files, key=lambda t: t[0]):
        if total <= limit:
            break
        if spare is not None and spare(f, mtime):
            continue
        for sibling in folder.glob(f"{f.stem}.*"):
            sibling.unlink(missing_ok=True)
        total -= size


def write_atomically(target: Path, data: bytes) -> None:
    """``data`` to ``target`` through a temporary file in its folder and ``os.replace``: a reader (another thread,
    process or server) sees the old file or the new one, never half of one."""
    import tempfile

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


STORE_URL_SETTING = "GRAPHCONV_STORE_URL"  # where the run store lives; unset: SQLite in the data folder


def store_url() -> str | None:
    """``GRAPHCONV_STORE_URL`` when set (``postgresql://user:password@host:port/name``, or a SQLite file as a
    path or ``sqlite:///path``), else None: the run store is then ``runs.db`` in the data folder. On Streamlit
    Community Cloud a root-level secret of that name is this variable (``ui/store_url.py`` copies it from a local
    ``secrets.toml`` too)."""
    return os.environ.get(STORE_URL_SETTING, "").strip() or None


def shown_path(path: str | os.PathLike) -> str:
    """How a message names a file: relative to the data folder (``checkpoints/run-3.pt``, ``runs.db``) or to the
    repository when it lies in one, else by its name alone. A message may reach a visitor's browser, and where the
    server keeps its files is none of the visitor's business."""
    given = Path(path).expanduser()
    for root in (data_root(), REPO_ROOT):
        try:
            inside = given.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError, RuntimeError):
            continue
        if inside != ".":
            return inside
    return given.name or "a file"


# an absolute path in a message: "/" then two or more parts, not inside a URL ("https://host/x") or a relative path
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])(?:/[^\s/'\"()<>,;:]+)+/([^\s/'\"()<>,;:]+)")
# a network address: a URL's scheme and host (ray://, http://), an IPv4 address, a bracketed IPv6 one, a port after them
_ADDRESS = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://)?(?:\b\d{1,3}(?:\.\d{1,3}){3}\b|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?")


def without_paths(text: str) -> str:
    """``text`` (an error's message, a failed run's stored error) on one line, with no absolute path and no network
    address in it: files in the data folder or the repository are named relative to it (``checkpoints/run-3.pt``),
    any other by its name; an IP address (and its port, a URL's scheme) becomes "an address" (a visitor has no
    business knowing where the Ray cluster or its nodes are); an operator's setting (``GRAPHCONV_*``) is not named."""
    for root in (data_root(), REPO_ROOT):
        for form in dict.fromkeys((str(root), str(root.resolve()))):
            text = text.replace(form + os.sep, "")
    text = _ADDRESS.sub("an address", text)
    text = _SETTING_ASIDE.sub("", text)  # "(GRAPHCONV_RUN_SECONDS)": the operator's name for it, in docs/hosting.md
    text = _SETTING.sub("a server setting", text)
    return " ".join(_ABSOLUTE_PATH.sub(lambda m: m.group(1), text).split())


# An operator's setting named in a message: an aside "(GRAPHCONV_X)" / "(`GRAPHCONV_X=0`)" goes; a name in the text
# reads "a server setting". Visitors are told what the limit is, docs/hosting.md tells operators what sets it.
_SETTING_ASIDE = re.compile(r"\s*\(`?GRAPHCONV_[A-Z0-9_]+(?:=[^)`\s]*)?`?\)")
_SETTING = re.compile(r"`?GRAPHCONV_[A-Z0-9_]+(?:=[^\s`)]*)?`?")


QUICK_EPOCHS = 3  # the Train page's default epochs in quick mode (8 otherwise)
CLOUD_ROOT = Path("/mount/src")  # where Streamlit Community Cloud checks out an app's repository


def on_community_cloud(root: Path = REPO_ROOT) -> bool:
    """True when this checkout lives where Streamlit Community Cloud puts deployed apps."""
    return CLOUD_ROOT in root.resolve().parents


def on_hugging_face_space() -> bool:
    """True inside a Hugging Face Space (the platform sets ``SPACE_ID`` there)."""
    return bool(os.environ.get("SPACE_ID", "").strip())


def _flag(name: str) -> bool | None:
    """Environment flag ``name``: True (1/true/yes/on), False (0/false/no/off) or None (unset or other)."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    return None


def public_mode() -> bool:
    """True when anyone with a link may reach this server, so every visitor's work is bounded (:func:`limits`).

    ``GRAPHCONV_PUBLIC`` decides when it is set (the CLI obeys it too, so a test can check a limit without
    a browser); otherwise public mode is on exactly where the app is hosted for others: Streamlit Community
    Cloud or a Hugging Face Space. A local checkout and the CLI are not public by default."""
    flag = _flag("GRAPHCONV_PUBLIC")
    return (on_community_cloud() or on_hugging_face_space()) if flag is None else flag


def quick_mode() -> bool:
    """True when runs should be shrunk (tests, the hosted demo).

    ``GRAPHCONV_QUICK`` decides when it is set (1/true/yes/on or 0/false/no/off); otherwise quick mode
    follows public mode, so a hosted demo (anywhere) is quick by default and a local checkout is not.
    """
    flag = _flag("GRAPHCONV_QUICK")
    return public_mode() if flag is None else flag


@dataclass(frozen=True)
class Limits:
    """What one visitor's work may cost. Each number has a ``GRAPHCONV_*`` setting; 0 means no limit.

    Outside public mode only the per-visitor count applies (a local user runs what they like)."""

    run_mb: int  # a run's estimated peak memory (weights, gradients, Adam state, one batch's activations)
    training_mb: int  # the runs training at once, their estimated memory above each worker's start added up
    run_seconds: float  # a run's estimated training time on this machine
    batch_seconds: float  # a sweep's, search's or lesson's runs together (their estimated times added up)
    worker_mb: int  # hard: a worker process's memory (it fails its own run past this)
    run_wall_s: float  # hard: a run's wall-clock time (it ends ``stopped``, its finished epochs kept)
    queue_per_slot: int  # runs that may wait, per training slot (the queue's bound is slots x this)
    visitor_runs: int  # runs one visitor (browser or client address) may have queued or training


# name -> (public default, local default)
# Public defaults for Community Cloud's 2 cores and 2.7 GB: every model's quick defaults and every lesson's quick runs
# fit the run budget (the largest, a superpixel GAT at ~1,180 MB, the tutorial's learned edges at ~160 s); what the
# runs training at once add above their workers' start stays under 1.2 GB beside a server of under 1 GB (a run that
# does not fit waits for a slot to free); a class of 30 pressing Start at once fits the queue (2 slots x 15).
LIMIT_SETTINGS: dict[str, tuple[str, float, float]] = {
    "run_mb": ("GRAPHCONV_RUN_MB", 1300, 0),
    "training_mb": ("GRAPHCONV_TRAINING_MB", 1200, 0),
    "run_seconds": ("GRAPHCONV_RUN_SECONDS", 180, 0),
    "batch_seconds": ("GRAPHCONV_BATCH_SECONDS", 600, 0),
    "worker_mb": ("GRAPHCONV_WORKER_MB", 1200, 0),
    "run_wall_s": ("GRAPHCONV_RUN_WALL_S", 600, 0),
    "queue_per_slot": ("GRAPHCONV_QUEUE_PER_SLOT", 15, 0),
    "visitor_runs": ("GRAPHCONV_SESSION_RUNS", 12, 12),
}


def limits(public: bool | None = None) -> Limits:
    """The limits in force (``public=None`` follows :func:`public_mode`); a malformed setting raises
    ``UserInputError`` naming it."""
    from core.errors import UserInputError

    public = public_mode() if public is None else public
    values: dict[str, Any] = {}  # int or float per field, as Limits declares it
    for field, (env, public_default, local_default) in LIMIT_SETTINGS.items():
        raw = os.environ.get(env, "").strip()
        try:
            value = float(raw) if raw else (public_default if public else local_default)
        except ValueError:
            raise UserInputError(env, f"must be a number, got {raw[:40]!r}") from None
        if not value >= 0:
            raise UserInputError(env, f"must be 0 (no limit) or more, got {raw[:40]!r}")
        values[field] = value if field in ("run_seconds", "batch_seconds", "run_wall_s") else int(value)
    return Limits(**values)
