"""Quick mode: the environment variable decides; unset, only a Community Cloud checkout is quick."""

from pathlib import Path

import pytest

from core import config


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("ON", True), ("0", False),
                                             ("false", False), ("off", False)])
def test_environment_variable_decides(monkeypatch, value, expected):
    monkeypatch.setenv("GRAPHCONV_QUICK", value)
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: not expected)  # must not matter
    assert config.quick_mode() is expected


@pytest.mark.parametrize("value", [None, "", "maybe"])
def test_unset_follows_the_hosting(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)
    else:
        monkeypatch.setenv("GRAPHCONV_QUICK", value)
    assert config.quick_mode() is config.on_community_cloud()
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: True)
    assert config.quick_mode() is True


def test_community_cloud_checkout_detected_by_its_path():
    assert config.on_community_cloud(Path("/mount/src/graphconv-lab"))
    assert not config.on_community_cloud(Path("/work/main"))
    assert not config.on_community_cloud(Path("/mount/other/graphconv-lab"))
    assert not config.on_community_cloud(config.REPO_ROOT) or str(config.REPO_ROOT).startswith("/mount/src/")
