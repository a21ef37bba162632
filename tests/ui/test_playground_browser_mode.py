"""The Playground in browser mode (issue 33), as far as Python sees it: once the browser said its runtime runs, the
page runs no inference at all (the server's probabilities, sweep, layer maps and model loading are made to fail
here), hands the browser each run's published ONNX file and the digit; a stroke's digit is the browser's own code;
what the browser reports back is checked before it is shown; the published models are written whole and bounded."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pytest

from tests.ui.ui_helpers import no_errors

PLAYGROUND = "app_pages/playground.py"


def _forbid_server_inference(monkeypatch) -> None:
    import core.analysis.playground as engine

    def refuse(*args, **kwargs):
        raise AssertionError("the server ran Playground inference in browser mode")

    for name in ("probabilities", "angle_sweep", "layer_maps", "load_playground_model"):
        monkeypatch.setattr(engine, name, refuse)


def _parts(at) -> dict[str, dict]:
    """The component parts the page mounted: part name -> the data it handed the browser."""
    out = {}
    for el in at.get("bidi_component"):
        data = json.loads(el.proto.json)
        out[data["part"]] = data
    return out


def test_in_browser_mode_the_server_runs_no_inference_and_hands_the_browser_the_runs(app, monkeypatch):
    from core.data.datasets import load_dataset
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore
    from ui.browser_models import MODELS_DIR

    store = RunStore()
    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True), store)["run_id"]
    mlp = execute(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True), store)["run_id"]
    _forbid_server_inference(monkeypatch)
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.session_state["_pg_browser"] = True  # what the status part reports once the runtime ran in the browser
    at.query_params.update({"pg_src": "dataset", "pg_digit": "5", "pg_runs": f"{cnn},{mlp}", "pg_angle": "30"})
    at.run()
    no_errors(at)
    assert not at.get("plotly_chart")  # the server's figures are not drawn
    assert any(c.value == "Answering in your browser…" for c in at.caption)  # until the browser reports
    parts = _parts(at)
    assert set(parts) == {"status", "angles", "turned", "maps"}
    assert parts["status"]["mode"] == "browser"
    angles = parts["angles"]
    digit = load_dataset("mnist-5k", quick=True).x_test[5].numpy()
    assert np.array_equal(np.array(angles["pixels"], dtype=np.float32), digit.reshape(-1))
    assert angles["key"].startswith("px:") and angles["mirror"] is False and len(angles["angles"]) == 36
    assert [m["id"] for m in angles["models"]] == [cnn, mlp]
    for m in angles["models"]:
        file = MODELS_DIR / f"{m['sha256']}.onnx"
        assert m["url"] == f"app/static/models/{file.name}" and file.stat().st_size == m["bytes"]
        assert hashlib.sha256(file.read_bytes()).hexdigest() == m["sha256"]
    assert [x["output"] for x in angles["models"][0]["maps"]] == ["map_1", "map_2"]  # the CNN's conv layers
    assert angles["models"][1]["maps"] == []  # the MLP has none
    assert parts["turned"]["angle"] == 30 and parts["maps"]["inside"] == cnn
    assert at.slider(key="pg_angle").value == 30  # the link's angle, on the page's own slider
    at.slider(key="pg_angle").set_value(45).run()  # a turn: still no inference here
    no_errors(at)
    assert _parts(at)["turned"]["angle"] == 45


def test_a_stroke_is_the_browsers_digit_and_a_forged_code_falls_back_to_the_png(app, monkeypatch):
    from PIL import Image

    from core.data.datasets import load_dataset
    from core.data.image_io import drawing_ink, encode_digit_link, mnist_digit, quantize_digit
    from core.training.runs import RunConfig, execute

    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[60:220, 130:150, :3] = 255  # a "1"
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    png = buf.getvalue()
    monkeypatch.setattr("ui.draw_canvas.draw_canvas", lambda key, **kw: png)
    browsers = encode_digit_link(quantize_digit(load_dataset("mnist-5k", quick=True).x_test[0].numpy()))
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "draw", "pg_runs": str(cnn)})
    at.session_state["_gc_ink_pg_canvas"] = browsers  # the code the browser sent with the stroke
    at.run()
    no_errors(at)
    assert at.query_params["pg_ink"] in (browsers, [browsers])  # the browser's digit, not a second preparation

    at.session_state["_gc_ink_pg_canvas"] = "A" * 523  # well formed, but no ink: not a digit this page writes
    at.run()
    no_errors(at)
    own = encode_digit_link(quantize_digit(mnist_digit(drawing_ink(png))))
    assert at.query_params["pg_ink"] in (own, [own])


def test_a_report_from_the_browser_is_used_only_when_it_is_about_this_digit_and_well_formed():
    from ui.playground_component import read_report

    p = [0.01] * 9 + [0.91]
    good = {"key": "px:1", "mirror": False, "runs": [3, 7], "given": {"3": p, "7": p},
            "predicted": {"3": [9] * 36, "7": [1] * 36}, "ms": 12.5}  # fmt: skip
    answers = read_report(good, "px:1", False, [3, 7], 36)
    assert answers is not None and answers.ms == 12.5 and answers.predicted[7] == [1] * 36
    assert np.allclose(answers.given[3], p)
    bad = [
        {**good, "key": "px:2"},  # another digit: stale
        {**good, "mirror": True},
        {**good, "runs": [7, 3]},
        {**good, "given": {"3": p}},
        {**good, "given": {"3": p, "7": p[:9]}},
        {**good, "given": {"3": p, "7": [float("nan")] * 10}},
        {**good, "given": {"3": p, "7": [2.0] * 10}},
        {**good, "given": {"3": p, "7": [True] * 10}},
        {**good, "predicted": {"3": [9] * 36, "7": [10] * 36}},
        {**good, "predicted": {"3": [9] * 35, "7": [1] * 36}},
        "not a report",
        None,
    ]
    for value in bad:
        assert read_report(value, "px:1", False, [3, 7], 36) is None, value
    fast = read_report({**good, "ms": "fast"}, "px:1", False, [3, 7], 36)
    assert fast is not None and np.isnan(fast.ms)


def test_a_digits_key_names_a_drawing_by_its_link_code_and_any_other_digit_by_its_pixels():
    from core.data.image_io import encode_digit_link, quantize_digit
    from ui.playground_component import digit_key

    digit = quantize_digit(np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28))
    key, pixels = digit_key(digit, drawn=True)
    assert key == "ink:" + encode_digit_link(digit) and len(pixels) == 784
    other, _ = digit_key(digit, drawn=False)
    assert other.startswith("px:") and other == digit_key(digit.copy(), drawn=False)[0]
    assert other != digit_key(digit[::-1].copy(), drawn=False)[0]


def test_published_models_are_written_whole_named_by_their_sum_and_bounded(tmp_path):
    import os

    from ui.browser_models import TOUCH_S, publish

    def blob(i: int, size: int) -> tuple[bytes, str]:
        data = bytes([i]) * size
        return data, hashlib.sha256(data).hexdigest()

    data, sha = blob(1, 1000)
    assert publish(data, sha, tmp_path, limit=10_000) == f"app/static/models/{sha}.onnx"
    assert (tmp_path / f"{sha}.onnx").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == [f"{sha}.onnx"]  # no temporary file left behind
    with pytest.raises(ValueError):
        publish(b"other bytes", blob(2, 10)[1], tmp_path)  # bytes that are not what their name says
    with pytest.raises(ValueError):
        publish(data, "../../etc/passwd", tmp_path)
    old = time.time() - 10 * TOUCH_S
    os.utime(tmp_path / f"{sha}.onnx", (old, old))
    second, sha2 = blob(2, 6000)
    publish(second, sha2, tmp_path, limit=10_000)
    os.utime(tmp_path / f"{sha2}.onnx", (old + 1, old + 1))
    third, sha3 = blob(3, 3500)
    publish(third, sha3, tmp_path, limit=10_000)  # 10,500 bytes > 10,000: the least recently used goes, only it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{sha2}.onnx", f"{sha3}.onnx"])
