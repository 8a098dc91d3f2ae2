"""Adversarial robustness of [0, 1]-image classifiers under Foolbox L-inf PGD, with sanity checks."""

from .attack import ATTACK_OUTPUTS
from .checks import CHECKS, CheckConfig
from .evaluate import evaluate_robustness, robust_accuracy
from .inputs import select_sample_indices
from .result import CheckResult, RobustnessResult

__all__ = [
    "ATTACK_OUTPUTS",
    "CHECKS",
    "CheckConfig",
    "CheckResult",
    "RobustnessResult",
    "evaluate_robustness",
    "robust_accuracy",
    "select_sample_indices",
]
