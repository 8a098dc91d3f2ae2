"""The claims' decision rule, run as the report runs it (analysis.claims.verdicts_of) on simulated sweeps with a test
split per seed (analysis.simulation): it holds its level under the null, decides a large consistent effect at 5
seeds, and its seed advice agrees with the simulation; no seed-level test gives a p-value from no spread; summing
McNemar counts over seeds (the old pooled test) does not hold its level."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import claims, paired
from analysis.simulation import advised_seeds, scenarios, simulated_per_seed, summed_mcnemar, verdict_rates
from analysis.smoothing import certified_p
from analysis.stats import binomial_floor, floored_t_test

RUNS = 200


def upper(rate: float = 0.05, runs: int = RUNS) -> float:
    """A rule at exactly `rate` lands below this with probability 0.98 (2 Monte Carlo SE)."""
    return rate + 2 * math.sqrt(rate * (1 - rate) / runs)


@pytest.mark.parametrize("kind", ["greater (a - b, 4 epsilons)", "within 0.01 (|a - b|)"])
@pytest.mark.parametrize("seeds", [2, 5])
def test_under_the_null_either_verdict_is_given_in_at_most_5_percent(kind, seeds):
    null, _ = scenarios()[kind]
    rates = verdict_rates(null, seeds, RUNS, rng_seed=seeds)
    assert rates.any_verdict <= upper()


def test_the_level_check_fails_on_a_rule_without_the_family_and_the_split_alpha():
    """The check above can fail: on the same kind of null sweeps, a t-test per attack at the full ALPHA on each side
    (no Holm, two budgets) decides far more often than 5 %, while the rule stays under it."""
    null, _ = scenarios(points=64)["less (a - b)"]
    per_seed = simulated_per_seed(null, 3, RUNS, rng_seed=11)
    rows = per_seed[per_seed["epsilon"] == 0.005].sort_values(["run", "attack", "seed"])
    differences = rows["difference"].to_numpy().reshape(RUNS, 2, 3)
    naive = (stats.ttest_1samp(differences, 0.0, axis=-1).pvalue < claims.ALPHA).any(axis=1).mean()
    assert naive > upper()
    assert verdict_rates(null, 3, RUNS, rng_seed=11).any_verdict <= upper()


def test_a_difference_of_0_10_at_seed_sd_0_03_is_supported_at_5_seeds():
    _, true = scenarios()["greater (a - b, 4 epsilons)"]
    rates = verdict_rates(true, 5, RUNS, rng_seed=3)
    assert rates.supported >= 0.8 and rates.contradicted == 0.0
    assert verdict_rates(true, 2, RUNS // 2, rng_seed=4).supported < 0.8  # power grows with seeds


def test_the_seed_advice_agrees_with_the_simulated_rule_within_one_seed():
    """The advice for an effect of 0.05 (seed SD 0.03) is N; the simulated rule reaches 80 % power at N + 1 seeds
    and not yet at N - 2 (so the simulated fewest seeds lies within N - 1 .. N + 1)."""
    _, true = scenarios(effect=0.05)["less (a - b)"]
    advised = advised_seeds(true)
    assert advised is not None and 4 <= advised <= 12
    assert verdict_rates(true, advised + 1, RUNS, rng_seed=5).supported >= 0.8 - 2 * math.sqrt(0.16 / RUNS)
    assert verdict_rates(true, advised - 2, RUNS, rng_seed=6).supported < 0.8 + 2 * math.sqrt(0.16 / RUNS)


def test_seed_advice_counts_the_family_and_the_floor():
    component = claims.Component(1.0, -1.0, 0.0, "greater")
    observed = claims.Tested(component, np.array([0.08, 0.12]), 0.01)
    alone, in_family = claims.seeds_needed([observed], 1), claims.seeds_needed([observed], 2)
    assert alone is not None and in_family >= alone
    floored = claims.Tested(component, np.array([0.08, 0.12]), 0.08)  # the floor above the observed SD
    assert claims.seeds_needed([floored], 1) > alone
    assert claims.seeds_needed([claims.Tested(component, np.array([-0.1, -0.1]), 0.01)], 1) is None


def test_identical_seed_differences_give_no_p_of_zero():
    tiny = np.array([0.047, 0.047])  # e.g. 3 of 64 points broken by one model and not the other, in both seeds
    assert math.isnan(floored_t_test(tiny, "greater", 0.0))  # no spread and no floor: no p-value
    floor = binomial_floor(1.0, -1.0, [0.5, 0.5], [0.453, 0.453], [64, 64], [3, 3], [0, 0])
    assert 0.01 < floor < 0.05
    assert paired.seed_t_test(tiny, "greater", floor) > 0.05  # with the floor: not evidence
    per_seed = pd.DataFrame({"task": "t", "backbone": "b", "scale": "full", "enhancement": "data",
                             "attention": "soft", "placement": "head", "attack": "worst_case", "seed": [0, 1],
                             "epsilon": 0.01, "n_points": 64, "baseline_acc": 0.453, "attention_acc": 0.5,
                             "difference": 0.047, "ci_low": 0.0, "ci_high": 0.1, "attention_only": 3,
                             "baseline_only": 0, "p_value": 0.25, "note": ""})
    pooled = paired.pooled_comparisons(per_seed).iloc[0]
    assert 0.05 < pooled["p_value"] < 1
    p_value = certified_p([0.05, 0.05], [0.0, 0.0], [32, 32])
    assert 0.05 < p_value < 1
    # a level far from every seed is still decided
    assert floored_t_test(np.array([-0.8, -0.8, -0.8]), "less", 0.02) < 1e-3


def test_the_shown_interval_is_the_floored_tests_own():
    """Two seeds that agree exactly (se vs none in the attention_ablation smoke run showed [+0.016, +0.016] beside an
    inconclusive verdict): the claims table's interval uses the floor its test uses, so it is not of zero width and
    it holds 0 exactly when the two-sided test at 0.05 is not significant (3 of 64 points at 2 seeds: p 0.27;
    16 of 64 at 3 seeds: p 0.02)."""
    claim = claims.Claim("gain", "", "", "", "t", "b", 0.01, "greater")
    outcomes = []
    for difference, attention_only, seeds in ((0.047, 3, 2), (0.25, 16, 3)):
        per_seed = pd.DataFrame({"task": "t", "backbone": "b", "scale": "full", "enhancement": "data",
                                 "attention": "soft", "placement": "head", "attack": "worst_case",
                                 "seed": list(range(seeds)),
                                 "epsilon": 0.01, "n_points": 64, "baseline_acc": 0.45,
                                 "attention_acc": 0.45 + difference, "difference": difference, "ci_low": 0.0,
                                 "ci_high": 0.1, "attention_only": attention_only, "baseline_only": 0,
                                 "p_value": 0.25, "note": ""})
        row = claims.verdicts_of(per_seed, (claim,), advise=False).iloc[0]
        floor = binomial_floor(1.0, -1.0, per_seed["attention_acc"], per_seed["baseline_acc"], [64] * seeds,
                               [attention_only] * seeds, [0] * seeds)
        half = stats.t.ppf(0.975, seeds - 1) * floor / math.sqrt(seeds)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((max(difference - half, -1), difference + half))
        two_sided = floored_t_test(np.array([difference] * seeds), "two-sided", floor)
        outcomes.append((row["ci_low"] > 0, two_sided < 0.05))
    assert outcomes == [(False, False), (True, True)]


def test_null_size_of_the_certified_comparison_at_2_seeds_on_sparse_accuracy():
    """Certified accuracy near 0 on 32 points per seed, the same for both models: the two-sided test at 2 seeds
    gives p < 0.05 in at most 5 % of sweeps (without the floor, identical seeds gave p = 0: 0.10)."""
    rng = np.random.default_rng(7)
    runs, points = 2000, 32
    attention = rng.binomial(points, 0.03, (runs, 2)) / points
    baseline = rng.binomial(points, 0.03, (runs, 2)) / points
    p = np.array([certified_p(a, b, [points, points]) for a, b in zip(attention, baseline)])
    assert np.all(np.isfinite(p)) and np.mean(p < 0.05) <= upper(runs=runs)
    identical = np.isclose(attention[:, 0] - baseline[:, 0], attention[:, 1] - baseline[:, 1])
    assert identical.mean() > 0.05  # the case that gave p = 0 is common here


def test_the_floor_is_the_statistics_own_binomial_se():
    """a - 20 b has a floor about 20 times b's SE when b is small; with counts, a - b's floor is the paired SE."""
    n = np.array([1000.0])
    ratio = binomial_floor(1.0, -20.0, [0.2], [0.01], n)
    assert ratio == pytest.approx(math.sqrt((0.2 * 0.8 + 400 * 0.01 * 0.99) / 1000), rel=0.03)
    paired_floor = binomial_floor(1.0, -1.0, [0.6], [0.5], n, [150], [50])
    discordant = 0.2 - 0.1 ** 2
    assert paired_floor == pytest.approx(math.sqrt(discordant / 1000), rel=0.03)


def test_the_seed_t_test_without_a_binding_floor_is_students():
    rng = np.random.default_rng(3)
    for row in rng.normal(0.05, 0.1, (3, 4)):
        assert floored_t_test(row, "two-sided", 0.0) == pytest.approx(stats.ttest_1samp(row, 0.0).pvalue, rel=1e-12)
        assert floored_t_test(row, "greater", 0.0) == pytest.approx(
            stats.ttest_1samp(row, 0.0, alternative="greater").pvalue, rel=1e-12)
    assert math.isnan(floored_t_test(np.array([0.1]), "greater", 0.02))  # one seed: no p about architectures


def test_summing_mcnemar_counts_over_seeds_does_not_hold_its_level():
    assert summed_mcnemar(200, seeds=3, images=1000, rng_seed=1) > 0.2
