"""Sensor noise: additive Gaussian, Poisson (shot) and salt-and-pepper (impulse). images (N, H, W, C) in [0, 1]."""

from __future__ import annotations

import numpy as np

from .draws import PointDraws

EXACT_POISSON_MEAN = 30.0  # below: inverse-CDF Poisson draws; above: the normal approximation (skew < 0.18)
POISSON_TERMS = 80  # P(X > 80 | mean 30) < 1e-13


def gaussian_noise(images: np.ndarray, draws: PointDraws, sigma: float) -> np.ndarray:
    return np.clip(images + sigma * draws.normal(0, images.shape[1:]).astype(np.float32), 0, 1)


def shot_noise(images: np.ndarray, draws: PointDraws, photon_scale: float) -> np.ndarray:
    """x ~ Poisson(x / p) * p: p = 1 / photons per unit intensity (ImageNet-C's 1 / c)."""
    if photon_scale == 0:
        return images.copy()
    mean = images.astype(np.float64) / photon_scale
    return np.clip(poisson(mean, draws) * photon_scale, 0, 1).astype(np.float32)


def poisson(mean: np.ndarray, draws: PointDraws) -> np.ndarray:
    """Poisson counts of `mean` (N, ...), from the points' streams 0 (uniform) and 1 (normal)."""
    uniform = draws.uniform(0, mean.shape[1:])
    counts = np.floor(mean + np.sqrt(mean) * draws.normal(1, mean.shape[1:]) + 0.5).clip(min=0)
    small = mean <= EXACT_POISSON_MEAN
    lam, u = mean[small], uniform[small]
    probability = np.exp(-lam)
    cumulative, exact = probability.copy(), np.zeros_like(lam)
    for k in range(1, POISSON_TERMS):
        above = u > cumulative
        if not above.any():
            break
        exact += above
        probability = probability * lam / k
        cumulative = cumulative + probability
    counts[small] = exact
    return counts


def impulse_noise(images: np.ndarray, draws: PointDraws, amount: float) -> np.ndarray:
    """A fraction `amount` of the values set to 0 or 1, half each (per channel, as skimage's s&p)."""
    u = draws.uniform(0, images.shape[1:])
    out = images.copy()
    out[u < amount / 2] = 0.0
    out[u > 1 - amount / 2] = 1.0
    return out
