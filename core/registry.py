"""A tiny name -> factory registry (big_vision style), so new entries never touch page code."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import UserInputError

T = TypeVar("T")


@dataclass(frozen=True)
class _Lazy:
    module: str  # imported on first use; it registers the real entry


class Registry(Generic[T]):
    """Maps names to factories. ``register("name")`` is a decorator."""

    def __init__(self, what: str):
        self.what = what  # e.g. "graph kind", used in error messages
        self._items: dict[str, T] = {}
        self._titles: dict[str, str] = {}  # name -> what a person reads, e.g. "ChebNet (Defferrard et al. 2016)"
        self._about: dict[str, str] = {}  # name -> one line on what the entry is
        self._settings: dict[str, tuple[str, ...]] = {}  # name -> the settings it reads (controls a page draws)
        self._footprints: dict[str, Callable] = {}  # name -> what one step costs, from its config (models)

    def register(
        self,
        name: str,
        title: str | None = None,
        about: str | None = None,
        settings: tuple[str, ...] | None = None,
        footprint: Callable | None = None,
    ) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and not isinstance(self._items[name], _Lazy):
                raise KeyError(f"{self.what} {name!r} registered twice")
            self._items[name] = obj
            self._describe(name, title, about, settings, footprint)
            return obj

        return deco

    def register_lazy(
        self,
        name: str,
        module: str,
        title: str | None = None,
        about: str | None = None,
        settings: tuple[str, ...] | None = None,
        footprint: Callable | None = None,
    ) -> None:
        """Reserve ``name``; the entry is imported from ``module`` (which registers it) on first ``get``.

        Keeps slow imports (escnn takes seconds) off the start-up path; its title and line are known before.
        """
        self._items.setdefault(name, _Lazy(module))  # type: ignore[arg-type]
        self._describe(name, title, about, settings, footprint)

    def _describe(
        self,
        name: str,
        title: str | None,
        about: str | None,
        settings: tuple[str, ...] | None,
        footprint: Callable | None = None,
    ) -> None:
        if title:
            self._titles[name] = title
        if about:
            self._about[name] = about
        if settings is not None:
            self._settings[name] = tuple(settings)
        if footprint is not None:
            self._footprints[name] = footprint

    def footprint(self, name: str) -> Callable | None:
        """The cost function entry ``name`` declared (models: ``(ModelConfig, GraphShape) -> Footprint``), or None."""
        if name not in self._items:
            self.get(name)  # raises UserInputError naming the choices
        return self._footprints.get(name)  # declared at registration, so a lazy entry is not imported

    def settings(self, name: str) -> tuple[str, ...]:
        """The settings entry ``name`` reads beyond the common ones, e.g. ("K", "readout") (none declared: ())."""
        return self._settings.get(name, ())

    def unregister(self, name: str) -> None:
        """Forget ``name`` (tests that register a throw-away entry clean up with this)."""
        for table in (self._items, self._titles, self._about, self._settings, self._footprints):
            table.pop(name, None)

    def title(self, name: str) -> str:
        """The name a person reads (links and configs keep the short ``name``)."""
        return self._titles.get(name, name)

    def short(self, name: str) -> str:
        """The title without its parenthesis, as people say it: "ChebNet (Defferrard et al. 2016)" -> "ChebNet"."""
        return self.title(name).split(" (")[0]

    def about(self, name: str) -> str:
        """One line on what ``name`` is ("" when none was given)."""
        return self._about.get(name, "")

    def get(self, name: str) -> T:
        try:
            item = self._items[name]
            if isinstance(item, _Lazy):
                importlib.import_module(item.module)
                item = self._items[name]
            return item
        except KeyError:
            choices = ", ".join(sorted(self._items))
            raise UserInputError(self.what, f"unknown {self.what} {name!r} (choose from {choices})") from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
