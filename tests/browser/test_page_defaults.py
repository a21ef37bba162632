"""What the sidebar does in a real browser: a page opened from it starts from its own defaults (no setting of the page
before leaks into it), a link that names values still opens with them, Copy link copies what the page shows, and
the link the Classroom link builder copies stays in view."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import SHOTS, VIEWPORT, copied_link, nudge, pick, settle, type_into, widgets

# the digit under the Graph Builder's graph (its first chart's heatmap), as the browser draws it
DIGIT_JS = """() => { const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const trace = plot && plot.data.find(t => t.type === 'heatmap');
  return trace ? JSON.stringify(Array.from(trace.z, row => Array.from(row))) : null; }"""


def sidebar_to(pg, title: str, path: str) -> None:
    """Click page ``title`` in the sidebar's navigation, as a person does."""
    pg.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    pg.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    settle(pg)
    pg.wait_for_timeout(500)  # charts draw after the script ends


def graph_builder_default(browser, server) -> tuple[dict, str]:
    """(widgets, the digit drawn) of the Graph Builder opened fresh: its own defaults."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        pg = context.new_page()
        pg.set_default_timeout(90_000)
        pg.goto(f"{server}/graph")
        settle(pg)
        pg.wait_for_function(f"() => ({DIGIT_JS})() !== null")
        return widgets(pg), pg.evaluate(DIGIT_JS)
    finally:
        context.close()


def test_a_page_opened_from_the_sidebar_starts_from_its_own_defaults(server, page, browser):
    default_widgets, default_digit = graph_builder_default(browser, server)
    assert (default_widgets["select Data set"], default_widgets["slider Digit (training image #)"]) == ("mnist-5k", "0")

    page.goto(f"{server}/graph")  # the Graph Builder set to a tilted digit 4, then the Train page
    settle(page)
    pick(page, "Data set", "mnist-rot")
    nudge(page, "Digit (training image #)", 4)
    assert parse_qs(urlparse(page.url).query) == {"data": ["mnist-rot"], "digit": ["4"]}, page.url
    sidebar_to(page, "Train", "train")
    train = widgets(page)
    assert train["select Data set"] == "mnist-5k" and train["input Seed"] == "0", train  # Train's own defaults
    pick(page, "Data set", "mnist-rot")  # as after a C8 run: Train on mnist-rot, seed 3
    type_into(page, "Seed", "3")
    assert parse_qs(urlparse(page.url).query).get("data") == ["mnist-rot"], page.url

    sidebar_to(page, "Graph Builder", "graph")
    page.wait_for_function(f"() => ({DIGIT_JS})() !== null")
    shown = widgets(page)
    page.screenshot(path=str(SHOTS / "page_defaults_graph_builder.png"))
    assert shown["select Data set"] == "mnist-5k" and shown["slider Digit (training image #)"] == "0", shown
    assert page.evaluate(DIGIT_JS) == default_digit  # the digit drawn is mnist-5k's first, not a tilted one
    assert not urlparse(page.url).query, page.url  # nothing from Train or the last visit crept into the address

    nudge(page, "Digit (training image #)", 2)  # Copy link copies what the page shows now
    link = copied_link(page)
    assert parse_qs(urlparse(link).query) == {"digit": ["2"]}, link


def test_a_link_that_names_a_run_opens_it_and_the_sidebar_opens_the_default(server, page, data_dir, monkeypatch):
    """In one browser: Train's link to Results opens the run Train shows (not the newest); Results opened later from
    the sidebar shows its default, the newest run, not the one the link opened."""
    from core.training.runs import RunConfig, execute

    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(data_dir))  # the served app's store
    older, newer = (
        execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True, seed=s))["run_id"] for s in (0, 1)
    )
    page.goto(f"{server}/train?run={older}")
    settle(page)
    page.get_by_text("Open this run on:").first.wait_for()
    page.locator('[data-testid="stPageLink"] a', has_text="Results").first.click()
    page.wait_for_url(re.compile(rf"/results\?run={older}&run_defs=[A-Za-z0-9_-]+$"))  # and what the run is
    settle(page)
    assert widgets(page)["select Run"].startswith(f"Run {older} ·"), widgets(page)
    sidebar_to(page, "Compare runs", "compare")
    sidebar_to(page, "Results", "results")
    assert widgets(page)["select Run"].startswith(f"Run {newer} ·"), widgets(page)


def test_the_copied_classroom_link_stays_in_view(server, page):
    """The builder's link opens below its button; with the button at the bottom edge of the sidebar, the link and the
    line saying what was copied are scrolled into view."""
    page.goto(f"{server}/train?model=cheb")
    settle(page)
    side = page.locator('[data-testid="stSidebar"]')
    side.locator('[data-testid="stExpander"]', has_text="Classroom link").locator("summary").first.click()
    settle(page)
    page.locator("#gcl-class-button").evaluate("b => b.scrollIntoView({block: 'end'})")  # at the bottom edge
    page.wait_for_timeout(300)
    page.locator("#gcl-class-button").click()
    page.locator("#gcl-class-link").wait_for(state="visible")
    page.wait_for_function("() => document.getElementById('gcl-class-status').textContent.length > 0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "classroom_link_in_view.png"))
    for element in ("gcl-class-link", "gcl-class-status"):
        top, bottom, height = page.evaluate(f"""() => {{ const r = document.getElementById('{element}')
            .getBoundingClientRect(); return [r.top, r.bottom, window.innerHeight]; }}""")
        assert top >= 0 and bottom <= height, (element, top, bottom, height)
