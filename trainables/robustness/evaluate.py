"""The evaluation API: accuracy under L-inf PGD at each epsilon, per-point outcomes and sanity checks."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .attack import (
    CompiledModel,
    PGDRunner,
    batches,
    compile_forward,
    default_device,
    nested_pgd,
)
from .checks import CheckConfig, CheckContext, probability_like_rows
from .checks import run_checks as run_check_registry
from .inputs import (
    default_batch_size,
    resolve_seed,
    select_sample_indices,
    validate_epsilons,
    validate_images,
    validate_labels,
    validate_sample_indices,
)
from .result import RobustnessResult
from .settings import PAPER_ATTACK, AttackSettings, AttackTarget

DEFAULT_SAMPLE_SIZE = 16


@dataclass(frozen=True)
class CleanPass:
    correct: np.ndarray  # (N,) bool
    probability_row_fraction: float


def output_width(forward, images: np.ndarray) -> int:
    import tensorflow as tf

    outputs = forward(tf.convert_to_tensor(images[:1]))
    if outputs.shape.rank != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            f"the model must return one logit per class, shape (N, K) with K >= 2; received output shape "
            f"{tuple(outputs.shape)} (binary tasks use 2 logits)"
        )
    return int(outputs.shape[-1])


def clean_pass(forward, images: np.ndarray, labels: np.ndarray, batch_size: int, atol: float) -> CleanPass:
    import tensorflow as tf

    correct = np.zeros(len(images), dtype=bool)
    probability_rows = 0
    for ids in batches(np.arange(len(images)), batch_size):
        outputs = forward(tf.convert_to_tensor(images[ids])).numpy()
        correct[ids] = np.argmax(outputs, axis=1) == labels[ids]
        probability_rows += int(probability_like_rows(outputs, atol).sum())
    return CleanPass(correct, probability_rows / len(images))


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
    **changes,
) -> RobustnessResult:
    """Foolbox LinfPGD (bounds (0, 1)) on every point at increasing epsilons, nested (see `attack.nested_pgd`).

    model: Keras model (or callable with `training=`) mapping float32 [0, 1] NHWC images to logits (N, K).
    epsilons: strictly increasing in [0, 1]; 0.0 is added first when absent (its accuracy is the clean accuracy).
    settings: the attack (default: the paper's, `PAPER_ATTACK`); keyword `changes` replace its fields
    (steps=, rel_stepsize=, random_start=, restarts=, attack_on=, batch_size=).
    seed: keys the random starts; the same seed gives the same result for any batch size. None draws one (stored
    in the result). sample_indices: points whose adversarial inputs are returned (default: 16 class-balanced).
    run_checks: also run the costly checks (on `check_config.sample_size` points at the middle and largest
    epsilons); the cheap ones always run. Failed checks are reported with `warnings.warn` and in `result.checks`.
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
    labels = validate_labels(labels, len(images), num_classes)
    if sample_indices is None:
        samples = select_sample_indices(labels, DEFAULT_SAMPLE_SIZE)
    else:
        samples = validate_sample_indices(sample_indices, len(images))

    clean = clean_pass(logits, images, labels, batch_size, config.probability_atol)
    on_logits = settings.attack_on == AttackTarget.LOGITS.value
    attacked = CompiledModel.build(model, images.shape[1:], settings.attack_on, logits if on_logits else None)

    def runner() -> PGDRunner:
        return PGDRunner(attacked, seed, batch_size, settings.rel_stepsize, settings.random_start, device)

    main = runner()
    outcome = nested_pgd(main, images, labels, epsilons, clean.correct, steps=settings.steps,
                         restarts=settings.restarts, sample_indices=samples)
    accuracy = {eps: float(outcome.robust_mask[:, k].mean()) for k, eps in enumerate(epsilons)}
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    check_start, check_cpu_start = time.perf_counter(), time.process_time()
    check_runner = runner()
    check_indices = np.sort(
        np.random.default_rng([seed, 1]).choice(len(images), min(config.sample_size, len(images)), replace=False)
    )
    context = CheckContext(
        epsilons=epsilons, accuracy=accuracy, robust_mask=outcome.robust_mask, labels=labels,
        num_classes=num_classes, ball_violation=main.max_ball_violation, points_attacked=main.points_checked,
        probability_row_fraction=clean.probability_row_fraction, config=config, model=model, images=images,
        runner=check_runner, check_indices=check_indices, steps=settings.steps, restarts=settings.restarts,
        batch_size=batch_size,
    )
    checks = run_check_registry(context, include_costly=run_checks)
    _warn_failed(checks)
    return RobustnessResult(
        epsilons=epsilons,
        accuracy=accuracy,
        robust_mask=outcome.robust_mask,
        adversarial_samples=outcome.adversarial_samples,
        sample_indices=samples,
        checks=checks,
        gradient_evaluations=main.gradient_evaluations,
        seconds=seconds,
        check_gradient_evaluations=check_runner.gradient_evaluations,
        check_seconds=time.perf_counter() - check_start,
        cpu_seconds=cpu_seconds,
        check_cpu_seconds=time.process_time() - check_cpu_start,
        seed=seed,
        settings={**settings.to_dict(), "batch_size": batch_size, "device": device,
                  "check_sample_size": int(len(check_indices))},
    )


def robust_accuracy(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    epsilons: Sequence[float],
    *,
    settings: AttackSettings = PAPER_ATTACK,
    seed: int | None = None,
    **changes,
) -> dict[float, float]:
    """Fraction of points classified correctly under L-inf PGD at each epsilon (0.0 -> clean accuracy).

    Same attack as `evaluate_robustness` (same settings and keyword changes), with only the cheap checks (their
    failures still warn).
    """
    result = evaluate_robustness(model, images, labels, epsilons, settings=settings, seed=seed, sample_indices=(),
                                 run_checks=False, **changes)
    return result.accuracy


def _warn_failed(checks) -> None:
    failed = {name: check for name, check in checks.items() if not check.passed}
    if failed:
        lines = "; ".join(f"{name}: {check.detail}" for name, check in failed.items())
        warnings.warn(f"robustness sanity checks failed: {lines}", RuntimeWarning, stacklevel=3)
