"""The Playground's answers computed in Chromium with onnxruntime-web equal the server's (issue 33).

For every model type that exports to ONNX, three runs to a page: a data-set digit and a digit drawn with the mouse,
at 0 degrees and at angles that are not multiples of 90 (mirrored too), the browser's probabilities equal
``core.analysis.playground.probabilities`` for the same digit, angle and mirror to 1e-4, with the same top class; its
every-angle sweep equals ``angle_sweep``, its layer maps have ``layer_maps``'s names and shapes, and the digit it
prepared from the drawing is the one Python prepares from the canvas's PNG. Without WebAssembly the server answers and
the page says why; after a visit the browser's Cache Storage holds the runtime and the models, so a return visit
downloads neither.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import numpy as np
import pytest

from benchmarks.browser_helpers import draw_six
from tests.browser.conftest import IDLE, SHOTS, VIEWPORT

# every model type the Playground can run that exports (superpixel nets do not: their graphs are per-image SLIC
# segmentations), three to a page as the Playground shows them
GROUPS = [("cnn", "mlp", "cheb"), ("gcn", "sage", "gin"), ("gat", "learned", "tutorial"), ("escnn",)]
SETTINGS: dict[str, dict[str, Any]] = {"escnn": {"group": "C4"}, "tutorial": {}, "mlp": {"hidden": 16}}
TOL = 1e-4


@pytest.fixture(scope="module")
def model_runs(data_dir) -> dict[str, int]:
    """One finished quick run of each exported model type in the served app's store (trained in this process)."""
    from core.training.runs import RunConfig, execute

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
        mp.setenv("GRAPHCONV_QUICK", "1")
        return {
            name: execute(RunConfig.make(model=name, epochs=1, quick=True, **SETTINGS.get(name, {"hidden": 8})))[
                "run_id"
            ]
            for group in GROUPS
            for name in group
        }


@pytest.fixture
def served(data_dir, monkeypatch):
    """This process reads the served app's store (to compute the server's answers)."""
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    return data_dir


def turned(pg):
    return pg.locator('[data-part="turned"]').first


