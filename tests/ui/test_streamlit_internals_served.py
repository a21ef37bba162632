"""ui/streamlit_internals.py where only a real server and browser show it: a fragment's own rerun (``run_every``) and
Streamlit's XSRF cookie, which identifies a browser across reloads and tabs (``ui.session.session_id``).

A tiny app (written to a temporary folder, served by ``benchmarks.browser_helpers.start_app`` as the app is) prints
what the adapter sees; headless Chromium reads it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks.browser_helpers import start_app
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from ui.streamlit_internals import XSRF_COOKIE, xsrf_token

ROOT = Path(__file__).resolve().parents[2]
TINY_APP = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
import streamlit as st
from ui import streamlit_internals as internals

st.session_state["full_run"] = internals.run_marker()
token = internals.browser_token()
st.code("FULL " + json.dumps({{"token": token.hex() if token else None, "session": internals.script_session_id(),
                              "body": internals.in_fragment_body(), "rerun": internals.is_fragment_rerun()}}))

@st.fragment(run_every=0.4)
def tick():
    n = st.session_state["ticks"] = st.session_state.get("ticks", 0) + 1
    st.code("FRAG " + json.dumps({{"n": n, "body": internals.in_fragment_body(), "rerun": internals.is_fragment_rerun(),
                                  "in_fragment": internals.in_fragment(),
                                  "full_run": internals.run_marker() is st.session_state["full_run"],
                                  "changed": sorted(internals.changed_internals())}}))

tick()
"""


@pytest.fixture(scope="module")
def tiny_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_app")
    (folder / "app.py").write_text(TINY_APP)
    with open(folder / "streamlit.log", "w") as log:
        try:
            proc, url = start_app(folder, log=log, timeout=90)
        except TimeoutError:
            pytest.fail("the tiny app did not start within 90 s")
        yield url
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `bash run.sh test` installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def shown(pg, prefix: str, ready=lambda seen: True) -> dict:
    """The JSON the tiny app printed after ``prefix``, once ``ready`` accepts it (within 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        for text in pg.locator('[data-testid="stCode"]').all_inner_texts():
            if text.startswith(prefix + " "):
                seen = json.loads(text[len(prefix) + 1 :])
                if ready(seen):
                    return seen
        assert time.monotonic() < deadline, f"the tiny app showed no ready {prefix} line"
        time.sleep(0.2)


def test_a_fragments_own_rerun_is_recognised_and_is_a_new_run(tiny_app, chromium):
    ctx = chromium.new_context()
    try:
        pg = ctx.new_page()
        pg.goto(tiny_app)
        full = shown(pg, "FULL")
        assert not full["body"] and not full["rerun"], f"a full run's top taken for a fragment: {full}"
        frag = shown(pg, "FRAG", lambda seen: seen["n"] >= 3)  # run_every: the fragment's own reruns
        assert not frag["changed"], f"Streamlit internal(s) missing or changed: {frag['changed']}"
        assert frag["rerun"], "ScriptRunContext.fragment_ids_this_run: a fragment's own rerun is not recognised"
        assert frag["body"], "ThreadState.fragment_id: not set in a fragment's own rerun"
        assert frag["in_fragment"]
        assert not frag["full_run"], "ScriptRunContext.cursors: a fragment's rerun has the full run's marker"
    finally:
        ctx.close()


def test_the_xsrf_cookie_names_a_browser_across_reloads_and_tabs(tiny_app, chromium):
    first, other = chromium.new_context(), chromium.new_context()
    try:
        pg = first.new_page()
        pg.goto(tiny_app)
        seen = shown(pg, "FULL")
        cookie = {c["name"]: c["value"] for c in first.cookies()}.get(XSRF_COOKIE)
        assert cookie, f"Streamlit's server set no {XSRF_COOKIE} cookie: {[c['name'] for c in first.cookies()]}"
        token = xsrf_token(cookie)
        assert token is not None and token.hex() == seen["token"], "the XSRF cookie's format changed"
        tab = first.new_page()  # another tab of the same browser: another session, the same token
        tab.goto(tiny_app)
        again = shown(tab, "FULL")
        assert again["token"] == seen["token"] and again["session"] != seen["session"]
        pg.reload()
        assert shown(pg, "FULL")["token"] == seen["token"]
        stranger = other.new_page()  # another browser
        stranger.goto(tiny_app)
        assert shown(stranger, "FULL")["token"] not in (None, seen["token"])
    finally:
        first.close()
        other.close()
