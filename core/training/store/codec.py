"""How values go into the run database and come back: JSON columns, metric numbers, library versions.

Configs, summaries, versions and extra metrics are stored as JSON text; numpy and torch values,
paths and sets are made JSON-friendly on the way in. Rows come back as plain dicts.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, cast

from core.training.store.entities import Epoch, Run
from core.training.store.groups import RunGroup
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


class Row(Protocol):
    """A row either store reads: ``sqlite3.Row`` or psycopg's dict row, both indexed by column name."""

    def __getitem__(self, key: str) -> Any: ...


# The columns a run is read with, beside RUN_COLUMNS: its host and its group's (both stores' SELECT joins them)
GROUP_JOIN = " g.type AS group_type, g.fields AS group_fields, g.created_at AS group_created_at"


def run_entity(row: Row, checkpoint: Callable[[str | None], str | None]) -> Run:
    """A ``runs`` row joined with its group's (:data:`GROUP_JOIN`) as a :class:`Run`: JSON parsed, the stored
    checkpoint turned into a usable path by ``checkpoint`` (each store knows where its weights lie)."""
    run = run_from_row(row)
    run["checkpoint"] = checkpoint(run.get("checkpoint"))
    group = None
    if row["group_type"] is not None:
        group = RunGroup.from_row(row["group_type"], row["group_id"], row["group_fields"], row["group_created_at"])
    return Run.from_dict(run, group)


def run_filters(
    mark: str,
    limit: int | None = None,
    status: str | Iterable[str] | None = None,
    kind: str | None = None,
    session: str | None = None,
    group: RunGroup | str | None = None,
) -> tuple[str, list[Any]]:
    """The ``WHERE ... ORDER BY ... LIMIT`` tail of ``runs()`` and its parameters, for a driver whose placeholder is
    ``mark`` (``?`` for sqlite3, ``%s`` for psycopg): newest first, of a status (or one of several), a kind, a
    session, a group (or its id)."""
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        clauses.append(f"runs.status IN ({', '.join([mark] * len(statuses))})" if statuses else "FALSE")
        params.extend(statuses)
    group_id = group.id if isinstance(group, RunGroup) else group
    for column, value in (("kind", kind), ("session", session), ("group_id", group_id)):
        if value is not None:
            clauses.append(f"runs.{column} = {mark}")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    tail = f" LIMIT {mark}" if limit is not None else ""
    params.extend([int(limit)] if limit is not None else [])
    return f"{where} ORDER BY runs.id DESC{tail}", params


def run_from_row(row: Row) -> dict[str, Any]:
    """A ``runs`` row as a dict, its JSON columns parsed (the checkpoint path is left as stored)."""
    run = {key: row[key] for key in RUN_COLUMNS}
    for key in _JSON_RUN_COLUMNS:
        run[key] = from_json(row[key], empty={})
    return run


def progress_from_row(row: Row | None) -> dict[str, Any] | None:
    """A ``progress`` row as ``{"epoch", "batch", "num_batches", "loss", "points", "updated_at"}``; None for none."""
    if row is None:
        return None
    out = {key: row[key] for key in ("epoch", "batch", "num_batches", "loss", "updated_at")}
    out["points"] = [tuple(p) for p in from_json(row["points"], empty=[])]
    return out


def epoch_from_row(row: Row) -> Epoch:
    """A ``metrics`` row as an :class:`Epoch` (a dict), its ``extra`` metrics merged in."""
    epoch: dict[str, Any] = {"epoch": row["epoch"]}
    epoch.update({key: row[key] for key in METRIC_COLUMNS})
    epoch.update(from_json(row["extra"], empty={}))
    return cast("Epoch", epoch)
