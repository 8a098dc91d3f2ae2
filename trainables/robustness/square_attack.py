"""Square Attack (Andriushchenko et al. 2020), gradient-free (square.py), as a registered attack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config_rules import Rule
from .attack_spec import WORST_CASE, AttackContext, AttackSpec, Budget
from .square import Square


@dataclass(frozen=True)
class SquareBudget(Budget):
    """queries: forward passes per point and epsilon (AutoAttack: 5000)."""

    queries: int = 5000

    RULES: ClassVar = {"queries": Rule("int", low=1)}


def _stage(context: AttackContext, budget: SquareBudget, point_ids: np.ndarray, epsilon: float):
    attack = Square(context.forward, queries=budget.queries, batch_size=context.batch_size,
                    counter=context.counter("square"), device=context.device, seed=context.seed)
    broken, adversarial, predictions = attack.attack(context.images[point_ids], context.labels[point_ids],
                                                     point_ids, epsilon)
    context.record_ball(point_ids[broken], adversarial[broken], epsilon)
    return broken, predictions


SQUARE = AttackSpec("square", WORST_CASE, SquareBudget, lambda budget, classes: (0, budget.queries),
                    "Square Attack, gradient-free, margin loss", gradient_free=True, stage=_stage)
