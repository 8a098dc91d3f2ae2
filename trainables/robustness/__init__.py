"""Adversarial robustness of [0, 1]-image classifiers under Foolbox L-inf PGD, with sanity checks."""

from .attack import ATTACK_OUTPUTS
from .checks import CHECKS, CheckConfig
from .evaluate import evaluate_robustness, robust_accuracy
from .inputs import select_sample_indices
from .objectives import objectives
from .result import CheckResult, RobustnessResult
from .settings import PAPER_ATTACK, AttackSettings, AttackTarget

__all__ = [
    "ATTACK_OUTPUTS",
    "PAPER_ATTACK",
    "AttackSettings",
    "AttackTarget",
    "objectives",
    "CHECKS",
    "CheckConfig",
    "CheckResult",
    "RobustnessResult",
    "evaluate_robustness",
    "robust_accuracy",
    "select_sample_indices",
]
