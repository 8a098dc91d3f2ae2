"""What accuracy under attack hides: per-class recall, sensitivity and specificity, and collapse to one class.

The adversarial prediction of a point at epsilon e: its label while it is robust at e, its clean prediction when it
is misclassified clean, else the class of the input that broke it (nested evaluation: that input lies inside every
larger ball too). Binary tasks: class 1 is positive (disease present), so sensitivity = recall of class 1,
specificity = recall of class 0.
"""

from __future__ import annotations

import numpy as np

COLLAPSE_FRACTION = 0.95  # more than this share of points predicted as one class: the model says one thing to all


def adversarial_predictions(robust: np.ndarray, labels: np.ndarray, clean_predictions: np.ndarray,
                            broken_predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, E) nested robust mask (column 0 = clean) -> (N, E) int64 predicted classes (see the module docstring).

    A broken point whose breaking class was not recorded (-1) gets, on binary tasks, the other class; on more
    classes -1 (counted as wrong, as no class)."""
    robust = np.asarray(robust, dtype=bool)
    labels = np.asarray(labels, dtype=np.int64)
    broken = np.asarray(broken_predictions, dtype=np.int64)
    if num_classes == 2:
        broken = np.where(broken < 0, 1 - labels, broken)
    after_clean = np.where(robust[:, :1], broken[:, None], np.asarray(clean_predictions, dtype=np.int64)[:, None])
    return np.where(robust, labels[:, None], after_clean)


def class_recalls(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(N,), (N,) -> (K,) recall per class; NaN for a class with no point."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    hits = np.bincount(labels[predictions == labels], minlength=num_classes).astype(float)
    totals = np.bincount(labels, minlength=num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, hits / totals, np.nan)


def majority_fraction(predictions: np.ndarray, num_classes: int) -> float:
    """Share of points predicted as the most predicted class (predictions of -1 count as no class)."""
    predictions = np.asarray(predictions)
    valid = predictions[predictions >= 0]
    if len(predictions) == 0:
        return float("nan")
    return float(np.bincount(valid, minlength=num_classes).max() / len(predictions)) if len(valid) else 0.0


def clinical_metrics(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> dict[str, float]:
    """One epsilon's metrics: recall/<k> per class, balanced_acc (mean recall over present classes), and for two
    classes sensitivity and specificity; majority_fraction and collapsed (1.0 when above COLLAPSE_FRACTION)."""
    recalls = class_recalls(labels, predictions, num_classes)
    metrics = {f"recall/{k}": float(r) for k, r in enumerate(recalls)}
    metrics["balanced_acc"] = float(np.nanmean(recalls)) if np.isfinite(recalls).any() else float("nan")
    if num_classes == 2:
        metrics["sensitivity"], metrics["specificity"] = float(recalls[1]), float(recalls[0])
    share = majority_fraction(predictions, num_classes)
    metrics["majority_fraction"] = share
    metrics["collapsed"] = float(share > COLLAPSE_FRACTION)
    return metrics


def clinical_by_epsilon(robust: np.ndarray, labels: np.ndarray, clean_predictions: np.ndarray,
                        broken_predictions: np.ndarray, epsilons, num_classes: int) -> dict[float, dict[str, float]]:
    """epsilon (0.0 = clean) -> clinical_metrics of the adversarial predictions at that epsilon."""
    predicted = adversarial_predictions(robust, labels, clean_predictions, broken_predictions, num_classes)
    return {float(eps): clinical_metrics(labels, predicted[:, k], num_classes) for k, eps in enumerate(epsilons)}


def worst_case_clinical(result, num_classes: int) -> dict[float, dict[str, float]]:
    """clinical_by_epsilon of a RobustnessResult's worst case, on its ensemble points."""
    rows = result.ensemble_indices
    return clinical_by_epsilon(result.worst_case_mask, np.asarray(result.labels)[rows],
                               np.asarray(result.clean_predictions)[rows], result.worst_broken_predictions,
                               result.epsilons, num_classes)
