"""What one robustness evaluation returns: plain data, JSON-ready through `to_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one sanity check: `value` is the measured quantity, `detail` a one-line explanation."""

    passed: bool
    value: float
    detail: str

    def __post_init__(self) -> None:
        # numpy comparisons yield np.bool_ / np.float64: store plain values (JSON, MLflow)
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "value", float(self.value))


@dataclass
class RobustnessResult:
    """Accuracy under L-inf PGD at each epsilon, per-point outcomes and the sanity checks.

    epsilons: increasing, 0.0 first. accuracy: epsilon -> fraction of points classified correctly under attack
    (0.0 -> clean accuracy). robust_mask: (N, E) bool, column k = point still correct at epsilons[k]; nested
    (a column is a subset of the one before). adversarial_samples: epsilon (> 0) -> float32 (S, H, W, C) inputs
    the evaluation used for the points `sample_indices` (see `nested_pgd`). gradient_evaluations / seconds: cost of
    the clean pass and the attack; the checks' own cost is in check_gradient_evaluations / check_seconds.
    cpu_seconds / check_cpu_seconds: the process's CPU time over the same spans (all threads; robust to other load).
    seed: the seed actually used (drawn when the caller passed None), so the run can be repeated.
    """

    epsilons: tuple[float, ...]
    accuracy: dict[float, float]
    robust_mask: np.ndarray
    adversarial_samples: dict[float, np.ndarray]
    sample_indices: np.ndarray
    checks: dict[str, CheckResult]
    gradient_evaluations: int
    seconds: float
    check_gradient_evaluations: int = 0
    check_seconds: float = 0.0
    cpu_seconds: float = 0.0
    check_cpu_seconds: float = 0.0
    seed: int | None = None
    settings: dict[str, object] = field(default_factory=dict)

    def failed_checks(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.passed]

    def to_dict(self) -> dict[str, object]:
        """Plain values for `robustness/result.json` (no per-point arrays except the sample indices)."""
        return {
            "epsilons": list(self.epsilons),
            "accuracy": {repr(eps): acc for eps, acc in self.accuracy.items()},
            "checks": {
                name: {"passed": check.passed, "value": check.value, "detail": check.detail}
                for name, check in self.checks.items()
            },
            "failed_checks": self.failed_checks(),
            "num_points": int(self.robust_mask.shape[0]),
            "sample_indices": [int(i) for i in self.sample_indices],
            "gradient_evaluations": self.gradient_evaluations,
            "seconds": self.seconds,
            "check_gradient_evaluations": self.check_gradient_evaluations,
            "check_seconds": self.check_seconds,
            "cpu_seconds": self.cpu_seconds,
            "check_cpu_seconds": self.check_cpu_seconds,
            "seed": self.seed,
            "settings": dict(self.settings),
        }
