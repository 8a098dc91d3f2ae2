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


def seed_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """NaN values (failed seeds) are left out; n counts the seeds that remain."""
    finite = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(finite)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(finite.mean())
    if n == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan)
    std = float(finite.std(ddof=1))
    half = t_quantile(confidence, n - 1) * std / math.sqrt(n)
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
