"""The Results page's "Download ONNX" button and Reproduce block (ui/reproduce.py), through app.py's navigation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from core.training.reproduce import export_command, train_command
from core.training.runs import RunConfig, execute
from core.training.store import RunStore
from tests.ui.ui_helpers import no_errors, open_page

RESULTS = "app_pages/results.py"


def reproduce_codes(at) -> list[str]:
    """The code blocks of the page (the Reproduce expander's lines)."""
    return [c.value for c in at.code]


@pytest.fixture
def deferred(monkeypatch):
    """What the page registers as download buttons' deferred data (callable, file name), recorded as Streamlit's own
    MediaFileManager.add_deferred registers it (called through: nothing is replaced)."""
    seen: list[tuple] = []
    original = MediaFileManager.add_deferred

    def recording(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen.append((data_callable, file_name, mimetype))
        return original(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    return seen


def test_results_shows_the_exact_train_line_and_a_download_that_onnxruntime_runs(app, deferred):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("core.export")
    run_id = execute(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True, seed=2))["run_id"]
    run = RunStore().require_run(run_id)
    at = open_page(app, RESULTS)
    no_errors(at)

    line = train_command(RunConfig.from_dict(run.config), device=run.device)
    assert line == (
        "python -m core train --data mnist-5k --model mlp --layers 2 --hidden 16 --dropout 0.5 --epochs 1 --lr 0.001 "
        "--schedule constant --seed 2 --device cpu --quick"
    )
    assert line in reproduce_codes(at)
    assert export_command(run_id) in reproduce_codes(at)
    assert any("trained on cpu" in c.value for c in at.caption)

    (button,) = [b for b in at.get("download_button") if b.proto.label == "Download ONNX"]
    assert not button.proto.disabled and button.proto.deferred_file_id  # made when pressed, not on the page's run
    (made, name, mime) = next(d for d in deferred if d[1].endswith(".onnx"))
    assert name == f"run-{run_id}-mlp.onnx" and mime == "application/octet-stream"
    data = made()  # what the browser downloads when the button is pressed
    assert isinstance(data, bytes) and data[:2] != b"PK"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    from core.data.datasets import load_dataset

    digits = load_dataset("mnist-5k", quick=True).x_test[:8].unsqueeze(1).numpy().astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    logits, probabilities = session.run(names[:2], {"image": digits})
    assert names[:2] == ["logits", "probabilities"] and logits.shape == probabilities.shape == (8, 10)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    meta = json.loads(session.get_modelmeta().custom_metadata_map["graphconv"])
    assert meta["run_id"] == run_id and meta["kind"] == "mlp"


def test_a_superpixel_run_says_why_it_has_no_onnx_file(app):
    pytest.importorskip("core.export")
    from core.export import exportable

    cfg = RunConfig.make(
        model="superpixel", graph="superpixels", graph_params={"segments": 20}, layers=1, epochs=1, quick=True
    )
    run_id = execute(cfg)["run_id"]
    at = open_page(app, RESULTS)
    no_errors(at)
    assert "Download ONNX" not in [b.proto.label for b in at.get("download_button")]
    why = exportable("superpixel")
    assert why and sum(c.value.startswith("No ONNX") and "SLIC" in c.value for c in at.caption) == 2, [
        c.value for c in at.caption
    ]  # under Downloads and in the Reproduce block, in one line each
    assert not any(f"export {run_id}" in code for code in reproduce_codes(at))
    line = train_command(RunConfig.from_dict(RunStore().require_run(run_id).config), device="cpu")
    assert "--segments 20" in line and line in reproduce_codes(at)


def test_a_continued_runs_block_continues_its_parent(app):
    from core.training.runs import continuation_config

    store = RunStore()
    parent = execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True), store)["run_id"]
    child = execute(continuation_config(store, parent, 2), store)["run_id"]
    at = open_page(app, RESULTS)
    no_errors(at)
    assert at.selectbox(key="run").value == child
    assert f"python -m core continue {parent} --epochs 2" in reproduce_codes(at)
    assert not any(code.startswith("python -m core train") for code in reproduce_codes(at))
