"""A classroom link in a real browser: its hidden controls are not shown, Start would train the link's values, the
values survive a change of another control, and the sidebar's Classroom link builder writes such a link."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import SHOTS, VIEWPORT, nudge, open_sections, settle, widget


def _planned(pg) -> dict:
    """The config the Train page's "What Start trains" shows (the section opened)."""
    code = pg.locator('[data-testid="stExpander"]', has_text="What Start trains").locator("code").first
    return json.loads(code.inner_text())


def test_a_classroom_link_hides_its_controls_and_the_builder_writes_one(server, page, browser):
    page.goto(f"{server}/train?model=cheb&lr=0.01&hide=model,lr")
    settle(page)
    open_sections(page)
    assert widget(page, "stSelectbox", "Layer type").count() == 0
    assert widget(page, "stSlider", "Learning rate").count() == 0
    assert widget(page, "stSlider", "Epochs").count() == 1  # the rest is there
    fixed = page.locator('[data-testid="stSidebar"]').get_by_text("Fixed by this link", exact=False).first
    assert "ChebNet" in fixed.inner_text() and "0.01" in fixed.inner_text()
    planned = _planned(page)
    assert (planned["model"], planned["lr"]) == ("cheb", 0.01)

    nudge(page, "Epochs", 1)  # a drawn control changes: the hidden values stay in the address
    query = parse_qs(urlparse(page.url).query)
    assert query["model"] == ["cheb"] and query["lr"] == ["0.01"] and query["hide"] == ["model,lr"]
    assert _planned(page)["model"] == "cheb" and _planned(page)["epochs"] == int(query["epochs"][0])

    builder = page.locator("#gcl-classroom")
    assert builder.locator('input[value="model"]').is_checked() and builder.locator('input[value="lr"]').is_checked()
    builder.locator('input[value="seed"]').check()  # at its default: the link states it
    page.locator("#gcl-class-button").click()
    field = page.locator("#gcl-class-link")
    field.wait_for(state="visible")
    link = field.input_value()
    page.screenshot(path=str(SHOTS / "classroom_builder.png"))
    got = parse_qs(urlparse(link).query)
    assert set(got["hide"][0].split(",")) == {"model", "lr", "seed"}, link
    assert got["model"] == ["cheb"] and got["lr"] == ["0.01"] and got["seed"] == ["0"] and "epochs" in got

    fresh = browser.new_context(viewport=VIEWPORT)  # the class opens it: no cookies, no widget state
    try:
        pg = fresh.new_page()
        pg.set_default_timeout(90_000)
        pg.goto(link)
        settle(pg)
        open_sections(pg)
        assert widget(pg, "stNumberInput", "Seed").count() == 0 and widget(pg, "stSelectbox", "Layer type").count() == 0
        assert _planned(pg)["epochs"] == int(got["epochs"][0]) and _planned(pg)["lr"] == 0.01
    finally:
        fresh.close()


def test_a_phone_sees_what_the_link_fixed_without_opening_the_sidebar(server, browser):
    """On a 390x844 phone the sidebar starts folded: the page's top says what the link fixed."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        pg = ctx.new_page()
        pg.goto(f"{server}/train?model=cheb&lr=0.01&hide=model,lr")
        settle(pg)
        top = pg.locator('[data-testid="stMain"]').get_by_text("Fixed by this link", exact=False).first
        top.wait_for()
        assert top.is_visible() and "ChebNet" in top.inner_text() and "0.01" in top.inner_text()
        assert top.bounding_box()["y"] < 844  # on the first screen, no scrolling
        pg.screenshot(path=str(SHOTS / "classroom_phone_fixed.png"))
    finally:
        ctx.close()
