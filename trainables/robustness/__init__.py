"""Adversarial robustness of [0, 1]-image classifiers: the worst case over an attack ensemble, with sanity checks."""

from .attack import ATTACK_OUTPUTS, AttackTarget
from .attack_spec import ATTACKS, RADIUS, WORST_CASE, AttackSpec, Budget, list_attacks, register_attack, validate_attacks
from .checks import CHECKS, CheckConfig
from .evaluate import evaluate_robustness, robust_accuracy
from .inputs import select_sample_indices
from .objectives import objectives
from .result import CheckResult, RobustnessResult
from .presets import PRESETS, Preset, register_preset
from .settings import PAPER_ATTACK, WORST_CASE_ATTACKS, AttackSettings

__all__ = [
    "ATTACKS",
    "ATTACK_OUTPUTS",
    "AttackSpec",
    "Budget",
    "PRESETS",
    "Preset",
    "register_attack",
    "register_preset",
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
