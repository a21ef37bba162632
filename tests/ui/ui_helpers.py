"""Helpers for the AppTest page tests."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def no_errors(at: AppTest) -> None:
    """The page ran without an exception and shows no st.error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the app, then switch to ``page`` (a path like app_pages/train.py)."""
    at.run()
    return at.switch_page(page).run()


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}
