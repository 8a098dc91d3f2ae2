"""Seed statistics shared by the tables and the figures, so the band in a figure is the interval in a table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

CONFIDENCE = 0.95
BAND_DEFINITION = ("mean over seeds with a 95 % Student-t confidence interval: mean +- t(0.975, n-1) * s / sqrt(n), "
                   "s = sample standard deviation (ddof=1); no interval with a single seed")


@dataclass(frozen=True)
class Interval:
    """Mean of n seed values and its 95 % t-interval (low = high = NaN when n < 2)."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def t_quantile(confidence: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, dof))


def seed_interval(values: Iterable[float], confidence: float = CONFIDENCE, floor: float = 0.0) -> Interval:
    """NaN values (failed seeds) are left out; n counts the seeds that remain. floor: the SD the interval uses at
    least (a test's binomial floor, so an interval shown beside a floored test's p is that test's; two seeds that
    agree by luck get no zero-width interval); std stays the observed one."""
    finite = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(finite)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(finite.mean())
    if n == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan)
    std = float(finite.std(ddof=1))
    spread = max(std, floor) if math.isfinite(floor) else std
    half = t_quantile(confidence, n - 1) * spread / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def relative_gain(attention: float, baseline: float) -> float:
    """(acc_att - acc_base) / acc_base; +inf when the baseline is 0 and attention is not, NaN when both are 0."""
    if math.isnan(attention) or math.isnan(baseline):
        return math.nan
    if baseline == 0:
        return math.inf if attention > 0 else math.nan
    return (attention - baseline) / baseline


def format_gain(gain: float) -> str:
    if math.isnan(gain):
        return "n/a"
    if math.isinf(gain):
        return "inf"
    return f"{gain * 100:+.0f}%"


# --- the seed-level test every claim about architectures uses (analysis.claims, paired.pooled_comparisons,
# smoothing.certified_comparison): Student's t over seeds with the seed SD floored at the statistic's own binomial SE

SIDES = ("greater", "less", "two-sided")


def binomial_floor(attention_weight: float, baseline_weight: float, attention_acc, baseline_acc, n_points,
                   attention_only=None, baseline_only=None) -> float:
    """The scale-aware floor of the seed SD of attention_weight * a + baseline_weight * b + constant: the root mean,
    over seeds, of that statistic's binomial variance on one seed's n test points. Each seed's 2x2 table of paired
    outcomes (both robust, attention only, baseline only, neither) gets half a pseudo-count per cell (Jeffreys), so
    no seed has variance 0 (0 of 64 points robust is not proof of accuracy 0). Without the discordant counts (only
    the two accuracies, e.g. certified accuracy) the models are taken as independent on the points. Why it is a
    floor: each seed of HAM10000 and Kaggle DR draws its own test split, so a seed's statistic varies at least by
    this much about its model's true value; a smaller observed spread over a few seeds is luck. NaN without points.
    """
    a, b = np.asarray(attention_acc, dtype=float), np.asarray(baseline_acc, dtype=float)
    n = np.asarray(n_points, dtype=float) * np.ones_like(a)
    if a.size == 0 or not np.all(np.isfinite(n)) or np.any(n <= 0):
        return math.nan
    if attention_only is None or baseline_only is None:
        pa, pb = (a * n + 0.5) / (n + 1), (b * n + 0.5) / (n + 1)
        covariance = np.zeros_like(pa)
    else:
        n10, n01 = np.asarray(attention_only, dtype=float), np.asarray(baseline_only, dtype=float)
        n11 = np.clip(np.round(a * n) - n10, 0, None)
        p11, p10, p01 = (n11 + 0.5) / (n + 2), (n10 + 0.5) / (n + 2), (n01 + 0.5) / (n + 2)
        pa, pb = p11 + p10, p11 + p01
        covariance = p11 - pa * pb
    variance = (attention_weight ** 2 * pa * (1 - pa) + baseline_weight ** 2 * pb * (1 - pb)
                + 2 * attention_weight * baseline_weight * covariance) / n
    return float(math.sqrt(max(float(np.mean(variance)), 0.0)))


def floored_t_test(values, side: str, sd_floor) -> np.ndarray | float:
    """Student's one-sample t-test of per-seed values (last axis: the seeds, the unit of replication) against 0, the
    seed SD taken as max(sample SD, sd_floor). side: "greater" (mean > 0), "less" or "two-sided". NaN below 2
    seeds, and NaN where both the spread and the floor are 0 (no p-value from no spread). Broadcasts over the
    leading axes (the simulations run thousands of sweeps at once)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    seeds = values.shape[-1]
    shape = values.shape[:-1]
    if seeds < 2:
        result = np.full(shape, math.nan)
        return float(result) if result.ndim == 0 else result
    mean = values.mean(axis=-1)
    sd = np.maximum(values.std(axis=-1, ddof=1), np.asarray(sd_floor, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, mean / (sd / math.sqrt(seeds)), math.nan)
    degrees = seeds - 1
    if side == "greater":
        p = stats.t.sf(t, degrees)
    elif side == "less":
        p = stats.t.sf(-t, degrees)
    elif side == "two-sided":
        p = np.minimum(1.0, 2 * stats.t.sf(np.abs(t), degrees))
    else:
        raise ValueError(f"side {side!r}: one of {', '.join(SIDES)}")
    p = np.where(np.isfinite(t), p, math.nan)
    return float(p) if p.ndim == 0 else p
