"""What one robustness evaluation returns: plain data, JSON-ready through `to_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one sanity check: `value` is the measured quantity (before any escalation), `detail` a one-line
    explanation. p_value: the exact test's (NaN for the deterministic checks), after escalation when one ran;
    escalated_points / escalation_gradients: the points the check re-attacked at the escalation cap and the
    gradients that cost; reason: why a failed check failed, in a few words ("" when it passed)."""

    passed: bool
    value: float
    detail: str
    p_value: float = float("nan")
    escalated_points: int = 0
    escalation_gradients: int = 0
    reason: str = ""

    def __post_init__(self) -> None:
        # numpy comparisons yield np.bool_ / np.float64: store plain values (JSON, MLflow)
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "p_value", float(self.p_value))
        object.__setattr__(self, "escalated_points", int(self.escalated_points))
        object.__setattr__(self, "escalation_gradients", int(self.escalation_gradients))

    def to_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "value": self.value, "detail": self.detail,
                "p_value": self.p_value if self.p_value == self.p_value else None,
                "escalated_points": self.escalated_points, "escalation_gradients": self.escalation_gradients,
                "reason": self.reason}


@dataclass
class RobustnessResult:
    """Worst-case accuracy over the attacks at each epsilon, each attack's accuracy, per-point outcomes, checks.

    epsilons: increasing, 0.0 first. accuracy: epsilon -> fraction of the ensemble points (`ensemble_indices`, all
    points unless the settings cap them) correct under every attack (0.0 -> clean accuracy). attacks: the attacks
    in the order they ran; accuracy_by_attack[name]: the accuracy after that attack, i.e. the worst case over it and
    the attacks before it (the first attack's is its own, on all points); points_by_attack: the points each number
    rests on. robust_mask: (N, E) bool, the first attack alone, column k = point still correct at epsilons[k];
    nested (a column is a subset of the one before). worst_case_mask: (M, E), the same for the worst case over the
    ensemble points; broken_by: (M,) index into attacks of the attack that broke the point (-1: never broken at
    eps > 0). clean_predictions (N,); first_broken_predictions (N,) and worst_broken_predictions (M,): the class the
    breaking input got (-1: never broken). radius_estimates: (M,) the radius attack's minimal adversarial epsilon
    (0 for points misclassified clean, inf where it found none, NaN when no radius attack ran).
    adversarial_samples: epsilon (> 0) -> float32 (S, H, W, C): the points `sample_indices` attacked by the first
    attack at that epsilon on their own. gradient_evaluations / queries / seconds: cost of the evaluation (queries
    include the clean pass); per attack in `cost`; the checks' own cost is in check_gradient_evaluations /
    check_seconds.
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
    attacks: tuple[str, ...] = ("pgd",)
    accuracy_by_attack: dict[str, dict[float, float]] = field(default_factory=dict)
    points_by_attack: dict[str, int] = field(default_factory=dict)
    ensemble_indices: np.ndarray | None = None
    worst_case_mask: np.ndarray | None = None
    broken_by: np.ndarray | None = None
    clean_predictions: np.ndarray | None = None
    first_broken_predictions: np.ndarray | None = None
    worst_broken_predictions: np.ndarray | None = None
    radius_estimates: np.ndarray | None = None
    cost: dict[str, dict[str, float]] = field(default_factory=dict)
    queries: int = 0
    labels: np.ndarray | None = None
    masks_after: dict[str, np.ndarray] = field(default_factory=dict)  # attack -> (M, E), see accuracy_by_attack

    @property
    def num_points(self) -> int:
        return int(self.robust_mask.shape[0])

    @property
    def clean_accuracy(self) -> float:
        """Clean accuracy over every evaluated point (accuracy[0.0] is over the worst case's points)."""
        return float(self.robust_mask[:, 0].mean())

    @property
    def first_attack_on_ensemble(self) -> dict[float, float]:
        """The first attack's accuracy on the worst case's points: the worst case's pair, on the same images."""
        mask = self.masks_after.get(self.attacks[0], self.robust_mask[self.ensemble_indices])
        return {eps: float(mask[:, k].mean()) for k, eps in enumerate(self.epsilons)}

    @property
    def radius_brackets(self) -> tuple[np.ndarray, np.ndarray]:
        """Per ensemble point: (last ladder epsilon robust under the worst case, first broken; inf if never).
        Both are 0 for a point misclassified clean."""
        ladder = np.asarray(self.epsilons)
        robust_columns = self.worst_case_mask.sum(axis=1)  # nested: robust exactly at the first this many
        low = ladder[np.maximum(robust_columns - 1, 0)]
        high = np.where(robust_columns < len(ladder), ladder[np.minimum(robust_columns, len(ladder) - 1)], np.inf)
        return low, np.where(robust_columns == 0, 0.0, high)

    @property
    def radius(self) -> np.ndarray:
        """Per ensemble point: the smallest epsilon at which an adversarial input was found, an upper bound of the
        true radius: the first broken ladder epsilon, lowered to the radius attack's estimate where smaller."""
        _, high = self.radius_brackets
        estimates = self.radius_estimates if self.radius_estimates is not None else np.full(len(high), np.nan)
        return np.where(np.isnan(estimates), high, np.fmin(high, estimates))

    @property
    def median_radius(self) -> float:
        """Median of `radius` over the ensemble points (inf when more than half were never broken)."""
        return float(np.median(self.radius))

    def points(self) -> dict[str, np.ndarray]:
        """Per-point outcomes for `robustness/points.npz`: one row per evaluated point (its index in the evaluated
        test split), per-attack columns named `<column>/<attack>`; see the README's layout table."""
        n, rows = self.num_points, self.ensemble_indices

        def spread(values: np.ndarray, fill) -> np.ndarray:
            full = np.full((n, *values.shape[1:]), fill, dtype=np.result_type(values, type(fill)))
            full[rows] = values
            return full

        low, high = self.radius_brackets
        table = {
            "point": np.arange(n), "label": np.asarray(self.labels), "clean_prediction": self.clean_predictions,
            "epsilons": np.asarray(self.epsilons), "attacks": np.asarray(self.attacks, dtype=str),
            "in_ensemble": spread(np.ones(len(rows), bool), False),
            "robust": spread(self.worst_case_mask, False),
            "broken_by": spread(self.broken_by, -1),
            "broken_prediction": spread(self.worst_broken_predictions, -1),
            "radius_low": spread(low, np.nan), "radius_high": spread(high, np.nan),
            "radius": spread(self.radius, np.nan), "radius_estimate": spread(self.radius_estimates, np.nan),
            f"robust/{self.attacks[0]}": self.robust_mask,
            f"broken_prediction/{self.attacks[0]}": self.first_broken_predictions,
            f"first_broken_eps/{self.attacks[0]}": first_broken_epsilon(self.robust_mask, self.epsilons),
        }
        for name, mask in list(self.masks_after.items())[1:]:
            table[f"first_broken_eps/{name}"] = spread(first_broken_epsilon(mask, self.epsilons), np.nan)
        return table

    def failed_checks(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.passed]

    def failure_line(self) -> str:
        """Why the trial is untrusted, one line: "name: reason; name: reason" ("" when every check passed)."""
        return "; ".join(f"{name}: {check.reason or check.detail}" for name, check in self.checks.items()
                         if not check.passed)

    @property
    def majority_rate(self) -> float:
        """The largest class's share of the evaluated labels (the `learned` check's bar)."""
        labels = np.asarray(self.labels)
        return float(np.bincount(labels).max() / len(labels)) if len(labels) else float("nan")

    def to_dict(self) -> dict[str, object]:
        """Plain values for `robustness/result.json` (no per-point arrays except the sample indices)."""
        return {
            "epsilons": list(self.epsilons),
            "accuracy": {repr(eps): acc for eps, acc in self.accuracy.items()},
            "attacks": list(self.attacks),
            "accuracy_by_attack": {name: {repr(eps): acc for eps, acc in values.items()}
                                   for name, values in self.accuracy_by_attack.items()},
            "points_by_attack": dict(self.points_by_attack),
            "worst_case_points": int(len(self.ensemble_indices)),
            "median_radius": self.median_radius if np.isfinite(self.median_radius) else None,
            "cost": {name: dict(values) for name, values in self.cost.items()},
            "queries": self.queries,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
            "failed_checks": self.failed_checks(),
            "failure_line": self.failure_line(),
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


def first_broken_epsilon(mask: np.ndarray, epsilons) -> np.ndarray:
    """(N, E) nested robust mask -> (N,) the first epsilon a point is not robust at (0: misclassified clean;
    inf: robust over the whole ladder)."""
    ladder = np.append(np.asarray(epsilons, dtype=np.float64), np.inf)
    return ladder[mask.sum(axis=1)]
