"""Robustness of [0, 1]-image classifiers: the worst case over an attack ensemble, with sanity checks (an upper
bound), and randomized-smoothing certificates of the smoothed classifier (a lower bound). Three rooms:

attacks/    one file per attack (its stage and kernel; budgets, names and costs: trainables.spec.attacks), the
            compiled model, the losses and the context every kernel attacks in
evaluate/   the evaluation: the worst case on nested balls (ensemble), the checks, the resumable units and their
            progress store, per-point results, clinical metrics and the objectives
smoothing/  CERTIFY and PREDICT, the smoothed classifier under the EoT attacks, the bracket checks between them

The modules import TensorFlow at their top; this package exports its API lazily (trainables.spec.lazy), so that
importing it (the trial module does, on the sweep driver too) loads nothing until an evaluation runs.
"""

from ..spec.lazy import lazy_exports

_EXPORTS = {
    "ATTACK_OUTPUTS": "attacks.compiled",
    "CHECKS": "evaluate.checks",
    "CheckResult": "evaluate.result",
    "RobustnessResult": "evaluate.result",
    "evaluate_robustness": "evaluate.evaluation",
    "robust_accuracy": "evaluate.evaluation",
    "select_sample_indices": "evaluate.inputs",
    "objectives": "evaluate.objectives",
    "CertificationResult": "smoothing.certify",
    "CertifiedAccuracy": "smoothing.certify",
    "SmoothedPrediction": "smoothing.certify",
    "certified_accuracy": "smoothing.certify",
    "certify": "smoothing.certify",
    "predict_smoothed": "smoothing.certify",
    "SMOOTHING_CHECKS": "smoothing.bracket",
    "run_smoothing_checks": "smoothing.bracket",
    "SmoothedAttackResult": "smoothing.smoothed",
    "SmoothedEvaluation": "smoothing.smoothed",
    "attack_smoothed": "smoothing.smoothed",
    "evaluate_smoothed": "smoothing.smoothed",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
