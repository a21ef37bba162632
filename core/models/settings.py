"""A model's own settings as controls: each model's spec declares them (``core.models.spec.setting`` fields of its
config dataclass) and a page draws them from here, so a new model with new settings needs no page code.

``describe(name)`` is the one place to ask how a setting reads (label, range or choices, help); the URL key and
the CLI flag are the setting's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.models.registry import MODELS, describe
from core.models.spec import SIZE, Setting

__all__ = ["SIZE", "Setting", "applicable", "describe"]


def applicable(model: str, cfg: Mapping[str, Any], size: bool = False) -> list[Setting]:
    """The settings ``model`` declares that a page draws (in order; the size ones only with ``size``), among those
    that apply given the settings chosen so far (``Setting.when``)."""
    specs = [s for s in MODELS.spec(model).settings if s.control and (size or s.name not in SIZE)]
    return [s for s in specs if s.applies(cfg)]
