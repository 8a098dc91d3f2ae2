"""Exact one-sided tests on the counts a check saw; the unit of replication is the point (the check's sample).

`exceeds`: a binomial test of "the rate is at most `rate`" (the check's tolerance) against more: P(X >= count) for
X ~ Binomial(points, rate). `discordant`: McNemar's exact test on the points two attacks disagree on, "the first is
not stronger" against stronger: P(X >= first_only) for X ~ Binomial(first_only + second_only, 1/2). A check fires
when its p-value is below CheckConfig.level; both tests are exact, so they hold the level at any number of points
(conservatively: counts are discrete). `bonferroni`: the smallest of several p-values times their number (a check
testing at two epsilons).
"""

from __future__ import annotations

from scipy.stats import binom


def exceeds(count: int, points: int, rate: float) -> float:
    """p-value of `count` of `points` under "each point counts with probability at most `rate`"."""
    if points <= 0 or count <= 0:
        return 1.0
    if rate <= 0.0:
        return 0.0
    return float(min(1.0, binom.sf(count - 1, points, rate)))


def discordant(first_only: int, second_only: int) -> float:
    """McNemar's exact one-sided p-value: the first attack broke `first_only` points the second left robust, the
    second `second_only` the first left robust; small when the first is significantly stronger."""
    return exceeds(first_only, first_only + second_only, 0.5)


def bonferroni(p_values) -> float:
    values = list(p_values)
    return min(1.0, min(values) * len(values)) if values else 1.0
