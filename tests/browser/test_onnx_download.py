"""Results in Chromium: "Download ONNX" makes the file when pressed and the browser saves a model onnxruntime runs; the
Reproduce block shows the run's line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.browser.conftest import SHOTS, settle


@pytest.fixture(scope="module")
def run_id(data_dir) -> int:
    """A finished quick CNN in the served app's store (trained in this process)."""
    from core.training.runs import RunConfig, execute

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
        mp.setenv("GRAPHCONV_QUICK", "1")
        return execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]


def test_download_onnx_saves_a_model_that_onnxruntime_runs(server, page, run_id, data_dir, tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("core.export")
    page.goto(f"{server}/results?run={run_id}")
    settle(page)
    button = page.get_by_role("button", name="Download ONNX")
    button.wait_for(state="visible")
    with page.expect_download(timeout=180_000) as saving:
        button.click()
    download = saving.value
    assert download.suggested_filename == f"run-{run_id}-cnn.onnx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    session = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    digits = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    logits, probabilities = session.run(["logits", "probabilities"], {"image": digits})
    assert logits.shape == probabilities.shape == (3, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert json.loads(session.get_modelmeta().custom_metadata_map["graphconv"])["run_id"] == run_id

    page.get_by_text("Reproduce", exact=True).click()
    settle(page)
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
    from core.training.reproduce import reproduce_run
    from core.training.store import RunStore

    store = RunStore()
    expected = reproduce_run(store, store.require_run(run_id)).command
    codes = [c.inner_text().strip() for c in page.locator('[data-testid="stCode"] code').all()]
    assert expected in codes and f"python -m core export {run_id} --onnx run-{run_id}.onnx" in codes, codes
    page.get_by_text("Reproduce", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "results_reproduce.png"), full_page=False)
