"""The evaluation as data: which attacks with which budgets (AttackSettings), the named presets a profile or a user
picks, and the checks' thresholds (CheckConfig).

Budgets belong to the attacks (spec.attacks); presets name whole settings, as AutoAttack names its versions: the
worst case's attacks, the radius attack and the budgets that differ from each attack's defaults (the defaults are
AutoAttack's standard budgets and Foolbox's LinfPGD). `TrialConfig.attack_preset` names one and `TrialConfig.attack`
overrides it: {"square": {"queries": 500}, "attacks": ["pgd", "square"], "radius_attack": None}. The budgets of
RAND_ATTACKS size the attack on a certified trial's smoothed classifier. `PAPER_ATTACK` (the paper's 40-step PGD
alone) is the default of `evaluate_robustness`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .attacks import ATTACKS, WORST_CASE_ATTACKS, Budget, validate_attacks
from .enums import AttackTarget
from .registry import Registry, closed_value
from .rules import positive_int


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
                object.__setattr__(self, name, positive_int(name, getattr(self, name)))
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
            raise ValueError(f"attack.{name} must be an object of budget fields "
                             f"({', '.join(spec.budget.field_names())}); received {change!r}")
        base = merged.get(name)
        merged[name] = (base if isinstance(base, Budget) else spec.budget.build(name, base)).replace(name, values)
    return merged


PAPER_ATTACK = AttackSettings()
"""The paper's attack alone: Foolbox L-inf PGD, 40 steps."""

SELECTION_KEYS = ("attacks", "radius_attack")  # override keys that are not attack names


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    attacks: tuple[str, ...]
    radius_attack: str | None = None
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def settings(self, overrides: Mapping[str, Any] | None = None, **evaluation: Any) -> AttackSettings:
        """This preset with `overrides` applied; `evaluation`: ensemble_points, attack_on, batch_size."""
        overrides = dict(overrides or {})
        for key in overrides:
            if key not in SELECTION_KEYS and key not in ATTACKS:
                raise ValueError(f"attack.{key}: unknown attack or key; expected an attack "
                                 f"({', '.join(ATTACKS)}) or one of: {', '.join(SELECTION_KEYS)}")
        budgets = merge_budgets(self.budgets, {k: v for k, v in overrides.items() if k not in SELECTION_KEYS})
        return AttackSettings(attacks=overrides.get("attacks", self.attacks),
                              radius_attack=overrides.get("radius_attack", self.radius_attack),
                              budgets=budgets, **evaluation)


PRESETS: Registry[Preset] = Registry("attack preset")


def register_preset(preset: Preset, *, replace: bool = False) -> Preset:
    preset.settings()  # every name and budget checked when registered
    return PRESETS.register(preset.name, preset, replace=replace)


def _ensemble(pgd_steps: int, rel_stepsize: float, apgd_steps: int, targets: int, queries: int, fmn_steps: int,
              eot_draws: int, predict_n: int):
    eot = {"steps": apgd_steps, "draws": eot_draws, "predict_n": predict_n}
    return {"pgd": {"steps": pgd_steps, "rel_stepsize": rel_stepsize}, "apgd_ce": {"steps": apgd_steps},
            "apgd_margin": {"steps": apgd_steps, "targets": targets}, "apgd_dlr": {"steps": apgd_steps},
            "square": {"queries": queries}, "fmn": {"steps": fmn_steps},
            "apgd_ce_eot": eot, "apgd_margin_eot": {**eot, "targets": targets}}


register_preset(Preset("paper", "the paper's attack alone: Foolbox L-inf PGD, 40 steps of eps/30, a random start",
                       ("pgd",)))
register_preset(Preset("standard", "the paper's PGD, then AutoAttack's standard budgets: APGD-CE 100, APGD on the "
                       "margin loss 100 (9 DLR targets, capped at K-1), Square 5000; FMN 100 estimates radii",
                       WORST_CASE_ATTACKS, "fmn"))
register_preset(Preset("smoke", "minutes on 2 CPUs: PGD 10 x eps/4, APGD 10, 2 targets, Square 50, FMN 10 (smoothed "
                       "classifiers: APGD 10 x 20 EoT draws, PREDICT 200)",
                       WORST_CASE_ATTACKS, "fmn", _ensemble(10, 0.25, 10, 2, 50, 10, 20, 200)))
register_preset(Preset("tiny", "seconds, for tests and CI: PGD 3 x eps/2, APGD 3, 1 target, Square 20, FMN 5 "
                       "(smoothed: APGD 3 x 4 EoT draws, PREDICT 50)", WORST_CASE_ATTACKS, "fmn",
                       _ensemble(3, 0.5, 3, 1, 20, 5, 4, 50)))
register_preset(Preset("rehearsal", "every attack of the paper's path at token budgets: PGD 2 x eps/2, APGD 2, "
                       "1 target, Square 4, FMN 2 (smoothed: APGD 2 x 2 EoT draws, PREDICT 20)", WORST_CASE_ATTACKS,
                       "fmn",
                       _ensemble(2, 0.5, 2, 1, 4, 2, 2, 20)))


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds of the sanity checks (their table: trainables/robustness/evaluate/checks.py)."""

    ball_tolerance: float = 1e-6
    probability_atol: float = 1e-3
    large_epsilon: float = 0.1
    chance_margin: float = 0.1
    eps0_tolerance: float = 0.0
    # honest models in the calibration panel have no unusable gradient; a straight-through rounding step has ~16 %
    max_bad_gradient_fraction: float = 0.02
    gradient_step: float = 1e-3
    converged_delta: float = 0.05
    fgsm_tolerance: float = 0.05
    blackbox_tolerance: float = 0.002
    monotone_tolerance: float = 0.125  # one sample in 8: a random-start attack near its boundary flips now and then
    determinism_atol: float = 1e-5
    unbounded_epsilons: tuple[float, ...] = (0.5, 1.0)
    unbounded_tolerance: float = 0.05
    sample_size: int = 32  # points the costly checks attack
    gradient_sample_size: int = 128  # points gradients_usable probes: 2 gradients each, and a 16 % rate needs them
    # each point-counting check is an exact one-sided test at this false-alarm level; STATISTICAL_CHECKS of them
    # give a trial-level false-alarm rate <= STATISTICAL_CHECKS x level (union bound): 7 x 0.005 = 3.5 % <= 5 %
    level: float = 0.005
    # a budget check that fires re-attacks its affected points (at most escalation_points) with every budget times
    # escalation_factor (steps, queries; restarts + factor - 1) before it counts
    escalation_factor: int = 4
    escalation_points: int = 32

    def __post_init__(self) -> None:
        for name in ("sample_size", "gradient_sample_size", "escalation_factor", "escalation_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"check {name} must be an integer >= 1; received {value!r}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"check level must be a number in (0, 1); received {self.level!r}")


STATISTICAL_CHECKS = 7  # checks.py: the checks decided by an exact test at CheckConfig.level


STRONGER = {"steps": lambda value, factor: factor * value, "queries": lambda value, factor: factor * value,
            "restarts": lambda value, factor: value + factor - 1}


def stronger_budgets(settings, attacks, factor: int = 2) -> dict:
    """Every attack's budget with `factor` x its steps and queries and factor - 1 more restarts (fields named so):
    factor 2 is the converged check's budget, CheckConfig.escalation_factor the cap of an escalation."""
    return {name: {field: STRONGER[field](value, factor) for field, value in settings.budget(name).to_dict().items()
                   if field in STRONGER} for name in attacks}
