"""The Square Attack (Andriushchenko et al. 2020, L-inf): gradient-free random search on the logit margin.

Written here rather than taken from ART because ART's SquareAttack queries the model on every point at every
iteration, also the points already broken (three forward passes per iteration), and draws one square for the whole
batch from the global numpy generator. This is the paper's algorithm as AutoAttack runs it: vertical stripes of
+-eps to start, then one query per iteration per point: a random square window (side from AutoAttack's schedule,
p_init 0.8) set to +-eps per channel around the clean image, kept when it lowers the margin z_y - max_{j != y} z_j.
Each point draws from its own generator keyed by (seed, epsilon, point), so results do not depend on the batch.
A point leaves the batch as soon as its margin is negative. `tests/test_attacks.py` compares with ART.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ...spec.attacks import SquareBudget
from .context import AttackContext, AttackCounter, Kernel

P_INIT = 0.8
# AutoAttack's schedule: at iteration i of n (rescaled to 10,000), p is P_INIT divided by the factor of its band
P_BANDS = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256))
P_LAST_FACTOR = 512


def square_fraction(iteration: int, queries: int) -> float:
    """Fraction of the image's pixels the square covers at this iteration (AutoAttack's p_selection)."""
    scaled = int(iteration / queries * 10000)
    for bound, factor in P_BANDS:
        if scaled <= bound:
            return P_INIT / factor
    return P_INIT / P_LAST_FACTOR


def square_side(iteration: int, queries: int, height: int, width: int) -> int:
    side = int(round(math.sqrt(square_fraction(iteration, queries) * height * width)))
    return min(max(side, 1), height - 1)


def margins(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """z_y - max_{j != y} z_j per row: negative exactly when the row is misclassified."""
    rows = np.arange(len(labels))
    others = logits.copy()
    others[rows, labels] = -np.inf
    return logits[rows, labels] - others.max(axis=1)


class Square:
    """Square on batches of points at one epsilon; `attack` returns (broken, adversarial inputs, predictions)."""

    def __init__(self, forward, *, queries: int, batch_size: int, counter: AttackCounter, device: str,
                 seed: int) -> None:
        self.forward, self.queries, self.batch_size = forward, queries, batch_size
        self.counter, self.device, self.seed = counter, device, seed

    def attack(self, images, labels: np.ndarray, point_ids: np.ndarray,
               epsilon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        broken = np.zeros(len(images), dtype=bool)
        adversarial = np.array(images, dtype=np.float32, copy=True)
        predictions = np.full(len(images), -1, dtype=np.int64)
        for offset in range(0, len(images), self.batch_size):
            rows = np.arange(offset, min(offset + self.batch_size, len(images)))
            self._batch(np.asarray(images[rows], np.float32), labels[rows], point_ids[rows], epsilon, rows,
                        broken, adversarial, predictions)
        return broken, adversarial, predictions

    def _logits(self, x: np.ndarray) -> np.ndarray:
        with tf.device(self.device):
            logits = self.forward(tf.constant(x)).numpy()
        self.counter.queries += len(x)
        return logits

    def _batch(self, x0, labels, point_ids, epsilon, rows, broken, adversarial, predictions) -> None:
        n, height, width, channels = x0.shape
        epsilon_key = int(np.float64(epsilon).view(np.uint64))
        generators = [np.random.default_rng([self.seed, epsilon_key, int(point)]) for point in point_ids]
        stripes = np.stack([g.choice([-epsilon, epsilon], size=(1, width, channels)) for g in generators])
        x = np.clip(x0 + stripes.astype(np.float32), 0.0, 1.0)
        logits = self._logits(x)
        margin = margins(logits, labels)
        active = np.arange(n)  # rows of this batch still robust

        def retire(done: np.ndarray) -> np.ndarray:
            finished = active[done]
            broken[rows[finished]] = True
            adversarial[rows[finished]] = x[finished]
            predictions[rows[finished]] = np.argmax(logits_of[finished], axis=1)
            return active[~done]

        logits_of = np.zeros((n, logits.shape[1]), dtype=np.float32)
        logits_of[active] = logits
        active = retire(margin[active] < 0)
        for iteration in range(1, self.queries):
            if len(active) == 0:
                return
            side = square_side(iteration - 1, self.queries, height, width)
            candidate = x[active].copy()
            for slot, row in enumerate(active):
                generator = generators[row]
                top, left = generator.integers(0, height - side + 1), generator.integers(0, width - side + 1)
                signs = generator.choice([-epsilon, epsilon], size=(1, 1, channels)).astype(np.float32)
                window = (slice(top, top + side), slice(left, left + side))
                candidate[slot][window] = np.clip(x0[row][window] + signs, 0.0, 1.0)
            new_logits = self._logits(candidate)
            new_margin = margins(new_logits, labels[active])
            better = new_margin < margin[active]
            improved_rows = active[better]
            x[improved_rows] = candidate[better]
            margin[improved_rows] = new_margin[better]
            logits_of[improved_rows] = new_logits[better]
            active = retire(margin[active] < 0)


def _stage(context: AttackContext, budget: SquareBudget, point_ids: np.ndarray, epsilon: float):
    attack = Square(context.forward, queries=budget.queries, batch_size=context.batch_size,
                    counter=context.counter("square"), device=context.device, seed=context.seed)
    broken, adversarial, predictions = attack.attack(context.images[point_ids], context.labels[point_ids],
                                                     point_ids, epsilon)
    context.record_ball(point_ids[broken], adversarial[broken], epsilon)
    return broken, predictions


SQUARE = Kernel(stage=_stage)
