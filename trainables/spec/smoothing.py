"""What a randomized-smoothing trial may ask for (Cohen et al. 2019), decided before launch: the settings' ranges,
whether n draws can certify anything at level alpha, and which epsilons of the ladder no certificate can reach.
The certification itself: trainables/robustness/smoothing/."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

from .rules import positive_int


def minimum_samples(alpha: float) -> int:
    """The smallest n for which n agreeing draws certify a radius: alpha^(1/n) > 1/2, i.e. n > log(alpha)/log(1/2)."""
    count = max(1, math.floor(math.log(alpha) / math.log(0.5)))
    while alpha ** (1.0 / count) <= 0.5:
        count += 1
    return count


def max_certified_radius(sigma: float, n: int, alpha: float) -> float:
    """The largest L2 radius n draws can certify (all n agree: pA_lower = alpha^(1/n)); 0 when none can."""
    return max(0.0, sigma * NormalDist().inv_cdf(alpha ** (1.0 / n)))


def validate_smoothing(*, sigma, n0, n, alpha) -> tuple[float, int, int, float]:
    """sigma >= 0, n0 and n >= 1, alpha in (0, 1), n large enough to certify any radius at alpha; else ValueError."""
    try:
        sigma, alpha = float(sigma), float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"sigma and alpha must be numbers; received sigma={sigma!r}, alpha={alpha!r}") from None
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0 (noise std in [0, 1] pixel units); received {sigma!r}")
    n0 = positive_int("n0 (selection samples)", n0)
    n = positive_int("n (estimation samples)", n)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1) (the certificate's failure probability); received {alpha!r}")
    needed = minimum_samples(alpha)
    if n < needed:
        raise ValueError(f"n = {n} estimation samples cannot certify any radius at alpha = {alpha:g}; "
                         f"the minimum is n = {needed} (alpha^(1/n) must exceed 1/2)")
    return sigma, n0, n, alpha


def ladder_warning(epsilons: Sequence[float], *, sigma: float, n: int, alpha: float,
                   image_shape: Sequence[int]) -> str | None:
    """One line naming the ladder's L-inf epsilons that no point can be certified at (eps * sqrt(D) above the largest
    certifiable radius at this n and sigma) and the largest certifiable epsilon; None when all can be."""
    dimension = math.sqrt(math.prod(int(size) for size in image_shape))
    largest = max_certified_radius(sigma, n, alpha) / dimension
    beyond = [float(eps) for eps in epsilons if float(eps) > largest]
    if not beyond:
        return None
    return (f"epsilons {beyond} cannot be certified with sigma = {sigma:g}, n = {n}, alpha = {alpha:g} at "
            f"{'x'.join(str(int(size)) for size in image_shape)}: the largest certifiable L-inf epsilon is "
            f"{largest:.3g} (sigma * Phi^-1(alpha^(1/n)) / sqrt(D))")
