"""The paper's attack: Foolbox L-inf PGD on a compiled model (compiled.py), run over nested epsilon balls in
always-full batches, and FGSM (the checks' one-step comparison).

Speed comes from three things. A batch's whole PGD loop (per step: loss and input gradient, signed step,
projection) is one `tf.function` with a `None` batch dimension and the loop in the graph, traced once per
evaluation and reused by every batch; it replaces Foolbox's Python loop of eager calls (which, even with a compiled
gradient, spends ~20 % of each step in eager dispatch on CPU, and whose own tape is ~2.5x slower still).
The epsilon balls are nested: a point broken at epsilon_k stays broken at every larger epsilon (the adversarial
example found is inside the larger ball), so only points still robust are attacked at the next epsilon. And the
work is a queue of (point, epsilon, restart) tasks packed into batches of mixed epsilons (Foolbox's LinfPGD with a
per-example radius), so batches stay full until the queue runs dry instead of ending every epsilon half empty.

Random starts are keyed: the start of point i at epsilon e in restart r is drawn from a generator seeded by
(seed, stream, r, e, i), so results do not depend on the batch size, on which other points share a batch, or on
how many epsilons or restarts came before.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import eagerpy as ep
import foolbox as fb
import numpy as np
import tensorflow as tf
from foolbox.attacks.base import get_criterion
from foolbox.criteria import Misclassification

from ...spec.attacks import PGDBudget
from .compiled import CompiledModel, default_device
from .context import MAIN_STREAM, AttackContext, Kernel, start_noise


class PerExampleLinfPGD(fb.attacks.LinfPGD):
    """Foolbox LinfPGD with one radius per example, caller-supplied random starts and a compiled step loop.

    Called with epsilons=1 (the whole [0, 1] box, so Foolbox's scalar final clip changes nothing) and per call
    radii, step_sizes (B, 1, 1, 1) and start (B, H, W, C noise already scaled to each radius, or None); Foolbox's
    __call__ (input bounds check, final clip to the ball, success criterion) is unchanged; `run`, its loop of
    steps, is one call of CompiledModel.pgd doing the same arithmetic (tests check equality with stock LinfPGD).
    step_sizes are rel_stepsize * radius, rounded once to float32 as Foolbox does.
    """

    def __init__(self, compiled, **kwargs) -> None:
        super().__init__(**kwargs)
        self.compiled = compiled

    def run(self, model, inputs, criterion, *, epsilon, radii, step_sizes, start, **kwargs):
        x0, restore_type = ep.astensor_(inputs)
        criterion = get_criterion(criterion)
        if not isinstance(criterion, Misclassification):
            raise ValueError("PerExampleLinfPGD supports untargeted misclassification only")
        x = x0.raw
        if self.random_start:
            x = tf.clip_by_value(x + start, *model.bounds)
        x = self.compiled.pgd(x, x0.raw, criterion.labels.raw, step_sizes, radii, tf.constant(self.steps, tf.int32))
        return restore_type(ep.astensor(x))


class _LabelledLoss:
    """Foolbox's loss function for one call, carrying that call's labels to the compiled gradient."""

    def __init__(self, loss_fn, labels) -> None:
        self.loss_fn, self.labels = loss_fn, labels

    def __call__(self, x):
        return self.loss_fn(x)


class CompiledFGSM(fb.attacks.FGSM):
    """Foolbox FGSM (no random start) whose value_and_grad is CompiledModel.loss_and_gradient (the same loss)."""

    def __init__(self, loss_and_gradient, **kwargs) -> None:
        super().__init__(**kwargs)
        self.loss_and_gradient = loss_and_gradient

    def get_loss_fn(self, model, labels):
        return _LabelledLoss(super().get_loss_fn(model, labels), labels.raw)

    def value_and_grad(self, loss_fn, x):
        loss, gradient = self.loss_and_gradient(x.raw, loss_fn.labels)
        return ep.astensor(loss), ep.astensor(gradient)


@dataclass
class PGDRunner:
    """Attacks batches of points of an image set and keeps the bookkeeping the checks need.

    gradient_evaluations counts one per point per PGD step (Foolbox evaluates the loss gradient once per step);
    queries counts forward-only passes per point (Foolbox's success test, the predictions of broken points' inputs);
    max_ball_violation is the largest excess of any returned input over its epsilon ball or the [0, 1] box.
    """

    compiled: CompiledModel
    seed: int
    batch_size: int
    rel_stepsize: float
    random_start: bool
    device: str = field(default_factory=default_device)
    gradient_evaluations: int = 0
    queries: int = 0
    max_ball_violation: float = 0.0
    points_checked: int = 0

    def __post_init__(self) -> None:
        self.fmodel = fb.TensorFlowModel(self.compiled.forward, bounds=(0.0, 1.0), device=self.device)
        self._fgsm = CompiledFGSM(self.compiled.loss_and_gradient)
        self._pgd = functools.cache(lambda steps: PerExampleLinfPGD(
            self.compiled, rel_stepsize=self.rel_stepsize, steps=steps, random_start=self.random_start))

    def pgd_batch(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        point_ids: np.ndarray,
        radii: np.ndarray,
        restarts: np.ndarray,
        *,
        steps: int,
        stream: int = MAIN_STREAM,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One PGD batch, point_ids[i] attacked at radius radii[i] in restart restarts[i] -> (success, x_adv)."""
        x = images[point_ids]
        with tf.device(self.device):
            radii = np.asarray(radii, np.float64).reshape(-1, 1, 1, 1)
            start = None
            if self.random_start:
                start = tf.constant(np.concatenate([
                    start_noise(self.seed, stream, int(restart), float(radius), [point], x.shape[1:])
                    for point, radius, restart in zip(point_ids, radii.ravel(), restarts)
                ]))
            raw, clipped, success = self._pgd(steps)(
                self.fmodel, tf.constant(x), tf.constant(labels[point_ids], tf.int64), epsilons=1.0,
                radii=tf.constant(radii.astype(np.float32)),
                step_sizes=tf.constant((self.rel_stepsize * radii).astype(np.float32)), start=start,
            )
        raw, clipped = raw.numpy(), clipped.numpy()
        self._record_ball(x, (raw, clipped), radii.ravel())
        self.gradient_evaluations += steps * len(point_ids)
        self.queries += len(point_ids)  # Foolbox's success test
        return success.numpy(), clipped

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes of inputs (n, H, W, C), counted as model queries."""
        with tf.device(self.device):
            outputs = self.compiled.forward(tf.constant(x)).numpy()
        self.queries += len(x)
        return np.argmax(outputs, axis=1)

    def fgsm(self, images: np.ndarray, labels: np.ndarray, point_ids: np.ndarray, epsilon: float) -> np.ndarray:
        """Foolbox FGSM (no random start) on images[point_ids] -> success (n,)."""
        attack = self._fgsm
        success = np.zeros(len(point_ids), dtype=bool)
        for offset in range(0, len(point_ids), self.batch_size):
            ids = point_ids[offset : offset + self.batch_size]
            with tf.device(self.device):
                _, clipped, is_adv = attack(
                    self.fmodel, tf.constant(images[ids]), tf.constant(labels[ids], tf.int64), epsilons=epsilon
                )
            self._record_ball(images[ids], (clipped.numpy(),), np.full(len(ids), epsilon))
            self.gradient_evaluations += len(ids)
            success[offset : offset + len(ids)] = is_adv.numpy()
        return success

    def _record_ball(self, x: np.ndarray, candidates, radii: np.ndarray) -> None:
        for candidate in candidates:
            distance = np.abs(candidate - x).reshape(len(x), -1).max(axis=1)
            excess = max(
                float(np.max(distance - radii)), -float(np.min(candidate)), float(np.max(candidate)) - 1.0
            )
            self.max_ball_violation = max(self.max_ball_violation, excess)
        self.points_checked += len(x)


@dataclass
class NestedOutcome:
    robust_mask: np.ndarray  # (N, E) bool
    adversarial_samples: dict[float, np.ndarray]  # eps > 0 -> (S, H, W, C)
    broken_predictions: np.ndarray  # (N,) int64: the class the breaking input got; -1 where never broken


def nested_pgd(
    runner: PGDRunner,
    images: np.ndarray,
    labels: np.ndarray,
    epsilons: Sequence[float],
    clean_correct: np.ndarray,
    *,
    steps: int,
    restarts: int,
    sample_indices: np.ndarray,
    point_ids: np.ndarray | None = None,
    stream: int = MAIN_STREAM,
) -> NestedOutcome:
    """Robust mask over nested epsilon balls (epsilons increasing, epsilons[0] == 0 -> clean_correct).

    A point is attacked at epsilon_k only if it is robust at epsilon_(k-1), by up to `restarts` PGD runs, and is
    robust at epsilon_k when it survives all of them. Tasks (point, k, restart) wait in one queue and fill batches
    regardless of k. The adversarial sample of a point at epsilon e is the input that broke it at the smallest
    epsilon <= e where it broke (still inside the larger ball), the last attempt when it is robust at e, and the
    clean image when it was misclassified to begin with.
    point_ids restricts the evaluation to those points (mask rows follow point_ids); default all points.
    """
    ids = np.arange(len(images)) if point_ids is None else np.asarray(point_ids)
    mask = np.zeros((len(ids), len(epsilons)), dtype=bool)
    broken_predictions = np.full(len(ids), -1, dtype=np.int64)
    mask[:, 0] = clean_correct
    sample_of = {int(point): slot for slot, point in enumerate(sample_indices)}
    samples = {float(eps): images[sample_indices].copy() for eps in epsilons[1:]}
    queue = deque((row, 1, 0) for row in np.flatnonzero(clean_correct)) if len(epsilons) > 1 else deque()
    while queue:
        tasks = [queue.popleft() for _ in range(min(runner.batch_size, len(queue)))]
        rows = np.array([row for row, _, _ in tasks])
        success, adversarial = runner.pgd_batch(
            images,
            labels,
            ids[rows],
            np.array([epsilons[k] for _, k, _ in tasks]),
            np.array([restart for _, _, restart in tasks]),
            steps=steps,
            stream=stream,
        )
        if success.any():
            broken_predictions[rows[success]] = runner.predict(adversarial[success])
        for (row, k, restart), broken, example in zip(tasks, success, adversarial):
            slot = sample_of.get(int(ids[row]))
            if slot is not None:
                # the example stands for every larger epsilon too, until a later task of this point replaces it
                for eps in epsilons[k:]:
                    samples[float(eps)][slot] = example
            if broken:
                continue
            if restart + 1 < restarts:
                queue.append((row, k, restart + 1))
                continue
            mask[row, k] = True
            if k + 1 < len(epsilons):
                queue.append((row, k + 1, 0))
    return NestedOutcome(mask, samples, broken_predictions)


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


PGD = Kernel(stage=_stage, ladder=_ladder)
