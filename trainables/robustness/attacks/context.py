"""What every attack kernel shares: the context it attacks in, its work counter, its keyed random starts, and the
lookup from an attack's name (spec.attacks) to its Kernel.

A worst-case attack's `stage(context, budget, point_ids, epsilon)` attacks the given points at one epsilon and
returns (broken (M,), predictions of the breaking inputs (M,)); a radius attack's `estimate(context, budget,
point_ids)` returns each point's smallest adversarial L-inf distance found (inf where none) and the class of that
adversarial input; where it lies within an epsilon, the point counts broken there (ensemble.with_radius_successes).
An optional `ladder` attacks the whole nested ladder at once when the attack runs first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...spec.attacks import ATTACKS, RADIUS, WORST_CASE, Budget
from ...spec.lazy import resolve

# streams separate the random starts of PGD from those of each APGD attack
MAIN_STREAM = 0
APGD_STREAMS = {"apgd_ce": 3, "apgd_margin": 4, "apgd_dlr": 5, "apgd_ce_eot": 6, "apgd_margin_eot": 7}


@dataclass
class AttackCounter:
    """Work done by an attack: input gradients and forward-only model queries, each counted per point."""

    gradient_evaluations: int = 0
    queries: int = 0


@dataclass
class AttackContext:
    """What an attack may use: the points, the compiled model, the settings and a cost counter per attack."""

    model: object
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    clean_logits: np.ndarray  # (N, K)
    num_classes: int
    settings: Any  # spec.evaluation.AttackSettings
    seed: int
    batch_size: int
    device: str
    forward: Callable  # compiled logits
    pgd_runner: Any  # attacks.pgd.PGDRunner
    counters: dict[str, AttackCounter] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    max_ball_violation: float = 0.0
    points_checked: int = 0
    compiled_apgd: dict[tuple, object] = field(default_factory=dict)  # per loss and steps, compiled once
    noise_sigma: float = 0.0  # > 0: the classifier attacked is the smoothed one at this sigma (attacks/eot.py)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def counter(self, name: str) -> AttackCounter:
        return self.counters.setdefault(name, AttackCounter())

    def budget(self, name: str) -> Budget:
        return self.settings.budget(name)

    def record_ball(self, point_ids: np.ndarray, adversarial: np.ndarray, epsilon: float) -> None:
        if len(point_ids) == 0:
            return
        distance = np.abs(adversarial - self.images[point_ids]).reshape(len(point_ids), -1).max(axis=1)
        excess = max(float(np.max(distance - epsilon)), -float(np.min(adversarial)), float(np.max(adversarial)) - 1)
        self.max_ball_violation = max(self.max_ball_violation, excess)
        self.points_checked += len(point_ids)


# (context, budget, point ids (M,), epsilon) -> (broken (M,), predictions of the breaking inputs (M,))
Stage = Callable[[AttackContext, Budget, np.ndarray, float], tuple[np.ndarray, np.ndarray]]
# (context, budget, epsilons, clean_correct (N,), sample indices) -> (robust mask (N, E), breaking predictions (N,))
Ladder = Callable[[AttackContext, Budget, Sequence[float], np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
# (context, budget, point ids (M,)) -> (smallest adversarial L-inf distances (M,), inf: none; their classes, -1: none)
Estimate = Callable[[AttackContext, Budget, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Kernel:
    """An attack's code: a stage (worst-case attacks, optionally a ladder) or an estimate (radius attacks)."""

    stage: Stage | None = None
    ladder: Ladder | None = None
    estimate: Estimate | None = None


def kernel(name: str) -> Kernel:
    """The Kernel the attack's spec names, imported on first use; ValueError when it does not fit the attack's role."""
    spec = ATTACKS.lookup(name)
    found = resolve(spec.kernel, f"attack {name!r} kernel")
    if not isinstance(found, Kernel) or (found.stage is None) == (spec.role == WORST_CASE) or (
            (found.estimate is None) == (spec.role == RADIUS)):
        raise ValueError(f"attack {name!r}: {spec.kernel} must be a Kernel with a stage ({WORST_CASE} attacks) or an "
                         f"estimate ({RADIUS} attacks)")
    return found


def start_noise(seed: int, stream: int, restart: int, epsilon: float, point_ids: np.ndarray, shape) -> np.ndarray:
    """Uniform noise in [-epsilon, epsilon), one independent draw per point keyed by (seed, stream, restart, epsilon,
    point): a start does not depend on the batch it is drawn in. float32 (B, *shape)."""
    epsilon_key = int(np.float64(epsilon).view(np.uint64))
    noise = np.empty((len(point_ids), *shape), dtype=np.float32)
    for row, point in enumerate(point_ids):
        rng = np.random.default_rng([seed, stream, restart, epsilon_key, int(point)])
        noise[row] = rng.random(shape, dtype=np.float32)
    noise *= np.float32(2.0 * epsilon)
    noise -= np.float32(epsilon)
    return noise
