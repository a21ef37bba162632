"""What the Playground's browser inference is given: the vendored onnxruntime-web (static/ort/) and the chosen runs'
ONNX models, published as static files named by their sha256 (static/models/<sha256>.onnx).

Streamlit serves the app's ``static/`` folder at ``app/static/`` (``server.enableStaticServing``), relative to the
page's URL, so every URL here is relative: the page resolves it against ``document.baseURI``. A model is exported
once per run and checkpoint (``core.export.onnx_export``, cached on disk there), then written here
when its file is absent: whole (a temporary file, then a rename), the folder bounded in bytes (``MODELS_BYTES``,
the least recently used files go first). The browser keeps each file in its Cache Storage under the sha256, so a
return visit downloads nothing; the runtime's files likewise, under their sums in ``static/ort/SHA256SUMS``.

    model = browser_model(12, store)   # a BrowserModel: its file published, its URL, sha256 and maps
    data = model.for_component(0)      # ui/playground_component.models_for_browser caches these per checkpoint
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.config import evict_least_recent, write_atomically
from core.figures.playground import RUN_COLORS
from core.models import MODELS

STATIC = Path(__file__).resolve().parents[1] / "static"  # beside app.py: what Streamlit serves at app/static/
ORT_DIR = STATIC / "ort"
MODELS_DIR = STATIC / "models"
PLAYGROUND_JS = STATIC / "playground" / "playground.mjs"
URL_ROOT = "app/static"  # relative to the page's URL
ORT_VERSION = (ORT_DIR / "VERSION").read_text().strip()
ORT_BUNDLE = "ort.wasm.bundle.min.mjs"
ORT_WASM_GZ = "ort-wasm-simd-threaded.wasm.gz"
# The published models' bound: a default CNN or ChebNet exports to about 1-7 MB, so 160 MB keeps dozens; Streamlit
# stops serving static/ altogether above 1 GB. A file used in the last TOUCH_S seconds is not evicted (a browser may
# be about to fetch it).
MODELS_BYTES = 160 * 2**20
TOUCH_S = 60.0
_SHA = re.compile(r"[0-9a-f]{64}")


def ort_sums() -> dict[str, str]:
    """static/ort/SHA256SUMS as file name -> sha256."""
    out = {}
    for line in (ORT_DIR / "SHA256SUMS").read_text().splitlines():
        digest, _, name = line.partition("  ")
        out[name.strip()] = digest.strip()
    return out


@cache
def runtime_spec() -> dict[str, Any]:
    """What the page needs to load onnxruntime-web: its version, and each file's URL and sha256 (the key it is kept
    under in the browser's Cache Storage)."""
    sums = ort_sums()
    return {
        "version": ORT_VERSION,
        "bundle": {"url": f"{URL_ROOT}/ort/{ORT_BUNDLE}", "sha256": sums[ORT_BUNDLE]},
        "wasm_gz": {"url": f"{URL_ROOT}/ort/{ORT_WASM_GZ}", "sha256": sums[ORT_WASM_GZ]},
    }


@cache
def engine_url() -> str:
    """The page's engine module (static/playground/playground.mjs), its URL carrying the file's hash: every import
    of this URL is one module (the canvas and the views share its state), and a new version is a new URL."""
    digest = hashlib.sha256(PLAYGROUND_JS.read_bytes()).hexdigest()[:16]
    return f"{URL_ROOT}/playground/playground.mjs?v={digest}"


@dataclass(frozen=True)
class BrowserModel:
    """One run as the browser runs it: its ONNX file's URL (relative to the page) and sha256, and what the page shows
    of it (label ``#12 CNN``, its model's name and group, the layer maps its outputs ``map_1``... hold)."""

    run_id: int
    label: str
    url: str
    sha256: str
    size: int
    kind: str
    group: str | None
    maps: tuple[dict[str, Any], ...]

    def for_component(self, index: int) -> dict[str, Any]:
        """The JSON the Playground component reads for this run, drawn in ``RUN_COLORS[index]``."""
        return {
            "id": self.run_id,
            "label": self.label,
            "url": self.url,
            "sha256": self.sha256,
            "bytes": self.size,
            "kind": self.kind,
            "group": self.group,
            "color": RUN_COLORS[index % len(RUN_COLORS)],
            "maps": list(self.maps),
        }


def run_label(run_id: int, kind: str, group: str | None) -> str:
    """``#14 Steerable CNN C8``: as the Playground labels a run (its id, its model's short name, its group)."""
    short = MODELS.short(kind) if kind in MODELS else kind
    return f"#{run_id} {short}" + (f" {group}" if group else "")


def _evict(folder: Path, limit: int, keep: set[str]) -> None:
    """Delete the least recently used published models (by mtime) until ``folder`` holds at most ``limit`` bytes;
    the files named in ``keep`` and those used in the last ``TOUCH_S`` seconds stay."""
    fresh = time.time() - TOUCH_S
    evict_least_recent(folder, "*.onnx", limit, spare=lambda f, mtime: f.name in keep or mtime > fresh)


def publish(data: bytes, sha256: str, folder: Path | None = None, limit: int = MODELS_BYTES) -> str:
    """Write ``data`` (an ONNX file whose sha256 is ``sha256``) as ``<folder>/<sha256>.onnx`` unless it is there
    (then its use is recorded: its mtime), keep the folder within ``limit`` bytes; the file's URL relative to the
    page. ``OSError`` when the folder cannot be written."""
    if not _SHA.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    folder = MODELS_DIR if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha256}.onnx"
    try:
        st = target.stat()
    except FileNotFoundError:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("the model's bytes do not match its sha256") from None
        write_atomically(target, data)
        _evict(folder, limit, keep={target.name})
    else:
        if st.st_mtime < time.time() - TOUCH_S:
            os.utime(target)
    return f"{URL_ROOT}/models/{target.name}"


def browser_model(run_id: int, store=None) -> BrowserModel:
    """Run ``run_id`` exported and published: the export runs in a child process (``export_run_onnx_in_child``:
    seconds the first time, and the exporter's 110 MB never stay in the server), a file read after. Raises what the
    export raises (``UserInputError`` for a model that does not export, ``RunNotFoundError``, ``CheckpointError``)
    and ``OSError`` when static/models/ cannot be written."""
    from core.export.onnx_export import export_run_onnx_in_child

    done = export_run_onnx_in_child(run_id, store)
    meta = done.meta
    kind, group = str(meta.get("kind") or ""), meta.get("group")
    url = publish(done.data, done.sha256)
    maps = tuple(
        {k: m.get(k) for k in ("output", "name", "channels", "note")} for m in meta.get("maps", []) if m.get("output")
    )
    return BrowserModel(
        int(run_id), run_label(int(run_id), kind, group), url, done.sha256, len(done.data), kind, group, maps
    )


def touch(model: BrowserModel, folder: Path | None = None) -> None:
    """Record that ``model``'s file is in use (its mtime), at most once every ``TOUCH_S`` seconds."""
    target = (MODELS_DIR if folder is None else folder) / f"{model.sha256}.onnx"
    try:
        if target.stat().st_mtime < time.time() - TOUCH_S:
            os.utime(target)
    except OSError:
        pass
