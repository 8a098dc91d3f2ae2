"""Sanity checks run on every evaluation (Carlini et al. 2019; AutoAttack's checks).

Each check is a small function in the CHECKS registry that reads a `CheckContext` and returns a CheckResult.
Cheap checks use what the evaluation computed anyway; costly ones attack a fixed sample of points at the middle
and largest epsilons only, so their cost does not grow with the test set.

Checks as "name: value; passes when" (thresholds are CheckConfig fields, defaults in brackets):
- attack_monotone: the explanation samples are attacked at every epsilon on their own (not nested); fraction of them
  broken at some epsilon but robust at a larger one (an attack that is not reliable within the ladder; nesting
  would hide it); value <= monotone_tolerance [0.125].
- deterministic: largest difference between the logits of three repeated forward passes of the sample (AutoAttack's
  check_randomized: a randomized model needs attacks with expectation over its randomness); value <=
  determinism_atol [1e-5] x (1 + the largest logit).
- within_ball: largest excess of any attacked input (every point, every attack) over its epsilon ball or [0, 1];
  value <= ball_tolerance [1e-6].
- logits_not_probabilities: fraction of clean output rows in [0, 1] summing to 1 (+- probability_atol [1e-3]);
  value <= 0.5. Failing means the model ends in softmax: attacks need logits.
- largest_eps_vs_chance: accuracy at the largest epsilon, chance = max(1/K, majority rate of the labels); passes
  when the largest epsilon < large_epsilon [0.1] (then informative only) or value <= chance + chance_margin [0.1].
- eps0_equals_clean: |accuracy at eps 0 - accuracy of an independent eager forward pass|; value <= eps0_tolerance [0].
- gradients_usable: fraction of sampled points whose input gradient of the attack loss is all zero, not finite, or
  does not predict the loss (a step of gradient_step [1e-3] along its sign raises the loss by less than half of
  the first-order prediction g . dx: Athalye et al.'s sign of obfuscated gradients, e.g. quantised logits or a
  zero-gradient input layer); value <= max_bad_gradient_fraction [0.1].
- converged: the worst case converged: largest drop of the worst-case accuracy on the sample's ensemble points at the
  middle and largest epsilons when every attack gets twice its steps and queries and PGD one more restart (a point
  counts robust only if it survives both); value <= converged_delta [0.05].
- pgd_not_weaker_than_fgsm: largest (PGD accuracy - FGSM accuracy) on the sample; value <= fgsm_tolerance [0.05].
- blackbox_not_stronger: fraction of the ensemble points that the gradient-free attack (square) broke after every
  gradient attack left them robust; value <= blackbox_tolerance [0.002] (AutoAttack's check_square_sr: the sign of
  gradient masking). Passes, informative only, when no gradient-free attack ran.
- unbounded_reaches_zero: the sample's points still robust at the largest epsilon, attacked by the worst case at
  unbounded_epsilons [0.5, 1.0], where any point of a classifier that is not constant can be pushed to another class
  (at 1.0 the ball is the whole [0, 1] box); value = the sample's accuracy at the largest; value <=
  unbounded_tolerance [0.05]. Fails on masked gradients and on a model that
  predicts one class for every input (then no attack can succeed: the model is degenerate, not robust).

largest_eps_vs_chance uses the larger of 1/K and the majority rate because a model that ignores its input gets the
majority rate at any epsilon: only accuracy clearly above that, at an epsilon large enough to change any image's
class (0.1 = 25/255 of the pixel range), suggests masked gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ...spec.attacks import ATTACKS
from ...spec.evaluation import CheckConfig, stronger_budgets
from ...spec.registry import Registry
from ..attacks.compiled import batches
from ..attacks.pgd import PGDRunner
from .ensemble import standalone, worst_case
from .progress import EvaluationProgress
from .result import CheckResult


@dataclass
class CheckContext:
    """What the checks may read. The costly checks use the runner and model; they add their cost to the runner."""

    epsilons: tuple[float, ...]
    accuracy: dict[float, float]
    robust_mask: np.ndarray
    labels: np.ndarray
    num_classes: int
    ball_violation: float
    points_attacked: int
    probability_row_fraction: float
    config: CheckConfig
    model: object = None
    images: np.ndarray | None = None
    runner: PGDRunner | None = None
    check_indices: np.ndarray | None = None
    steps: int = 40
    restarts: int = 1
    batch_size: int = 32
    worst_case: object = None  # ensemble.WorstCase of the evaluation
    attack_context: object = None  # ensemble.AttackContext for the checks' own attacks (its own counters)
    adversarial_samples: dict | None = None  # eps -> (S, H, W, C): the samples attacked at each epsilon on their own
    sample_indices: np.ndarray | None = None  # (S,) their rows

    @property
    def check_epsilons(self) -> list[tuple[int, float]]:
        """(column, epsilon) of the middle and the largest epsilon > 0."""
        positive = list(range(1, len(self.epsilons)))
        if not positive:
            return []
        columns = sorted({positive[len(positive) // 2], positive[-1]})
        return [(k, self.epsilons[k]) for k in columns]


@dataclass(frozen=True)
class Check:
    function: Callable[[CheckContext], CheckResult]
    costly: bool


CHECKS: Registry[Check] = Registry("check")


def register_check(name: str, *, costly: bool, replace: bool = False):
    def decorate(function: Callable[[CheckContext], CheckResult]):
        CHECKS.register(name, Check(function, costly), replace=replace)
        return function

    return decorate


def run_checks(context: CheckContext, *, include_costly: bool,
               progress: EvaluationProgress | None = None) -> dict[str, CheckResult]:
    """Every check (the costly ones when include_costly). With a resumable store each costly check is one unit:
    its result and the gradients it spent are stored, and a replayed check adds those gradients back to the runner,
    so a resumed evaluation reports the same checks and the same check cost."""
    results = {}
    for name, check in CHECKS.items():
        if check.costly and include_costly and progress is not None:
            results[name] = _check_unit(progress, context, name, check)
        elif include_costly or not check.costly:
            results[name] = check.function(context)
    if progress is not None:
        progress.flush()
    return results


def _check_gradients(context: CheckContext) -> int:
    counters = context.attack_context.counters.values() if context.attack_context is not None else ()
    return context.runner.gradient_evaluations + sum(counter.gradient_evaluations for counter in counters)


def _check_unit(progress: EvaluationProgress, context: CheckContext, name: str, check: Check) -> CheckResult:
    def compute() -> dict[str, np.ndarray]:
        before = _check_gradients(context)
        result = check.function(context)
        return {"passed": np.array(result.passed), "value": np.array(result.value),
                "detail": np.array(result.detail), "gradients": np.array(_check_gradients(context) - before)}

    replay = f"check/{name}" in progress.units
    record = progress.run(f"check/{name}", compute)
    if replay:
        context.runner.gradient_evaluations += int(record["gradients"])
    return CheckResult(bool(record["passed"]), float(record["value"]), str(record["detail"]))


def probability_like_rows(outputs: np.ndarray, atol: float) -> np.ndarray:
    """(B, K) -> (B,) bool: the row lies in [0, 1] and sums to 1, i.e. looks like softmax output."""
    in_unit = np.all((outputs >= 0.0) & (outputs <= 1.0), axis=1)
    return in_unit & (np.abs(outputs.sum(axis=1) - 1.0) <= atol)


def forward_classes(model, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.argmax(np.asarray(model(tf.constant(images[ids]), training=False)), axis=1)
                           for ids in batches(np.arange(len(images)), batch_size)])


@register_check("attack_monotone", costly=False)
def _attack_monotone(context: CheckContext) -> CheckResult:
    samples, adversarial = context.sample_indices, context.adversarial_samples
    if samples is None or len(samples) == 0 or not adversarial:
        return CheckResult(True, 0.0, "no per-epsilon samples: informative only")
    epsilons = sorted(adversarial)
    labels = context.labels[samples]
    robust = np.stack([forward_classes(context.model, adversarial[eps], context.batch_size) == labels
                       for eps in epsilons], axis=1)  # (S, E): each epsilon attacked on its own
    regained = np.any(~robust[:, :-1] & np.logical_or.accumulate(robust[:, ::-1], axis=1)[:, ::-1][:, 1:], axis=1)
    fraction = float(regained.mean())
    passed = fraction <= context.config.monotone_tolerance
    detail = (f"{int(regained.sum())} of {len(samples)} samples broken at some epsilon and robust at a larger one, "
              f"each epsilon attacked on its own" + ("" if passed else ": the attack is not reliable on this ladder"))
    return CheckResult(passed, fraction, detail)


@register_check("deterministic", costly=False)
def _deterministic(context: CheckContext) -> CheckResult:
    if context.model is None or context.check_indices is None:
        return CheckResult(True, 0.0, "no model: informative only")
    x = tf.constant(context.images[context.check_indices[: context.batch_size]])
    outputs = np.stack([np.asarray(context.model(x, training=False), dtype=np.float64) for _ in range(3)])
    difference = float(np.max(np.abs(outputs - outputs[0])))
    limit = context.config.determinism_atol * (1 + float(np.max(np.abs(outputs[0]))))
    passed = difference <= limit
    detail = (f"largest logit difference over 3 forward passes of {x.shape[0]} points: {difference:.2e} "
              f"(limit {limit:.2e})" + ("" if passed else ": the model is randomized; attack it with EoT"))
    return CheckResult(passed, difference, detail)


@register_check("within_ball", costly=False)
def _within_ball(context: CheckContext) -> CheckResult:
    tolerance = context.config.ball_tolerance
    passed = context.ball_violation <= tolerance
    detail = (
        f"{context.points_attacked} attacked inputs checked; largest excess over ball or [0,1] "
        f"{context.ball_violation:.2e} (tolerance {tolerance:g})"
    )
    return CheckResult(passed, float(context.ball_violation), detail)


@register_check("logits_not_probabilities", costly=False)
def _logits_not_probabilities(context: CheckContext) -> CheckResult:
    fraction = context.probability_row_fraction
    passed = fraction <= 0.5
    detail = (
        f"{fraction:.1%} of output rows lie in [0,1] and sum to 1"
        + ("" if passed else ": the model seems to end in softmax; attacks need logits (cut the softmax)")
    )
    return CheckResult(passed, float(fraction), detail)


@register_check("largest_eps_vs_chance", costly=False)
def _largest_eps_vs_chance(context: CheckContext) -> CheckResult:
    config = context.config
    largest = context.epsilons[-1]
    accuracy = context.accuracy[largest]
    majority = float(np.bincount(context.labels, minlength=context.num_classes).max() / len(context.labels))
    chance = max(1.0 / context.num_classes, majority)
    summary = (
        f"accuracy {accuracy:.4f} at eps {largest:g}; chance {chance:.4f} "
        f"(1/K {1 / context.num_classes:.4f}, majority {majority:.4f})"
    )
    if largest < config.large_epsilon:
        return CheckResult(True, float(accuracy), f"{summary}; eps < {config.large_epsilon:g}: informative only")
    passed = accuracy <= chance + config.chance_margin
    verdict = "at or near chance" if passed else f"more than {config.chance_margin:g} above chance: suspect masking"
    return CheckResult(passed, float(accuracy), f"{summary}; {verdict}")


@register_check("eps0_equals_clean", costly=True)
def _eps0_equals_clean(context: CheckContext) -> CheckResult:
    correct = 0
    for ids in batches(np.arange(len(context.images)), context.batch_size):
        outputs = context.model(tf.convert_to_tensor(context.images[ids]), training=False)
        correct += int(np.sum(np.argmax(np.asarray(outputs), axis=1) == context.labels[ids]))
    independent = correct / len(context.images)
    evaluated = float(context.robust_mask[:, 0].mean())  # every point (the worst case may rest on a subset)
    difference = abs(evaluated - independent)
    passed = difference <= context.config.eps0_tolerance
    detail = f"eps 0 accuracy {evaluated:.4f}, independent eager forward pass {independent:.4f}"
    return CheckResult(passed, float(difference), detail)


def gradient_predicts_loss(loss_and_gradient, image: np.ndarray, label: int, step: float) -> bool:
    """One point: its gradient is finite, not all zero, and a step of `step` along its sign raises the loss by at
    least half of the first-order prediction g . dx (float32 noise aside)."""
    y = tf.constant([label], tf.int64)
    loss, gradient = loss_and_gradient(tf.constant(image[None]), y)
    gradient = gradient.numpy()[0].astype(np.float64)
    if not np.all(np.isfinite(gradient)) or not np.any(gradient != 0.0):
        return False
    moved = np.clip(image + step * np.sign(gradient), 0.0, 1.0).astype(np.float32)
    predicted = float(np.sum(gradient * (moved.astype(np.float64) - image)))
    after, _ = loss_and_gradient(tf.constant(moved[None]), y)
    actual = float(after) - float(loss)
    noise = 1e-6 * (1 + abs(float(loss)))
    return predicted <= noise or actual >= 0.5 * predicted  # a flat loss has nothing to predict


@register_check("gradients_usable", costly=True)
def _gradients_usable(context: CheckContext) -> CheckResult:
    indices = context.check_indices
    step = context.config.gradient_step
    bad = sum(not gradient_predicts_loss(context.runner.compiled.loss_and_gradient, context.images[[i]][0],
                                         int(context.labels[i]), step) for i in indices)
    context.runner.gradient_evaluations += 2 * len(indices)
    fraction = bad / max(len(indices), 1)
    passed = fraction <= context.config.max_bad_gradient_fraction
    detail = (f"{bad} of {len(indices)} sampled points have an input gradient that is all zero, not finite, or does "
              f"not predict the loss a step of {step:g} along its sign gives" + ("" if passed else
                                                                                 ": obfuscated gradients"))
    return CheckResult(passed, float(fraction), detail)


@register_check("converged", costly=True)
def _converged(context: CheckContext) -> CheckResult:
    worst, epsilons = context.worst_case, context.check_epsilons
    if not epsilons or worst is None:
        return CheckResult(True, 0.0, "no epsilon > 0 to attack")
    rows = np.flatnonzero(np.isin(worst.point_ids, context.check_indices))
    ids = worst.point_ids[rows]
    columns = [k for k, _ in epsilons]
    before = worst.mask[rows][:, columns]
    attack_context = context.attack_context
    settings = attack_context.settings
    strong = dataclasses.replace(attack_context, settings=settings.replace(
        budgets=stronger_budgets(settings, worst.attacks)))
    survivors = np.zeros(len(context.labels), dtype=bool)
    survivors[ids] = worst.mask[rows, 0]
    ladder = (0.0, *[eps for _, eps in epsilons])
    first_mask, first_predictions = standalone(strong, worst.attacks[0], ladder, survivors, np.zeros(0, np.int64))
    after = worst_case(strong, worst.attacks, ladder, ids, survivors, first_mask, first_predictions).mask[:, 1:]
    drops = [(float(before[:, c].mean() - (before[:, c] & after[:, c]).mean()), eps, float(before[:, c].mean()),
              float((before[:, c] & after[:, c]).mean())) for c, (_, eps) in enumerate(epsilons)] if len(ids) else []
    if not drops:
        return CheckResult(True, 0.0, "no sample point in the worst case's set: informative only")
    drop, eps, accuracy_before, accuracy_after = max(drops)
    passed = drop <= context.config.converged_delta
    detail = (f"worst case of {', '.join(worst.attacks)} with 2x steps and queries, one more PGD restart, on "
              f"{len(ids)} points: accuracy {accuracy_before:.4f} -> {accuracy_after:.4f} at eps {eps:g} (largest "
              f"drop; delta {context.config.converged_delta:g})" + ("" if passed else ": not converged"))
    return CheckResult(passed, drop, detail)


@register_check("pgd_not_weaker_than_fgsm", costly=True)
def _pgd_not_weaker_than_fgsm(context: CheckContext) -> CheckResult:
    indices, epsilons = context.check_indices, context.check_epsilons
    if not epsilons:
        return CheckResult(True, 0.0, "no epsilon > 0 to attack")
    clean = context.robust_mask[indices, 0]
    gaps = []
    for k, eps in epsilons:
        fgsm_robust = clean.copy()
        fgsm_robust[clean] = ~context.runner.fgsm(context.images, context.labels, indices[clean], eps)
        pgd_accuracy = context.robust_mask[indices, k].mean()
        gaps.append((pgd_accuracy - fgsm_robust.mean(), eps, pgd_accuracy, fgsm_robust.mean()))
    gap, eps, pgd_accuracy, fgsm_accuracy = max(gaps)
    passed = gap <= context.config.fgsm_tolerance
    detail = (
        f"on {len(indices)} points at eps {eps:g}: PGD accuracy {pgd_accuracy:.4f}, FGSM {fgsm_accuracy:.4f} "
        f"(tolerance {context.config.fgsm_tolerance:g})"
    )
    return CheckResult(passed, float(gap), detail)


@register_check("blackbox_not_stronger", costly=False)
def _blackbox_not_stronger(context: CheckContext) -> CheckResult:
    worst = context.worst_case
    free = [index for index, name in enumerate(worst.attacks) if ATTACKS[name].gradient_free] if worst else []
    if not free:
        return CheckResult(True, 0.0, "no gradient-free attack ran: informative only")
    gradient_attacks = [name for name in worst.attacks if not ATTACKS[name].gradient_free]
    by_free = int(np.isin(worst.broken_by, free).sum())
    fraction = by_free / max(len(worst.point_ids), 1)
    passed = fraction <= context.config.blackbox_tolerance
    detail = (f"{', '.join(worst.attacks[i] for i in free)} broke {by_free} of {len(worst.point_ids)} points that "
              f"{', '.join(gradient_attacks) or 'no gradient attack'} left robust (tolerance "
              f"{context.config.blackbox_tolerance:g})" + ("" if passed else ": gradients are masked"))
    return CheckResult(passed, float(fraction), detail)


@register_check("unbounded_reaches_zero", costly=True)
def _unbounded_reaches_zero(context: CheckContext) -> CheckResult:
    attack_context, worst = context.attack_context, context.worst_case
    indices = context.check_indices
    # nested on the ladder: a sample point the first attack broke within the ladder stays broken
    survivors = np.zeros(len(context.labels), dtype=bool)
    survivors[indices] = context.robust_mask[indices, -1]
    ladder = (0.0, *context.config.unbounded_epsilons)
    first_mask, first_predictions = standalone(attack_context, worst.attacks[0], ladder, survivors,
                                               np.zeros(0, np.int64))
    mask = worst_case(attack_context, worst.attacks, ladder, indices, survivors, first_mask, first_predictions).mask
    accuracies = mask[:, 1:].mean(axis=0)
    value = float(accuracies[-1])
    passed = value <= context.config.unbounded_tolerance
    listing = ", ".join(f"{acc:.4f} at eps {eps:g}" for eps, acc in zip(ladder[1:], accuracies))
    detail = (f"worst case of {', '.join(worst.attacks)} on {len(indices)} points (those robust at eps "
              f"{context.epsilons[-1]:g} attacked further): {listing} (tolerance {context.config.unbounded_tolerance:g})"
              + ("" if passed else ": attacks fail where any non-constant classifier must break"))
    return CheckResult(passed, value, detail)
