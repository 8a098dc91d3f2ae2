"""The evaluation API: worst-case accuracy over an attack ensemble at each epsilon, per-point outcomes, checks."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ...spec.attacks import validate_attacks
from ...spec.enums import AttackTarget
from ...spec.evaluation import PAPER_ATTACK, AttackSettings, CheckConfig
from ..attacks.compiled import CompiledModel, batches, compile_forward, default_device
from ..attacks.context import AttackContext
from ..attacks.pgd import PGDRunner
from .checks import CheckContext, probability_like_rows
from .checks import run_checks as run_check_registry
from .ensemble import ensemble_rows, standalone, with_radius_successes, worst_case
from .inputs import (
    default_batch_size,
    output_width,
    resolve_seed,
    select_sample_indices,
    validate_epsilons,
    validate_images,
    validate_labels,
    validate_sample_indices,
)
from .progress import EvaluationProgress
from .result import RobustnessResult
from .units import radius_units

DEFAULT_SAMPLE_SIZE = 16


@dataclass(frozen=True)
class CleanPass:
    correct: np.ndarray  # (N,) bool
    logits: np.ndarray  # (N, K) float32
    probability_row_fraction: float


def clean_pass(forward, images: np.ndarray, labels: np.ndarray, batch_size: int, atol: float) -> CleanPass:
    logits = None
    probability_rows = 0
    for ids in batches(np.arange(len(images)), batch_size):
        outputs = forward(tf.convert_to_tensor(images[ids])).numpy()
        if logits is None:
            logits = np.zeros((len(images), outputs.shape[1]), dtype=np.float32)
        logits[ids] = outputs
        probability_rows += int(probability_like_rows(outputs, atol).sum())
    return CleanPass(np.argmax(logits, axis=1) == labels, logits, probability_rows / len(images))


def evaluate_robustness(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    epsilons: Sequence[float],
    *,
    settings: AttackSettings = PAPER_ATTACK,
    seed: int | None = None,
    sample_indices: Sequence[int] | None = None,
    run_checks: bool = True,
    check_config: CheckConfig | None = None,
    progress: EvaluationProgress | None = None,
    **changes,
) -> RobustnessResult:
    """Robust accuracy at increasing epsilons: the worst case over `settings.attacks` (see ensemble.py), nested.

    model: Keras model (or callable with `training=`) mapping float32 [0, 1] NHWC images to logits (N, K).
    epsilons: strictly increasing in [0, 1]; 0.0 is added first when absent (its accuracy is the clean accuracy).
    settings: the attacks and their budgets (default: the paper's PGD alone, `PAPER_ATTACK`; whole evaluations by
    name: `PRESETS[name].settings()`); keyword `changes` replace its fields (attacks=, radius_attack=,
    ensemble_points=, batch_size=, attack_on=) and merge budgets (budgets={"pgd": {"steps": 10}}).
    seed: keys every random start; the same seed gives the same result for any batch size. None draws one (stored
    in the result). sample_indices: points attacked at every epsilon on their own (not nested) with the first
    attack, for explanation maps (default: 16 class-balanced).
    run_checks: also run the costly checks (on `check_config.sample_size` points); the cheap ones always run.
    Failed checks are reported with `warnings.warn` and in `result.checks`.
    progress: a resumable store (progress.py): finished units are replayed from it, new ones saved to it.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    settings = settings.replace(**changes) if changes else settings
    epsilons = validate_epsilons(epsilons)
    images = validate_images(images)
    config = check_config or CheckConfig()
    device = default_device()
    batch_size = settings.batch_size or default_batch_size(images.shape[1:], gpu=device.startswith("/GPU"))
    seed = resolve_seed(seed)

    logits = compile_forward(model, images.shape[1:], AttackTarget.LOGITS.value)
    num_classes = output_width(logits, images)
    attacks = validate_attacks(settings.attacks, num_classes, radius_attack=settings.radius_attack)
    labels = validate_labels(labels, len(images), num_classes)
    if sample_indices is None:
        samples = select_sample_indices(labels, DEFAULT_SAMPLE_SIZE)
    else:
        samples = validate_sample_indices(sample_indices, len(images))

    clean = clean_pass(logits, images, labels, batch_size, config.probability_atol)
    on_logits = settings.attack_on == AttackTarget.LOGITS.value
    attacked = CompiledModel.build(model, images.shape[1:], settings.attack_on, logits if on_logits else None)

    pgd = settings.budget("pgd")  # also the checks' and the explanation samples' attack

    def runner() -> PGDRunner:
        return PGDRunner(attacked, seed, batch_size, pgd.rel_stepsize, pgd.random_start, device)

    compiled_apgd: dict = {}  # shared by the evaluation and the checks: each loss is traced once

    def context(pgd_runner: PGDRunner) -> AttackContext:
        return AttackContext(model=model, images=images, labels=labels, clean_logits=clean.logits,
                             num_classes=num_classes, settings=settings, seed=seed, batch_size=batch_size,
                             device=device, forward=logits, pgd_runner=pgd_runner, compiled_apgd=compiled_apgd)

    main = context(runner())
    first_mask, first_predictions = standalone(main, attacks[0], epsilons, clean.correct, np.zeros(0, np.int64),
                                              progress)
    rows = ensemble_rows(len(images), settings.ensemble_points, seed, single_attack=len(attacks) == 1)
    worst = worst_case(main, attacks, epsilons, rows, clean.correct, first_mask, first_predictions, progress)
    radii = np.full(len(rows), np.nan)
    reported = worst  # the worst case with the radius attack's successes (the checks re-run `worst`'s attacks)
    if settings.radius_attack is not None:
        radius_start = time.perf_counter()
        attacked_rows = np.flatnonzero(clean.correct[rows])
        radii[~clean.correct[rows]] = 0.0
        radius_predictions = np.full(len(rows), -1, dtype=np.int64)
        radii[attacked_rows], radius_predictions[attacked_rows] = radius_units(progress, main, settings.radius_attack,
                                                                               rows[attacked_rows])
        reported = with_radius_successes(worst, settings.radius_attack, np.where(np.isnan(radii), np.inf, radii),
                                         radius_predictions, epsilons)
        main.seconds[settings.radius_attack] = time.perf_counter() - radius_start
    gradients_before_samples = main.pgd_runner.gradient_evaluations
    adversarial_samples = per_epsilon_samples(main.pgd_runner, images, labels, epsilons, samples, pgd.steps)
    sample_gradients = main.pgd_runner.gradient_evaluations - gradients_before_samples
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    check_start, check_cpu_start = time.perf_counter(), time.process_time()
    check_runner = runner()
    check_indices = np.sort(
        np.random.default_rng([seed, 1]).choice(len(images), min(config.sample_size, len(images)), replace=False)
    )
    gradient_indices = np.sort(np.random.default_rng([seed, 3]).choice(
        len(images), min(config.gradient_sample_size, len(images)), replace=False))
    accuracy = {eps: float(reported.mask[:, k].mean()) for k, eps in enumerate(epsilons)}
    check_context = CheckContext(
        epsilons=epsilons, accuracy=accuracy, robust_mask=first_mask, labels=labels,
        num_classes=num_classes, ball_violation=max(main.pgd_runner.max_ball_violation, main.max_ball_violation),
        points_attacked=main.pgd_runner.points_checked + main.points_checked,
        probability_row_fraction=clean.probability_row_fraction, config=config, model=model, images=images,
        runner=check_runner, check_indices=check_indices, gradient_indices=gradient_indices, steps=pgd.steps,
        restarts=pgd.restarts,
        batch_size=batch_size, worst_case=worst, attack_context=context(check_runner),
        adversarial_samples=adversarial_samples, sample_indices=samples,
    )
    checks = run_check_registry(check_context, include_costly=run_checks, progress=progress)
    _warn_failed(checks)
    cost = {name: {"gradient_evaluations": counter.gradient_evaluations, "queries": counter.queries,
                   "seconds": main.seconds.get(name, 0.0)} for name, counter in main.counters.items()}
    return RobustnessResult(
        epsilons=epsilons,
        accuracy=accuracy,
        robust_mask=first_mask,
        adversarial_samples=adversarial_samples,
        sample_indices=samples,
        checks=checks,
        gradient_evaluations=sample_gradients + sum(counter.gradient_evaluations for counter in main.counters.values()),
        seconds=seconds,
        check_gradient_evaluations=check_runner.gradient_evaluations + sum(
            counter.gradient_evaluations for counter in check_context.attack_context.counters.values()),
        check_seconds=time.perf_counter() - check_start,
        cpu_seconds=cpu_seconds,
        check_cpu_seconds=time.process_time() - check_cpu_start,
        seed=seed,
        settings={**settings.to_dict(), "attacks": list(reported.attacks), "batch_size": batch_size, "device": device,
                  "check_sample_size": int(len(check_indices))},
        attacks=reported.attacks,
        accuracy_by_attack={name: {eps: float(mask[:, k].mean()) for k, eps in enumerate(epsilons)}
                            for name, mask in {attacks[0]: first_mask, **dict(list(reported.after.items())[1:])}.items()},
        masks_after=reported.after,
        labels=labels,
        points_by_attack={name: int(len(images) if index == 0 else len(rows))
                          for index, name in enumerate(reported.attacks)},
        ensemble_indices=rows,
        worst_case_mask=reported.mask,
        broken_by=reported.broken_by,
        clean_predictions=np.argmax(clean.logits, axis=1),
        first_broken_predictions=first_predictions,
        worst_broken_predictions=reported.broken_predictions,
        radius_estimates=radii,
        cost=cost,
        queries=sum(counter.queries for counter in main.counters.values()) + len(images),
    )


