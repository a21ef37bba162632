"""The CLI's ``export`` command: ``python -m core export RUN --onnx FILE [--json]`` writes a stored run as an ONNX
file (``core.export.onnx_export``: logits, probabilities and the Playground's layer maps, for any onnxruntime) and
prints one line: the file, its bytes, its sha256 and the model type.

A run whose model cannot be exported (a superpixel net) is one line on stderr and exit code 2, as any bad input;
an unknown run or a missing checkpoint exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.config import shown_path, write_atomically
from core.errors import UserInputError


def export_parser(sub: Any) -> None:
    """``export RUN --onnx FILE`` under ``sub`` (the CLI's subcommands)."""
    ex = sub.add_parser(
        "export",
        help="write a stored run as an ONNX file (logits, probabilities and its layer maps, a dynamic batch of "
        "28 x 28 digits), for onnxruntime anywhere",
    )
    ex.add_argument("run", type=int, help="id of a finished run (see `runs`)")
    ex.add_argument("--onnx", required=True, metavar="FILE", help="the file to write (replaced if it exists)")
    ex.add_argument("--json", action="store_true", help="print one JSON object")


def _write(target: Path, data: bytes) -> None:
    """``data`` to ``target`` whole (``write_atomically``); ``UserInputError`` when the folder cannot take it."""
    try:
        write_atomically(target, data)
    except OSError as err:
        raise UserInputError("onnx", f"cannot write {shown_path(target)}: {err.strerror}") from None


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    """Export run ``args.run`` to ``args.onnx``; what was written (the one line a person reads in ``line``)."""
    from core.export import export_run_onnx

    target = Path(args.onnx).expanduser()
    if target.is_dir():
        raise UserInputError("onnx", f"{shown_path(target)} is a folder: name the file to write")
    done = export_run_onnx(args.run)
    _write(target, done.data)
    out = {
        "file": str(target),
        "bytes": len(done.data),
        "sha256": done.sha256,
        "run_id": done.meta["run_id"],
        "kind": done.meta["kind"],
        "outputs": ["logits", "probabilities"] + [m["output"] for m in done.meta["maps"]],
    }
    maps = len(done.meta["maps"])
    out["line"] = (
        f"{target}: {len(done.data)} bytes, sha256 {done.sha256}, {done.meta['kind']} "
        f"(run {done.meta['run_id']}, {maps} layer map{'s' if maps != 1 else ''})"
    )
    return out
