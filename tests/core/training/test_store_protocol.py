"""Both run stores a worker can write through implement every call of ``RunWriter``, with its signature."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from core.training.ray_backend import ChannelStore
from core.training.store import RunStore, RunWriter

PROTOCOL_METHODS = sorted(
    name for name, value in vars(RunWriter).items() if inspect.isfunction(value) and not name.startswith("_")
)


def test_protocol_names_what_a_worker_writes_through():
    assert PROTOCOL_METHODS == [
        "fail",
        "finish",
        "log_epoch",
        "log_progress",
        "save_artifact",
        "start",
        "stop_requested",
    ]


def _parameters(function) -> list[tuple[str, inspect._ParameterKind, bool]]:
    """(name, kind, has a default) of each parameter; annotations are the protocol's business."""
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize("implementation", [RunStore, ChannelStore])
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_each_store_implements_every_call_with_its_signature(implementation, name):
    method = getattr(implementation, name)
    assert method is not getattr(RunWriter, name), f"{implementation.__name__}.{name} is the protocol's stub"
    assert _parameters(method) == _parameters(getattr(RunWriter, name))


def test_instances_are_run_writers(tmp_path: Path):
    assert isinstance(RunStore(tmp_path / "runs.db"), RunWriter)
    assert isinstance(ChannelStore(channel=None), RunWriter)
    assert not isinstance(object(), RunWriter)
