"""A trial's results as the plain records tracking writes (tracking.artifacts.Record): the evaluation's metrics,
its result.json, points.npz and accuracy curve; the certificates and the smoothed classifier's accuracy with
certified.npz; the explanation arrays and their preview grids. Everything that turns a result into numbers or
pictures happens here, in the trial's process, so that tracking only writes.
"""

from __future__ import annotations

import io
import json

import numpy as np

from . import previews, robustness
from .explain import encode_explanations
from .robustness.evaluate.clinical import worst_case_clinical
from .spec import keys
from .tracking.artifacts import Record


def evaluation_record(result, objective_values: dict[str, float], num_classes: int | None = None) -> Record:
    """Per-epsilon worst-case accuracy, clinical metrics (with num_classes), per-attack accuracy and cost,
    objectives, check outcomes; the result as JSON (its one schema: RobustnessResult.to_dict), the per-point
    outcomes (points.npz) and the accuracy curve (previews.trial_accuracy_curve)."""
    metrics = accuracy_metrics(result.accuracy)
    metrics.update(attack_metrics(result))
    if num_classes is not None:
        metrics.update(clinical_metrics(result, num_classes))
    metrics.update(objective_values)
    metrics.update(check_metrics(result))
    return Record(metrics=metrics, files={
        keys.RESULT_ARTIFACT: json.dumps(result.to_dict(), indent=2).encode(),
        keys.POINTS_ARTIFACT: npz_bytes(result.points()),
        keys.CURVE_ARTIFACT: previews.figure_png(previews.trial_accuracy_curve(result.accuracy)),
    })


def check_metrics(result) -> dict[str, float]:
    """check/<name> (1 passed, 0 failed), the tests' p-values, what escalation re-attacked and cost, majority_rate."""
    metrics = {keys.CHECK + name: float(check.passed) for name, check in result.checks.items()}
    metrics.update({keys.CHECK_P + name: check.p_value for name, check in result.checks.items()
                    if np.isfinite(check.p_value)})
    for name, check in result.checks.items():
        if check.escalated_points:
            metrics[keys.CHECK_ESCALATED + name] = float(check.escalated_points)
            metrics[keys.CHECK_ESCALATION_GRADIENTS + name] = float(check.escalation_gradients)
    if result.labels is not None and len(result.labels):
        metrics[keys.MAJORITY_RATE] = result.majority_rate
    return metrics


def accuracy_metrics(accuracy: dict[float, float]) -> dict[str, float]:
    return {keys.ACC_AT_EPS + keys.format_epsilon(eps): acc for eps, acc in accuracy.items()}


def attack_metrics(result) -> dict[str, float]:
    """Per attack: accuracy after it at each epsilon, its points and cost; the worst case's points and radius."""
    metrics = {f"{keys.ACC_AT_EPS}{name}/{keys.format_epsilon(eps)}": acc
               for name, values in result.accuracy_by_attack.items() for eps, acc in values.items()}
    metrics.update({f"{keys.ACC_AT_EPS}{result.attacks[0]}/{keys.WORST_CASE_POINTS}/{keys.format_epsilon(eps)}": acc
                    for eps, acc in result.first_attack_on_ensemble.items()})
    metrics.update({keys.POINTS + name: float(count) for name, count in result.points_by_attack.items()})
    metrics[keys.POINTS + keys.WORST_CASE_POINTS] = float(len(result.ensemble_indices))
    for name, cost in result.cost.items():
        metrics[keys.ATTACK_GRADIENTS + name] = float(cost["gradient_evaluations"])
        metrics[keys.ATTACK_QUERIES + name] = float(cost["queries"])
    if np.isfinite(result.median_radius):  # inf: more than half the points never broke (said in result.json)
        metrics[keys.MEDIAN_RADIUS] = result.median_radius
    return metrics


