"""The evaluation's settings as one frozen object: which attacks, their budgets, where the worst case runs.

Budgets belong to the attacks (attack_spec.py); presets (presets.py) name whole settings; `TrialConfig` names a
preset and overrides fields. `PAPER_ATTACK` (the paper's 40-step PGD alone) is the default of `evaluate_robustness`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

from ..registry import closed_value
from . import catalog  # noqa: F401 - registers the built-in attacks
from .attack import AttackTarget
from .attack_spec import ATTACKS, Budget, validate_attacks

WORST_CASE_ATTACKS = ("pgd", "apgd_ce", "apgd_margin", "square")
"""The ensemble every profile runs: the paper's PGD beside AutoAttack's standard attacks."""


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; received {value!r}")
    return int(value)


def _names(name: str, value) -> tuple[str, ...]:
    """A list of names, or the comma form `--set attack.attacks=pgd,square` gives."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a sequence of attack names; received {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class AttackSettings:
    """attacks: worst-case attack names, run in the registry's order (the first on every point, the others on
    `ensemble_points` seeded points, None: all); radius_attack: the attack estimating each point's radius (None:
    off); budgets: attack name -> its Budget (an attack without one runs at its budget's defaults; plain dicts are
    checked and converted); attack_on: logits or probabilities; batch_size: points per attack batch (None: sized to
    the image and the device)."""

    attacks: tuple[str, ...] = ("pgd",)
    radius_attack: str | None = None
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    ensemble_points: int | None = None
    attack_on: str = AttackTarget.LOGITS.value
    batch_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", _names("attacks", self.attacks))
        validate_attacks(self.attacks, radius_attack=self.radius_attack)
        budgets = {}
        for name, budget in dict(self.budgets).items():
            spec = ATTACKS.lookup(name)
            budgets[name] = budget if isinstance(budget, spec.budget) else spec.budget.build(name, budget)
        object.__setattr__(self, "budgets", budgets)
        for name in ("ensemble_points", "batch_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        object.__setattr__(self, "attack_on", closed_value(AttackTarget, "attack_on", self.attack_on))

    def budget(self, name: str) -> Budget:
        """The attack's budget here: its own, else its defaults."""
        return self.budgets.get(name) or ATTACKS.lookup(name).budget()

    @property
    def attacks_run(self) -> tuple[str, ...]:
        """Every attack these settings run: the worst case's, then the radius attack."""
        return (*self.attacks, *([self.radius_attack] if self.radius_attack else []))

    def replace(self, **changes: Any) -> "AttackSettings":
        """New settings with fields replaced; `budgets` is merged field by field: {"square": {"queries": 50}}."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown attack settings {unknown}; expected: "
                            f"{', '.join(f.name for f in dataclasses.fields(self))}")
        if "budgets" in changes:
            changes["budgets"] = merge_budgets(self.budgets, changes["budgets"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"attacks": list(self.attacks), "radius_attack": self.radius_attack,
                "budgets": {name: self.budget(name).to_dict() for name in self.attacks_run},
                "ensemble_points": self.ensemble_points, "attack_on": self.attack_on, "batch_size": self.batch_size}

    def params(self) -> dict[str, str]:
        """MLflow params: attack.attacks, attack.radius_attack and attack.<attack>.<field> of every attack run."""
        params = {"attack.attacks": ",".join(self.attacks), "attack.radius_attack": str(self.radius_attack)}
        for name in self.attacks_run:
            params.update({f"attack.{name}.{key}": str(value) for key, value in self.budget(name).to_dict().items()})
        return params


def merge_budgets(budgets: Mapping[str, Budget | Mapping], changes: Mapping[str, Budget | Mapping]) -> dict:
    """`budgets` with `changes` applied field by field (each a Budget or a dict of fields)."""
    merged = dict(budgets)
    for name, change in dict(changes).items():
        spec = ATTACKS.lookup(name)
        values = change.to_dict() if isinstance(change, Budget) else change
        if not isinstance(values, Mapping):
            raise ValueError(f"attack.{name} must be an object of budget fields ({', '.join(spec.budget.field_names())}); "
                             f"received {change!r}")
        base = merged.get(name)
        merged[name] = (base if isinstance(base, Budget) else spec.budget.build(name, base)).replace(name, values)
    return merged


PAPER_ATTACK = AttackSettings()
"""The paper's attack alone: Foolbox L-inf PGD, 40 steps."""
