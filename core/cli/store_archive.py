"""Runs in one file, to move them between stores and machines: ``python -m core store export FILE`` and ``import FILE``.

A visitor of a hosted demo keeps their runs this way, a teacher loads a prepared set, and a store moves from SQLite
to PostgreSQL and back. The file is a zip archive: ``manifest.json`` (the format and its version, every run's row,
epochs, live curve and groups, and where each artifact and checkpoint lies in the archive) beside the artifacts'
bytes (``artifacts/``) and the weights (``checkpoints/<sha256>.pt``, each stored once). It is written through
:class:`~core.training.store.AbstractStore`'s calls only, so every backend exports and imports alike.

An import never overwrites a run: each imported run gets a new id from the target store (the mapping is printed),
a continued run's ``parent`` follows its parent's new id (or is cleared when the parent was not exported), and a
group whose id the target already holds is imported under a new id. The whole file is checked before anything is
stored (``core/cli/store_checks.py``: its size, how many runs, epochs and artifacts, each member's size against the
manifest, each checkpoint's hash and that it holds plain weights); bad input is one
:class:`~core.errors.UserInputError` line, and an import
that fails part way removes the runs it added, so nothing stored before is lost and nothing half-imported stays.

What an import cannot carry through the store's calls: a run's creation time and the library versions it was
trained with become the importing moment's and this installation's; the browser session that owned it is dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.cli.store_checks import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MAX_MEMBER_BYTES,
    bad,
    checked_weights,
    member,
    read_manifest,
)
from core.errors import StoreError, UserInputError
from core.training.store import TERMINAL_STATUSES, AbstractStore, RunGroup, library_versions

# ----------------------------------------------------------------------------- export


def export_runs(store: AbstractStore, target: str | Path, run_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Write the ended runs of ``store`` (those of ``run_ids``, else all) to the archive ``target``; a summary of
    what was written. The file appears whole or not at all; an existing file is never replaced."""
    path = Path(target).expanduser()
    if path.exists():
        raise bad(f"{path.name} exists already; choose another name (an export never replaces a file)")
    if run_ids is None:
        runs = sorted(store.runs(status=TERMINAL_STATUSES), key=lambda r: r.id)
    else:
        runs = [store.require_run(int(i)) for i in sorted(set(run_ids))]
        active = [str(r.id) for r in runs if not r.ended]
        if active:
            raise UserInputError("runs", f"run(s) {', '.join(active)} are still queued or training; export them later")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            manifest = _write_members(store, runs, archive)
            archive.writestr(MANIFEST, json.dumps(manifest, allow_nan=True))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    without = [r["id"] for r in manifest["runs"] if r["checkpoint"] is None and r["status"] == "finished"]
    return {
        "file": str(path),
        "runs": len(runs),
        "checkpoints": len({r["checkpoint"]["sha256"] for r in manifest["runs"] if r["checkpoint"]}),
        "groups": len(manifest["groups"]),
        "bytes": path.stat().st_size,
        **({"finished_without_weights": without} if without else {}),
    }


def _write_members(store: AbstractStore, runs: list, archive: zipfile.ZipFile) -> dict[str, Any]:
    """Each run's artifacts and weights into ``archive``; the manifest that names them."""
    groups: dict[str, RunGroup] = {}
    written: set[str] = set()
    rows = []
    for run in runs:
        for group_id in run.group.member_ids() if run.group else ():
            group = run.group if group_id == run.group_id else store.get_group(group_id)
            if group is not None:
                groups.setdefault(group.id, group)
        artifacts = []
        for index, entry in enumerate(store.list_artifacts(run.id)):
            value = store.load_artifact(run.id, entry["name"], entry["epoch"])
            is_bytes = isinstance(value, bytes)
            member = f"artifacts/{run.id}/{index}.{'bin' if is_bytes else 'json'}"
            data = value if is_bytes else json.dumps(value, allow_nan=True).encode()
            archive.writestr(member, data)
            artifacts.append({**entry, "encoding": "bytes" if is_bytes else "json", "member": member})
        checkpoint = None
        source = Path(run.checkpoint).expanduser() if run.checkpoint else None
        if source is not None and source.is_file():
            weights = source.read_bytes()
            digest = hashlib.sha256(weights).hexdigest()
            member = f"checkpoints/{digest}.pt"
            if member not in written:
                archive.writestr(member, weights, compress_type=zipfile.ZIP_STORED)  # weights barely compress
                written.add(member)
            checkpoint = {"member": member, "sha256": digest, "size": len(weights)}
        progress = store.progress(run.id)
        if progress is not None:
            progress = {**progress, "points": [list(p) for p in progress["points"]]}
        rows.append(
            {
                "id": run.id,
                "name": run.name,
                "kind": run.kind,
                "status": run.status,
                "config": run.config,
                "summary": run.summary.to_dict(),
                "error": run.error,
                "device": run.device,
                "versions": run.versions,
                "created_at": run.created_at,
                "group_id": run.group_id if run.group is not None else None,
                "epochs": [dict(e) for e in store.epochs(run.id)],
                "progress": progress,
                "artifacts": artifacts,
                "checkpoint": checkpoint,
            }
        )
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": time.time(),
        "exported_with": library_versions(),
        "groups": [
            {"type": g.type, "id": g.id, "fields": json.loads(g.fields_json()), "created_at": g.created_at}
            for g in groups.values()
        ],
        "runs": rows,
    }


