"""The CLI's store commands: ``python -m core store export FILE`` and ``python -m core store import FILE``.

Both work on this process's run store (``GRAPHCONV_STORE_URL``, else ``runs.db`` in the data folder) or on the one
``--store`` names (a ``postgresql://`` URL, a ``sqlite:///`` URL or a file path), so a store moves from SQLite to
PostgreSQL and back in two commands. The file's format is ``core/cli/store_archive.py``'s, its checks
``core/cli/store_checks.py``'s.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.errors import UserInputError


def store_parser(sub: Any) -> None:
    """``store export`` and ``store import`` under ``sub`` (the CLI's subcommands)."""
    st = sub.add_parser("store", help="move runs between stores and machines: export them to one file, import one")
    commands = st.add_subparsers(dest="store_command", required=True, parser_class=type(st))  # one-line errors too
    ex = commands.add_parser("export", help="write ended runs (weights, epochs, artifacts, groups) to one .zip file")
    ex.add_argument("file", help="the file to write (never replaced if it exists)")
    ex.add_argument("--runs", default=None, help="comma-separated run ids (default: every ended run)")
    im = commands.add_parser("import", help="add the runs of an exported file under new ids (the mapping is printed)")
    im.add_argument("file", help="a file written by `store export`")
    for p in (ex, im):
        p.add_argument(
            "--store",
            default=None,
            help="the store: a postgresql:// URL, sqlite:///path or a path (default: GRAPHCONV_STORE_URL, else the "
            "data folder's runs.db)",
        )
        p.add_argument("--json", action="store_true")


def _run_ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserInputError("runs", f"expected comma-separated run ids, got {text!r}") from None
    if not ids:
        raise UserInputError("runs", "name at least one run id")
    return ids


def cmd_store(args: argparse.Namespace) -> dict[str, Any]:
    """Export or import runs; what was written or added (an import's old -> new ids)."""
    from core.cli.store_archive import export_runs, import_runs
    from core.training.store import open_store, store_at

    store = store_at(args.store) if args.store else open_store()
    if args.store_command == "export":
        return export_runs(store, args.file, _run_ids(args.runs))
    out = import_runs(store, args.file)
    if not args.json:  # one line a person reads: "3 -> 17, 4 -> 18"
        out["mapping"] = ", ".join(f"{old} -> {new}" for old, new in out["mapping"].items()) or "nothing imported"
    return out
