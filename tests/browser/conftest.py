"""The served app and a headless Chromium for the browser tests, and helpers that act on widgets as a person does."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from benchmarks.browser_helpers import start_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRAPHCONV_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The served app's data folder (its run database and checkpoints)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    """The app's URL: served in quick mode on ``data_dir`` by the measuring scripts' launcher, its log in tmp."""
    with open(tmp_path_factory.mktemp("log") / "streamlit.log", "w") as log:
        try:
            env = {"GRAPHCONV_DATA_DIR": str(data_dir), "GRAPHCONV_QUICK": "1"}
            proc, url = start_app(ROOT, env, log=log, timeout=90)
        except TimeoutError:
            pytest.fail("the app did not start within 90 s")
        yield url
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `bash run.sh test` installs Debian's chromium"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    yield pg
    context.close()


def settle(pg) -> None:
    """Wait until the page's script has finished its rerun."""
    time.sleep(0.4)
    pg.wait_for_selector(IDLE)


def widget(pg, testid: str, label: str):
    """The widget of kind ``testid`` (stSlider, stRadio, ...) whose label is exactly ``label``."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return (
        pg.locator(f'[data-testid="{testid}"]')
        .filter(has=pg.locator('[data-testid="stWidgetLabel"]', has_text=exact))
        .first
    )


def pick(pg, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label`` as a person does (type, Enter)."""
    widget(pg, "stSelectbox", label).locator("input").first.click()
    pg.keyboard.type(option)
    pg.keyboard.press("Enter")
    settle(pg)


def choose(pg, label: str, option: str) -> None:
    """Click ``option`` of the radio group labelled ``label``."""
    widget(pg, "stRadio", label).get_by_text(option, exact=True).click()
    settle(pg)


def nudge(pg, label: str, presses: int) -> None:
    """Move the slider labelled ``label`` by ``presses`` steps with the keyboard (negative: to the left), one step
    at a time: each step's rerun ends before the next key. (Three presses inside one rerun once left a copied link
    one step behind the thumb in CI: the thumb showed 3, the URL's bound value said 2.)"""
    thumb = widget(pg, "stSlider", label).get_by_role("slider").first
    for _ in range(abs(presses)):
        thumb.focus()
        thumb.press("ArrowRight" if presses > 0 else "ArrowLeft")
        settle(pg)


def flip(pg, label: str) -> None:
    """Click the toggle or checkbox labelled ``label``."""
    pg.locator('[data-testid="stCheckbox"]', has_text=label).first.locator("label").first.click()
    settle(pg)


def type_into(pg, label: str, text: str, testid: str = "stNumberInput") -> None:
    """Replace the text of the input labelled ``label`` and press Enter."""
    field = widget(pg, testid, label).locator("input").first
    field.fill(text)
    field.press("Enter")
    settle(pg)


def open_sections(pg) -> None:
    """Open every collapsed expander, so its widgets are laid out like the others."""
    closed = pg.locator('[data-testid="stExpander"] details:not([open]) > summary')
    for _ in range(20):  # each click opens one; the locator then matches the rest
        if not closed.count():
            break
        closed.first.click()
        time.sleep(0.2)
    settle(pg)


# Every widget's label and shown value: sliders (aria value), radios and toggles (what is checked), selectboxes and
# text and number inputs (their value), multiselects (their chips).
_SNAPSHOT_JS = """() => {
  const out = {};
  const label = (w) => (w.querySelector('[data-testid="stWidgetLabel"]')?.innerText || '').trim();
  const put = (kind, w, value) => { let k = `${kind} ${label(w)}`; while (k in out) k += "'"; out[k] = value; };
  document.querySelectorAll('[data-testid="stSlider"]').forEach(w => put('slider', w,
      [...w.querySelectorAll('[role="slider"], input[type="range"]')].map(t => t.getAttribute('aria-valuetext')
                                              || t.getAttribute('aria-valuenow') || t.value).join(' to ')));
  document.querySelectorAll('[data-testid="stRadio"]').forEach(w => put('radio', w,
      (w.querySelector('label:has(input:checked)')?.innerText || '').trim()));
  document.querySelectorAll('[data-testid="stCheckbox"]').forEach(w => put('toggle', w,
      String(w.querySelector('input')?.checked)));
  document.querySelectorAll('[data-testid="stSelectbox"]').forEach(w => put('select', w,
      (w.querySelector('input')?.value || w.querySelector('[data-baseweb="select"]')?.innerText || '').trim()));
  document.querySelectorAll('[data-testid="stTextInput"], [data-testid="stNumberInput"]').forEach(w =>
      put('input', w, w.querySelector('input')?.value));
  document.querySelectorAll('[data-testid="stMultiSelect"]').forEach(w => put('multi', w,
      [...w.querySelectorAll('[data-baseweb="tag"], [data-tag]')].map(t => (t.getAttribute('aria-label')
                                                                            || t.innerText).trim()).join(' | ')));
  return out;
}"""


def widgets(pg) -> dict[str, str]:
    """Every widget on the page (sidebar and main, sections opened) as label -> shown value."""
    settle(pg)
    open_sections(pg)
    return pg.evaluate(_SNAPSHOT_JS)


def copied_link(pg) -> str:
    """Press the sidebar's Copy link as a person does and return the link it copied (and shows)."""
    pg.locator("#gcl-copy").click()
    field = pg.locator("#gcl-link")
    field.wait_for(state="visible")
    link = field.input_value()
    assert pg.evaluate("() => navigator.clipboard.readText()") == link
    return link
