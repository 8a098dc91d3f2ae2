"""Robustness of [0, 1]-image classifiers: the worst case over an attack ensemble, with sanity checks (an upper
bound), and randomized-smoothing certificates of the smoothed classifier (a lower bound)."""

from .attack import ATTACK_OUTPUTS, AttackTarget
from .attack_spec import ATTACKS, RADIUS, WORST_CASE, AttackSpec, Budget, list_attacks, register_attack, validate_attacks
from .certify import (
    CertificationResult,
    CertifiedAccuracy,
    SmoothedPrediction,
    certified_accuracy,
    certify,
    ladder_warning,
    max_certified_radius,
    minimum_samples,
    predict_smoothed,
    validate_smoothing,
)
from .bracket import SMOOTHING_CHECKS, run_smoothing_checks
from .checks import CHECKS, CheckConfig
from .eot_attacks import RAND_ATTACKS
from .evaluate import evaluate_robustness, robust_accuracy
from .inputs import select_sample_indices
from .objectives import objectives
from .result import CheckResult, RobustnessResult
from .presets import PRESETS, Preset, register_preset
from .settings import PAPER_ATTACK, WORST_CASE_ATTACKS, AttackSettings
from .smoothed import SmoothedAttackResult, SmoothedEvaluation, attack_smoothed, evaluate_smoothed

__all__ = [
    "ATTACKS",
    "ATTACK_OUTPUTS",
    "AttackSpec",
    "Budget",
    "PRESETS",
    "RAND_ATTACKS",
    "SMOOTHING_CHECKS",
    "SmoothedAttackResult",
    "SmoothedEvaluation",
    "attack_smoothed",
    "evaluate_smoothed",
    "run_smoothing_checks",
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
    "CertificationResult",
    "CertifiedAccuracy",
    "CheckConfig",
    "CheckResult",
    "RobustnessResult",
    "SmoothedPrediction",
    "certified_accuracy",
    "certify",
    "evaluate_robustness",
    "ladder_warning",
    "list_attacks",
    "max_certified_radius",
    "minimum_samples",
    "objectives",
    "predict_smoothed",
    "robust_accuracy",
    "select_sample_indices",
    "validate_attacks",
    "validate_smoothing",
]
