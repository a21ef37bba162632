"""A stored run taken home: its "Download ONNX" button and its Reproduce block (the ``python -m core`` lines that
retrain it and export it), for the Results page.

The ONNX file comes from ``core.export.export_run_onnx_in_child``, which costs seconds the first time for a run (a
child process exports it, so the exporter never enters the web server's memory; then it is a cached file), so the page
never exports on its own: the button's data is a callable that Streamlit calls when the button is pressed, on a thread
of its own (``st.download_button(data=callable)``, Streamlit 1.67), and the page's run costs nothing. What can be
known without exporting is said on the page, in one line, instead of the button: a model type that cannot export
(``core.export.exportable``) and a run without weights.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from core.errors import UserInputError
from core.training.reproduce import export_command, reproduce_run
from core.training.store import Run
from ui.display import error_line, plain

log = logging.getLogger(__name__)
ONNX_MIME = "application/octet-stream"


def onnx_file_name(run: Run) -> str:
    """``run-5-cheb.onnx``: the run's id and model type."""
    return f"run-{run.id}-{run.model or 'model'}.onnx"


def onnx_unavailable(run: Run) -> str:
    """Why ``run`` cannot be downloaded as ONNX, in one line, or ``""`` when it can (nothing is exported here)."""
    from core.export import exportable

    try:
        why = exportable(str(run.model or ""))
    except UserInputError as err:  # a model this version does not have
        return err.message
    return why or ("" if run.checkpoint else "this run saved no weights")


def onnx_bytes(run_id: int) -> bytes:
    """The ONNX file of stored run ``run_id`` (``core.export.export_run_onnx_in_child``: exported once, by a child
    process, then read from its cache): what the download button's callable returns, on Streamlit's thread. A
    failure there reaches the visitor as Streamlit's own one line ("Failed to generate file for download"); its
    reason is logged here in one line."""
    from core.export import export_run_onnx_in_child

    try:
        return export_run_onnx_in_child(int(run_id)).data
    except Exception as err:
        log.warning("run %s: ONNX export failed: %s", run_id, error_line(err))
        raise


def onnx_download(container: Any, run: Run, reason_in: Any = None) -> None:
    """The "Download ONNX" button in ``container``, or the one line saying why this run has none in ``reason_in``
    (default: ``container``; a column is narrow for a sentence)."""
    why = onnx_unavailable(run)
    if why:
        (reason_in or container).caption(f"No ONNX file: {plain(why)}.")
        return
    run_id = run.id
    container.download_button(
        "Download ONNX",
        lambda: onnx_bytes(run_id),
        onnx_file_name(run),
        ONNX_MIME,
        key="onnx_download",
        on_click="ignore",  # the page does not rerun: only the file is made
        icon=":material/deployed_code:",
        width="stretch",
        help="The trained network as an ONNX file (input `image`: float32 [B, 1, 28, 28] in [0, 1]; outputs "
        "`logits`, `probabilities` and the layer maps the Playground draws), for onnxruntime or Netron. Made when "
        "pressed: a few seconds the first time.",
    )


def reproduce_block(store: Any, run: Run) -> None:
    """The Reproduce expander: the line that retrains ``run`` (``core.training.reproduce.reproduce_run``), what its
    numbers depend on, and the line that exports it as ONNX (or why it cannot be)."""
    with st.expander("Reproduce", icon=":material/terminal:"):
        try:
            repro = reproduce_run(store, run)
        except UserInputError as err:  # a run of a model this version does not have: one line
            st.error(f"Cannot write this run's command line — {plain(err)}")
            return
        st.caption(
            "In a checkout of this repository, its environment active (`bash run.sh app` sets up `.venv`, then "
            "`source .venv/bin/activate`), this trains and stores a new run with this run's settings:"
        )
        if repro.command:
            st.code(repro.command, language="bash", wrap_lines=True)
        for note in repro.notes:
            st.caption(plain(note))
        why = onnx_unavailable(run)
        if why:
            st.caption(f"No ONNX export: {plain(why)}.")
        else:
            st.caption("Its trained network as an ONNX file:")
            st.code(export_command(run.id), language="bash")
