"""Foolbox's fast minimal-norm attack (LInfFMNAttack): a per-point radius estimate, never in the worst case."""

from __future__ import annotations

import foolbox as fb
import numpy as np
import tensorflow as tf

from ...spec.attacks import FMNBudget
from .context import AttackContext, Kernel


def _estimate(context: AttackContext, budget: FMNBudget, point_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimal adversarial L-inf distance per point (inf where it found none) and the class its adversarial
    input gets (-1 where none)."""
    attack = fb.attacks.LInfFMNAttack(steps=budget.steps)
    counter = context.counter("fmn")
    radii = np.full(len(point_ids), np.inf)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    for offset in range(0, len(point_ids), context.batch_size):
        rows = np.arange(offset, min(offset + context.batch_size, len(point_ids)))
        x = context.images[point_ids[rows]]
        with tf.device(context.device):
            _, clipped, success = attack(context.pgd_runner.fmodel, tf.constant(x),
                                         tf.constant(context.labels[point_ids[rows]], tf.int64), epsilons=None)
        found = success.numpy()
        distance = np.abs(clipped.numpy() - x).reshape(len(rows), -1).max(axis=1)
        radii[rows] = np.where(found, distance, np.inf)
        predicted = np.argmax(np.asarray(context.forward(clipped)), axis=1)
        predictions[rows] = np.where(found, predicted, -1)
        context.record_ball(point_ids[rows[found]], clipped.numpy()[found], float(np.max(distance[found], initial=0)))
        counter.gradient_evaluations += budget.steps * len(rows)
        counter.queries += len(rows)
    return radii, predictions


FMN = Kernel(estimate=_estimate)
