"""The first visit to a fresh server in a real browser: the Playground trains a starter set in the background and a
6 drawn while it trains is answered by at least two models, without the visitor training anything.

The server (this module's own, on an empty data folder, quick mode) has the starter set on, as the app has by
default. How soon the answers come is measured by ``python -m benchmarks.first_visit``, not asserted here.
"""

from __future__ import annotations

from benchmarks.browser_helpers import draw_six
from tests.browser.conftest import SHOTS

ANSWERS_JS = """(want) => {
  const line = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')].map(e => e.innerText.trim())
    .find(t => t.includes(' — answered in '));
  return !!line && line.split(' — answered in ')[0].split(' · ').length >= want;
}"""
LINE_JS = """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')].map(e => e.innerText.trim())
  .find(t => t.includes(' — answered in '))"""


def test_a_digit_drawn_on_a_fresh_server_is_answered_by_two_starter_models(server, page):
    page.goto(f"{server}/playground?pg_src=draw")
    page.get_by_text("Training a starter set so you can try the Playground").first.wait_for()
    canvas = page.locator("canvas").last
    canvas.wait_for(state="visible")
    page.get_by_text("a starter set is training").first.wait_for()  # no run yet: what the page waits for
    draw_six(page, canvas)
    page.wait_for_function(ANSWERS_JS, arg=2, timeout=180_000)  # the CNN and the ChebNet, as they finish
    line = page.evaluate(LINE_JS)
    assert " CNN: " in line and " ChebNet: " in line, line
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Your drawing, prepared as MNIST prepares digits").count() > 0  # the drawing answered
    page.screenshot(path=str(SHOTS / "first_visit_two_answers.png"), full_page=True)
