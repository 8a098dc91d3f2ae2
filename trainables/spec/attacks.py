"""The attacks by name: each one's budget (fields, defaults and one Rule per field), role, class requirement, cost
model and the path of its kernel. The kernels (stage, ladder, estimate) live in trainables/robustness/attacks/, one
file per attack, imported when an evaluation first runs them (spec.lazy).

Adding an attack: a `Budget` subclass and one `register_attack(AttackSpec(...))` here (or in your own code), and a
module in trainables/robustness/attacks/ whose `Kernel` the spec names.

`cost(budget, num_classes)` is the attack's work at most, as (input gradients, forward-only queries), per point and
epsilon for a worst-case attack, per point for a radius attack: `--dry-run` adds these up.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .registry import Registry
from .rules import Rule

WORST_CASE = "worst_case"
RADIUS = "radius"
_KERNELS = "trainables.robustness.attacks"


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


@dataclass(frozen=True)
class AttackSpec:
    name: str
    role: str  # WORST_CASE or RADIUS
    budget: type[Budget]
    cost: Callable[[Budget, int], tuple[int, int]]  # (budget, classes) -> (gradients, queries) at most
    description: str
    kernel: str  # "module:Kernel" (trainables.robustness.attacks.context.Kernel): a stage, or an estimate for RADIUS
    min_classes: int = 2
    gradient_free: bool = False


ATTACKS: Registry[AttackSpec] = Registry("attack")


def register_attack(attack: AttackSpec, *, replace: bool = False) -> AttackSpec:
    if attack.role not in (WORST_CASE, RADIUS):
        raise ValueError(f"attack {attack.name!r}: role must be {WORST_CASE!r} or {RADIUS!r}; received {attack.role!r}")
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


# ---------------------------------------------------------------- the attack losses (their code: attacks/losses.py)

@dataclass(frozen=True)
class LossSpec:
    min_classes: int
    targeted: bool = False


# DLR's untargeted form needs a third-largest logit (K >= 3), its targeted form a fourth (K >= 4)
LOSSES: dict[str, LossSpec] = {"cross_entropy": LossSpec(2), "margin": LossSpec(2), "dlr": LossSpec(3),
                               "dlr_targeted": LossSpec(4, targeted=True)}


def margin_loss_for(num_classes: int) -> str:
    """The margin-type loss that exists for this class count: logit margin (K=2), DLR (K=3), targeted DLR (K>=4)."""
    for name in ("dlr_targeted", "dlr"):
        if num_classes >= LOSSES[name].min_classes:
            return name
    return "margin"


def target_count(num_classes: int, requested: int) -> int:
    return max(1, min(requested, num_classes - 1))


def margin_runs(budget, num_classes: int) -> int:
    """Targeted DLR runs once per target class; the other margin losses once."""
    return target_count(num_classes, budget.targets) if LOSSES[margin_loss_for(num_classes)].targeted else 1


# ---------------------------------------------------------------- the built-in attacks

@dataclass(frozen=True)
class PGDBudget(Budget):
    """Foolbox LinfPGD's defaults: 40 steps of eps/30, a random start; a point is robust only if it survives every
    restart."""

    steps: int = 40
    rel_stepsize: float = 0.01 / 0.3
    random_start: bool = True
    restarts: int = 1

    RULES: ClassVar = {"steps": Rule("int", low=1), "rel_stepsize": Rule("float", low=0, low_open=True),
                       "random_start": Rule("bool"), "restarts": Rule("int", low=1)}


@dataclass(frozen=True)
class APGDBudget(Budget):
    """steps: APGD iterations per run (AutoAttack: 100)."""

    steps: int = 100

    RULES: ClassVar = {"steps": Rule("int", low=1)}


@dataclass(frozen=True)
class APGDTargetsBudget(APGDBudget):
    """targets: target classes of the targeted DLR run on K >= 4 classes (AutoAttack: 9, capped at K - 1)."""

    targets: int = 9

    RULES: ClassVar = {**APGDBudget.RULES, "targets": Rule("int", low=1)}


@dataclass(frozen=True)
class SquareBudget(Budget):
    """queries: forward passes per point and epsilon (AutoAttack: 5000)."""

    queries: int = 5000

    RULES: ClassVar = {"queries": Rule("int", low=1)}


@dataclass(frozen=True)
class FMNBudget(Budget):
    """steps: FMN iterations per point."""

    steps: int = 100

    RULES: ClassVar = {"steps": Rule("int", low=1)}


EOT_DRAWS = 20  # AutoAttack rand: noise draws per loss gradient


@dataclass(frozen=True)
class EoTBudget(APGDBudget):
    """steps: APGD iterations (every point runs them all); draws: noise draws per loss gradient (AutoAttack rand:
    20); vote_margin: how close to another class's vote share the label's must come (label share - top other share
    <= vote_margin) before a candidate (the best iterate by that margin, then the last) goes to PREDICT; predict_n
    and predict_alpha: PREDICT's draws and level deciding whether g is broken there."""

    draws: int = EOT_DRAWS
    vote_margin: float = 0.2
    predict_n: int = 1000
    predict_alpha: float = 0.001

    RULES: ClassVar = {**APGDBudget.RULES, "draws": Rule("int", low=1), "vote_margin": Rule("float", low=0, high=1),
                       "predict_n": Rule("int", low=1), "predict_alpha": Rule("float", low=0, high=1, low_open=True,
                                                                              high_open=True)}


