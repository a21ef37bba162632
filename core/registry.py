"""A tiny name -> factory registry (big_vision style), so new entries never touch page code."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from core.errors import UserInputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. ``register("name")`` is a decorator."""

    def __init__(self, what: str):
        self.what = what  # e.g. "graph kind", used in error messages
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise KeyError(f"{self.what} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            choices = ", ".join(sorted(self._items))
            raise UserInputError(self.what, f"unknown {self.what} {name!r} (choose from {choices})") from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
