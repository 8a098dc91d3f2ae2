"""Paired statistics on planted per-point data, against independent computations; the claims' verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import claims, paired
from analysis.evidence import unpaired_notes
from analysis.points import POINT_COLUMNS, pairs

EPSILONS = (0.0, 0.00125, 0.0025, 0.005, 0.01)


def planted_points(task, backbone, attention, seed, robust, *, epsilons=EPSILONS, run_id=None):
    """Rows of analysis.points for one trial: robust (N, E) per point and epsilon."""
    robust = np.asarray(robust, dtype=bool)
    count, width = robust.shape
    labels = np.arange(count) % 2
    return pd.DataFrame({
        "run_id": run_id or f"{task}-{backbone}-{attention}-{seed}", "run_name": f"{task}-{attention}-s{seed}",
        "task": task, "backbone": backbone, "scale": "full", "attention": attention, "placement": "head",
        "seed": seed, "enhancement": "data", "adv_training": "none", "point": np.repeat(np.arange(count), width),
        "label": np.repeat(labels, width), "clean_prediction": np.repeat(labels, width),
        "epsilon": np.tile(epsilons, count), "robust": robust.ravel(),
        "prediction": np.where(robust, labels[:, None], 1 - labels[:, None]).ravel(),
        "pgd_robust": robust.ravel(), "pgd_prediction": 0, "radius": 0.01, "trusted": True,
    })[list(POINT_COLUMNS)]


def nested(accuracies, count, rng):
    """(count, E) nested robust mask with about these accuracies per epsilon."""
    thresholds = rng.random(count)
    return np.stack([thresholds < a for a in accuracies], axis=1)


def test_mcnemar_equals_the_binomial_test_on_the_discordant_pairs():
    for attention_only, baseline_only in ((12, 3), (0, 5), (7, 7), (40, 22)):
        expected = stats.binomtest(attention_only, attention_only + baseline_only, 0.5).pvalue
        assert paired.mcnemar_exact(attention_only, baseline_only) == pytest.approx(expected, rel=1e-9)
    assert paired.mcnemar_exact(0, 0) == 1.0


def test_bootstrap_ci_equals_scipy_and_a_hand_percentile_bootstrap():
    rng = np.random.default_rng(3)
    attention, baseline = rng.random(200) < 0.6, rng.random(200) < 0.45
    low, high = paired.bootstrap_ci(attention, baseline)
    reference = stats.bootstrap((attention.astype(float), baseline.astype(float)),
                                lambda a, b, axis: a.mean(axis) - b.mean(axis), paired=True, vectorized=True,
                                n_resamples=paired.N_RESAMPLES, method="percentile",
                                rng=np.random.default_rng(paired.BOOTSTRAP_SEED)).confidence_interval
    assert (low, high) == pytest.approx((reference.low, reference.high))
    draws = np.random.default_rng(11).integers(0, 200, size=(20000, 200))
    differences = attention[draws].mean(axis=1) - baseline[draws].mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(differences, [2.5, 97.5])), abs=0.01)
    assert low < attention.mean() - baseline.mean() < high


def test_holm_equals_statsmodels_and_a_hand_computation():
    from statsmodels.stats.multitest import multipletests

    p_values = np.array([0.01, 0.04, 0.03, 0.005, math.nan])
    adjusted = paired.holm(p_values)
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and math.isnan(adjusted[4])
    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 20):
        drawn = rng.random(size) ** 3
        assert paired.holm(drawn) == pytest.approx(multipletests(drawn, method="holm")[1])


def planted_sweep(effect, seeds=(0, 1, 2), count=300, task="skin_lesion", backbone="resnet50",
                  epsilons_at_zero=False):
    """epsilons_at_zero: the pneumothorax ladder end (0.32) with both models at accuracy 0 there."""
    rng = np.random.default_rng(7)
    base_acc = (0.9, 0.6, 0.4, 0.2, 0.05)
    epsilons = (0.0, 0.00125, 0.0025, 0.005, 0.32) if epsilons_at_zero else EPSILONS
    if epsilons_at_zero:
        base_acc = (0.9, 0.6, 0.4, 0.2, 0.0)
    parts = []
    for seed in seeds:
        attention = [min(1.0, a + effect) if a else 0.0 for a in base_acc]
        parts.append(planted_points(task, backbone, "none", seed, nested(base_acc, count, rng), epsilons=epsilons))
        parts.append(planted_points(task, backbone, "soft_faithful", seed, nested(attention, count, rng),
                                    epsilons=epsilons))
    return pd.concat(parts, ignore_index=True)


def test_per_seed_and_pooled_comparisons_match_their_definitions():
    points = planted_sweep(0.2)
    per_seed = paired.paired_comparisons(pairs(points))
    row = per_seed[(per_seed["attack"] == "worst_case") & (per_seed["seed"] == 1)
                   & (per_seed["epsilon"] == 0.0025)].iloc[0]
    seed_rows = points[(points["seed"] == 1) & (points["epsilon"] == 0.0025)]
    attention = seed_rows[seed_rows["attention"] == "soft_faithful"].sort_values("point")["robust"].to_numpy()
    baseline = seed_rows[seed_rows["attention"] == "none"].sort_values("point")["robust"].to_numpy()
    assert row["difference"] == pytest.approx(attention.mean() - baseline.mean())
    assert (row["attention_only"], row["baseline_only"]) == ((attention & ~baseline).sum(), (baseline & ~attention).sum())
    family = per_seed[(per_seed["attack"] == "worst_case") & (per_seed["seed"] == 1)].sort_values("epsilon")
    assert family["p_holm"].to_numpy() == pytest.approx(paired.holm(family["p_value"].to_numpy()))

    pooled = paired.pooled_comparisons(per_seed)
    cell = pooled[(pooled["attack"] == "worst_case") & (pooled["epsilon"] == 0.0025)].iloc[0]
    differences = per_seed[(per_seed["attack"] == "worst_case") & (per_seed["epsilon"] == 0.0025)]["difference"]
    half = stats.t.ppf(0.975, 2) * differences.std(ddof=1) / math.sqrt(3)
    assert cell["ci_over"] == "seeds" and cell["n_seeds"] == 3
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((differences.mean() - half, differences.mean() + half))


def verdicts(effect, seeds=(0, 1, 2), claim="skin_resnet_attention_more_robust"):
    table = claims.verdicts(planted_sweep(effect, seeds))
    return table[(table["claim"] == claim) & (table["attack"] == "worst_case")].iloc[0]


def test_a_planted_large_effect_is_supported_and_a_zero_effect_inconclusive():
    assert verdicts(0.3)["verdict"] == claims.SUPPORTED
    assert verdicts(0.0)["verdict"] == claims.INCONCLUSIVE
    assert verdicts(-0.3)["verdict"] == claims.CONTRADICTED
    single = verdicts(0.3, seeds=(0,))  # one seed: two trained models, never a verdict about architectures
    assert single["verdict"] == claims.INCONCLUSIVE and single["n_seeds"] == 1
    assert "two trained models" in single["why"] and "seeds for 80% power" in single["why"]
    assert single["seeds_needed"] >= 2  # the rule's own advice (tests/test_verdict_levels.py checks it)


def test_a_claim_whose_epsilon_is_not_on_the_ladder_is_not_measured_and_255_units_are_found():
    table = claims.verdicts(planted_sweep(0.3))
    chest = table[table["claim"] == "chest_resnet_equal_at_0.32"].iloc[0]
    assert chest["verdict"] == claims.NOT_MEASURED and math.isnan(chest["ci_low"])
    assert claims.find_epsilon([0.0, 0.00125 / 255, 0.32 / 255], 0.32) == (pytest.approx(0.32 / 255), "[0, 255]")
    assert claims.find_epsilon([0.0, 0.32], 0.32) == (0.32, "[0, 1]")


def test_both_models_at_zero_never_support_met_at_0805():
    sweep = planted_sweep(0.0, task="pneumothorax", epsilons_at_zero=True)
    row = claims.verdicts(sweep)
    chest = row[(row["claim"] == "chest_resnet_equal_at_0.32") & (row["attack"] == "worst_case")].iloc[0]
    assert chest["baseline_acc"] == 0 and chest["attention_acc"] == 0 and chest["verdict"] == claims.CONTRADICTED


def test_a_masked_untrusted_attention_trial_never_supports_attention_more_robust():
    points = planted_sweep(0.3)
    masked = points.assign(trusted=points["attention"] == "none")  # every attention trial failed its checks
    row = claims.verdicts(masked)
    skin = row[(row["claim"] == "skin_resnet_attention_more_robust") & (row["attack"] == "worst_case")].iloc[0]
    assert skin["verdict"] == claims.NOT_MEASURED and skin["n_seeds"] == 0
    assert verdicts(0.3)["verdict"] == claims.SUPPORTED  # the same trials, trusted


def test_headline_gain_accounts_for_choosing_the_best_cell():
    five = planted_sweep(0.3, seeds=range(5))
    table = claims.verdicts(five)
    headline = table[(table["claim"] == "headline_16pct") & (table["attack"] == "worst_case")].iloc[0]
    assert headline["verdict"] == claims.SUPPORTED and "the best of 4 cells" in headline["why"]
    # the p of the best cell is at least the cell count times its own one-sided p (Bonferroni over the cells), doubled
    # (one error budget for both sides)
    per_seed = paired.paired_comparisons(pairs(five))
    cell = per_seed[(per_seed["attack"] == "worst_case") & np.isclose(per_seed["epsilon"], headline["epsilon"])]
    (tested,) = claims.tested_components("best_gain", 0.16, cell)
    assert tested.floor > 0
    assert headline["p_holm"] >= min(1.0, 2 * 4 * tested.p("greater")) - 1e-12


def test_one_test_point_and_a_missing_baseline_give_notes_not_numbers():
    one = pd.concat([planted_points("skin_lesion", "resnet50", "none", 0, [[1, 1, 0, 0, 0]]),
                     planted_points("skin_lesion", "resnet50", "soft_faithful", 0, [[1, 1, 1, 0, 0]]),
                     planted_points("pneumothorax", "resnet50", "soft_faithful", 0, [[1, 1, 1, 0, 0]])])
    per_seed = paired.paired_comparisons(pairs(one))
    row = per_seed[(per_seed["attack"] == "worst_case") & (per_seed["epsilon"] == 0.0025)].iloc[0]
    assert row["n_points"] == 1 and math.isnan(row["ci_low"]) and "no confidence interval" in row["note"]
    notes = unpaired_notes(one, pairs(one))
    assert len(notes) == 1 and notes[0].startswith("pneumothorax/resnet50 soft_faithful")


def test_median_radius_ci_brackets_the_median_and_handles_never_broken_points():
    values = np.array([0.001, 0.002, 0.004, 0.008, np.inf, np.inf, 0.003, 0.0, 0.005])
    median, low, high = paired.median_ci(values)
    assert median == np.median(values) and low <= median <= high
    assert paired.median_ci(np.array([np.inf] * 4)) == (np.inf, np.inf, np.inf)


def test_figures_draw_the_pooled_differences_and_the_radius_curve():
    from analysis import figures

    points = planted_sweep(0.2)
    pooled = paired.pooled_comparisons(paired.paired_comparisons(pairs(points)))
    figure = figures.paired_difference_figure(pooled, "skin_lesion", "resnet50")
    axes = figure.axes[0]
    lines = {}
    for line in axes.get_lines():  # errorbar's caps carry the gid too: the data line comes first
        lines.setdefault(line.get_gid(), line)
    drawn = lines["diff:soft_faithful @ head, worst case (n=3 seeds)"]
    expected = pooled[(pooled["attack"] == "worst_case") & (pooled["epsilon"] > 0)].sort_values("epsilon")
    assert list(drawn.get_ydata()) == pytest.approx(list(expected["difference"]))
    significant = lines["significant:soft_faithful @ head, worst case (n=3 seeds)"]
    assert len(significant.get_xdata()) == int((expected["p_holm"] < 0.05).sum())

    radius = figures.radius_curves(points.assign(radius=np.where(points["attention"] == "none", 0.002, 0.02)),
                                   "skin_lesion", "resnet50")
    curve = {line.get_gid(): line for line in radius.axes[0].get_lines()}["radius:no attention"]
    x, y = curve.get_xdata(), curve.get_ydata()
    assert y[x < 0.002].min() == 1.0 and y[x > 0.002].max() == 0.0  # every point breaks at its radius


def test_runs_without_per_point_outcomes_still_give_a_report_that_says_why():
    from analysis.evidence import gather_evidence
    from analysis.evidence_report import evidence_lines
    from analysis.load import COLUMNS

    rows = [{column: None for column in COLUMNS} | {
        "run_id": f"r{i}", "run_name": f"skin_lesion-resnet50-{attention}-head-s0", "task": "skin_lesion",
        "backbone": "resnet50", "scale": "full", "attention": attention, "placement": "head", "seed": 0,
        "objective_split": "test", "enhancement": "data", "status": "finished", "epsilon": 0.00125, "accuracy": 0.5,
        "pgd_accuracy": 0.5, "pgd_accuracy_same_points": 0.5} for i, attention in enumerate(("none", "soft_faithful"))]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))

    def old_run(run_id):
        raise KeyError("in_ensemble")  # a points.npz from before, or none at all

    evidence = gather_evidence(frame, reader=old_run, sweep="paper_grid")
    assert evidence.points.empty and evidence.pooled.empty
    assert any("no usable robustness/points.npz (KeyError)" in note for note in evidence.notes)
    assert set(evidence.claims["verdict"]) == {claims.NOT_MEASURED} and evidence.claims["p_holm"].isna().all()
    text = "\n".join(evidence_lines(evidence))
    assert "NOT COMPARED" in text and "Cannot tell which units" in text


def test_a_large_consistent_effect_is_decided_at_two_seeds_in_its_own_family():
    """0.9 vs 0.1 in every cell and seed: with Holm over the report's 18 rows and one 0.02 floor every row was
    inconclusive at 2 seeds; within the claim's own family (its two attacks) it is supported."""
    sweep = planted_sweep(0.0, seeds=(0, 1))
    point = sweep["point"].to_numpy()
    robust = np.where(sweep["attention"] == "none", point % 10 == 0, point % 10 != 0)
    sweep["robust"], sweep["pgd_robust"] = robust, robust
    table = claims.verdicts(sweep)
    rows = table[table["claim"] == "skin_resnet_attention_more_robust"]
    assert list(rows["verdict"]) == [claims.SUPPORTED, claims.SUPPORTED]
    assert "Holm over 2 hypotheses" in rows["why"].iloc[0]
