"""The paper's attack: Foolbox L-inf PGD (compiled, nested over the ladder: attack.py), as a registered attack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config_rules import Rule
from .attack import MAIN_STREAM, nested_pgd
from .attack_spec import WORST_CASE, AttackContext, AttackSpec, Budget


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


def counted_pgd(context: AttackContext, budget: PGDBudget, epsilons: Sequence[float], clean_correct: np.ndarray,
                point_ids: np.ndarray | None = None, sample_indices: np.ndarray | None = None):
    """nested_pgd with its work added to the pgd counter."""
    runner = context.pgd_runner
    before = runner.gradient_evaluations, runner.queries
    outcome = nested_pgd(runner, context.images, context.labels, epsilons, clean_correct, steps=budget.steps,
                         restarts=budget.restarts, point_ids=point_ids, stream=MAIN_STREAM,
                         sample_indices=np.zeros(0, np.int64) if sample_indices is None else sample_indices)
    counter = context.counter("pgd")
    counter.gradient_evaluations += runner.gradient_evaluations - before[0]
    counter.queries += runner.queries - before[1]
    return outcome


def _stage(context: AttackContext, budget: PGDBudget, point_ids: np.ndarray, epsilon: float):
    outcome = counted_pgd(context, budget, [0.0, epsilon], np.ones(len(point_ids), bool), point_ids)
    return ~outcome.robust_mask[:, 1], outcome.broken_predictions


def _ladder(context: AttackContext, budget: PGDBudget, epsilons: Sequence[float], clean_correct: np.ndarray,
            sample_indices: np.ndarray):
    outcome = counted_pgd(context, budget, epsilons, clean_correct, sample_indices=sample_indices)
    return outcome.robust_mask, outcome.broken_predictions


PGD = AttackSpec("pgd", WORST_CASE, PGDBudget, lambda budget, classes: (budget.steps * budget.restarts, 0),
                 "Foolbox LinfPGD, the paper's attack", stage=_stage, ladder=_ladder)
