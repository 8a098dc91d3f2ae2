"""Adversarial robustness of [0, 1]-image classifiers: the worst case over an attack ensemble, with sanity checks."""

from .attack import ATTACK_OUTPUTS
from .checks import CHECKS, CheckConfig
from .ensemble import ATTACKS, RADIUS, WORST_CASE, list_attacks, validate_attacks
from .evaluate import evaluate_robustness, robust_accuracy
from .inputs import select_sample_indices
from .objectives import objectives
from .result import CheckResult, RobustnessResult
from .settings import PAPER_ATTACK, WORST_CASE_ATTACKS, AttackSettings, AttackTarget

__all__ = [
    "ATTACKS",
    "ATTACK_OUTPUTS",
    "CHECKS",
    "PAPER_ATTACK",
    "RADIUS",
    "WORST_CASE",
    "WORST_CASE_ATTACKS",
    "AttackSettings",
    "AttackTarget",
    "CheckConfig",
    "CheckResult",
    "RobustnessResult",
    "evaluate_robustness",
    "list_attacks",
    "objectives",
    "robust_accuracy",
    "select_sample_indices",
    "validate_attacks",
]
