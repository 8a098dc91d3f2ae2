"""The worst case over an attack ensemble, on nested epsilon balls (AutoAttack's rule).

Worst-case attacks run in the registry's order (pgd, apgd_ce, apgd_margin, apgd_dlr, square), whatever order the
caller names them in. The first named attack runs on every point over the whole ladder, by itself, so its accuracy
is that attack's own (with pgd first: the paper's number). The worst case runs on the ensemble points: at each
epsilon, in increasing order, each later attack attacks only the points that every earlier attack left robust at
that epsilon and that were robust at the epsilon before (a point broken at a smaller epsilon stays broken: its
adversarial input lies inside every larger ball). A point is robust at epsilon e only if every attack failed on it.
The accuracy "after" an attack is the worst case over it and the attacks before it, as AutoAttack reports it.

The attacks are specs (trainables.spec.attacks) with their kernels in robustness/attacks/; `fmn` is a radius attack:
it estimates each point's smallest adversarial epsilon (Foolbox LInfFMNAttack); its adversarial inputs count: a point
it breaks within epsilon e is broken at e and beyond (with_radius_successes), as AutoAttack counts its minimal-norm
attack.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..attacks.context import AttackContext, kernel
from .progress import EvaluationProgress
from .units import ladder_units, stage_units


def ensemble_rows(num_points: int, size: int | None, seed: int, single_attack: bool) -> np.ndarray:
    """The points the worst case rests on: all, or a fixed seeded subset of `size` (sorted)."""
    if single_attack or size is None or size >= num_points:
        return np.arange(num_points)
    return np.sort(np.random.default_rng([seed, 2]).choice(num_points, size, replace=False))


def standalone(context: AttackContext, name: str, epsilons: Sequence[float], clean_correct: np.ndarray,
               sample_indices: np.ndarray, progress: EvaluationProgress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One attack alone on every point over the nested ladder -> (mask (N, E), breaking predictions (N,)).
    progress: the resumable store (progress.py); a ladder attack's unit is then a chunk of points."""
    start = time.perf_counter()
    attack, budget = kernel(name), context.budget(name)
    if attack.ladder is not None and progress is not None:
        mask, predictions = ladder_units(progress, context, name, epsilons, clean_correct, sample_indices)
    elif attack.ladder is not None:
        mask, predictions = attack.ladder(context, budget, epsilons, clean_correct, sample_indices)
    else:
        mask = np.zeros((len(clean_correct), len(epsilons)), dtype=bool)
        mask[:, 0] = clean_correct
        predictions = np.full(len(clean_correct), -1, dtype=np.int64)
        for k in range(1, len(epsilons)):
            rows = np.flatnonzero(mask[:, k - 1])
            broken, hit = stage_units(progress, context, name, rows, k, float(epsilons[k]))
            predictions[rows[broken]] = hit[broken]
            mask[rows[~broken], k] = True
    context.seconds[name] = context.seconds.get(name, 0.0) + time.perf_counter() - start
    if progress is not None:
        progress.flush()
    return mask, predictions


# --- the worst case ----------------------------------------------------------------------------------------------

@dataclass
class WorstCase:
    """Per ensemble point (rows of `point_ids`): masks after each attack and who broke it where.

    after[name]: (M, E) bool, robust under this attack and every attack before it; broken_by: (M,) index into
    attacks, -1 where never broken at eps > 0; broken_predictions: (M,) class of the breaking input (-1: never).
    """

    attacks: tuple[str, ...]
    point_ids: np.ndarray
    after: dict[str, np.ndarray]
    broken_by: np.ndarray
    broken_predictions: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.after[self.attacks[-1]]


def worst_case(context: AttackContext, attacks: tuple[str, ...], epsilons: Sequence[float], point_ids: np.ndarray,
               clean_correct: np.ndarray, first_mask: np.ndarray, first_predictions: np.ndarray,
               progress: EvaluationProgress | None = None) -> WorstCase:
    """attacks[0] already ran alone on every point (first_mask (N, E), first_predictions (N,)); the others attack
    the survivors, epsilon by epsilon. clean_correct: (N,)."""
    count = len(point_ids)
    after = {name: np.zeros((count, len(epsilons)), dtype=bool) for name in attacks}
    for name in attacks:
        after[name][:, 0] = clean_correct[point_ids]
    broken_by = np.full(count, -1, dtype=np.int64)
    predictions = np.full(count, -1, dtype=np.int64)
    for k in range(1, len(epsilons)):
        alive = after[attacks[-1]][:, k - 1].copy()
        for index, name in enumerate(attacks):
            start = time.perf_counter()
            rows = np.flatnonzero(alive)
            if index == 0:
                broken = ~first_mask[point_ids[rows], k]
                hit_predictions = first_predictions[point_ids[rows]]
            else:
                broken, hit_predictions = stage_units(progress, context, name, point_ids[rows], k,
                                                      float(epsilons[k]))
            broken_by[rows[broken]] = index
            predictions[rows[broken]] = hit_predictions[broken]
            alive[rows[broken]] = False
            after[name][:, k] = alive
            if index > 0:
                context.seconds[name] = context.seconds.get(name, 0.0) + time.perf_counter() - start
        if progress is not None:
            progress.flush()
    return WorstCase(attacks, point_ids, after, broken_by, predictions)


def with_radius_successes(worst: WorstCase, radius_attack: str, radii: np.ndarray, predictions: np.ndarray,
                          epsilons: Sequence[float]) -> WorstCase:
    """The worst case with the radius attack as its last stage: a point whose radius estimate lies within epsilon e
    (an adversarial input found in that ball) is broken at e and every larger epsilon. radii, predictions: (M,)."""
    ladder = np.asarray(epsilons, dtype=float)
    found = np.isfinite(radii)[:, None] & (radii[:, None] <= ladder[None, :]) & (ladder[None, :] > 0)
    final = worst.mask & ~found
    newly = worst.mask.sum(axis=1) > final.sum(axis=1)  # nested: fewer robust columns = broken earlier
    broken_by, broken_predictions = worst.broken_by.copy(), worst.broken_predictions.copy()
    broken_by[newly], broken_predictions[newly] = len(worst.attacks), predictions[newly]
    return WorstCase((*worst.attacks, radius_attack), worst.point_ids, {**worst.after, radius_attack: final},
                     broken_by, broken_predictions)