def clinical_metrics(result, num_classes: int) -> dict[str, float]:
    """The worst case's clinical metrics per epsilon as MLflow metrics (keys.clinical_key)."""
    return {keys.clinical_key(name, keys.format_epsilon(eps)): value
            for eps, values in worst_case_clinical(result, num_classes).items()
            for name, value in values.items() if np.isfinite(value)}


def certification_record(evaluation, points: np.ndarray, labels: np.ndarray, epsilons, image_shape) -> Record:
    """A smoothed classifier (robustness.SmoothedEvaluation): certified accuracy at each ladder epsilon and L2 radius,
    the abstain rate, smoothed (empirical) accuracy under the EoT attacks at each epsilon, the bracket checks
    (check/<name>) and the per-point outcomes (robustness/certified.npz, `point` = test index as in points.npz)."""
    result, attack = evaluation.certification, evaluation.attack
    accuracy = robustness.certified_accuracy(result, labels, l2_radii=keys.CERTIFIED_L2_RADII,
                                  linf_epsilons=(0.0, *epsilons), image_shape=image_shape)
    metrics = {keys.CERTIFIED_ACC_AT_EPS + keys.format_epsilon(eps): value for eps, value in accuracy.linf.items()}
    metrics.update({keys.CERTIFIED_ACC_AT_L2 + keys.format_epsilon(r): value for r, value in accuracy.l2.items()})
    metrics.update({keys.SMOOTHED_ACC_AT_EPS + keys.format_epsilon(eps): value for eps, value in attack.accuracy.items()})
    metrics.update({keys.CHECK + name: float(check.passed) for name, check in evaluation.checks.items()})
    metrics[keys.ABSTAIN_RATE] = float(np.mean(result.prediction < 0)) if len(points) else float("nan")
    metrics[keys.CERTIFIED_POINTS] = float(len(points))
    return Record(metrics=metrics, files={keys.CERTIFIED_ARTIFACT: npz_bytes(dict(
        point=np.asarray(points), label=np.asarray(labels), prediction=result.prediction, radius=result.radius,
        p_lower=result.p_lower, epsilons=np.asarray(attack.epsilons), smoothed_prediction=attack.clean_prediction,
        smoothed_robust=attack.robust, broken_by=attack.broken_by, broken_prediction=attack.broken_prediction))})


def explanation_record(explanations) -> Record:
    """explanations/samples.npz (trainables.explain's arrays) and the two preview grids drawn by trainables.previews."""
    return Record(files={
        keys.SAMPLES_ARTIFACT: encode_explanations(explanations),
        keys.PERTURBATION_PREVIEW: previews.encode_png(previews.perturbation_preview(explanations)),
        keys.GRADCAM_PREVIEW: previews.encode_png(previews.gradcam_preview(explanations)),
    })


def corruption_record(result) -> Record:
    """A trial's natural robustness (trainables.corruptions.CorruptionResult): accuracy under each corruption at each
    severity (corrupt_acc/<name>/<severity>), their mean, the clean accuracy of the same points and how many there
    are, with the per-point outcomes (robustness/corruptions.npz, `point` = test index as in points.npz)."""
    metrics = {keys.corruption_key(name, severity): value for (name, severity), value in result.accuracy.items()}
    metrics[keys.MEAN_CORRUPTION_ACC] = result.mean_accuracy
    metrics[keys.CORRUPTION_CLEAN_ACC] = result.clean_accuracy
    metrics[keys.POINTS + keys.CORRUPTION_POINTS] = float(len(result.point_ids))
    return Record(metrics=metrics, files={keys.CORRUPTIONS_ARTIFACT: npz_bytes(result.arrays())})


def checks_record(failed: list[str], why: str = "") -> Record:
    """The tags naming every failed check of the trial (evaluation and certification) and why, one line; empty when
    none failed."""
    return Record(tags={keys.TAG_CHECKS_FAILED: ",".join(failed), keys.TAG_CHECKS_WHY: why[:5000]})


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