@dataclass(frozen=True)
class EoTTargetsBudget(EoTBudget):
    """targets: target classes of the targeted DLR run on K >= 4 classes (capped at K - 1)."""

    targets: int = 9

    RULES: ClassVar = {**EoTBudget.RULES, "targets": Rule("int", low=1)}


RAND_ATTACKS = ("apgd_ce_eot", "apgd_margin_eot")
"""AutoAttack's `rand` version: the attack set run against the smoothed classifier of a certified trial."""

WORST_CASE_ATTACKS = ("pgd", "apgd_ce", "apgd_margin", "square")
"""The ensemble every profile runs: the paper's PGD beside AutoAttack's standard attacks."""


def validate_predict_budget(name: str, budget: EoTBudget) -> None:
    """PREDICT can name a class only when n agreeing draws reach its level: 2 * 0.5^n <= alpha; else ValueError."""
    needed = math.ceil(math.log2(2.0 / budget.predict_alpha))
    if budget.predict_n < needed:
        raise ValueError(f"attack.{name}.predict_n = {budget.predict_n} draws can never confirm a break at "
                         f"predict_alpha = {budget.predict_alpha:g} (the attack could break nothing); the minimum is "
                         f"{needed}")


def _apgd_run(budget: APGDBudget, classes: int) -> tuple[int, int]:
    return budget.steps + 1, 0  # the starting point's gradient, then one per iteration


def _eot_runs(runs: int, budget: EoTBudget) -> tuple[int, int]:
    """Per run: (steps + 1) EoT gradients of `draws` draws each, and PREDICT's draws on its two candidates (the best
    iterate and the last: at most)."""
    return runs * (budget.steps + 1) * budget.draws, runs * 2 * budget.predict_n


# in the order the worst case runs them
for _attack in (
    AttackSpec("pgd", WORST_CASE, PGDBudget, lambda budget, classes: (budget.steps * budget.restarts, 0),
               "Foolbox LinfPGD, the paper's attack", f"{_KERNELS}.pgd:PGD"),
    AttackSpec("apgd_ce", WORST_CASE, APGDBudget, _apgd_run, "Auto-PGD on cross-entropy", f"{_KERNELS}.apgd:APGD_CE"),
    AttackSpec("apgd_margin", WORST_CASE, APGDTargetsBudget,
               lambda budget, classes: (margin_runs(budget, classes) * (budget.steps + 1), 0),
               "Auto-PGD on the margin loss that exists for K: logit margin (K=2), DLR (K=3), targeted DLR over "
               "`targets` classes (K>=4)", f"{_KERNELS}.apgd:APGD_MARGIN"),
    AttackSpec("apgd_dlr", WORST_CASE, APGDBudget, _apgd_run, "Auto-PGD on untargeted DLR (K >= 3)",
               f"{_KERNELS}.apgd:APGD_DLR", min_classes=3),
    AttackSpec("square", WORST_CASE, SquareBudget, lambda budget, classes: (0, budget.queries),
               "Square Attack, gradient-free, margin loss", f"{_KERNELS}.square:SQUARE", gradient_free=True),
    AttackSpec("fmn", RADIUS, FMNBudget, lambda budget, classes: (budget.steps, 0),
               "Foolbox LInfFMNAttack: per-point minimal L-inf radius", f"{_KERNELS}.fmn:FMN"),
    AttackSpec("apgd_ce_eot", WORST_CASE, EoTBudget, lambda budget, classes: _eot_runs(1, budget),
               "Auto-PGD on cross-entropy with expectation over the smoothing noise (AutoAttack rand), breaks "
               "confirmed by PREDICT: attacks the smoothed classifier", f"{_KERNELS}.eot:APGD_CE_EOT"),
    AttackSpec("apgd_margin_eot", WORST_CASE, EoTTargetsBudget,
               lambda budget, classes: _eot_runs(margin_runs(budget, classes), budget),
               "Auto-PGD on the margin loss for K with expectation over the smoothing noise (AutoAttack rand), "
               "breaks confirmed by PREDICT: attacks the smoothed classifier", f"{_KERNELS}.eot:APGD_MARGIN_EOT"),
):
    register_attack(_attack)
