"""A stored run as an ONNX file: what the Playground computes for a batch of digits, for onnxruntime (web) or a
visitor who takes the model home.

The file has one input and 2 + k outputs (``core.analysis.playground.PlaygroundNet``, traced):

    image          float32 (B, 1, 28, 28), B dynamic, values in [0, 1], the digit already mirrored and turned
    logits         float32 (B, 10)
    probabilities  float32 (B, 10), the softmax of the logits
    map_1..map_k   float32 (B, C_l, h_l, w_l): what ``layer_maps`` draws of layer l (none for the MLP)

and one metadata entry, ``graphconv``: JSON ``{"format": 1, "run_id", "label", "kind", "group", "maps": [{"output",
"name", "channels", "note"}, ...]}``.

The model is traced in its export form (``ImageModel.prepare_export``): graph products gathered (padded neighbour
lists, or a dense matrix for a dense graph), since sparse tensors cannot be traced and PyG-style scatters often fail
in ONNX; a steerable (escnn) net through its plain-torch twin, as the Playground runs it, its wide filters kept as
basis coefficients that onnxruntime expands once, when it loads the file. Superpixel nets cannot be exported:
each digit's graph is its own SLIC segmentation, computed in Python before the network runs.

``export_run_onnx`` caches the bytes in the data folder (``onnx/``), keyed on the run and its checkpoint file's
version, so a second call reads a file; the folder is bounded (``CACHE_BYTES``, least recently used files go
first) and every file is written whole (a temporary file, then a rename). No streamlit here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from core.analysis.playground import PlaygroundModel, PlaygroundNet
from core.config import data_dir, evict_least_recent, write_atomically
from core.errors import CheckpointError, UserInputError
from core.models import MODELS, ImageModel
from core.models.spec import SUPERPIXEL_INPUTS

FORMAT = 1  # the "format" of the metadata (and of the outputs): a reader checks it
EXPORTER = 2  # bump when the exported graph changes for the same weights: cached files of other versions are stale
META_KEY = "graphconv"  # the metadata_props entry holding the JSON description
INPUT = "image"
CACHE_FOLDER = "onnx"  # under the data folder
CACHE_BYTES = 200 * 2**20  # the cache folder's bound; the least recently used files go first
EXAMPLE_BATCH = 2  # the batch the exporter traces (1 would be taken for a constant)
MAX_BATCH = 4096  # the batch dimension's upper bound in the exported graph


@dataclass(frozen=True)
class OnnxExport:
    """One run's ONNX file: its bytes, their sha256 (hex) and the metadata stored in it (see the module doc)."""

    data: bytes
    sha256: str
    meta: dict


def exportable(model_name: str) -> str:
    """Why runs of model ``model_name`` cannot be exported to ONNX, in one line; "" when they can."""
    if model_name not in MODELS:
        return f"{model_name!r} is not a model type this version knows" if model_name else "the run names no model"
    spec = MODELS.spec(model_name)
    if spec.inputs == SUPERPIXEL_INPUTS:
        return (
            f"{spec.title} reads each digit's own SLIC superpixel graph, segmented in Python before the network "
            "runs, so there is no fixed graph to put in the file"
        )
    return ""


def _quiet_export(net: torch.nn.Module, example: torch.Tensor, outputs: list[str]):
    """``torch.onnx.export`` (dynamo) of ``net`` with a dynamic batch, without its chatter (missing torchvision
    ops, a deprecation inside torch's pytree): an ``onnx.ModelProto``, optimised (constants folded)."""
    chatty = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = chatty.level
    chatty.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="copyreg")
            program = torch.onnx.export(
                net,
                (example,),
                input_names=[INPUT],
                output_names=outputs,
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=MAX_BATCH)},),
                dynamo=True,
                optimize=True,
                verbose=False,
            )
    finally:
        chatty.setLevel(level)
    assert program is not None  # dynamo=True always returns the program
    return program.model_proto


def export_onnx(pm: PlaygroundModel) -> OnnxExport:
    """Trace ``pm`` (``core.analysis.playground.load_playground_model``) into an ONNX file (see the module doc).
    ``pm`` is left as it was: a copy is put in its export form (``ImageModel.prepare_export``). Takes a second or
    two (1-3 s on two busy cores, escnn included)."""
    model = cast(ImageModel, copy.deepcopy(pm.model).eval())
    model.prepare_export()
    net = PlaygroundNet(dataclasses.replace(pm, model=model)).eval()
    example = torch.zeros(EXAMPLE_BATCH, 1, 28, 28)
    example[:, :, 8:20, 12:16] = 1.0  # a bar, so that no layer's example output is all zeros
    with torch.no_grad():
        _, layers = net.layers(example)
    infos = net.describe(layers)
    outputs = ["logits", "probabilities"] + [f"map_{i + 1}" for i in range(len(infos))]
    meta = {
        "format": FORMAT,
        "run_id": int(pm.run_id),
        "label": pm.label,
        "kind": pm.kind,
        "group": pm.group,
        "maps": [
            {"output": name, "name": info.name, "channels": info.channels, "note": info.note}
            for name, info in zip(outputs[2:], infos, strict=True)
        ],
    }
    proto = _quiet_export(net, example, outputs)
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta, ensure_ascii=False)
    proto.doc_string = f"GraphConv Lab run {pm.run_id}: {pm.label}"
    data = proto.SerializeToString()
    return OnnxExport(data, hashlib.sha256(data).hexdigest(), meta)


def read_meta(data: bytes) -> dict:
    """The ``graphconv`` metadata of an ONNX file's bytes (``UserInputError`` when it has none)."""
    import onnx

    props = {p.key: p.value for p in onnx.load_model_from_string(data).metadata_props}
    if META_KEY not in props:
        raise UserInputError("onnx", "the file has no GraphConv Lab metadata")
    return json.loads(props[META_KEY])


