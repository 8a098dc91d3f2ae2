"""The one registry type behind every named set of the project (sweeps, profiles, tasks, backbones, attentions,
attacks, presets, checks, attack outputs, Grad-CAM targets).

A registry is a read-only mapping from name to item. Registering a name twice raises, unless the caller says
`replace=True`: a user's `--sweeps-file` that reuses `paper_grid` must not shadow the built-in one unnoticed.
`lookup(name)` raises a ValueError with a message that lists the valid names.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class DuplicateNameError(ValueError):
    """A name registered twice without replace=True."""


class Registry(Mapping, Generic[T]):
    """Name -> item, in registration order. kind names the items in messages ("sweep", "backbone", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[Hashable, T] = {}

    def register(self, name: Hashable, item: T, *, replace: bool = False) -> T:
        if name in self._items and not replace:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered; choose another name "
                                     f"(or pass replace=True to replace it on purpose)")
        self._items[name] = item
        return item

    def decorator(self, name: Hashable, *, replace: bool = False) -> Callable[[T], T]:
        """`@registry.decorator("name")` registers the decorated function or class."""
        def decorate(item: T) -> T:
            return self.register(name, item, replace=replace)

        return decorate

    def lookup(self, name: Hashable) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return [str(name) for name in self._items]

    def __getitem__(self, name: Hashable) -> T:
        return self._items[name]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def closed_value(enum: type[Enum], name: str, value) -> str:
    """A closed set (an Enum of strings) at the boundary: the member's plain string, or a ValueError listing them."""
    try:
        return enum(value).value
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"unknown {name} {value!r}; expected one of: {allowed}") from None
