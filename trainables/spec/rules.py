"""What a value may be, as data: a Rule is its kind, its range and whether None is allowed. Every TrialConfig
field carries one (spec.config), every attack budget field too (spec.attacks).

`Rule.check(name, value)` returns the value normalised (ints as int, numbers as float, lists as tuples) or raises a
ValueError naming it, what is allowed and what was received. A value that only its task or backbone can judge
(epsilons against the reference, image size against the backbone, names against their registries) is checked in
TrialConfig.resolved().
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from .registry import Registry


class _Refused(Exception):
    """A value of the wrong kind (the caller turns it into the field's one-line ValueError)."""


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _Refused
    return int(value)


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise _Refused
    return float(value)


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise _Refused
    return value


def _text(value) -> str:
    if not isinstance(value, str):
        raise _Refused
    return value


def _sequence(value) -> tuple:
    """A list, a tuple or the comma form MLflow params show ("0.01,0.02"); a bare scalar is refused."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, (list, tuple)):
        raise _Refused
    return tuple(value)


def _numbers(value) -> tuple[float, ...]:
    items = _sequence(value)
    try:
        return tuple(_number(float(item) if isinstance(item, str) else item) for item in items)
    except ValueError:
        raise _Refused from None


def _mapping(value) -> dict:
    if not isinstance(value, dict):
        raise _Refused
    return value


@dataclass(frozen=True)
class Kind:
    convert: Callable[[Any], Any]  # the normalised value, or _Refused
    noun: str
    example: str = ""


KINDS: Registry[Kind] = Registry("value kind")
for _name, _kind in {
    "int": Kind(_integer, "an integer"),
    "float": Kind(_number, "a finite number"),
    "bool": Kind(_boolean, "true or false"),
    "str": Kind(_text, "a string"),
    "floats": Kind(_numbers, "a list of numbers", "[0.01,0.02]"),
    "dict": Kind(_mapping, "a JSON object"),
}.items():
    KINDS.register(_name, _kind)


@dataclass(frozen=True)
class Rule:
    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is excluded
    high_open: bool = False
    nullable: bool = False

    def describe(self) -> str:
        kind = KINDS.lookup(self.kind)
        text = kind.noun
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text += f" {'<' if self.high_open else '<='} {self.high:g}"
        text = f"None or {text}" if self.nullable else text
        return f"{text}, e.g. {kind.example}" if kind.example else text

    def check(self, name: str, value):
        if value is None and self.nullable:
            return None
        try:
            converted = KINDS.lookup(self.kind).convert(value)
        except _Refused:
            converted = None
        if converted is None or not all(self.in_range(item) for item in self.items(converted)):
            raise ValueError(f"{name} must be {self.describe()}. Received: {name}={_shown(value)}")
        return converted

    def items(self, value) -> tuple:
        return value if self.kind == "floats" else (value,)

    def in_range(self, item) -> bool:
        if self.low is not None and (item < self.low or (self.low_open and item == self.low)):
            return False
        return self.high is None or (item < self.high or (not self.high_open and item == self.high))


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_values(rules: dict[str, Rule], values: dict[str, Any]) -> dict[str, Any]:
    """The values normalised by their rules (fields without a value are left out); ValueError on the first bad one."""
    return {name: rules[name].check(name, value) for name, value in values.items()}


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """An integer >= minimum (numpy integers too, never a bool), as int; else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; received {value!r}")
    return int(value)
