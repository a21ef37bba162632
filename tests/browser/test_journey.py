"""The main journey in a real browser: headless Debian Chromium driven by Playwright.

Starts the app, opens a shared link, moves a slider, starts a quick training, waits for the test
accuracy and saves screenshots under ``artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import json
import time

from tests.browser.conftest import IDLE, SHOTS, copied_link, pick


def _metric(pg, label: str) -> str:
    box = pg.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_shared_link_reopens_configuration(server, page):
    from core.graphs import build_graph

    expected = build_graph("knn", k=12).num_edges
    page.goto(f"{server}/?kind=knn&knn_k=12&digit=5")
    page.get_by_text("Directed edges").first.wait_for()
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(e => e.innerText.trim() === n)",
        arg=f"{expected:,}",
    )
    assert _metric(page, "Directed edges") == f"{expected:,}"
    assert page.get_by_text("Page not found").count() == 0
    page.locator(".js-plotly-plot").first.wait_for()  # the graph figure has drawn
    page.screenshot(path=str(SHOTS / "graph_builder_knn.png"), full_page=True)


def test_moving_a_slider_updates_page_and_url(server, page):
    page.goto(f"{server}/?kind=grid")
    page.get_by_text("Directed edges").first.wait_for()
    slider = page.get_by_role("slider").first  # the digit slider comes first in the sidebar
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => new URLSearchParams(location.search).get('digit') === '3'")  # link updated
    page.get_by_text("8-neighbour grid · digit #3").first.wait_for()  # and the figure redrawn


def test_upload_own_digit_and_bad_file(server, page, tmp_path):
    import numpy as np
    from PIL import Image

    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is text, not a picture")
    good = tmp_path / "seven.png"
    img = np.full((80, 80), 255, np.uint8)
    img[10:16, 15:65] = 0
    img[16:70, 55:61] = 0
    Image.fromarray(img).save(good)
    page.goto(f"{server}/?kind=superpixels")
    page.get_by_text("Directed edges").first.wait_for()
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploader.set_input_files(str(bad))
    page.get_by_text("not a readable image").first.wait_for()  # a clear message, the page still works
    assert page.get_by_text("Directed edges").count() > 0
    uploader.set_input_files(str(good))
    page.get_by_text("About 75 superpixels · your upload").first.wait_for()
    page.screenshot(path=str(SHOTS / "graph_builder_upload.png"), full_page=True)


def test_quick_training_shows_accuracy(server, page):
    page.goto(f"{server}/train?model=mlp&epochs=2")
    page.get_by_role("button", name="Start").first.wait_for()
    page.get_by_role("button", name="Start").first.click()
    page.get_by_text("Finished: test accuracy").first.wait_for(timeout=180_000)
    text = page.get_by_text("Finished: test accuracy").first.inner_text()
    accuracy = float(text.split("test accuracy")[1].split("%")[0])
    assert 50 < accuracy <= 100, text
    assert "run=" in page.url  # the run is in the URL: a reload re-attaches to it
    # without a reload, the page catches up: Stop is disabled and the runs table says finished
    stop = page.get_by_role("button", name="Stop").first
    deadline = time.time() + 15
    while stop.is_enabled() and time.time() < deadline:
        time.sleep(0.5)
    assert not stop.is_enabled(), "Stop is still enabled after the run finished"
    page.screenshot(path=str(SHOTS / "train_finished.png"), full_page=True)


def test_draw_a_digit_in_the_playground(server, page):
    """After the quick training above: draw on the Playground's canvas, see the run answer, then clear it."""
    page.goto(f"{server}/playground?pg_src=draw")
    canvas = page.locator("canvas").last  # the drawing area (inside the component's shadow root)
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    x, top, bottom = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
    page.mouse.move(x, top)
    page.mouse.down()
    page.mouse.move(x, bottom, steps=12)  # a "1": one vertical stroke
    page.mouse.up()
    answer = page.get_by_text("answered in").first
    answer.wait_for()
    assert "MLP:" in answer.inner_text()
    page.get_by_text("Your drawing, prepared as MNIST prepares digits").first.wait_for()
    page.screenshot(path=str(SHOTS / "playground_drawn.png"), full_page=True)
    page.get_by_role("button", name="Clear", exact=True).click()
    page.get_by_text("Draw a digit (or pick one in the sidebar)").first.wait_for()  # no digit: no answer


def test_a_forged_oversized_drawing_is_refused_with_one_line(server, page):
    """The canvas value is the browser's: resize the real canvas to 3000 x 3000 from the page's JavaScript, draw,
    and the PNG it sends (9 Mpx) is refused from its header with one line; the page keeps working."""
    page.goto(f"{server}/playground?pg_src=draw")
    canvas = page.locator("canvas").last
    canvas.wait_for(state="visible")
    canvas.evaluate("c => { c.width = 3000; c.height = 3000; }")  # what a forged client could send
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 40, steps=4)
    page.mouse.up()
    page.get_by_text("the drawing is 3000x3000 pixels; the limit is 4,194,304 pixels").first.wait_for()
    assert page.get_by_text("Draw with the mouse or a finger").count() > 0  # treated as no drawing


