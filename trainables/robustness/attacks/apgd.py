"""Auto-PGD (Croce & Hein 2020, L-inf) with per-point early exit, on a compiled loss gradient: APGD-CE, APGD on the
margin loss that exists for K classes, and APGD-DLR.

Written here rather than taken from ART because ART's AutoProjectedGradientDescent keeps attacking every point for
every iteration (no early exit), round-trips each step through numpy (measured 7.2x a compiled gradient loop per
iteration on a small CNN) and crashes on 2-class DLR. The algorithm is AutoAttack's reference implementation:
step size 2 * eps, momentum 0.75 from the second step, checkpoints at 22 %, then intervals shrinking by 3 % of the
budget down to 6 %; at a checkpoint a point's step size halves and it restarts from its best-loss iterate when
fewer than 75 % of the steps since the last checkpoint raised its loss, or when neither the step size nor the best
loss changed since then. A point leaves its batch the moment any iterate is misclassified (that iterate is its
adversarial example); `tests/test_attacks.py` compares accuracies with ART's implementation. `attack_to_budget`
runs every point for the whole budget instead and returns its best iterate by the scores' margin and its last one
(the attacks on a smoothed classifier, whose scores are a noisy vote: eot.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ...spec.attacks import APGDBudget, APGDTargetsBudget, margin_loss_for, margin_runs
from .context import APGD_STREAMS, AttackContext, AttackCounter, Kernel, start_noise
from .losses import compile_loss_gradient

MOMENTUM = 0.75
FIRST_CHECKPOINT = 0.22
CHECKPOINT_DECREASE = 0.03
MIN_CHECKPOINT_INTERVAL = 0.06
OSCILLATION_RATE = 0.75


def checkpoint_intervals(steps: int) -> tuple[int, int, int]:
    """(first interval, decrease per checkpoint, smallest interval), in iterations, as AutoAttack computes them."""
    return (max(int(FIRST_CHECKPOINT * steps), 1), max(int(CHECKPOINT_DECREASE * steps), 1),
            max(int(MIN_CHECKPOINT_INTERVAL * steps), 1))


def compile_apgd_step(loss_gradient, image_shape: Sequence[int]):
    """One APGD iteration for a batch, compiled: the momentum step, its projection, then loss and gradient there."""
    images = tf.TensorSpec((None, *image_shape), tf.float32)
    per_example = tf.TensorSpec((None, 1, 1, 1), tf.float32)

    @tf.function(input_signature=[images, images, images, images, per_example, tf.TensorSpec((), tf.float32),
                                  tf.TensorSpec((), tf.float32), tf.TensorSpec((None,), tf.int64),
                                  tf.TensorSpec((None,), tf.int64)])
    def step(x, x_prev, gradient, x0, step_size, radius, momentum, labels, targets):
        def project(z):
            return tf.clip_by_value(tf.clip_by_value(z, x0 - radius, x0 + radius), 0.0, 1.0)

        z = project(x + step_size * tf.sign(gradient))
        x_new = project(x + momentum * (z - x) + (1.0 - momentum) * (x - x_prev))
        loss, new_gradient, logits = loss_gradient(x_new, labels, targets)
        return x_new, loss, new_gradient, logits

    return step


class APGD:
    """APGD on batches of points at one epsilon; `attack` returns (broken, adversarial inputs, their predictions)."""

    def __init__(self, loss_gradient, image_shape: Sequence[int], *, steps: int, batch_size: int,
                 device: str) -> None:
        self.loss_gradient = loss_gradient
        self.step = compile_apgd_step(loss_gradient, image_shape)
        self.steps, self.batch_size, self.device = steps, batch_size, device
        self.counter = AttackCounter()

    def attack(self, images, labels: np.ndarray, targets: np.ndarray, epsilon: float, starts: np.ndarray, *,
               counter: AttackCounter | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """images (M, H, W, C) float32 [0, 1]; starts (M, H, W, C) noise in [-eps, eps]. -> broken (M,),
        adversarial (M, H, W, C) (the clean image where not broken), predictions (M,) of those inputs.
        Gradient evaluations are added to `counter` (default: the attack's own)."""
        self.counter = counter or self.counter
        broken = np.zeros(len(images), dtype=bool)
        adversarial = np.array(images, dtype=np.float32, copy=True)
        predictions = np.full(len(images), -1, dtype=np.int64)
        with tf.device(self.device):
            for offset in range(0, len(images), self.batch_size):
                rows = np.arange(offset, min(offset + self.batch_size, len(images)))
                self._batch(images[rows], labels[rows], targets[rows], epsilon, starts[rows], rows,
                            broken, adversarial, predictions)
        return broken, adversarial, predictions

    def attack_to_budget(self, images, labels: np.ndarray, targets: np.ndarray, epsilon: float, starts: np.ndarray,
                         *, counter: AttackCounter | None = None) -> dict[str, np.ndarray]:
        """Every point for all `steps` iterations, none retired: {"best": the iterate with the smallest score margin
        (label score minus the largest other score) (M, H, W, C), "best_margin" (M,), "last": the last iterate,
        "last_margin" (M,)}. Ties keep the later iterate."""
        self.counter = counter or self.counter
        track = {"best": np.array(images, dtype=np.float32, copy=True), "best_margin": np.full(len(images), np.inf),
                 "last": np.array(images, dtype=np.float32, copy=True), "last_margin": np.full(len(images), np.inf)}
        unused = np.zeros(len(images), dtype=bool), np.zeros_like(images), np.zeros(len(images), dtype=np.int64)
        with tf.device(self.device):
            for offset in range(0, len(images), self.batch_size):
                rows = np.arange(offset, min(offset + self.batch_size, len(images)))
                self._batch(images[rows], labels[rows], targets[rows], epsilon, starts[rows], rows, *unused,
                            track=track)
        return track

    def _batch(self, x0, labels, targets, epsilon, start, rows, broken, adversarial, predictions,
               track: dict | None = None) -> None:
        """track None: retire points as they break; else run the budget and fill `track` (attack_to_budget)."""
        x0 = tf.constant(x0)
        labels, targets = tf.constant(labels, tf.int64), tf.constant(targets, tf.int64)
        radius = tf.constant(epsilon, tf.float32)
        x = tf.clip_by_value(x0 + tf.constant(start), 0.0, 1.0)
        loss, gradient, logits = self.loss_gradient(x, labels, targets)
        self.counter.gradient_evaluations += len(rows)
        n = len(rows)
        state = {
            "x0": x0, "labels": labels, "targets": targets, "x": x, "x_prev": x, "gradient": gradient,
            "step_size": tf.fill((n, 1, 1, 1), tf.constant(2.0 * epsilon, tf.float32)),
            "loss_prev": loss, "x_best": x, "loss_best": loss, "gradient_best": gradient,
            "increases": tf.zeros(n, tf.int32), "reduced_last": tf.ones(n, tf.bool), "loss_best_last": loss,
        }
        if track is None:
            rows, state = self._retire(rows, state, logits, broken, adversarial, predictions)
        else:
            state.update(x_margin_best=x, margin_best=score_margin(logits, labels))
        last = x  # the last iterate evaluated (a checkpoint may move state["x"] back to the best-loss one)
        interval, decrease, smallest = checkpoint_intervals(self.steps)
        since_checkpoint = 0
        for iteration in range(self.steps):
            if len(rows) == 0:
                return
            momentum = tf.constant(MOMENTUM if iteration > 0 else 1.0, tf.float32)
            x_new, loss, gradient, logits = self.step(state["x"], state["x_prev"], state["gradient"], state["x0"],
                                                      state["step_size"], radius, momentum, state["labels"],
                                                      state["targets"])
            self.counter.gradient_evaluations += len(rows)
            improved = loss > state["loss_best"]
            state.update(
                x_prev=state["x"], x=x_new, gradient=gradient, loss_prev=loss,
                increases=state["increases"] + tf.cast(loss > state["loss_prev"], tf.int32),
                x_best=_where_rows(improved, x_new, state["x_best"]),
                gradient_best=_where_rows(improved, gradient, state["gradient_best"]),
                loss_best=tf.where(improved, loss, state["loss_best"]),
            )
            if track is None:
                rows, state = self._retire(rows, state, logits, broken, adversarial, predictions)
            else:
                margin = score_margin(logits, labels)
                better = margin <= state["margin_best"]
                state.update(x_margin_best=_where_rows(better, x_new, state["x_margin_best"]),
                             margin_best=tf.where(better, margin, state["margin_best"]))
                last = x_new
            since_checkpoint += 1
            if since_checkpoint == interval:
                state = _checkpoint(state, interval)
                interval, since_checkpoint = max(interval - decrease, smallest), 0
        if track is not None:
            track["best"][rows], track["best_margin"][rows] = (state["x_margin_best"].numpy(),
                                                               state["margin_best"].numpy())
            track["last"][rows], track["last_margin"][rows] = last.numpy(), score_margin(logits, labels).numpy()

    @staticmethod
    def _retire(rows, state, logits, broken, adversarial, predictions):
        """Record the points whose current iterate is misclassified and drop them from the batch."""
        predicted = np.argmax(logits.numpy(), axis=1)
        done = predicted != state["labels"].numpy()
        if not done.any():
            return rows, state
        broken[rows[done]] = True
        adversarial[rows[done]] = state["x"].numpy()[done]
        predictions[rows[done]] = predicted[done]
        keep = tf.constant(np.flatnonzero(~done))
        return rows[~done], {name: tf.gather(value, keep) for name, value in state.items()}


def score_margin(scores, labels):
    """(B,) the label's score minus the largest other score: negative where the scores' argmax left the label."""
    label = tf.equal(tf.range(tf.shape(scores)[-1], dtype=tf.int64)[None, :], tf.cast(labels, tf.int64)[:, None])
    lowest = tf.fill(tf.shape(scores), tf.constant(-np.inf, scores.dtype))
    own = tf.reduce_max(tf.where(label, scores, lowest), axis=-1)
    return own - tf.reduce_max(tf.where(label, lowest, scores), axis=-1)


def _where_rows(condition, a, b):
    return tf.where(tf.reshape(condition, (-1, 1, 1, 1)), a, b)


def _checkpoint(state: dict, interval: int) -> dict:
    """Halve the step and return to the best iterate where progress stalled (see the module docstring)."""
    oscillating = tf.cast(state["increases"], tf.float32) <= OSCILLATION_RATE * interval
    no_improvement = tf.logical_and(tf.logical_not(state["reduced_last"]),
                                    state["loss_best_last"] >= state["loss_best"])
    reduce = tf.logical_or(oscillating, no_improvement)
    return {
        **state,
        "step_size": _where_rows(reduce, state["step_size"] / 2.0, state["step_size"]),
        "x": _where_rows(reduce, state["x_best"], state["x"]),
        "gradient": _where_rows(reduce, state["gradient_best"], state["gradient"]),
        "increases": tf.zeros_like(state["increases"]),
        "reduced_last": reduce,
        "loss_best_last": state["loss_best"],
    }


def ranked_targets(clean_logits: np.ndarray, labels: np.ndarray, rank: int) -> np.ndarray:
    """The class with the rank-th largest clean logit among the wrong classes (rank 1: the closest one)."""
    masked = np.where(np.arange(clean_logits.shape[1]) == labels[:, None], -np.inf, clean_logits)
    return np.argsort(-masked, axis=1, kind="stable")[:, rank - 1].astype(np.int64)


# ---------------------------------------------------------------- the registered attacks (spec.attacks)

def compiled_apgd(context: AttackContext, key: tuple, compile_gradient, steps: int) -> APGD:
    """APGD on the loss gradient `compile_gradient()` returns, compiled once per context and `key`."""
    key = (*key, steps)
    if key not in context.compiled_apgd:
        context.compiled_apgd[key] = APGD(compile_gradient(), context.image_shape, steps=steps,
                                          batch_size=context.batch_size, device=context.device)
    return context.compiled_apgd[key]


def targeted_runs(context: AttackContext, name: str, point_ids: np.ndarray, epsilon: float, runs: int, run_once):
    """`runs` runs (run r targets each point's r-th most likely wrong class, for a targeted loss), each on the points
    the earlier ones left, from the seeded random starts of attack `name`.

    run_once: (point ids (H,), targets (H,), starts (H, H, W, C)) -> (broken (H,), predictions (H,)).
    Returns (broken (N,), predictions (N,), -1 where unbroken)."""
    broken = np.zeros(len(point_ids), dtype=bool)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    for rank in range(1, runs + 1):
        rows = np.flatnonzero(~broken)
        if len(rows) == 0:
            break
        ids = point_ids[rows]
        targets = ranked_targets(context.clean_logits[ids], context.labels[ids], rank)
        starts = np.concatenate([start_noise(context.seed, APGD_STREAMS[name], rank, epsilon, [point],
                                             context.image_shape) for point in ids])
        hit, predicted = run_once(ids, targets, starts)
        broken[rows[hit]], predictions[rows[hit]] = True, predicted[hit]
    return broken, predictions


def apgd_runs(context: AttackContext, name: str, loss: str, point_ids: np.ndarray, epsilon: float, runs: int,
              steps: int):
    """`runs` APGD runs on the plain gradient of `loss` (targeted_runs); every hit breaks the classifier."""
    attack = compiled_apgd(context, (loss,), lambda: compile_loss_gradient(context.model, context.image_shape, loss),
                           steps)

    def run_once(ids, targets, starts):
        hit, adversarial, predicted = attack.attack(context.images[ids], context.labels[ids], targets, epsilon,
                                                    starts, counter=context.counter(name))
        context.record_ball(ids[hit], adversarial[hit], epsilon)
        return hit, predicted

    return targeted_runs(context, name, point_ids, epsilon, runs, run_once)


def _ce_stage(context: AttackContext, budget: APGDBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_ce", "cross_entropy", point_ids, epsilon, 1, budget.steps)


def _margin_stage(context: AttackContext, budget: APGDTargetsBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_margin", margin_loss_for(context.num_classes), point_ids, epsilon,
                     margin_runs(budget, context.num_classes), budget.steps)


def _dlr_stage(context: AttackContext, budget: APGDBudget, point_ids: np.ndarray, epsilon: float):
    return apgd_runs(context, "apgd_dlr", "dlr", point_ids, epsilon, 1, budget.steps)


APGD_CE = Kernel(stage=_ce_stage)
APGD_MARGIN = Kernel(stage=_margin_stage)
APGD_DLR = Kernel(stage=_dlr_stage)
