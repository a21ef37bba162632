"""The server's log carries only real warnings: a run started from the Train page, and the Results page reopening it,
leave no "missing ScriptRunContext" or "use streamlit run" lines (each training or job worker used to run app.py
again as multiprocessing's ``__mp_main__``, calling Streamlit without a session: about 17 lines per worker)."""

from __future__ import annotations

import pytest

from benchmarks.browser_helpers import start_app
from tests.browser.conftest import ROOT, VIEWPORT, settle

NOISE = ("ScriptRunContext", "streamlit run", "Session state does not function", "bare mode")


def test_a_run_started_in_the_app_leaves_no_streamlit_context_warnings_in_the_log(browser, tmp_path):
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        try:
            server, url = start_app(
                ROOT,
                {"GRAPHCONV_DATA_DIR": str(tmp_path / "data"), "GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "0"},
                log=log,
                timeout=90,
            )
        except TimeoutError:
            pytest.fail("the app did not start within 90 s")
        context = browser.new_context(viewport=VIEWPORT)
        try:
            pg = context.new_page()
            pg.set_default_timeout(180_000)
            pg.goto(f"{url}/train?model=mlp&epochs=1&hidden=8")
            settle(pg)
            pg.get_by_role("button", name="Start").first.click()
            pg.get_by_text("Finished: test accuracy").first.wait_for()  # a training worker started and ended
            pg.goto(f"{url}/results")
            pg.get_by_text("On the test set").first.wait_for()
            settle(pg)
        finally:
            context.close()
            server.terminate()
            server.wait(20)
    text = log_path.read_text()
    noise = [line for line in text.splitlines() if any(n in line for n in NOISE)]
    assert not noise, f"{len(noise)} lines such as {noise[:3]}"
    assert "Uvicorn server started" in text or "You can now view" in text  # the log is the server's, and was read
