"""An attack's work cut into resumable units (progress.py): a stage at one epsilon on one batch of points,
a ladder attack (nested PGD) on one chunk of points over the whole ladder. Without a store the attack runs whole."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..attacks.context import AttackContext, kernel
from .progress import EvaluationProgress, counted_unit

# A ladder attack's unit: this many batches of points; nested PGD fills batches across epsilons within a unit
LADDER_UNIT_BATCHES = 8


def stage_units(progress: EvaluationProgress | None, context: AttackContext, name: str, point_ids: np.ndarray,
                epsilon_index: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """The attack's stage on point_ids at `epsilon`, one unit per batch of points -> (broken (M,), predictions)."""
    attack, budget = kernel(name), context.budget(name)
    if progress is None:
        return attack.stage(context, budget, point_ids, epsilon)
    broken = np.zeros(len(point_ids), dtype=bool)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    for offset in range(0, len(point_ids), context.batch_size):
        ids = point_ids[offset: offset + context.batch_size]
        key = f"{name}/eps{epsilon_index}/{int(ids[0])}-{int(ids[-1])}/{len(ids)}"

        def compute(ids=ids) -> dict[str, np.ndarray]:
            hit, hit_predictions = attack.stage(context, budget, ids, epsilon)
            return {"broken": np.asarray(hit, bool), "predictions": np.asarray(hit_predictions, np.int64)}

        record = counted_unit(progress, context, key, name, compute)
        broken[offset: offset + len(ids)] = record["broken"]
        predictions[offset: offset + len(ids)] = record["predictions"]
        progress.report(name, epsilon, offset + len(ids), len(point_ids))
    return broken, predictions


def ladder_units(progress: EvaluationProgress, context: AttackContext, name: str, epsilons: Sequence[float],
                 clean_correct: np.ndarray, sample_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The attack's ladder on chunks of the clean-correct points (a unit each) -> (mask (N, E), predictions (N,))."""
    attack, budget = kernel(name), context.budget(name)
    mask = np.zeros((len(clean_correct), len(epsilons)), dtype=bool)
    predictions = np.full(len(clean_correct), -1, dtype=np.int64)
    correct = np.flatnonzero(clean_correct)
    chunk = LADDER_UNIT_BATCHES * context.batch_size
    for offset in range(0, len(correct), chunk):
        ids = correct[offset: offset + chunk]
        key = f"{name}/ladder/{int(ids[0])}-{int(ids[-1])}/{len(ids)}"

        def compute(ids=ids) -> dict[str, np.ndarray]:
            only = np.zeros_like(clean_correct)
            only[ids] = True
            unit_mask, unit_predictions = attack.ladder(context, budget, epsilons, only,
                                                        np.intersect1d(sample_indices, ids))
            return {"mask": unit_mask[ids], "predictions": unit_predictions[ids]}

        record = counted_unit(progress, context, key, name, compute)
        mask[ids] = record["mask"]
        predictions[ids] = record["predictions"]
        progress.report(name, float(epsilons[-1]), offset + len(ids), len(correct))
    return mask, predictions


def radius_units(progress: EvaluationProgress | None, context: AttackContext, name: str,
                 point_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The attack's estimate (a radius attack) on point_ids, one unit per batch of points -> radii (M,) and the
    classes of their adversarial inputs (M,)."""
    attack, budget = kernel(name), context.budget(name)
    if progress is None:
        return attack.estimate(context, budget, point_ids)
    radii = np.full(len(point_ids), np.nan)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    for offset in range(0, len(point_ids), context.batch_size):
        ids = point_ids[offset: offset + context.batch_size]

        def compute(ids=ids) -> dict[str, np.ndarray]:
            found, classes = attack.estimate(context, budget, ids)
            return {"radii": np.asarray(found, float), "predictions": np.asarray(classes, np.int64)}

        record = counted_unit(progress, context, f"{name}/radius/{int(ids[0])}-{int(ids[-1])}/{len(ids)}", name,
                              compute)
        radii[offset: offset + len(ids)] = record["radii"]
        predictions[offset: offset + len(ids)] = record["predictions"]
        progress.report(name, float("inf"), offset + len(ids), len(point_ids))
    progress.flush()
    return radii, predictions
