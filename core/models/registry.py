"""MODELS: each model's spec (``core.models.spec.ModelSpec``) by name; ``MODELS.get(name)(config, graph)`` builds it.

A model module registers its spec once, ``MODELS.add(ModelSpec(...))``; everything else asks the registry: the spec
(``MODELS.spec``), a setting's label, range and help (``MODELS.setting``), a model's defaults (``MODELS.default``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import UserInputError
from core.models.spec import ModelSpec, Setting
from core.registry import Registry


class ModelRegistry(Registry):
    """The model registry: a :class:`~core.registry.Registry` of factories that also keeps each model's spec."""

    def __init__(self) -> None:
        super().__init__("model")
        self._specs: dict[str, ModelSpec] = {}

    def add(self, spec: ModelSpec) -> ModelSpec:
        """Register ``spec`` (once: a second spec of the same name is an error)."""
        if spec.name in self._specs:
            raise KeyError(f"model {spec.name!r} registered twice")
        Registry.register(
            self,
            spec.name,
            spec.title,
            spec.about,
            settings=tuple(s.name for s in spec.settings),
            footprint=spec.footprint,
        )(spec.build)
        self._specs[spec.name] = spec
        return spec

    def register(self, *args, **kwargs):
        """Refused: a model registers its spec (one call names everything about it)."""
        raise TypeError("register a model with its spec: MODELS.add(ModelSpec(...)) (core/models/spec.py)")

    def unregister(self, name: str) -> None:
        super().unregister(name)
        self._specs.pop(name, None)

    def spec(self, name: str) -> ModelSpec:
        """The spec of model ``name``; ``UserInputError("model")`` naming the choices for an unknown one."""
        if name not in self._specs:
            self.get(name)  # raises, naming the choices
        return self._specs[name]

    def specs(self) -> list[ModelSpec]:
        return [self._specs[n] for n in self.names()]

    def setting(self, name: str, model: str | None = None) -> Setting | None:
        """How setting ``name`` reads and what it may be: ``model``'s own declaration, else the first model's that
        declares it (labels, ranges and help for lists of settings); None when no model declares it."""
        if model is not None and model in self._specs:
            own = self._specs[model].setting(name)
            if own is not None:
                return own
        return next((s for spec in self.specs() for s in spec.settings if s.name == name), None)

    def all_settings(self) -> dict[str, Setting]:
        """Every model setting, by name, as first declared, in the order the models declare them."""
        out: dict[str, Setting] = {}
        for spec in self.specs():
            for s in spec.settings:
                out.setdefault(s.name, s)
        return out

    def default(self, model: str, name: str, quick: bool = False) -> Any:
        """``model``'s default of setting ``name`` (or of lr / schedule), None when it has none of its own."""
        return self.spec(model).default(name, quick) if model in self._specs else None

    def config(self, model: str, **values: Any) -> Any:
        """``model``'s config dataclass with ``values`` (settings it does not have are an error)."""
        return self.spec(model).config(**values)


MODELS = ModelRegistry()


def describe(name: str, model: str | None = None) -> Setting:
    """The one place to ask what a setting is called, its range or choices and its help (``MODELS.setting``);
    ``UserInputError`` for a name no model declares."""
    found = MODELS.setting(name, model)
    if found is None:
        raise UserInputError(name, "is not a setting of any model")
    return found


class ModelsWhere:
    """The registered models whose spec satisfies ``test``, read from the specs each time (a model registered later
    counts): ``name in models``, ``list(models)``, ``", ".join(models)``."""

    def __init__(self, test: Callable[[ModelSpec], bool]):
        self._test = test

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in MODELS._specs and self._test(MODELS._specs[name])

    def __iter__(self):
        return iter([s.name for s in MODELS.specs() if self._test(s)])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __repr__(self) -> str:
        return f"ModelsWhere({list(self)})"


NEEDS_FIXED_GRAPH = ModelsWhere(lambda s: s.fixed_graph)  # one pixel graph shared by every image (GraphNet)