def wait_for(check, what: str, timeout: float = 120.0):
    """Poll ``check()`` until it returns something truthy (its value), failing with ``what`` after ``timeout`` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def browser_answers(pg, key: str, angle: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """(the browser's probabilities at ``angle``, at 0 degrees) for the digit ``key``, once painted."""
    view = turned(pg)

    def ready():
        if view.get_attribute("data-key") != key or view.get_attribute("data-answer-angle") != str(angle):
            return None
        return view.get_attribute("data-answers"), view.get_attribute("data-given")

    at, given = wait_for(ready, f"the browser's answers for {key[:12]}… at {angle}°")
    parse = lambda text: {int(k): np.array(v, dtype=np.float64) for k, v in json.loads(text).items()}  # noqa: E731
    return parse(at), parse(given)


def assert_equal_answers(browser: dict[int, np.ndarray], server: dict[int, np.ndarray], what: str) -> None:
    assert set(browser) == set(server), what
    for rid, want in server.items():
        got = browser[rid]
        assert got.shape == (10,), (what, rid)
        assert int(got.argmax()) == int(want.argmax()), (what, rid, got, want)
        assert np.abs(got - want).max() <= TOL, (what, rid, np.abs(got - want).max())


def set_angle(pg, angle: int) -> None:
    """Turn the browser's rotation slider to ``angle`` with the keyboard, as a person does."""
    slider = pg.get_by_role("slider", name="Rotation (degrees, counter-clockwise)")
    slider.focus()
    now = int(slider.input_value())
    for _ in range(abs(angle - now)):
        slider.press("ArrowRight" if angle > now else "ArrowLeft")


def open_in_browser_mode(pg, url: str) -> None:
    pg.goto(url)
    pg.get_by_text("Answers computed in your browser").first.wait_for(timeout=180_000)


@pytest.mark.parametrize("group", GROUPS, ids=["-".join(g) for g in GROUPS])
def test_browser_answers_equal_the_servers_for_every_exported_model_type(group, server, page, model_runs, served):
    from core.analysis.playground import angle_sweep, layer_maps, load_playground_model, probabilities
    from core.data.datasets import load_dataset
    from core.data.image_io import decode_digit_link, drawing_ink, encode_digit_link, mnist_digit, quantize_digit
    from ui.playground_component import digit_key

    ids = [model_runs[name] for name in group]
    models = {rid: load_playground_model(rid) for rid in ids}
    index = 7
    digit = load_dataset("mnist-5k", quick=True).x_test[index].numpy()
    key, _ = digit_key(digit, drawn=False)

    # a data-set digit, as given, then turned by the slider
    runs = ",".join(map(str, ids))
    open_in_browser_mode(page, f"{server}/playground?pg_src=dataset&pg_digit={index}&pg_runs={runs}")
    at, given = browser_answers(page, key, 0)
    assert_equal_answers(given, {r: probabilities(m, digit, 0.0) for r, m in models.items()}, "data set, 0°")
    sweep = json.loads(
        wait_for(lambda: page.locator('[data-part="angles"]').first.get_attribute("data-sweep"), "sweep")
    )
    for rid, m in models.items():
        want = angle_sweep(m, digit)["probabilities"]  # (A, 10)
        got = np.array(sweep[str(rid)], dtype=np.float64).reshape(want.shape)
        assert (got.argmax(1) == want.argmax(1)).all() and np.abs(got - want).max() <= TOL, rid
    set_angle(page, 37)
    at, _ = browser_answers(page, key, 37)
    assert_equal_answers(at, {r: probabilities(m, digit, 37.0) for r, m in models.items()}, "data set, 37°")
    inside = ids[0]
    layers = page.locator('[data-part="maps"]').first
    if layer_maps(models[inside], digit, 37.0):
        shapes = json.loads(wait_for(lambda: layers.get_attribute("data-layers"), "the layer maps"))
        want_shapes = [[lm.name, *lm.maps.shape] for lm in layer_maps(models[inside], digit, 37.0)]
        assert shapes == want_shapes
    page.wait_for_function("() => new URLSearchParams(location.search).get('pg_angle') === '37'")  # for the link

    # mirrored, at an angle the link gives
    open_in_browser_mode(
        page, f"{server}/playground?pg_src=dataset&pg_digit={index}&pg_runs={runs}&pg_mirror=true&pg_angle=123"
    )
    at, _ = browser_answers(page, key, 123)
    assert_equal_answers(at, {r: probabilities(m, digit, 123.0, True) for r, m in models.items()}, "mirrored, 123°")

    # a digit drawn with the mouse: the browser prepares it exactly as Python prepares the canvas's PNG
    open_in_browser_mode(page, f"{server}/playground?pg_src=draw&pg_runs={runs}")
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible")
    draw_six(page, canvas)
    png = base64.b64decode(canvas.evaluate("c => c.toDataURL('image/png')").split(",", 1)[1])
    code = encode_digit_link(quantize_digit(mnist_digit(drawing_ink(png))))  # Python's preparation of the drawing
    link = "() => new URLSearchParams(location.search).get('pg_ink')"
    wait_for(lambda: page.evaluate(link) == code, "the browser's digit (the link's pg_ink) to be Python's", 60)
    drawn = decode_digit_link(code)
    at, given = browser_answers(page, "ink:" + code, 0)
    assert_equal_answers(given, {r: probabilities(m, drawn, 0.0) for r, m in models.items()}, "drawn, 0°")
    set_angle(page, 250)
    at, _ = browser_answers(page, "ink:" + code, 250)
    assert_equal_answers(at, {r: probabilities(m, drawn, 250.0) for r, m in models.items()}, "drawn, 250°")
    line = page.get_by_text("answered in your browser in").first  # the answers line, written from the browser's
    line.wait_for()
    assert float(turned(page).get_attribute("data-ms")) > 0
    page.screenshot(path=str(SHOTS / f"playground_browser_{'-'.join(group)}.png"), full_page=True)


def test_cache_storage_keeps_the_runtime_and_the_models_so_a_return_visit_downloads_neither(
    server, browser, model_runs, served
):
    from ui.browser_models import ort_sums

    ids = [model_runs[name] for name in GROUPS[0]]
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    try:
        url = f"{server}/playground?pg_src=dataset&pg_digit=3&pg_runs={','.join(map(str, ids))}"
        first: list[str] = []  # every response's URL, this visit
        pg.on("response", lambda r: first.append(r.url))
        open_in_browser_mode(pg, url)
        wait_for(lambda: turned(pg).get_attribute("data-answers"), "the browser's answers")
        assert any("/app/static/ort/ort-wasm-simd-threaded.wasm.gz" in u for u in first)
        assert sum("/app/static/models/" in u for u in first) == len(ids)
        kept = pg.evaluate(
            """async () => { const out = {};
                 for (const name of await caches.keys()) {
                   out[name] = (await (await caches.open(name)).keys()).map(r => r.url);
                 }
                 return out; }"""
        )
        sums = ort_sums()
        runtime = " ".join(kept["graphconv-ort"])
        for name in ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz"):
            assert f"{name}?sha256={sums[name]}" in runtime
        models = [u.split("/")[-1].split("?")[0] for u in kept["graphconv-models"]]
        assert len(models) == len(ids) and all(m.endswith(".onnx") for m in models)

        first.clear()  # the return visit
        open_in_browser_mode(pg, url)
        wait_for(lambda: turned(pg).get_attribute("data-answers"), "the browser's answers, again")
        assert not [u for u in first if "/app/static/ort/" in u or "/app/static/models/" in u], first
    finally:
        context.close()


def test_without_webassembly_the_server_answers_and_the_page_says_why(server, browser, model_runs):
    # a browser without WebAssembly (Chromium 156 ignores --js-flags=--noexpose_wasm): the global is gone before any
    # of the page's scripts runs
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script("delete globalThis.WebAssembly;")
    try:
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        pg.goto("about:blank")
        assert pg.evaluate("() => typeof WebAssembly") == "undefined"
        runs = ",".join(str(model_runs[name]) for name in GROUPS[0])
        pg.goto(f"{server}/playground?pg_src=dataset&pg_digit=2&pg_runs={runs}")
        pg.get_by_text("The answers are computed on the server: this browser runs no WebAssembly").first.wait_for()
        pg.wait_for_selector(IDLE)
        line = pg.get_by_text(" — answered in ").first
        line.wait_for()
        assert "your browser" not in line.inner_text()  # the server's answer, as before
        assert pg.locator('[data-part="turned"]').count() == 0
        assert pg.locator('[data-testid="stPlotlyChart"]').count() == 2  # the every-angle plot and the bars
        pg.screenshot(path=str(SHOTS / "playground_no_wasm.png"), full_page=True)
    finally:
        context.close()


def test_a_model_the_browser_cannot_load_makes_the_server_answer_and_the_page_says_which(server, browser, model_runs):
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/app/static/models/**", lambda route: route.fulfill(status=404, body="gone"))
    try:
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        runs = ",".join(str(model_runs[name]) for name in GROUPS[0])
        pg.goto(f"{server}/playground?pg_src=dataset&pg_digit=4&pg_runs={runs}")
        note = pg.get_by_text("The answers are computed on the server: run #").first
        note.wait_for()
        assert "did not load in your browser (" in note.inner_text() and "HTTP 404" in note.inner_text()
        line = pg.get_by_text(" — answered in ").first
        line.wait_for()
        assert "your browser" not in line.inner_text()
    finally:
        context.close()
