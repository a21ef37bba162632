"""Shared fixtures: every test gets its own data folder (run database, checkpoints, caches) in tmp."""

import os

import pytest

# quiet, CPU-friendly defaults for the whole suite
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """GRAPHCONV_DATA_DIR points at a fresh folder so tests never touch ./data or each other."""
    path = tmp_path / "data"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(path))
    return path
