"""How values go into the run database and come back: JSON columns, metric numbers, library versions.

Configs, summaries, versions and extra metrics are stored as JSON text; numpy and torch values,
paths and sets are made JSON-friendly on the way in. Rows come back as plain dicts.
"""

from __future__ import annotations

import json
import platform
import sqlite3
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from core.training.store.entities import Epoch
from core.training.store.schema import METRIC_COLUMNS, RUN_COLUMNS

_JSON_RUN_COLUMNS = ("config", "summary", "versions")
_VERSIONED_PACKAGES = ("torch", "torch_geometric", "escnn", "numpy")


@lru_cache(maxsize=1)
def _cached_versions() -> tuple[tuple[str, str | None], ...]:
    versions: list[tuple[str, str | None]] = [("python", platform.python_version())]
    for package in _VERSIONED_PACKAGES:
        try:
            versions.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            versions.append((package, None))
    return tuple(versions)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the numeric libraries, read from package metadata.

    Nothing heavy is imported; a package that is not installed maps to ``None``.
    """
    return dict(_cached_versions())


def _json_default(value: Any) -> Any:
    """Make numpy/torch values, paths and sets JSON-friendly."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def from_json(text: str | None, empty: Any = None) -> Any:
    if text is None or text == "":
        return empty
    return json.loads(text)


def as_number(name: str, value: Any) -> float | None:
    """Coerce a metric to float (numpy/torch scalars included); ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric {name} must be a number, got {type(value).__name__}") from exc


def run_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """A ``runs`` row as a dict, its JSON columns parsed (the checkpoint path is left as stored)."""
    run = {key: row[key] for key in RUN_COLUMNS}
    for key in _JSON_RUN_COLUMNS:
        run[key] = from_json(row[key], empty={})
    return run


def epoch_from_row(row: sqlite3.Row) -> Epoch:
    """A ``metrics`` row as an :class:`Epoch` (a dict), its ``extra`` metrics merged in."""
    epoch: dict[str, Any] = {"epoch": row["epoch"]}
    epoch.update({key: row[key] for key in METRIC_COLUMNS})
    epoch.update(from_json(row["extra"], empty={}))
    return cast("Epoch", epoch)
