"""The fixtures shared by the page tests: the real app.py in quick mode, from the repository root, and closing the
app's run manager after a test that trained through it."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.ui_helpers import APP, ROOT


@pytest.fixture
def app(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    monkeypatch.setenv(
        "GRAPHCONV_STARTER", "0"
    )  # an empty store stays empty (tests/ui/test_first_visit.py turns it on)
    from core.analysis import results

    results.clear_cache()  # evaluations are cached per run id; every test has its own store
    return AppTest.from_file(APP, default_timeout=180)


@pytest.fixture
def served_manager():
    """Closes the app's manager of this test's data folder afterwards (its workers ended), so no run outlives it."""
    yield
    from core.training import runner

    with runner._manager_lock:
        manager = runner._managers.pop(runner.manager_key(), None)
    if manager is not None:
        manager.close()
