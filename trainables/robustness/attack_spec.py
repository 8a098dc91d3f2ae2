"""What an attack is: one registered object owning its budget, its class requirement, its cost model and its stage.

An attack module (pgd_attack.py, apgd_attacks.py, square_attack.py, fmn_attack.py) defines a `Budget` subclass (a
frozen dataclass: the fields, their defaults and one `Rule` per field) and an `AttackSpec`; `catalog.py` registers
the built-in ones, in the order the worst case runs them. Adding an attack is one new module and one line there.

A worst-case attack's `stage(context, budget, point_ids, epsilon)` attacks the given points at one epsilon and
returns (broken (M,), predictions of the breaking inputs (M,)); a radius attack's `estimate(context, budget,
point_ids)` returns each point's smallest adversarial L-inf distance found (inf where none) and the class of that
adversarial input; where it lies within an epsilon, the point counts broken there (ensemble.with_radius_successes). `cost(budget,
num_classes)` is the attack's work at most, as (input gradients, forward-only queries), per point and epsilon for a
worst-case attack, per point for a radius attack: `--dry-run` adds these up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..config_rules import Rule
from ..registry import Registry
from .apgd import AttackCounter

WORST_CASE = "worst_case"
RADIUS = "radius"


@dataclass(frozen=True)
class Budget:
    """An attack's budget. Subclasses are frozen dataclasses with defaults and a `RULES` entry per field."""

    RULES: ClassVar[dict[str, Rule]] = {}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def build(cls, attack: str, values: Mapping[str, Any] | None = None) -> "Budget":
        """The defaults with `values` replacing fields, each checked by its rule: one error style for every attack,
        "attack.<attack>.<field> must be ... Received: ..."."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"attack.{attack} has no field {unknown[0]!r}; its fields: "
                             f"{', '.join(cls.field_names()) or 'none'}")
        return cls(**{name: cls.RULES[name].check(f"attack.{attack}.{name}", value) for name, value in values.items()})

    def replace(self, attack: str, values: Mapping[str, Any]) -> "Budget":
        return type(self).build(attack, {**dataclasses.asdict(self), **values})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class AttackContext:
    """What an attack may use: the points, the compiled model, the settings and a cost counter per attack."""

    model: object
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    clean_logits: np.ndarray  # (N, K)
    num_classes: int
    settings: Any  # trainables.robustness.settings.AttackSettings
    seed: int
    batch_size: int
    device: str
    forward: Callable  # compiled logits
    pgd_runner: Any  # trainables.robustness.attack.PGDRunner
    counters: dict[str, AttackCounter] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    max_ball_violation: float = 0.0
    points_checked: int = 0
    compiled_apgd: dict[tuple, object] = field(default_factory=dict)  # per loss and steps, compiled once
    noise_sigma: float = 0.0  # > 0: the classifier attacked is the smoothed one at this sigma (eot_attacks.py)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def counter(self, name: str) -> AttackCounter:
        return self.counters.setdefault(name, AttackCounter())

    def budget(self, name: str) -> Budget:
        return self.settings.budget(name)

    def record_ball(self, point_ids: np.ndarray, adversarial: np.ndarray, epsilon: float) -> None:
        if len(point_ids) == 0:
            return
        distance = np.abs(adversarial - self.images[point_ids]).reshape(len(point_ids), -1).max(axis=1)
        excess = max(float(np.max(distance - epsilon)), -float(np.min(adversarial)), float(np.max(adversarial)) - 1)
        self.max_ball_violation = max(self.max_ball_violation, excess)
        self.points_checked += len(point_ids)


# (context, budget, point ids (M,), epsilon) -> (broken (M,), predictions of the breaking inputs (M,))
Stage = Callable[[AttackContext, Budget, np.ndarray, float], tuple[np.ndarray, np.ndarray]]
# (context, budget, epsilons, clean_correct (N,), sample indices) -> (robust mask (N, E), breaking predictions (N,))
Ladder = Callable[[AttackContext, Budget, Sequence[float], np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class AttackSpec:
    name: str
    role: str  # WORST_CASE or RADIUS
    budget: type[Budget]
    cost: Callable[[Budget, int], tuple[int, int]]  # (budget, classes) -> (gradients, queries) at most
    description: str
    min_classes: int = 2
    gradient_free: bool = False
    stage: Stage | None = None  # worst-case attacks
    ladder: Ladder | None = None  # optional: the whole nested ladder at once when the attack runs first
    # radius attacks: (M,) smallest adversarial L-inf distances found (inf: none), (M,) their classes (-1: none)
    estimate: Callable[[AttackContext, Budget, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None


ATTACKS: Registry[AttackSpec] = Registry("attack")


def register_attack(attack: AttackSpec, *, replace: bool = False) -> AttackSpec:
    if (attack.stage is None) == (attack.role == WORST_CASE) or (attack.estimate is None) == (attack.role == RADIUS):
        raise ValueError(f"attack {attack.name!r}: a {WORST_CASE} attack needs a stage, a {RADIUS} attack an estimate")
    return ATTACKS.register(attack.name, attack, replace=replace)


def list_attacks(role: str | None = None) -> list[str]:
    return [name for name, attack in ATTACKS.items() if role is None or attack.role == role]


def validate_attacks(names: Sequence[str], num_classes: int | None = None, *,
                     radius_attack: str | None = None) -> tuple[str, ...]:
    """Worst-case attack names in the registry's order; ValueError naming the valid ones otherwise."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ValueError(f"attacks must name at least one attack; choose from {', '.join(list_attacks(WORST_CASE))}")
    worst_case = list_attacks(WORST_CASE)
    for name in names:
        attack = ATTACKS.get(name)
        if attack is None:
            raise ValueError(f"unknown attack {name!r}; worst-case attacks: {', '.join(worst_case)}; "
                             f"radius attacks (radius_attack=): {', '.join(list_attacks(RADIUS))}")
        if attack.role != WORST_CASE:
            raise ValueError(f"{name!r} estimates radii and cannot enter the worst case; pass it as "
                             f"radius_attack={name!r}; worst-case attacks: {', '.join(worst_case)}")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks must not repeat a name; received {list(names)}")
    if radius_attack is not None:
        attack = ATTACKS.get(radius_attack)
        if attack is None or attack.role != RADIUS:
            raise ValueError(f"radius_attack must be one of {', '.join(list_attacks(RADIUS))} or None; "
                             f"received {radius_attack!r}")
    if num_classes is not None:
        for name in [*names, *([radius_attack] if radius_attack else [])]:
            needed = ATTACKS[name].min_classes
            if num_classes < needed:
                raise ValueError(f"attack {name!r} needs at least {needed} classes; this task has {num_classes}")
    return tuple(name for name in worst_case if name in names)