# ----------------------------------------------------------------------------- the disk cache

_LOCK = threading.Lock()  # one export at a time in this process: others wait, then read the file it wrote


def cache_folder() -> Path:
    """Where exported files are kept (created on first use)."""
    folder = data_dir() / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _key(run_id: int, checkpoint: Path) -> str:
    """The cache name of run ``run_id``'s export while its ``checkpoint`` file has this path, mtime and size."""
    st = checkpoint.stat()
    version = f"{EXPORTER}|{FORMAT}|{run_id}|{checkpoint.resolve()}|{st.st_mtime_ns}|{st.st_size}"
    return hashlib.sha256(version.encode()).hexdigest()[:32]


def _read_cached(folder: Path, key: str) -> OnnxExport | None:
    """The cached export ``key`` (its use recorded as its files' mtime), or None when it is not there whole."""
    onnx_file, meta_file = folder / f"{key}.onnx", folder / f"{key}.json"
    try:
        said = json.loads(meta_file.read_text())
        data = onnx_file.read_bytes()
    except (OSError, ValueError):
        return None
    digest = hashlib.sha256(data).hexdigest()
    if said.get("sha256") != digest:  # written by another version, or a half-replaced pair
        return None
    for f in (onnx_file, meta_file):
        with contextlib.suppress(OSError):  # a read-only folder still serves the file
            os.utime(f)
    return OnnxExport(data, digest, said["meta"])


def _cache_entry(run_id: int, store=None) -> tuple[Any, Path, str]:
    """(the stored run, the cache folder, its export's cache key); the errors ``export_run_onnx`` documents."""
    from core.analysis.results import checkpoint_file, stored_run

    run = stored_run(run_id, store)
    why = exportable(run.model or "")
    if why:
        raise UserInputError("run", f"run {run.id} cannot be exported to ONNX: {why}")
    try:
        key = _key(run.id, checkpoint_file(run))  # CheckpointError when the run has none
    except OSError as err:  # the file went between the two looks
        raise CheckpointError(f"run {run.id}: its checkpoint cannot be read ({err.strerror})") from err
    return run, cache_folder(), key


CHILD_TIMEOUT_S = 300.0  # an export in a child process: torch's import and the trace take seconds, never minutes


def export_run_onnx_in_child(run_id: int, store=None) -> OnnxExport:
    """``export_run_onnx``, but a file not in the cache yet is exported by a child process
    (``python -m core export``), one at a time: the exporter's imports (torch.onnx's dynamo exporter, onnxscript:
    about 110 MB) and its trace then never land in a web server's memory, which is what a 2.7 GB host keeps for its
    visitors. Costs a few seconds more than in-process, once per run and checkpoint; a cached file is read here.
    The child's one-line error becomes the same error here (``UserInputError`` for bad input, else
    ``CheckpointError`` with its line)."""
    import subprocess
    import sys

    from core.config import REPO_ROOT
    from core.training.store import open_store

    run, folder, key = _cache_entry(run_id, store)
    cached = _read_cached(folder, key)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _read_cached(folder, key)
        if cached is not None:
            return cached
        env = {**os.environ, "GRAPHCONV_DATA_DIR": str(data_dir()), "GRAPHCONV_STORE_URL": open_store(store).location}
        with tempfile.TemporaryDirectory(prefix="graphconv-export-") as tmp:
            target = Path(tmp) / "run.onnx"
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "core", "export", str(run.id), "--onnx", str(target)],
                    cwd=REPO_ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=CHILD_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise CheckpointError(
                    f"run {run.id}: its ONNX export took over {CHILD_TIMEOUT_S:.0f} s and was stopped"
                ) from None
            said = (done.stderr.strip().splitlines() or [f"the export ended with code {done.returncode}"])[-1]
            if done.returncode == 2:
                param, _, message = said.removeprefix("error: ").partition(": ")
                raise UserInputError(param if message else "run", message or param)
            if done.returncode != 0:
                raise CheckpointError(f"run {run.id}: {said.removeprefix('error: ')}")
            cached = _read_cached(folder, key)
            if cached is not None:
                return cached
            data = target.read_bytes()  # a cache folder that cannot be written: the child's file itself
            return OnnxExport(data, hashlib.sha256(data).hexdigest(), read_meta(data))


def export_run_onnx(run_id: int, store=None) -> OnnxExport:
    """Stored run ``run_id`` as an ONNX file, from the cache when its checkpoint has not changed since.

    ``UserInputError("run")`` for a run whose model cannot be exported (``exportable``), ``RunNotFoundError`` and
    ``CheckpointError`` as ``core.analysis.results.load_run_model`` raises them. Safe to call from several threads:
    one exports, the others wait and read its file."""
    from core.analysis.playground import load_playground_model

    run, folder, key = _cache_entry(run_id, store)
    cached = _read_cached(folder, key)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _read_cached(folder, key)  # another thread may have written it meanwhile
        if cached is not None:
            return cached
        done = export_onnx(load_playground_model(run.id, store))
        write_atomically(folder / f"{key}.onnx", done.data)
        write_atomically(folder / f"{key}.json", json.dumps({"sha256": done.sha256, "meta": done.meta}).encode())
        evict_least_recent(folder, "*.onnx", CACHE_BYTES)  # and each one's .json
    return done


def describe(done: OnnxExport) -> dict[str, Any]:
    """What a person reads of an export: bytes, sha256, run, model type and its map outputs."""
    return {
        "bytes": len(done.data),
        "sha256": done.sha256,
        "run_id": done.meta["run_id"],
        "kind": done.meta["kind"],
        "maps": len(done.meta["maps"]),
    }
