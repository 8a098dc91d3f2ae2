"""Sanity checks run on every evaluation (Carlini et al. 2019; AutoAttack's checks).

Each check is a small function in the CHECKS registry that reads a `CheckContext` and returns a CheckResult.
Cheap checks use what the evaluation computed anyway; costly ones attack a fixed sample of points at the middle
and largest epsilons only, so their cost does not grow with the test set.

Every check that counts points is an exact one-sided test on its counts (significance.py; the unit is the point)
at the false-alarm level CheckConfig.level [0.005]: it fires only when its count is significantly above its
tolerance, so one point of 64 never fires a 0.2 % tolerance and 20 of 1,000 do. Seven checks are tests
(STATISTICAL_CHECKS), so an honest trial is flagged by one of them with probability <= 7 x 0.5 % = 3.5 % (union
bound). The deterministic checks (within_ball, eps0_equals_clean, logits_not_probabilities, deterministic) are
exact comparisons. `learned` is the one test a trial must pass: clean accuracy significantly above the majority rate.

Escalation (the budget checks: attack_monotone, converged, pgd_not_weaker_than_fgsm, blackbox_not_stronger,
unbounded_reaches_zero): a check that fires re-attacks only the points it counted (those of the check's sample;
attack_monotone and blackbox_not_stronger at most escalation_points [32] of them, a seeded choice) with the worst case of the evaluation's attacks at the escalation cap
(every budget x escalation_factor [4] steps and queries, factor - 1 more restarts), takes the worst case of both,
and tests again; only a check that still fires fails, saying "the attack did not converge within the cap; raise
attack.<attack>.<field>" when the cap broke at least half of the points it re-attacked (gradients work, the budget is
short; converged always says so) and "gradients look masked" when it broke fewer. When more points fired than the
cap, blackbox_not_stronger estimates the rest from the escalated ones (approximate) and attack_monotone counts them
as they were. Escalation is part of the check's resumable unit and is
counted in the check's cost (escalated_points, escalation_gradients). Without the costly checks nothing escalates.

Checks as "name: value; fires when" (thresholds are CheckConfig fields, defaults in brackets; "count > r" means
"the count is significantly above a rate r", binomial):
- attack_monotone: the explanation samples are attacked at every epsilon on their own (not nested); value: fraction
  of them broken at some epsilon but robust at a larger one (an attack that is not reliable within the ladder;
  nesting would hide it); fires when that count > monotone_tolerance [0.125]; escalates.
- deterministic: largest difference between the logits of three repeated forward passes of the sample (AutoAttack's
  check_randomized: a randomized model needs attacks with expectation over its randomness); fails when value >
  determinism_atol [1e-5] x (1 + the largest logit).
- within_ball: largest excess of any attacked input (every point, every attack) over its epsilon ball or [0, 1];
  fails when value > ball_tolerance [1e-6].
- logits_not_probabilities: fraction of clean output rows in [0, 1] summing to 1 (+- probability_atol [1e-3]);
  fails when value > 0.5: the model ends in softmax, attacks need logits.
- largest_eps_vs_chance: accuracy at the largest epsilon on the worst case's points, chance = max(1/K, majority
  rate of the labels); informative only when the largest epsilon < large_epsilon [0.1]; fires when the robust
  count > chance + chance_margin [0.1].
- eps0_equals_clean: |accuracy at eps 0 - accuracy of an independent eager forward pass|; fails when value >
  eps0_tolerance [0].
- learned: clean accuracy on every evaluated point; passes only when the correct count is significantly above the
  majority rate of the labels (binomial, at level); failing: "did not learn: clean X <= majority Y".
- gradients_usable: fraction of gradient_sample_size [128] sampled points (its own sample: two gradients a point are
  cheap, and a straight-through step's ~16 % of bad points needs them) whose input gradient of the attack loss is all
  zero, not finite, or does not predict the loss (a step of gradient_step [1e-3] along its sign raises the loss by
  less than half of the first-order prediction g . dx: Athalye et al.'s sign of obfuscated gradients, e.g. quantised
  logits or a zero-gradient input layer); fires when the bad count > max_bad_gradient_fraction [0.02].
- converged: the worst case converged: value, the largest drop of the worst-case accuracy on the sample's ensemble
  points at the middle and largest epsilons when every attack gets twice its steps and queries and PGD one more
  restart (a point counts robust only if it survives both); fires when the count of points dropped > converged_delta
  [0.05] at either epsilon (Bonferroni over the two); escalation: the points robust at 2x attacked at the cap, the
  test repeated on the drop from 2x to the cap.
- pgd_not_weaker_than_fgsm: value, the largest (PGD accuracy - FGSM accuracy) on the sample; fires when the points
  FGSM broke and PGD left robust outnumber the converse significantly (McNemar's exact test on the discordant
  points, Bonferroni over the two epsilons); fgsm_tolerance [0.05] is only the value's bar in the detail.
- blackbox_not_stronger: value, the fraction of the ensemble points that the gradient-free attack (square) broke
  after every gradient attack left them robust; fires when that count > blackbox_tolerance [0.002] (AutoAttack's
  check_square_sr: the sign of gradient masking); escalation: the gradient attacks alone at the cap on those points.
  Informative only when no gradient-free attack ran.
- unbounded_reaches_zero: the sample's points still robust at the largest epsilon, attacked by the worst case at
  unbounded_epsilons [0.5, 1.0], where any point of a classifier that is not constant can be pushed to another class
  (at 1.0 the ball is the whole [0, 1] box); value = the sample's accuracy at the largest; fires when the robust
  count > unbounded_tolerance [0.05]. Fails on masked gradients and on a model that predicts one class for every
  input (then no attack can succeed: the model is degenerate, not robust).

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
from .significance import bonferroni, discordant, exceeds

MASKED = "gradients look masked"


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
    gradient_indices: np.ndarray | None = None  # the points gradients_usable probes (default: check_indices)
    steps: int = 40
    restarts: int = 1
    batch_size: int = 32
    worst_case: object = None  # ensemble.WorstCase of the evaluation
    attack_context: object = None  # ensemble.AttackContext for the checks' own attacks (its own counters)
    adversarial_samples: dict | None = None  # eps -> (S, H, W, C): the samples attacked at each epsilon on their own
    sample_indices: np.ndarray | None = None  # (S,) their rows
    escalation: bool = False  # a firing budget check may re-attack at the cap (run_checks: with the costly checks)

    @property
    def check_epsilons(self) -> list[tuple[int, float]]:
        """(column, epsilon) of the middle and the largest epsilon > 0."""
        positive = list(range(1, len(self.epsilons)))
        if not positive:
            return []
        columns = sorted({positive[len(positive) // 2], positive[-1]})
        return [(k, self.epsilons[k]) for k in columns]

    @property
    def attacks(self) -> tuple[str, ...]:
        """The worst case's attacks (the paper's PGD when the context has no worst case)."""
        return tuple(self.worst_case.attacks) if self.worst_case is not None else ("pgd",)

    @property
    def can_escalate(self) -> bool:
        return self.escalation and self.attack_context is not None

    def fires(self, p_value: float) -> bool:
        return p_value < self.config.level

    def settled(self, p_value: float, value: float, detail: str, failing: str,
                escalates: bool = True) -> CheckResult | None:
        """A budget check's result when escalation does not come into it: a pass when its test does not fire, a
        failure saying `failing` when it fires and cannot escalate; None when it must escalate."""
        if not self.fires(p_value):
            return CheckResult(True, value, detail, p_value)
        if self.can_escalate and escalates:
            return None
        reason = f"{failing} (not escalated)"
        return CheckResult(False, value, f"{detail}: {reason}", p_value, reason=reason)


@dataclass(frozen=True)
class Check:
    function: Callable[[CheckContext], CheckResult]
    costly: bool
    escalates: bool = False  # may attack (at the escalation cap) when it fires: a resumable unit with the costly ones


CHECKS: Registry[Check] = Registry("check")


def register_check(name: str, *, costly: bool, escalates: bool = False, replace: bool = False):
    def decorate(function: Callable[[CheckContext], CheckResult]):
        CHECKS.register(name, Check(function, costly, escalates), replace=replace)
        return function

    return decorate


def run_checks(context: CheckContext, *, include_costly: bool,
               progress: EvaluationProgress | None = None) -> dict[str, CheckResult]:
    """Every check (the costly ones when include_costly; escalation only then). With a resumable store each costly
    or escalating check is one unit: its result and the gradients it spent are stored, and a replayed check adds
    those gradients back to the runner, so a resumed evaluation reports the same checks and the same check cost."""
    context = dataclasses.replace(context, escalation=include_costly)
    results = {}
    for name, check in CHECKS.items():
        if include_costly and progress is not None and (check.costly or check.escalates):
            results[name] = _check_unit(progress, context, name, check)
        elif include_costly or not check.costly:
            results[name] = check.function(context)
    if progress is not None:
        progress.flush()
    return results


def _check_gradients(context: CheckContext) -> int:
    counters = context.attack_context.counters.values() if context.attack_context is not None else ()
    runner = context.runner.gradient_evaluations if context.runner is not None else 0
    return runner + sum(counter.gradient_evaluations for counter in counters)


def _check_unit(progress: EvaluationProgress, context: CheckContext, name: str, check: Check) -> CheckResult:
    def compute() -> dict[str, np.ndarray]:
        before = _check_gradients(context)
        result = check.function(context)
        return {"passed": np.array(result.passed), "value": np.array(result.value),
                "detail": np.array(result.detail), "gradients": np.array(_check_gradients(context) - before),
                "p_value": np.array(result.p_value), "escalated_points": np.array(result.escalated_points),
                "escalation_gradients": np.array(result.escalation_gradients), "reason": np.array(result.reason)}

    replay = f"check/{name}" in progress.units
    record = progress.run(f"check/{name}", compute)
    if replay:
        context.runner.gradient_evaluations += int(record["gradients"])
    return CheckResult(bool(record["passed"]), float(record["value"]), str(record["detail"]),
                       float(record["p_value"]), int(record["escalated_points"]),
                       int(record["escalation_gradients"]), str(record["reason"]))


# --- escalation ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Escalation:
    """The cap's worst case on the points a check counted: robust (M, len(ladder)) over its epsilons (nested),
    broken_by (M,) index into attacks (-1: never), the points attacked and the gradients that cost."""

    attacks: tuple[str, ...]
    robust: np.ndarray
    broken_by: np.ndarray
    points: int
    gradients: int

    def most_breaking(self) -> str:
        """The attack that broke the most points at the cap (the first attack when none broke any)."""
        hits = np.bincount(self.broken_by[self.broken_by >= 0], minlength=len(self.attacks))
        return self.attacks[int(np.argmax(hits))] if hits.size else self.attacks[0]


def capped(context: CheckContext, rows: np.ndarray) -> np.ndarray:
    """At most escalation_points of `rows` (a seeded choice, sorted): the points an escalation attacks."""
    limit = context.config.escalation_points
    if len(rows) <= limit:
        return np.asarray(rows)
    return np.sort(np.random.default_rng([context.attack_context.seed, 3]).choice(rows, limit, replace=False))


def escalate(context: CheckContext, point_ids: np.ndarray, ladder, attacks: tuple[str, ...] | None = None) -> Escalation:
    """The worst case of `attacks` (default the evaluation's) at the escalation cap on point_ids (clean-correct
    points) over `ladder` (epsilons > 0, increasing), each point nested as in the evaluation."""
    attacks = tuple(attacks or context.attacks)
    attack_context = context.attack_context
    settings = attack_context.settings
    cap = dataclasses.replace(attack_context, settings=settings.replace(
        budgets=stronger_budgets(settings, attacks, context.config.escalation_factor)))
    before = _check_gradients(context)
    point_ids = np.asarray(point_ids, dtype=np.int64)
    survivors = np.zeros(len(context.labels), dtype=bool)
    survivors[point_ids] = True
    full = (0.0, *[float(eps) for eps in ladder])
    first_mask, first_predictions = standalone(cap, attacks[0], full, survivors, np.zeros(0, np.int64))
    worst = worst_case(cap, attacks, full, point_ids, survivors, first_mask, first_predictions)
    return Escalation(attacks, worst.mask[:, 1:], worst.broken_by, len(point_ids), _check_gradients(context) - before)


def cap_text(context: CheckContext) -> str:
    factor = context.config.escalation_factor
    return f"{factor}x steps and queries, {factor - 1} more restarts"


def still_firing(escalation: Escalation, resolved: int) -> str:
    """Why a check still fires after escalation: most of its escalated points broke at the cap (gradients work, the
    budget is short: "the attack did not converge within the cap; raise attack.X.Y") or few did (masked)."""
    if escalation.points and resolved >= 0.5 * escalation.points:
        return f"the attack did not converge within the cap; raise {raise_hint(escalation.most_breaking())}"
    return MASKED


def raise_hint(attack: str) -> str:
    """attack.<name>.<field>: the budget field that makes the attack stronger (steps, else queries)."""
    fields = ATTACKS[attack].budget.field_names()
    field = next((name for name in ("steps", "queries") if name in fields), fields[0])
    return f"attack.{attack}.{field}"


# --- the checks ---------------------------------------------------------------------------------------------------

def probability_like_rows(outputs: np.ndarray, atol: float) -> np.ndarray:
    """(B, K) -> (B,) bool: the row lies in [0, 1] and sums to 1, i.e. looks like softmax output."""
    in_unit = np.all((outputs >= 0.0) & (outputs <= 1.0), axis=1)
    return in_unit & (np.abs(outputs.sum(axis=1) - 1.0) <= atol)


def forward_classes(model, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.argmax(np.asarray(model(tf.constant(images[ids]), training=False)), axis=1)
                           for ids in batches(np.arange(len(images)), batch_size)])


def regained(robust: np.ndarray) -> np.ndarray:
    """(S, E) robust at each epsilon attacked on its own -> (S,) broken at some epsilon, robust at a larger one."""
    later_robust = np.logical_or.accumulate(robust[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return np.any(~robust[:, :-1] & later_robust, axis=1)


@register_check("attack_monotone", costly=False, escalates=True)
def _attack_monotone(context: CheckContext) -> CheckResult:
    samples, adversarial = context.sample_indices, context.adversarial_samples
    if samples is None or len(samples) == 0 or not adversarial:
        return CheckResult(True, 0.0, "no per-epsilon samples: informative only")
    epsilons = sorted(adversarial)
    labels = context.labels[samples]
    robust = np.stack([forward_classes(context.model, adversarial[eps], context.batch_size) == labels
                       for eps in epsilons], axis=1)  # (S, E): each epsilon attacked on its own
    tolerance = context.config.monotone_tolerance
    flips = regained(robust)
    fraction, count = float(flips.mean()), int(flips.sum())
    p_value = exceeds(count, len(samples), tolerance)
    detail = (f"{count} of {len(samples)} samples broken at some epsilon and robust at a larger one, each epsilon "
              f"attacked on its own (tolerance {tolerance:g}, p {p_value:.2g}, level {context.config.level:g})")
    if (settled := context.settled(p_value, fraction, detail, "the attack is not reliable on this ladder")):
        return settled
    slots = capped(context, np.flatnonzero(flips & context.robust_mask[samples, 0]))
    escalation = escalate(context, samples[slots], epsilons)
    robust[slots] &= escalation.robust  # the worst case of the sample's own attack and the cap's
    resolved = int((~regained(robust[slots])).sum())
    flips = regained(robust)
    count = int(flips.sum())
    p_value = exceeds(count, len(samples), tolerance)
    passed = not context.fires(p_value)
    why = still_firing(escalation, resolved)
    detail += (f"; escalated {len(slots)} at the cap ({cap_text(context)}): {count} left (p {p_value:.2g})"
               + ("" if passed else f": {why}"))
    return CheckResult(passed, fraction, detail, p_value, len(slots), escalation.gradients,
                       "" if passed else f"{why}: {count} of {len(samples)} samples robust at a larger epsilon "
                                         f"than one they broke at, even at the cap")


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
    return CheckResult(passed, difference, detail, reason="" if passed else "the model is randomized; attack it with EoT")


@register_check("within_ball", costly=False)
def _within_ball(context: CheckContext) -> CheckResult:
    tolerance = context.config.ball_tolerance
    passed = context.ball_violation <= tolerance
    detail = (
        f"{context.points_attacked} attacked inputs checked; largest excess over ball or [0,1] "
        f"{context.ball_violation:.2e} (tolerance {tolerance:g})"
    )
    return CheckResult(passed, float(context.ball_violation), detail,
                       reason="" if passed else "an adversarial input left its epsilon ball or [0, 1]")


@register_check("logits_not_probabilities", costly=False)
def _logits_not_probabilities(context: CheckContext) -> CheckResult:
    fraction = context.probability_row_fraction
    passed = fraction <= 0.5
    detail = (
        f"{fraction:.1%} of output rows lie in [0,1] and sum to 1"
        + ("" if passed else ": the model seems to end in softmax; attacks need logits (cut the softmax)")
    )
    return CheckResult(passed, float(fraction), detail,
                       reason="" if passed else "the model ends in softmax; attacks need logits")


def majority_rate(labels: np.ndarray, num_classes: int) -> float:
    return float(np.bincount(labels, minlength=num_classes).max() / len(labels)) if len(labels) else 0.0


@register_check("learned", costly=False)
def _learned(context: CheckContext) -> CheckResult:
    correct, points = int(context.robust_mask[:, 0].sum()), len(context.robust_mask)
    clean = correct / max(points, 1)
    majority = majority_rate(context.labels, context.num_classes)
    p_value = exceeds(correct, points, majority)
    passed = context.fires(p_value)  # significantly above the majority rate
    detail = (f"clean {clean:.4f} ({correct} of {points}), majority {majority:.4f}: p {p_value:.2g} (level "
              f"{context.config.level:g})" + ("" if passed else ": not significantly above the majority rate"))
    return CheckResult(passed, clean, detail, p_value,
                       reason="" if passed else (f"did not learn: clean {clean:.3f} <= majority {majority:.3f}"
                                                 if clean <= majority else f"did not learn: clean {clean:.3f} not "
                                                 f"significantly above majority {majority:.3f} (p {p_value:.2g})"))


@register_check("largest_eps_vs_chance", costly=False)
def _largest_eps_vs_chance(context: CheckContext) -> CheckResult:
    config = context.config
    largest = context.epsilons[-1]
    accuracy = context.accuracy[largest]
    majority = majority_rate(context.labels, context.num_classes)
    chance = max(1.0 / context.num_classes, majority)
    points = len(context.worst_case.point_ids) if context.worst_case is not None else len(context.robust_mask)
    summary = (
        f"accuracy {accuracy:.4f} at eps {largest:g} on {points} points; chance {chance:.4f} "
        f"(1/K {1 / context.num_classes:.4f}, majority {majority:.4f})"
    )
    if largest < config.large_epsilon:
        return CheckResult(True, float(accuracy), f"{summary}; eps < {config.large_epsilon:g}: informative only")
    p_value = exceeds(int(round(accuracy * points)), points, min(1.0, chance + config.chance_margin))
    passed = not context.fires(p_value)
    verdict = ("not significantly above chance + margin" if passed
               else f"significantly more than {config.chance_margin:g} above chance: suspect masking")
    return CheckResult(passed, float(accuracy), f"{summary}; p {p_value:.2g}: {verdict}", p_value,
                       reason="" if passed else f"{MASKED}: accuracy {accuracy:.3f} at eps {largest:g}, chance "
                                                f"{chance:.3f}")


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
    return CheckResult(passed, float(difference), detail,
                       reason="" if passed else "eps 0 accuracy differs from an eager forward pass")


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
    indices = context.check_indices if context.gradient_indices is None else context.gradient_indices
    step = context.config.gradient_step
    bad = sum(not gradient_predicts_loss(context.runner.compiled.loss_and_gradient, context.images[[i]][0],
                                         int(context.labels[i]), step) for i in indices)
    context.runner.gradient_evaluations += 2 * len(indices)
    fraction = bad / max(len(indices), 1)
    p_value = exceeds(int(bad), len(indices), context.config.max_bad_gradient_fraction)
    passed = not context.fires(p_value)
    detail = (f"{bad} of {len(indices)} sampled points have an input gradient that is all zero, not finite, or does "
              f"not predict the loss a step of {step:g} along its sign gives (tolerance "
              f"{context.config.max_bad_gradient_fraction:g}, p {p_value:.2g})"
              + ("" if passed else ": obfuscated gradients"))
    return CheckResult(passed, float(fraction), detail, p_value,
                       reason="" if passed else f"{MASKED}: {bad} of {len(indices)} input gradients are unusable")


@register_check("converged", costly=True, escalates=True)
def _converged(context: CheckContext) -> CheckResult:
    worst, epsilons = context.worst_case, context.check_epsilons
    if not epsilons or worst is None:
        return CheckResult(True, 0.0, "no epsilon > 0 to attack")
    rows = np.flatnonzero(np.isin(worst.point_ids, context.check_indices))
    ids = worst.point_ids[rows]
    if not len(ids):
        return CheckResult(True, 0.0, "no sample point in the worst case's set: informative only")
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
    after = before & worst_case(strong, worst.attacks, ladder, ids, survivors, first_mask,
                                first_predictions).mask[:, 1:]
    delta, level = context.config.converged_delta, context.config.level

    def largest_drop(robust: np.ndarray, stronger: np.ndarray) -> tuple[float, float, int]:
        """(p-value over both epsilons, the largest drop, its column)."""
        dropped = (robust & ~stronger).sum(axis=0)
        p_value = bonferroni(exceeds(int(count), len(ids), delta) for count in dropped)
        column = int(np.argmax(dropped))
        return p_value, float(dropped[column] / len(ids)), column

    p_value, drop, column = largest_drop(before, after)
    eps = epsilons[column][1]
    detail = (f"worst case of {', '.join(worst.attacks)} with 2x steps and queries, one more PGD restart, on "
              f"{len(ids)} points: accuracy {before[:, column].mean():.4f} -> {after[:, column].mean():.4f} at eps "
              f"{eps:g} (largest drop; delta {delta:g}, p {p_value:.2g}, level {level:g})")
    if (settled := context.settled(p_value, drop, detail, "not converged")):
        return settled
    alive = np.flatnonzero(after.any(axis=1))
    escalation = escalate(context, ids[alive], [eps for _, eps in epsilons])
    capped_after = after.copy()
    capped_after[alive] &= escalation.robust
    p_value, further, column = largest_drop(after, capped_after)
    passed = not context.fires(p_value)
    hint = raise_hint(escalation.most_breaking())
    detail += (f"; escalated {len(alive)} points to the cap ({cap_text(context)}): 2x -> cap lowers accuracy by "
               f"{further:.4f} at eps {epsilons[column][1]:g} (p {p_value:.2g})"
               + ("; converged by 2x: the trial's budget overstates the sample's accuracy by "
                  f"{drop:.4f}" if passed else f": the attack did not converge within the cap; raise {hint}"))
    return CheckResult(passed, drop, detail, p_value, len(alive), escalation.gradients,
                       "" if passed else f"the attack did not converge within the cap; raise {hint}")


@register_check("pgd_not_weaker_than_fgsm", costly=True, escalates=True)
def _pgd_not_weaker_than_fgsm(context: CheckContext) -> CheckResult:
    indices, epsilons = context.check_indices, context.check_epsilons
    if not epsilons:
        return CheckResult(True, 0.0, "no epsilon > 0 to attack")
    clean = context.robust_mask[indices, 0]
    fgsm = np.zeros((len(indices), len(epsilons)), dtype=bool)  # robust to one FGSM step
    for c, (_, eps) in enumerate(epsilons):
        fgsm[clean, c] = ~context.runner.fgsm(context.images, context.labels, indices[clean], eps)
    pgd = context.robust_mask[indices][:, [k for k, _ in epsilons]]
    gaps = pgd.mean(axis=0) - fgsm.mean(axis=0)
    column = int(np.argmax(gaps))
    gap = float(gaps[column])

    def p_of(robust: np.ndarray) -> float:
        return bonferroni(discordant(int((robust[:, c] & ~fgsm[:, c]).sum()), int((~robust[:, c] & fgsm[:, c]).sum()))
                          for c in range(len(epsilons)))

    p_value = p_of(pgd)
    eps = epsilons[column][1]
    detail = (f"on {len(indices)} points at eps {eps:g}: PGD accuracy {pgd[:, column].mean():.4f}, FGSM "
              f"{fgsm[:, column].mean():.4f} (gap tolerance {context.config.fgsm_tolerance:g}); FGSM-only breaks vs "
              f"PGD-only: McNemar p {p_value:.2g}, level {context.config.level:g}")
    if (settled := context.settled(p_value, gap, detail, "FGSM stronger than PGD")):
        return settled
    slots = np.flatnonzero(np.any(pgd & ~fgsm, axis=1))
    escalation = escalate(context, indices[slots], [eps for _, eps in epsilons])
    pgd = pgd.copy()
    resolved = int((pgd[slots] & ~escalation.robust & ~fgsm[slots]).any(axis=1).sum())
    pgd[slots] &= escalation.robust
    p_value = p_of(pgd)
    passed = not context.fires(p_value)
    why = still_firing(escalation, resolved)
    detail += (f"; escalated {len(slots)} points at the cap ({cap_text(context)}): p {p_value:.2g}"
               + ("" if passed else f": {why}"))
    return CheckResult(passed, gap, detail, p_value, len(slots), escalation.gradients,
                       "" if passed else f"{why}: one FGSM step breaks points the worst case at the cap cannot")


@register_check("blackbox_not_stronger", costly=False, escalates=True)
def _blackbox_not_stronger(context: CheckContext) -> CheckResult:
    worst = context.worst_case
    free = [index for index, name in enumerate(worst.attacks) if ATTACKS[name].gradient_free] if worst else []
    if not free:
        return CheckResult(True, 0.0, "no gradient-free attack ran: informative only")
    gradient_attacks = tuple(name for name in worst.attacks if not ATTACKS[name].gradient_free)
    by_free = np.flatnonzero(np.isin(worst.broken_by, free))
    points, tolerance = len(worst.point_ids), context.config.blackbox_tolerance
    fraction = len(by_free) / max(points, 1)
    p_value = exceeds(len(by_free), points, tolerance)
    detail = (f"{', '.join(worst.attacks[i] for i in free)} broke {len(by_free)} of {points} points that "
              f"{', '.join(gradient_attacks) or 'no gradient attack'} left robust (tolerance {tolerance:g}, p "
              f"{p_value:.2g}, level {context.config.level:g})")
    if (settled := context.settled(p_value, fraction, detail, MASKED, escalates=bool(gradient_attacks))):
        return settled
    rows = capped(context, by_free)
    escalation = escalate(context, worst.point_ids[rows], context.epsilons[1:], gradient_attacks)
    broken_at = worst.mask[rows].sum(axis=1)  # nested: the column the gradient-free attack broke it at
    explained = int((~escalation.robust[np.arange(len(rows)), broken_at - 1]).sum())
    # more points than the cap: the rest are estimated from the escalated ones (a seeded sample of them)
    left = int(round(len(by_free) * (len(rows) - explained) / len(rows)))
    p_value = exceeds(left, points, tolerance)
    passed = not context.fires(p_value)
    why = still_firing(escalation, explained)
    estimated = "" if len(rows) == len(by_free) else f" (estimated from {len(rows)} escalated)"
    detail += (f"; the gradient attacks at the cap ({cap_text(context)}) broke {explained} of {len(rows)}: {left} "
               f"still gradient-free only{estimated} (p {p_value:.2g})" + ("" if passed else f": {why}"))
    return CheckResult(passed, fraction, detail, p_value, len(rows), escalation.gradients,
                       "" if passed else f"{why}: {', '.join(worst.attacks[i] for i in free)} broke {left} of "
                                         f"{points} points the gradient attacks at the cap left robust")


@register_check("unbounded_reaches_zero", costly=True, escalates=True)
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
    robust = mask[:, 1:]
    value = float(robust[:, -1].mean())
    tolerance = context.config.unbounded_tolerance
    p_value = exceeds(int(robust[:, -1].sum()), len(indices), tolerance)
    listing = ", ".join(f"{acc:.4f} at eps {eps:g}" for eps, acc in zip(ladder[1:], robust.mean(axis=0)))
    detail = (f"worst case of {', '.join(worst.attacks)} on {len(indices)} points (those robust at eps "
              f"{context.epsilons[-1]:g} attacked further): {listing} (tolerance {tolerance:g}, p {p_value:.2g}, "
              f"level {context.config.level:g})")
    failing = "attacks fail where any non-constant classifier must break"
    if (settled := context.settled(p_value, value, detail, f"{MASKED}: {failing}")):
        return settled
    slots = np.flatnonzero(robust[:, -1])
    escalation = escalate(context, indices[slots], context.config.unbounded_epsilons)
    robust = robust.copy()
    robust[slots] &= escalation.robust
    p_value = exceeds(int(robust[:, -1].sum()), len(indices), tolerance)
    passed = not context.fires(p_value)
    why = still_firing(escalation, int((~escalation.robust[:, -1]).sum()))
    detail += (f"; escalated {len(slots)} points at the cap ({cap_text(context)}): accuracy "
               f"{robust[:, -1].mean():.4f} (p {p_value:.2g})" + ("" if passed else f": {failing}"))
    return CheckResult(passed, value, detail, p_value, len(slots), escalation.gradients,
                       "" if passed else f"{why}: {failing}, even at the cap (or the model predicts one class)")
