"""A run's weights: ``.pt`` files beside the run database, and how their paths are recorded in it.

Checkpoints are written atomically (:func:`save_checkpoint`) and read back onto the CPU with
``torch.load(weights_only=True)`` (:func:`load_checkpoint`), so a file holding anything but tensors
and plain containers is refused, never unpickled; every problem raises
:class:`~core.errors.CheckpointError`. A checkpoint inside the data folder is recorded relative to it
(:func:`path_to_db`), so the folder can be moved (``GRAPHCONV_DATA_DIR``) or copied without its runs
losing their weights (:func:`path_from_db`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.config import data_dir, shown_path
from core.errors import CheckpointError

# ----------------------------------------------------------------------------- paths


def checkpoint_path(run_id: int) -> Path:
    """Where run ``run_id`` keeps its weights: ``data_dir()/"checkpoints"/"run-<id>.pt"``."""
    return data_dir() / "checkpoints" / f"run-{int(run_id)}.pt"


def path_to_db(path: str | Path, folder: Path) -> str:
    """How a checkpoint at ``path`` is recorded in the database in data folder ``folder``."""
    p = Path(path).expanduser()
    try:
        return p.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:  # outside the data folder: keep it as given
        return str(p)


def path_from_db(stored: str | None, folder: Path) -> str | None:
    """The checkpoint path a database in data folder ``folder`` recorded as ``stored``, as a usable path."""
    if not stored:
        return stored
    p = Path(stored)
    if not p.is_absolute():
        return str(folder / p)
    moved = folder / "checkpoints" / p.name  # an absolute path recorded before the folder moved
    if not p.exists() and p.parent.name == "checkpoints" and moved.is_file():
        return str(moved)
    return stored


def remove_owned_checkpoint(path: Path, folder: Path) -> None:
    """Delete the checkpoint at ``path`` only if it lies directly in ``folder`` (the store's own)."""
    folder = folder.resolve()
    resolved = path.expanduser().resolve()
    if resolved.parent == folder and resolved.is_file():
        resolved.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- files


def save_checkpoint(state_dict: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``state_dict`` with ``torch.save`` atomically (temp file, fsync, ``os.replace``).

    A crash mid-write leaves the previous checkpoint (if any) intact. Returns the path.
    """
    import torch

    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state_dict, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | Path) -> Any:
    """Load a checkpoint onto the CPU with ``weights_only=True``.

    Raises :class:`CheckpointError` when the file is missing, corrupt or truncated, or
    holds objects other than tensors and plain containers (which are never unpickled).
    """
    import torch

    source = Path(path).expanduser()
    if not source.is_file():
        raise CheckpointError(f"checkpoint {shown_path(source)} does not exist")
    try:
        return torch.load(source, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # "Unsupported global: GLOBAL module.Class ..."
            raise CheckpointError(
                f"checkpoint {shown_path(source)} holds objects other than tensors and plain containers "
                f"({_weights_unpickler_detail(exc)}); refusing to load it (weights_only)"
            ) from exc
        raise _unreadable(source, exc) from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... here
        raise _unreadable(source, exc) from exc


def _weights_unpickler_detail(exc: BaseException) -> str:
    """The informative line of a torch error: the WeightsUnpickler reason, else the first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    marker = "WeightsUnpickler error:"
    for index, line in enumerate(lines):
        if marker in line:
            reason = line.split(marker, 1)[1].strip()
            if not reason and index + 1 < len(lines):
                reason = lines[index + 1]
            return (reason or line).split(" was not an allowed global")[0]
    return lines[0].split(". ")[0] if lines else type(exc).__name__


def _unreadable(source: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {shown_path(source)} is corrupt, truncated or not a checkpoint "
        f"({type(exc).__name__}: {_weights_unpickler_detail(exc)})"
    )


def load_state_strict(model: Any, state: Mapping[str, Any]) -> None:
    """Load ``state`` into ``model`` strictly and leave it in eval mode. escnn layers keep eval-only buffers
    (expanded filters), so the keys depend on the mode the weights were saved in: eval (a run ends with a test pass)
    or train (a run stopped before its first one); both are tried. Raises the last load's RuntimeError, KeyError or
    ValueError when the weights fit neither."""
    try:
        model.eval()
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError):
        model.train()
        model.load_state_dict(state, strict=True)
    model.eval()
