"""The checks of a runs file before an import stores anything (``core/cli/store_archive.py`` writes and reads it).

Everything an import reads is checked here first: the archive's size, the manifest's format and version, every
field's type, how many runs, groups, epochs and artifacts it lists, every member's size against the manifest's and
the bounds below (and its compression ratio: a zip bomb is refused before it is inflated), every checkpoint's hash,
and that each holds plain weights (``torch.load(weights_only=True)``). A failure is one
:class:`~core.errors.UserInputError` line naming the run and what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import UserInputError
from core.training.store import METRIC_COLUMNS, TERMINAL_STATUSES, RunGroup

FORMAT = "graphconv-lab-runs"  # the manifest's "format": what the file is
FORMAT_VERSION = 1  # of the manifest; a file of a newer version is refused with a line saying so
MANIFEST = "manifest.json"
MAX_FILE_BYTES = 4 << 30  # an archive larger than this is refused before it is opened
MAX_MANIFEST_BYTES = 64 << 20  # the manifest's uncompressed size
MAX_MEMBER_BYTES = 1 << 30  # one artifact's or checkpoint's uncompressed size
MAX_TOTAL_BYTES = 8 << 30  # every member's uncompressed size together
MAX_RATIO = 200  # uncompressed / compressed size of one member: more is a zip bomb, not weights or JSON
MAX_RUNS = 10_000
MAX_EPOCHS = 10_000  # per run
MAX_ARTIFACTS = 10_000  # per run
MAX_GROUPS = 10_000
MAX_POINTS = 100_000  # a run's live-curve points (a store keeps at most 1,000)


def bad(message: str) -> UserInputError:
    return UserInputError("file", message)


def read_manifest(path: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """The open archive and its checked manifest; :class:`UserInputError` for anything that is not our file."""
    if not path.is_file():
        raise bad(f"{path.name} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise bad(f"{path.name} is larger than {MAX_FILE_BYTES >> 30} GiB, the most an import reads")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise bad(f"{path.name} is not a GraphConv Lab runs file (not a zip archive: {err})") from err
    try:
        manifest = json.loads(member(archive, MANIFEST, MAX_MANIFEST_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        archive.close()
        raise bad(f"{path.name}: its manifest is not JSON ({err})") from err
    except UserInputError:
        archive.close()
        raise
    try:
        _check_manifest(manifest, archive)
    except BaseException:
        archive.close()
        raise
    return archive, manifest


def member(archive: zipfile.ZipFile, name: str, limit: int, expected: int | None = None) -> bytes:
    """Member ``name``'s bytes, at most ``limit`` of them (and ``expected`` when given), read bounded: a member that
    is missing, larger than it says or than the limit, or compressed past :data:`MAX_RATIO` is refused."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise bad(f"the archive lacks {name}") from None
    if info.file_size > limit:
        raise bad(f"{name} holds {info.file_size:,} bytes, more than the {limit:,} an import reads")
    if expected is not None and info.file_size != expected:
        raise bad(f"{name} holds {info.file_size:,} bytes, not the {expected:,} recorded")
    if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise bad(f"{name} is compressed {info.file_size // max(info.compress_size, 1)}-fold: refused")
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:  # a damaged member (CRC, truncation)
        raise bad(f"{name} is damaged: {err}") from err
    if len(data) != info.file_size:
        raise bad(f"{name} holds more or less than its recorded size")
    return data


def require(condition: bool, message: str) -> None:
    if not condition:
        raise bad(message)


def _check_manifest(manifest: Any, archive: zipfile.ZipFile) -> None:
    """Every field an import reads, its type and its bounds; the members it names exist with their sizes."""
    require(isinstance(manifest, dict) and manifest.get("format") == FORMAT, "not a GraphConv Lab runs file")
    version = manifest.get("version")
    require(isinstance(version, int), "the manifest has no format version")
    require(
        version <= FORMAT_VERSION,
        f"written by a newer GraphConv Lab (format {version}; this one reads up to {FORMAT_VERSION}): upgrade it",
    )
    runs, groups = manifest.get("runs"), manifest.get("groups")
    require(isinstance(runs, list) and isinstance(groups, list), "the manifest lacks its runs or groups")
    require(len(runs) <= MAX_RUNS, f"{len(runs):,} runs: at most {MAX_RUNS:,} are imported at once")
    require(len(groups) <= MAX_GROUPS, f"{len(groups):,} groups: at most {MAX_GROUPS:,}")
    group_ids = set()
    for group in groups:
        require(isinstance(group, dict) and isinstance(group.get("fields"), dict), "a group is not an object")
        try:
            RunGroup.from_row(str(group.get("type")), str(group.get("id") or ""), json.dumps(group["fields"]))
        except (TypeError, ValueError) as err:
            raise bad(f"group {group.get('id')!r}: {err}") from err
        group_ids.add(group["id"])
    total, seen = 0, set[int]()
    for run in runs:
        total += _check_run(run, group_ids, seen, archive)
        require(total <= MAX_TOTAL_BYTES, f"the runs hold more than {MAX_TOTAL_BYTES >> 30} GiB")


