"""The verdict rules hold their nominal level when seeds differ and images are shared (analysis.simulation), and a
large effect over 5 seeds is found; summing McNemar counts over seeds (the old pooled test) does not hold it."""

import math

import numpy as np
import pytest

from analysis import paired
from analysis.simulation import rates, simulate

RUNS = 400
MONTE_CARLO_SE = math.sqrt(0.05 * 0.95 / RUNS)  # 0.011: a rule at exactly 5 % lands within 0.05 +- 0.022 (2 SE)


def test_under_no_effect_supported_and_pooled_p_stay_at_5_percent_while_summed_mcnemar_does_not():
    null = rates(simulate(RUNS, seeds=3, images=1000, effect=0.0, rng_seed=1))
    assert null["after: supported"] <= 0.05 + 2 * MONTE_CARLO_SE
    assert null["after: pooled p < alpha"] <= 0.05 + 2 * MONTE_CARLO_SE
    assert null["before: pooled p < alpha"] > 0.2  # the old test: seeds x images treated as independent


def test_a_large_effect_over_five_seeds_is_found_in_most_runs():
    planted = rates(simulate(RUNS, seeds=5, images=1000, effect=0.5, rng_seed=2))
    assert planted["after: supported"] >= 0.8


def test_the_pooled_p_value_is_the_t_test_over_seeds():
    simulated = simulate(3, seeds=4, images=200, effect=0.2, rng_seed=3)
    from scipy import stats

    for row in simulated.differences:
        assert paired.seed_t_test(row) == pytest.approx(stats.ttest_1samp(row, 0.0).pvalue, rel=1e-12)
    assert math.isnan(paired.seed_t_test(np.array([0.1])))  # one seed: no p-value about architectures