# ----------------------------------------------------------------------------- import: writing


def import_runs(store: AbstractStore, source: str | Path) -> dict[str, Any]:
    """Add the runs of archive ``source`` to ``store`` under new ids; a summary with the old -> new id mapping.
    Everything is checked first; if storing fails part way, the runs added so far are removed again."""
    path = Path(source).expanduser()
    archive, manifest = read_manifest(path)
    with archive:
        weights = {}  # every checkpoint verified before the first write
        for run in manifest["runs"]:
            if run["checkpoint"] is not None and run["checkpoint"]["member"] not in weights:
                weights[run["checkpoint"]["member"]] = checked_weights(archive, run["checkpoint"], f"run {run['id']}")
        groups = _import_groups(store, manifest["groups"])
        mapping: dict[int, int] = {}
        try:
            for run in sorted(manifest["runs"], key=lambda r: r["id"]):  # a parent before the runs continuing it
                mapping[run["id"]] = _import_run(store, archive, run, mapping, groups, weights)
        except (UserInputError, StoreError, TypeError, ValueError, OSError) as err:
            for new_id in mapping.values():
                store.delete_run(new_id)
            raise StoreError(f"import of {path.name} stopped ({err}); the runs it had added were removed") from err
    return {
        "file": str(path),
        "imported": len(mapping),
        "mapping": mapping,
        "groups": {old: g.id for old, g in groups.items() if old != g.id},
    }


def _import_groups(store: AbstractStore, rows: list[dict[str, Any]]) -> dict[str, RunGroup]:
    """Each group of the file under the id it keeps in ``store``: its own, or a new one where ``store`` holds that
    id already (a lesson launch's parts follow)."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    new_ids = {
        row["id"]: f"{row['id']}:imported-{stamp}" if store.get_group(row["id"]) is not None else row["id"]
        for row in rows
    }
    out = {}
    for row in rows:
        fields = dict(row["fields"])
        if isinstance(fields.get("parts"), dict):
            fields["parts"] = {part: new_ids.get(gid, gid) for part, gid in fields["parts"].items()}
        group = RunGroup.from_row(row["type"], new_ids[row["id"]], json.dumps(fields))
        out[row["id"]] = store.save_group(group)
    return out


def _import_run(
    store: AbstractStore,
    archive: zipfile.ZipFile,
    run: dict[str, Any],
    mapping: dict[int, int],
    groups: dict[str, RunGroup],
    weights: dict[str, bytes],
) -> int:
    """One run of the file stored as a new run of ``store``: its row, epochs, live curve, artifacts and weights."""
    config = dict(run["config"])
    if "parent" in config:
        config["parent"] = mapping.get(config["parent"]) if isinstance(config["parent"], int) else None
    group = groups.get(run["group_id"]) if run["group_id"] else None
    new_id = store.create_run(config, name=run["name"], kind=run["kind"], device=run["device"], group=group)
    mapping[run["id"]] = new_id  # from here on a failure removes this run too
    for epoch in run["epochs"]:
        row = dict(epoch)
        store.log_epoch(new_id, row.pop("epoch"), **row)
    progress = run["progress"]
    if progress is not None:
        points = [(float(x), float(y)) for x, y in progress["points"]]
        loss = progress.get("loss")
        loss = None if loss is None or (isinstance(loss, float) and math.isnan(loss)) else loss
        store.log_progress(new_id, progress["epoch"], progress["batch"], progress["num_batches"], loss, points)
    for entry in run["artifacts"]:
        data = member(archive, entry["member"], MAX_MEMBER_BYTES)
        value = data if entry["encoding"] == "bytes" else json.loads(data)
        store.save_artifact(new_id, entry["name"], value, epoch=entry["epoch"])
    checkpoint = None
    if run["checkpoint"] is not None:  # a name of its own: never another store's run-<id>.pt in a shared folder
        folder = store.data_folder / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"run-{new_id}-imported-", suffix=".pt", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(weights[run["checkpoint"]["member"]])
        checkpoint = Path(name)
    summary = dict(run["summary"])
    if "run_id" in summary:
        summary["run_id"] = new_id
    if "parent" in summary:
        summary["parent"] = mapping.get(summary["parent"]) if isinstance(summary["parent"], int) else None
    store.finish(new_id, summary, status=run["status"], error=run["error"], checkpoint=checkpoint)
    return new_id