def _check_run(run: Any, group_ids: set[str], seen: set[int], archive: zipfile.ZipFile) -> int:
    """One run of the manifest checked; the bytes its members hold."""
    require(isinstance(run, dict) and type(run.get("id")) is int, "a run has no id")
    for optional in ("error", "group_id", "progress", "checkpoint"):  # may be left out: read as none
        run.setdefault(optional, None)
    what = f"run {run['id']}"
    require(run["id"] not in seen, f"{what} is listed twice")
    seen.add(run["id"])
    require(run.get("status") in TERMINAL_STATUSES, f"{what} has status {run.get('status')!r}, not an ended one")
    for key in ("config", "summary", "versions"):
        require(isinstance(run.get(key), dict), f"{what}: its {key} is not an object")
    for key in ("name", "kind", "device"):
        require(isinstance(run.get(key), str), f"{what}: its {key} is not text")
    require(run["error"] is None or isinstance(run["error"], str), f"{what}: its error is not text")
    require(run["group_id"] is None or run["group_id"] in group_ids, f"{what} names a group the file lacks")
    _check_epochs(run.get("epochs"), what)
    if run["progress"] is not None:
        _check_progress(run["progress"], what)
    return _artifact_bytes(run.get("artifacts"), archive, what) + _checkpoint_bytes(run["checkpoint"], archive, what)


def _check_epochs(epochs: Any, what: str) -> None:
    require(isinstance(epochs, list) and len(epochs) <= MAX_EPOCHS, f"{what}: more than {MAX_EPOCHS:,} epochs")
    for epoch in epochs:
        require(isinstance(epoch, dict) and type(epoch.get("epoch")) is int, f"{what}: an epoch has no number")
        metrics = [v for k, v in epoch.items() if k in METRIC_COLUMNS]
        require(all(_number_or_none(v) for v in metrics), f"{what}: an epoch's metric is not a number")
        require("run_id" not in epoch, f"{what}: an epoch names a run")


def _check_progress(progress: Any, what: str) -> None:
    require(isinstance(progress, dict), f"{what}: its progress is not an object")
    position = [progress.get(k) for k in ("epoch", "batch", "num_batches")]
    require(all(type(v) is int for v in position), f"{what}: its progress lacks its position")
    require(_number_or_none(progress.get("loss")), f"{what}: its live loss is not a number")
    points = progress.get("points")
    require(isinstance(points, list) and len(points) <= MAX_POINTS, f"{what}: its live curve is not a short list")
    require(all(_is_point(p) for p in points), f"{what}: a live curve point is not two numbers")


def _artifact_bytes(artifacts: Any, archive: zipfile.ZipFile, what: str) -> int:
    require(isinstance(artifacts, list) and len(artifacts) <= MAX_ARTIFACTS, f"{what}: too many artifacts")
    size = 0
    for entry in artifacts:
        require(isinstance(entry, dict) and isinstance(entry.get("name"), str), f"{what}: an artifact has no name")
        epoch = entry.get("epoch")
        require(epoch is None or type(epoch) is int, f"{what}: an artifact's epoch is not a number")
        require(entry.get("encoding") in ("bytes", "json"), f"{what}: an artifact is neither bytes nor JSON")
        size += _member_size(archive, entry.get("member"), what)
    return size


def _checkpoint_bytes(checkpoint: Any, archive: zipfile.ZipFile, what: str) -> int:
    if checkpoint is None:
        return 0
    require(isinstance(checkpoint, dict) and isinstance(checkpoint.get("sha256"), str), f"{what}: no checkpoint hash")
    return _member_size(archive, checkpoint.get("member"), what)


def _number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _is_point(point: Any) -> bool:
    return isinstance(point, list) and len(point) == 2 and all(_number_or_none(v) and v is not None for v in point)


def _member_size(archive: zipfile.ZipFile, name: Any, what: str) -> int:
    require(isinstance(name, str), f"{what}: a member without a name")
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise bad(f"{what}: the archive lacks {name}") from None
    require(info.file_size <= MAX_MEMBER_BYTES, f"{name} is larger than {MAX_MEMBER_BYTES >> 20} MiB")
    return info.file_size


def checked_weights(archive: zipfile.ZipFile, checkpoint: Mapping[str, Any], what: str) -> bytes:
    """A checkpoint member's bytes: its hash as recorded, and loadable as plain weights (``weights_only``)."""
    import torch

    data = member(archive, checkpoint["member"], MAX_MEMBER_BYTES)
    if hashlib.sha256(data).hexdigest() != checkpoint["sha256"]:
        raise bad(f"{what}: its checkpoint does not match its recorded hash (damaged or edited)")
    try:
        torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:
        raise bad(f"{what}: its checkpoint is not plain weights ({type(err).__name__})") from err
    return data