def per_epsilon_samples(runner: PGDRunner, images: np.ndarray, labels: np.ndarray, epsilons: Sequence[float],
                        samples: np.ndarray, steps: int) -> dict[float, np.ndarray]:
    """The sample points attacked by PGD at each epsilon > 0 on their own, as the paper's per-epsilon maps show
    (a point broken at a small epsilon is attacked again at every larger one). eps -> (S, H, W, C)."""
    positive = [float(eps) for eps in epsilons[1:]]
    result = {eps: images[samples].copy() for eps in positive}
    if len(samples) == 0 or not positive:
        return result
    tasks = [(slot, eps) for eps in positive for slot in range(len(samples))]
    for offset in range(0, len(tasks), runner.batch_size):
        chunk = tasks[offset : offset + runner.batch_size]
        _, adversarial = runner.pgd_batch(images, labels, samples[[slot for slot, _ in chunk]],
                                          np.array([eps for _, eps in chunk]), np.zeros(len(chunk), np.int64),
                                          steps=steps)
        for (slot, eps), example in zip(chunk, adversarial):
            result[eps][slot] = example
    return result


def robust_accuracy(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    epsilons: Sequence[float],
    *,
    attacks: Sequence[str] | None = None,
    settings: AttackSettings = PAPER_ATTACK,
    seed: int | None = None,
    **changes,
) -> dict[float, float]:
    """Fraction of points classified correctly at each epsilon under every attack in `attacks` (0.0 -> clean).

    attacks: worst-case attack names (`list_attacks("worst_case")`); default the paper's PGD alone. A point counts
    robust at e only if every named attack failed on it at e. Same evaluation as `evaluate_robustness` (same
    settings and keyword changes), with only the cheap checks (their failures still warn).
    """
    if attacks is not None:
        changes["attacks"] = tuple(attacks)
    result = evaluate_robustness(model, images, labels, epsilons, settings=settings, seed=seed, sample_indices=(),
                                 run_checks=False, **changes)
    return result.accuracy


def _warn_failed(checks) -> None:
    failed = {name: check for name, check in checks.items() if not check.passed}
    if failed:
        lines = "; ".join(f"{name}: {check.detail}" for name, check in failed.items())
        warnings.warn(f"robustness sanity checks failed: {lines}", RuntimeWarning, stacklevel=3)
