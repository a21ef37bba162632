"""A link reopens exactly what its sender sees, on every page, in a real browser.

For each page: change settings through its widgets as a person does, press Copy link, open the copied link in a
fresh browser context (no cookies, no widget state) and compare every widget; on the Train page also the config
that Start would submit.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.browser.conftest import (
    SHOTS,
    VIEWPORT,
    choose,
    copied_link,
    flip,
    nudge,
    open_sections,
    pick,
    settle,
    type_into,
    widget,
    widgets,
)


@pytest.fixture(scope="module")
def runs(data_dir) -> dict[str, int]:
    """Finished quick runs in the served app's store: an MLP and a two-layer ChebNet (trained in this process)."""
    from core.training.runs import RunConfig, execute

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(data_dir))
        mp.setenv("GRAPHCONV_QUICK", "1")
        return {
            name: execute(RunConfig.make(model=name, hidden=8, epochs=1, quick=True))["run_id"]
            for name in ("mlp", "cheb")
        }


def _graph(pg, runs) -> None:
    choose(pg, "Graph kind", "knn")
    nudge(pg, "k", 3)
    pick(pg, "Normalisation", "rw")
    nudge(pg, "Digit (training image #)", 4)


def _train(pg, runs) -> None:
    pick(pg, "Layer type", "ChebNet")
    nudge(pg, "Epochs", 2)
    choose(pg, "Learning-rate schedule", "cosine")
    open_sections(pg)
    nudge(pg, "Chebyshev order K", 3)
    nudge(pg, "Dropout", -2)
    choose(pg, "Readout", "global")
    type_into(pg, "Seed", "7")


def _karate(pg, runs) -> None:
    pick(pg, "Layer type", "gat")
    nudge(pg, "Epochs", 3)
    nudge(pg, "Learning rate", 1)
    type_into(pg, "Seed", "5")


def _spectral(pg, runs) -> None:
    choose(pg, "Graph kind", "knn")
    nudge(pg, "Eigenvectors shown", 2)
    nudge(pg, "Digit (training image #)", 4)
    pick(pg, "Layer", "2")
    nudge(pg, "Input channel", 3)


def _groups(pg, runs) -> None:
    choose(pg, "Group family", "D")
    nudge(pg, "N", 2)
    nudge(pg, "Digit", 2)


def _results(pg, runs) -> None:
    pick(pg, "Run", f"#{runs['mlp']} ")
    flip(pg, "Show shares of each true class")
    pg.get_by_role("tab", name="Mistakes").click()
    pick(pg, "True class", "3")
    pg.get_by_role("tab", name="Embeddings").click()
    pg.get_by_role("tab", name="t-SNE").click()
    nudge(pg, "Perplexity", -2)


def _playground(pg, runs) -> None:
    choose(pg, "Digit", "data set")
    nudge(pg, "Test digit", 3)
    flip(pg, "Mirror left-right first")
    nudge(pg, "Rotation (degrees, counter-clockwise)", 15)


def _filters(pg, runs) -> None:
    choose(pg, "Graph kind", "knn")
    pick(pg, "Normalisation", "sym")
    nudge(pg, "Pixel row", -3)
    nudge(pg, "Pixel column", 2)
    flip(pg, "Zoom to the pixel's neighbourhood")


def _equivariance(pg, runs) -> None:
    pick(pg, "Group", "C4")
    nudge(pg, "Test images", -1)


def _compare(pg, runs) -> None:
    multi = widget(pg, "stMultiSelect", "Status").locator("input").first
    multi.click()
    pg.keyboard.type("finished")
    pg.keyboard.press("Enter")
    pg.keyboard.press("Escape")
    settle(pg)
    grid = pg.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    for row in (1, 2):  # the row-selection column on the left: header, then one 35-pixel row each
        pg.mouse.click(box["x"] + 12, box["y"] + 35 * row + 17)
        settle(pg)
    pick(pg, "Setting to sweep", "Learning rate")
    type_into(pg, "Values (comma-separated)", "0.001, 0.01", testid="stTextInput")


PAGES: dict[str, tuple[str, Callable]] = {
    "graph": ("/graph", _graph),
    "train": ("/train", _train),
    "karate": ("/karate", _karate),
    "spectral": ("/spectral", _spectral),
    "groups": ("/groups", _groups),
    "results": ("/results", _results),
    "playground": ("/playground", _playground),
    "filters": ("/filters", _filters),
    "equivariance": ("/equivariance", _equivariance),
    "compare": ("/compare", _compare),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_a_copied_link_reopens_every_widget(name, server, browser, page, runs):
    path, change = PAGES[name]
    page.goto(server + path)
    settle(page)
    before = widgets(page)
    change(page, runs)
    sent = widgets(page)
    assert sent != before, f"{name}: the changes did not take"  # so an equal copy below means something
    link = copied_link(page)
    fresh = browser.new_context(viewport=VIEWPORT).new_page()
    fresh.set_default_timeout(90_000)
    try:
        fresh.goto(link)
        settle(fresh)
        got = widgets(fresh)
        if got != sent:
            fresh.screenshot(path=str(SHOTS / f"round_trip_{name}_fresh.png"), full_page=True)
            page.screenshot(path=str(SHOTS / f"round_trip_{name}_sender.png"), full_page=True)
        assert got == sent, {k: (sent.get(k), got.get(k)) for k in set(sent) | set(got) if sent.get(k) != got.get(k)}
        if name == "compare":  # the ticked runs: the same two, their settings side by side
            heads = [pg.get_by_text("2 selected runs").count() for pg in (page, fresh)]
            assert heads == [1, 1], heads
        if name == "train":  # the run a Start would submit, with every default filled in
            submitted = [
                json.loads(
                    pg.locator('[data-testid="stExpander"]', has_text="What Start trains")
                    .locator("code")
                    .first.text_content()
                )
                for pg in (page, fresh)
            ]
            assert submitted[0] == submitted[1]
            assert (submitted[0]["model"], submitted[0]["K"], submitted[0]["seed"]) == ("cheb", 8, 7)
    finally:
        fresh.context.close()
