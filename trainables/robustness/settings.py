"""The attack's settings as one frozen object: the paper's preset is the default, profiles and callers change fields.

Every default of the evaluation lives here once: `evaluate_robustness`, `robust_accuracy` and `TrialConfig` read
them from `PAPER_ATTACK` instead of repeating them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from numbers import Integral, Real

from ..registry import closed_value


class AttackTarget(str, Enum):
    """What the attack's cross-entropy is computed on."""

    LOGITS = "logits"
    PROBABILITIES = "probabilities"  # softmax of the logits: the paper's softmax heads (saturating gradients)


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; received {value!r}")
    return int(value)


@dataclass(frozen=True)
class AttackSettings:
    """Foolbox L-inf PGD as the paper runs it (LinfPGD's defaults: 40 steps of eps/30, a random start).

    steps: PGD steps; rel_stepsize: step size as a fraction of epsilon; random_start: uniform start in the ball;
    restarts: independent random starts, a point is robust only if it survives all; attack_on: logits or
    probabilities; batch_size: points per attack batch (None: sized to the image and the device).

    The worst case (see ensemble.py): attacks, names from `list_attacks()` run in the registry's fixed order, the
    first on every point, the others on `ensemble_points` seeded points (None: all); apgd_steps: iterations of each
    APGD run; margin_targets: target classes of the targeted DLR run (capped at K - 1); square_queries: Square's
    queries per point; radius_attack: the minimal-norm attack that estimates each point's radius (None: off) with
    radius_steps iterations. Defaults are AutoAttack's standard budgets.
    """

    steps: int = 40
    rel_stepsize: float = 0.01 / 0.3
    random_start: bool = True
    restarts: int = 1
    attack_on: str = AttackTarget.LOGITS.value
    batch_size: int | None = None
    attacks: tuple[str, ...] = ("pgd",)
    apgd_steps: int = 100
    margin_targets: int = 9
    square_queries: int = 5000
    ensemble_points: int | None = None
    radius_attack: str | None = None
    radius_steps: int = 100

    def __post_init__(self) -> None:
        import math

        for name in ("apgd_steps", "margin_targets", "square_queries", "radius_steps"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if self.ensemble_points is not None:
            object.__setattr__(self, "ensemble_points", _positive_int("ensemble_points", self.ensemble_points))
        if isinstance(self.attacks, str) or not all(isinstance(name, str) for name in self.attacks):
            raise ValueError(f"attacks must be a sequence of attack names; received {self.attacks!r}")
        object.__setattr__(self, "attacks", tuple(self.attacks))

        object.__setattr__(self, "steps", _positive_int("steps", self.steps))
        object.__setattr__(self, "restarts", _positive_int("restarts", self.restarts))
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", _positive_int("batch_size", self.batch_size))
        step = self.rel_stepsize
        if isinstance(step, bool) or not isinstance(step, Real) or not math.isfinite(step) or step <= 0:
            raise ValueError(f"rel_stepsize must be a positive number; received {step!r}")
        if not isinstance(self.random_start, bool):
            raise ValueError(f"random_start must be True or False; received {self.random_start!r}")
        object.__setattr__(self, "rel_stepsize", float(step))
        object.__setattr__(self, "attack_on", closed_value(AttackTarget, "attack_on", self.attack_on))

    def replace(self, **changes) -> "AttackSettings":
        unknown = sorted(set(changes) - {field.name for field in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown attack settings {unknown}; expected: "
                            f"{', '.join(field.name for field in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        values = dataclasses.asdict(self)
        values["attacks"] = list(self.attacks)
        return values


PAPER_ATTACK = AttackSettings()
"""The paper's attack alone: Foolbox L-inf PGD, 40 steps."""

WORST_CASE_ATTACKS = ("pgd", "apgd_ce", "apgd_margin", "square")
"""The ensemble every profile runs: the paper's PGD beside AutoAttack's standard attacks."""
