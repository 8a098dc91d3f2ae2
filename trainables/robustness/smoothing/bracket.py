"""Checks that a smoothed classifier's two bounds bracket it (smoothed.py), in the CheckResult form of checks.py.

- bracket: number of (point, epsilon) pairs, epsilon 0 included, that are certified (correct, with certified L2
  radius >= eps * sqrt(D)) and yet broken for g (PREDICT names another class at the clean point, or an EoT attack
  found an input within eps that PREDICT puts in another class); passes when 0. A certificate holds with
  probability >= 1 - alpha and PREDICT names a wrong class with probability <= its alpha, so such a pair is a bug
  (in the noise, the certificate, the attack's ball or the L2 -> L-inf conversion) except with probability at
  most the sum of the two alphas.
(certified_within_empirical, certified accuracy <= smoothed accuracy + alpha + clean abstentions, is gone: a point
certified and correct is counted robust by the attack unless broken, so it could fail only where bracket failed.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...spec.registry import Registry
from ..evaluate.result import CheckResult
from .certify import ABSTAIN

SHOWN_PAIRS = 3  # violating (point, epsilon) pairs named in a failed check's detail


@dataclass(frozen=True)
class BracketContext:
    """certification: certify.CertificationResult; attack: smoothed.SmoothedAttackResult on the same points (rows);
    labels (N,); image_shape (H, W, C) for the L2 -> L-inf conversion."""

    certification: object
    attack: object
    labels: np.ndarray
    image_shape: tuple[int, ...]

    @property
    def epsilons(self) -> np.ndarray:
        return np.asarray(self.attack.epsilons, dtype=float)

    @property
    def certified(self) -> np.ndarray:
        """(N, E) correct and certified at each L-inf epsilon (radius >= eps * sqrt(D))."""
        root = math.sqrt(math.prod(int(size) for size in self.image_shape))
        radius = np.where(self.certification.correct, self.certification.radius, -np.inf)
        return radius[:, None] >= self.epsilons[None, :] * root

    @property
    def broken(self) -> np.ndarray:
        """(N, E) g put in another class than the label within eps (PREDICT, abstentions not counted)."""
        clean = self.attack.clean_prediction
        wrong = (clean != ABSTAIN) & (clean != self.labels)
        robust = self.attack.robust
        return wrong[:, None] | (robust[:, :1] & ~robust)


SMOOTHING_CHECKS: Registry[Callable[[BracketContext], CheckResult]] = Registry("smoothing check")


@SMOOTHING_CHECKS.decorator("bracket")
def _bracket(context: BracketContext) -> CheckResult:
    both = context.certified & context.broken
    count = int(both.sum())
    points, columns = np.nonzero(both)
    shown = ", ".join(f"point {int(p)} at eps {context.epsilons[k]:g}" for p, k in
                      list(zip(points, columns))[:SHOWN_PAIRS])
    detail = (f"{count} (point, epsilon) pairs of {both.size} certified for g and broken by "
              f"{', '.join(context.attack.attacks)} (PREDICT n={context.attack.predict_n})"
              + (f": {shown}: a certificate or an attack is wrong" if count else ""))
    return CheckResult(count == 0, float(count), detail)


def run_smoothing_checks(certification, attack, labels, image_shape: Sequence[int]) -> dict[str, CheckResult]:
    context = BracketContext(certification, attack, np.asarray(labels), tuple(int(size) for size in image_shape))
    return {name: check(context) for name, check in SMOOTHING_CHECKS.items()}
