"""Sanity checks run on every evaluation (Carlini et al. 2019; AutoAttack's checks).

Each check is a small function in the CHECKS registry that reads a `CheckContext` and returns a CheckResult.
Cheap checks use what the evaluation computed anyway; costly ones attack a fixed sample of points at the middle
and largest epsilons only, so their cost does not grow with the test set.

Checks as "name: value; passes when" (thresholds are CheckConfig fields, defaults in brackets):
- monotone: largest accuracy increase between consecutive epsilons; value <= 0.
- within_ball: largest excess of any attacked input (every point, every attack) over its epsilon ball or [0, 1];
  value <= ball_tolerance [1e-6].
- logits_not_probabilities: fraction of clean output rows in [0, 1] summing to 1 (+- probability_atol [1e-3]);
  value <= 0.5. Failing means the model ends in softmax: attacks need logits.
- largest_eps_vs_chance: accuracy at the largest epsilon, chance = max(1/K, majority rate of the labels); passes
  when the largest epsilon < large_epsilon [0.1] (then informative only) or value <= chance + chance_margin [0.1].
- eps0_equals_clean: |accuracy at eps 0 - accuracy of an independent eager forward pass|; value <= eps0_tolerance [0].
- gradients_finite_nonzero: fraction of sampled points whose input gradient of the attack loss is all zero or not
  finite; value <= max_bad_gradient_fraction [0].
- converged: largest accuracy drop on the sample when the attack gets twice the steps and one more restart (a point
  counts robust only if it survives both attacks); value <= converged_delta [0.05].
- pgd_not_weaker_than_fgsm: largest (PGD accuracy - FGSM accuracy) on the sample; value <= fgsm_tolerance [0.05].
- blackbox_not_stronger: fraction of the ensemble points that the gradient-free attack (square) broke after every
  gradient attack left them robust; value <= blackbox_tolerance [0.02] (the sign of gradient masking, as in
  AutoAttack). Passes, informative only, when no gradient-free attack ran.
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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from .attack import CHECK_STREAM, PGDRunner, batches, nested_pgd
from .attack_spec import ATTACKS
from .ensemble import standalone, worst_case
from .result import CheckResult


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds of the checks (see the module table)."""

    ball_tolerance: float = 1e-6
    probability_atol: float = 1e-3
    large_epsilon: float = 0.1
    chance_margin: float = 0.1
    eps0_tolerance: float = 0.0
    max_bad_gradient_fraction: float = 0.0
    converged_delta: float = 0.05
    fgsm_tolerance: float = 0.05
    blackbox_tolerance: float = 0.02
    unbounded_epsilons: tuple[float, ...] = (0.5, 1.0)
    unbounded_tolerance: float = 0.05
    sample_size: int = 32  # points the costly checks attack

    def __post_init__(self) -> None:
        if isinstance(self.sample_size, bool) or not isinstance(self.sample_size, int) or self.sample_size < 1:
            raise ValueError(f"check sample_size must be an integer >= 1; received {self.sample_size!r}")


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


def run_checks(context: CheckContext, *, include_costly: bool) -> dict[str, CheckResult]:
    return {
        name: check.function(context) for name, check in CHECKS.items() if include_costly or not check.costly
    }


def probability_like_rows(outputs: np.ndarray, atol: float) -> np.ndarray:
    """(B, K) -> (B,) bool: the row lies in [0, 1] and sums to 1, i.e. looks like softmax output."""
    in_unit = np.all((outputs >= 0.0) & (outputs <= 1.0), axis=1)
    return in_unit & (np.abs(outputs.sum(axis=1) - 1.0) <= atol)


@register_check("monotone", costly=False)
def _monotone(context: CheckContext) -> CheckResult:
    values = [context.accuracy[eps] for eps in context.epsilons]
    increase = max([after - before for before, after in zip(values, values[1:])], default=0.0)
    passed = increase <= 0.0
    detail = "accuracy never increases with epsilon" if passed else f"accuracy rises by {increase:.4f} somewhere"
    return CheckResult(passed, float(max(increase, 0.0)), detail)


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
    import tensorflow as tf

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


@register_check("gradients_finite_nonzero", costly=True)
def _gradients_finite_nonzero(context: CheckContext) -> CheckResult:
    import tensorflow as tf

    indices = context.check_indices
    bad = 0
    for ids in batches(indices, context.batch_size):
        _, gradients = context.runner.compiled.loss_and_gradient(
            tf.constant(context.images[ids]), tf.constant(context.labels[ids], tf.int64)
        )
        gradients = gradients.numpy().reshape(len(ids), -1)
        finite = np.all(np.isfinite(gradients), axis=1)
        nonzero = np.any(gradients != 0.0, axis=1)
        bad += int(np.sum(~(finite & nonzero)))
    context.runner.gradient_evaluations += len(indices)
    fraction = bad / max(len(indices), 1)
    passed = fraction <= context.config.max_bad_gradient_fraction
    detail = f"{bad} of {len(indices)} sampled points have an all-zero or non-finite input gradient of the attack loss"
    return CheckResult(passed, float(fraction), detail)


@register_check("converged", costly=True)
def _converged(context: CheckContext) -> CheckResult:
    indices, epsilons = context.check_indices, context.check_epsilons
    if not epsilons:
        return CheckResult(True, 0.0, "no epsilon > 0 to attack")
    columns = [0] + [k for k, _ in epsilons]
    sample_mask = context.robust_mask[indices][:, columns]
    stronger = nested_pgd(
        context.runner,
        context.images,
        context.labels,
        [0.0] + [eps for _, eps in epsilons],
        sample_mask[:, 0],
        steps=2 * context.steps,
        restarts=context.restarts + 1,
        sample_indices=np.zeros(0, dtype=np.int64),
        point_ids=indices,
        stream=CHECK_STREAM,
    ).robust_mask
    drops = []
    for column, (_, eps) in enumerate(epsilons, start=1):
        before = sample_mask[:, column].mean()
        after = (sample_mask[:, column] & stronger[:, column]).mean()
        drops.append((before - after, eps, before, after))
    drop, eps, before, after = max(drops)
    passed = drop <= context.config.converged_delta
    detail = (
        f"{2 * context.steps} steps x {context.restarts + 1} restarts on {len(indices)} points: "
        f"accuracy {before:.4f} -> {after:.4f} at eps {eps:g} (largest drop; delta {context.config.converged_delta:g})"
    )
    return CheckResult(passed, float(drop), detail)


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
