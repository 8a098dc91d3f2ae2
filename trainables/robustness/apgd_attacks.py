"""Auto-PGD (Croce & Hein 2020) on cross-entropy, on the margin loss that exists for K classes, and on DLR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config_rules import Rule
from .apgd import APGD, ranked_targets, target_count
from .attack import start_noise
from .attack_spec import WORST_CASE, AttackContext, AttackSpec, Budget
from .losses import LOSSES, compile_loss_gradient, margin_loss_for

# start-noise streams, one per APGD attack (the values the registry's positions gave them before they were objects)
STREAMS = {"apgd_ce": 3, "apgd_margin": 4, "apgd_dlr": 5, "apgd_ce_eot": 6, "apgd_margin_eot": 7}


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


def compiled_apgd(context: AttackContext, key: tuple, compile_gradient, steps: int) -> APGD:
    """APGD on the loss gradient `compile_gradient()` returns, compiled once per context and `key`."""
    key = (*key, steps)
    if key not in context.compiled_apgd:
        context.compiled_apgd[key] = APGD(compile_gradient(), context.image_shape, steps=steps,
                                          batch_size=context.batch_size, device=context.device)
    return context.compiled_apgd[key]


def apgd_runs(context: AttackContext, name: str, loss: str, point_ids: np.ndarray, epsilon: float, runs: int,
              steps: int, *, attack: APGD | None = None, confirm=None):
    """`runs` APGD runs (one per target class for a targeted loss), each on the points the earlier ones left.

    attack: the compiled APGD (default: on the plain gradient of `loss`); confirm: (point ids (H,), adversarial
    inputs (H, H, W, C)) -> (broken (H,), predictions (H,)), deciding which of APGD's hits break the classifier
    (default: all of them, with APGD's predictions)."""
    attack = attack or compiled_apgd(context, (loss,), lambda: compile_loss_gradient(context.model,
                                                                                    context.image_shape, loss), steps)
    broken = np.zeros(len(point_ids), dtype=bool)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    for rank in range(1, runs + 1):
        rows = np.flatnonzero(~broken)
        if len(rows) == 0:
            break
        ids = point_ids[rows]
        targets = ranked_targets(context.clean_logits[ids], context.labels[ids], rank)
        starts = np.concatenate([start_noise(context.seed, STREAMS[name], rank, epsilon, [point], context.image_shape)
                                 for point in ids])
        hit, adversarial, predicted = attack.attack(context.images[ids], context.labels[ids], targets, epsilon,
                                                    starts, counter=context.counter(name))
        context.record_ball(ids[hit], adversarial[hit], epsilon)
        if confirm is not None and hit.any():
            confirmed, confirmed_predictions = confirm(ids[hit], adversarial[hit])
            predicted[hit] = confirmed_predictions
            hit[np.flatnonzero(hit)[~confirmed]] = False
        broken[rows[hit]], predictions[rows[hit]] = True, predicted[hit]
    return broken, predictions


def margin_runs(budget: APGDTargetsBudget, num_classes: int) -> int:
    """Targeted DLR runs once per target class; the other margin losses once."""
    return target_count(num_classes, budget.targets) if LOSSES[margin_loss_for(num_classes)].targeted else 1


def _ce_stage(context: AttackContext, budget: APGDBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_ce", "cross_entropy", point_ids, epsilon, 1, budget.steps)


def _margin_stage(context: AttackContext, budget: APGDTargetsBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_margin", margin_loss_for(context.num_classes), point_ids, epsilon,
                     margin_runs(budget, context.num_classes), budget.steps)


def _dlr_stage(context: AttackContext, budget: APGDBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_dlr", "dlr", point_ids, epsilon, 1, budget.steps)


def _one_run(budget: APGDBudget, classes: int) -> tuple[int, int]:
    return budget.steps + 1, 0  # the starting point's gradient, then one per iteration


APGD_CE = AttackSpec("apgd_ce", WORST_CASE, APGDBudget, _one_run, "Auto-PGD on cross-entropy", stage=_ce_stage)
APGD_MARGIN = AttackSpec(
    "apgd_margin", WORST_CASE, APGDTargetsBudget,
    lambda budget, classes: (margin_runs(budget, classes) * (budget.steps + 1), 0),
    "Auto-PGD on the margin loss that exists for K: logit margin (K=2), DLR (K=3), targeted DLR over `targets` "
    "classes (K>=4)", stage=_margin_stage)
APGD_DLR = AttackSpec("apgd_dlr", WORST_CASE, APGDBudget, _one_run, "Auto-PGD on untargeted DLR (K >= 3)",
                      min_classes=3, stage=_dlr_stage)
