"""Quick mode: the environment variable decides; unset, only a Community Cloud checkout is quick."""

from pathlib import Path

import pytest

from core import config
from core.errors import UserInputError


@pytest.mark.parametrize(
    "value, expected", [("1", True), ("true", True), ("ON", True), ("0", False), ("false", False), ("off", False)]
)
def test_environment_variable_decides(monkeypatch, value, expected):
    monkeypatch.setenv("GRAPHCONV_QUICK", value)
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: not expected)  # must not matter
    assert config.quick_mode() is expected


@pytest.mark.parametrize("value", [None, "", "maybe"])
def test_unset_follows_public_mode(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)
    else:
        monkeypatch.setenv("GRAPHCONV_QUICK", value)
    monkeypatch.delenv("GRAPHCONV_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert config.quick_mode() is config.public_mode() is config.on_community_cloud()
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: True)
    assert config.quick_mode() is True
    monkeypatch.setenv("GRAPHCONV_PUBLIC", "0")  # a public host's owner turned public mode off: full-size runs
    assert config.quick_mode() is False


def test_public_mode_is_on_where_others_reach_the_app(monkeypatch):
    monkeypatch.delenv("GRAPHCONV_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: False)
    assert config.public_mode() is False  # a local checkout, the CLI
    monkeypatch.setenv("SPACE_ID", "teacher/graphconv-lab")  # a Hugging Face Space
    assert config.public_mode() is True
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: True)
    assert config.public_mode() is True
    monkeypatch.setenv("GRAPHCONV_PUBLIC", "0")
    assert config.public_mode() is False
    monkeypatch.setattr(config, "on_community_cloud", lambda root=None: False)
    monkeypatch.setenv("GRAPHCONV_PUBLIC", "1")  # anywhere, the CLI included
    assert config.public_mode() is True


def test_limits_public_defaults_local_defaults_and_settings(monkeypatch):
    for env, _, _ in config.LIMIT_SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
    public, local = config.limits(public=True), config.limits(public=False)
    assert public.run_mb > 0 and public.run_seconds > 0 and public.queue_per_slot > 0 and public.worker_mb > 0
    assert local.run_mb == local.run_seconds == local.queue_per_slot == local.worker_mb == 0  # no limit
    monkeypatch.setenv("GRAPHCONV_RUN_MB", "250")
    assert config.limits(public=True).run_mb == 250
    monkeypatch.setenv("GRAPHCONV_RUN_MB", "lots")
    with pytest.raises(UserInputError, match="GRAPHCONV_RUN_MB"):
        config.limits(public=True)


def test_community_cloud_checkout_detected_by_its_path():
    assert config.on_community_cloud(Path("/mount/src/graphconv-lab"))
    assert not config.on_community_cloud(Path("/work/main"))
    assert not config.on_community_cloud(Path("/mount/other/graphconv-lab"))
    assert not config.on_community_cloud(config.REPO_ROOT) or str(config.REPO_ROOT).startswith("/mount/src/")
