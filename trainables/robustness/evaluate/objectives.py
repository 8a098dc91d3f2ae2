"""The joint objectives every trial reports: clean accuracy and one robust objective.

robust_auc: the mean accuracy over the trial's epsilon ladder on a log-epsilon axis, i.e. the trapezoid area
under accuracy vs log(eps) between the smallest and largest positive epsilon, divided by that log range
(1.0 = never fooled, 0.0 = always fooled; a single epsilon gives its accuracy).
robust_objective = 0.5 * accuracy at the reference epsilon + 0.5 * robust_auc. The reference epsilon is the
task's "typical attack" (skin lesion 0.0025, DR and chest 0.01; interpolated on log-eps if not in the ladder).
Both objectives are maximised.
"""

from __future__ import annotations

import math

from ...spec import keys


def _positive_curve(accuracy: dict[float, float]) -> tuple[list[float], list[float]]:
    points = sorted((eps, acc) for eps, acc in accuracy.items() if eps > 0)
    if not points:
        raise ValueError("the accuracy curve has no positive epsilon")
    return [math.log(e) for e, _ in points], [a for _, a in points]


def robust_auc(accuracy: dict[float, float]) -> float:
    log_eps, acc = _positive_curve(accuracy)
    if len(log_eps) == 1:
        return acc[0]
    area = sum((log_eps[i + 1] - log_eps[i]) * (acc[i] + acc[i + 1]) / 2 for i in range(len(acc) - 1))
    return area / (log_eps[-1] - log_eps[0])


def accuracy_at(accuracy: dict[float, float], epsilon: float) -> float:
    """Accuracy at epsilon, interpolated on log-eps and clamped to the ladder's ends."""
    log_eps, acc = _positive_curve(accuracy)
    target = math.log(epsilon)
    if target <= log_eps[0]:
        return acc[0]
    for i in range(len(log_eps) - 1):
        if target <= log_eps[i + 1]:
            t = (target - log_eps[i]) / (log_eps[i + 1] - log_eps[i])
            return acc[i] + t * (acc[i + 1] - acc[i])
    return acc[-1]


def objectives(accuracy: dict[float, float], reference_epsilon: float,
               clean_accuracy: float | None = None) -> dict[str, float]:
    """clean_accuracy: over every evaluated point when the robust curve rests on a subset (default accuracy[0.0])."""
    at_reference = accuracy_at(accuracy, reference_epsilon)
    auc = robust_auc(accuracy)
    return {
        keys.CLEAN_ACC: accuracy[0.0] if clean_accuracy is None else clean_accuracy,
        keys.ROBUST_ACC_REF: at_reference,
        keys.ROBUST_AUC: auc,
        keys.ROBUST_OBJECTIVE: 0.5 * at_reference + 0.5 * auc,
    }
