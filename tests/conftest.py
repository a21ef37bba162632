"""Shared fixtures: every test gets its own data folder (run database, checkpoints, caches) and CPU-share
registry in tmp."""

import os

import pytest
import torch

# quiet, CPU-friendly defaults for the whole suite
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """GRAPHCONV_DATA_DIR points at a fresh folder so tests never touch ./data or each other."""
    path = tmp_path / "data"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(path))
    monkeypatch.delenv("GRAPHCONV_PUBLIC", raising=False)  # public mode only where a test turns it on
    monkeypatch.delenv("GRAPHCONV_STORE_URL", raising=False)  # the data folder's SQLite unless a test gives a URL
    monkeypatch.setenv("GRAPHCONV_CPU_DIR", str(tmp_path / "cpu-shares"))  # CPU shares among this test's runs only
    return path


class TinyFeatureModel(torch.nn.Module):
    """A 4x4-pixel image model with ``features`` and a ``classifier`` (dropout + linear), as every model has."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU())
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.classifier(self.features(x))


@pytest.fixture
def tiny_feature_model() -> TinyFeatureModel:
    return TinyFeatureModel()
