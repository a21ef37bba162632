"""A corrupt run database: every page that reads runs says so in one message and leaves the file alone."""

import os
from pathlib import Path

import pytest

from tests.ui.ui_helpers import open_page

PAGES = [
    "app_pages/train.py",
    "app_pages/results.py",
    "app_pages/compare.py",
    "app_pages/equivariance.py",
    "app_pages/spectral.py",
    "app_pages/filters.py",
]


@pytest.mark.parametrize("page", PAGES)
def test_corrupt_database_gives_one_clear_error(app, page):
    db = Path(os.environ["GRAPHCONV_DATA_DIR"]) / "runs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    garbage = b"this is not an SQLite database " * 64
    db.write_bytes(garbage)
    at = open_page(app, page)
    if page == "app_pages/filters.py":  # the runs are read once the user asks for learned filters
        at.radio(key="f_src").set_value("learned").run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("corrupt" in e and "runs\\.db" in e for e in errors), errors  # quoted inert: runs\.db
    assert not any(str(db.parent) in e for e in errors), errors  # named in the data folder, not by its path
    assert db.read_bytes() == garbage  # nothing overwritten: the user can still rescue it