def _train_widgets(pg) -> dict:
    """Every slider's value and every radio's choice on the Train page, with the Architecture section open."""
    pg.wait_for_selector(IDLE)
    if not pg.get_by_text("Dropout", exact=True).first.is_visible():
        pg.get_by_text("Architecture").first.click()
        pg.get_by_text("Dropout", exact=True).first.wait_for()
    sliders = pg.get_by_role("slider")
    state = {
        f"slider {sliders.nth(i).get_attribute('aria-label')}": sliders.nth(i).get_attribute("aria-valuetext")
        or sliders.nth(i).get_attribute("aria-valuenow")
        for i in range(sliders.count())
    }
    radios = pg.locator('[data-testid="stRadio"]')
    for i in range(radios.count()):
        radio = radios.nth(i)
        label = radio.locator('[data-testid="stWidgetLabel"]').first.inner_text().strip()
        state[f"radio {label}"] = radio.locator("label:has(input:checked)").first.inner_text().strip()
    return state


def test_a_link_after_switching_layer_types_trains_what_its_sender_trains(server, page, data_dir):
    """gat, then superpixel, then the PyG layer gat: the sender's sidebar, the link, a fresh browser's sidebar and
    the configs both Starts submit all agree (the superpixel recipe's own dropout, rate and schedule)."""
    from core.training.store import RunStore

    page.goto(f"{server}/train")
    page.get_by_role("button", name="Start").first.wait_for()
    pick(page, "Layer type", "GAT")
    _train_widgets(page)  # opens Architecture, as the sender did
    pick(page, "Layer type", "Superpixel")
    _train_widgets(page)
    pick(page, "PyG layer", "GAT")
    sent = _train_widgets(page)
    assert sent["slider Dropout"] == "0.00" and sent["slider Learning rate"] == "0.001", sent
    assert sent["radio Learning-rate schedule"] == "plateau", sent
    link = copied_link(page)  # Copy link, as the sender would share it
    assert "conv=gat" in link and "model=superpixel" in link
    fresh = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    fresh.set_default_timeout(90_000)
    fresh.goto(link)
    fresh.get_by_role("button", name="Start").first.wait_for()
    assert _train_widgets(fresh) == sent
    planned = [
        json.loads(
            pg.locator('[data-testid="stExpander"]', has_text="What Start trains").locator("code").first.text_content()
        )
        for pg in (page, fresh)
    ]
    assert planned[0] == planned[1] and planned[0]["conv"] == "gat"
    store = RunStore(data_dir / "runs.db")
    before = {r["id"] for r in store.list_runs()}
    shown = []
    for pg in (page, fresh):
        pg.get_by_role("button", name="Start").first.click()
        pg.wait_for_function("() => new URLSearchParams(location.search).has('run')")
        shown.append(int(pg.evaluate("() => new URLSearchParams(location.search).get('run')")))
    new = [r for r in store.list_runs() if r["id"] not in before]
    for r in new:
        store.request_stop(r["id"])
    # The fresh browser's Start found exactly the sender's settings and seed (the lookup compares every setting), so
    # it shows the sender's run instead of training a copy (issue 32): one run, both pages on it.
    assert len(new) == 1 and shown == [new[0]["id"]] * 2, (shown, [r["config"] for r in new])
    assert new[0]["config"]["conv"] == "gat" and new[0]["config"]["lr"] == 0.001
    fresh.get_by_text(f"in run {new[0]['id']}: shown here").first.wait_for()
    fresh.context.close()


def test_on_a_phone_the_answers_are_in_view_after_a_stroke_and_the_drawing_travels_in_the_link(
    server, page, monkeypatch, data_dir
):
    """390 x 844, a phone: draw a stroke on the Playground and every run's answer shows right under the canvas,
    inside the screen; the link now holds the drawing (pg_ink), and opening it in a new tab shows the same digit and
    the same answers, with the caption saying where it came from."""
    import re

    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore(data_dir / "runs.db")
    if not store.runs_with_weights(limit=5):  # run alone: train a quick CNN into the served app's data folder
        monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
        execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True), store)
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    pg = phone.new_page()
    pg.set_default_timeout(90_000)
    try:
        pg.goto(f"{server}/playground?pg_src=draw")
        canvas = pg.locator("canvas").last
        canvas.wait_for(state="visible")
        pg.wait_for_selector(IDLE)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        x, top, bottom = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
        pg.mouse.move(x, top)
        pg.mouse.down()
        pg.mouse.move(x, bottom, steps=12)  # a "1"
        pg.mouse.up()
        pg.get_by_text("answered in").first.wait_for()
        line = pg.locator('[data-testid="stMarkdownContainer"]', has_text=re.compile(r"^#\d+ \w+.*: \d \(\d+%\)")).first
        line.wait_for()
        where = line.bounding_box()
        pg.screenshot(path=str(SHOTS / "playground_phone_after_stroke.png"))  # what the phone shows, as it shows it
        assert where is not None and where["y"] >= 0 and where["y"] + where["height"] <= 844, where
        answers = line.inner_text().split(" — answered in")[0].strip()  # "#1 cnn: 1 (13%)", without the time
        pg.wait_for_function("() => (new URLSearchParams(location.search).get('pg_ink') || '').length === 523")
        link = pg.url

        reopened = phone.new_page()  # a new tab, a new session: no stroke, only the link
        reopened.set_default_timeout(90_000)
        reopened.goto(link)
        reopened.get_by_text("This digit came with the link").first.wait_for()
        again = reopened.locator('[data-testid="stMarkdownContainer"]', has_text=answers).first  # the line, first
        again.wait_for()
        assert again.inner_text().split(" — answered in")[0].strip() == answers
        reopened.screenshot(path=str(SHOTS / "playground_phone_link.png"), full_page=True)
        reopened.get_by_role("button", name="Clear", exact=True).click()  # Clear removes the link's digit
        reopened.wait_for_function("() => !new URLSearchParams(location.search).has('pg_ink')")
        reopened.get_by_text("Draw a digit (or pick one in the sidebar)").first.wait_for()
    finally:
        phone.close()
