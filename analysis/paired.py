"""Paired comparisons on the same test images: attention variant vs its baseline, per seed and pooled over seeds.

Per (task, backbone, variant, seed, epsilon), on the points both trials evaluated (analysis.points.pairs): a
comparison of two trained models. Difference in robust accuracy (attention - baseline) with a 95 % paired bootstrap
CI over the images (scipy.stats.bootstrap, percentile, N_RESAMPLES resamples, seeded), and McNemar's exact test on
the discordant pairs (statsmodels: the two-sided binomial test of attention-only vs baseline-only successes); the
unit of replication is the image, and the conclusion is about these two models only.
Pooled over seeds: a comparison of two architectures, whose unit of replication is the training run (seed). The
two models of one seed are evaluated on the same points; HAM10000 and Kaggle DR draw their test split per seed
(grouped by lesion / patient), ChestX-ray14 and MedMNIST keep their official test sets, so there the images are
crossed with the seeds. Either way summing discordant counts over seeds treats seeds x images as independent
(anti-conservative: 40 % false positives in a null simulation). Instead each seed gives one paired difference, and
the pooled test is Student's one-sample t-test over the per-seed differences, with its 95 % t-interval (clipped to
[-1, 1]), the seed SD floored at the difference's own binomial SE on a seed's points (stats.binomial_floor: seeds
that agree exactly give no p of 0): it holds its level whatever the image-level correlation, because the seed
differences are independent (tests/test_verdict_levels.py). With one seed there is no pooled p-value (NaN) and the
interval is over images, labelled as two trained models. Holm's correction runs within a family: one task x backbone
x variant (x seed, or pooled) over its epsilons, clean included; analysis.claims corrects over its whole family.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .load import with_recipe
from .stats import binomial_floor, floored_t_test, seed_interval

N_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
ATTACK_COLUMNS = {"worst_case": "robust", "pgd": "pgd_robust"}  # which per-point outcome a comparison reads
MODEL = ("task", "backbone", "scale", "enhancement", "adv_training", "attention", "placement")
COMPARISON_COLUMNS = (*MODEL, "attack", "seed", "epsilon", "n_points", "baseline_acc", "attention_acc",
                      "difference", "ci_low", "ci_high", "attention_only", "baseline_only", "p_value", "p_holm",
                      "note")
POOLED_COLUMNS = (*MODEL, "attack", "epsilon", "n_seeds", "seeds", "n_points", "baseline_acc", "attention_acc",
                  "difference", "ci_low", "ci_high", "ci_over", "attention_only", "baseline_only", "p_value",
                  "p_holm", "note")
PAIRED_DEFINITION = __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()


def mcnemar_exact(attention_only: int, baseline_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none)."""
    from statsmodels.stats.contingency_tables import mcnemar

    return float(mcnemar([[0, baseline_only], [attention_only, 0]], exact=True).pvalue)


def mean_difference(attention, baseline, axis=-1):
    return np.mean(attention, axis=axis) - np.mean(baseline, axis=axis)


def bootstrap_ci(attention: np.ndarray, baseline: np.ndarray, *, n_resamples: int = N_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95 % paired percentile bootstrap CI of mean(attention) - mean(baseline); NaN with fewer than 2 pairs."""
    from scipy.stats import bootstrap

    attention, baseline = np.asarray(attention, dtype=float), np.asarray(baseline, dtype=float)
    if len(attention) < 2:
        return math.nan, math.nan
    differences = attention - baseline
    if np.all(differences == differences[0]):  # every resample has the same mean: the interval is that point
        return float(differences[0]), float(differences[0])
    result = bootstrap((attention, baseline), mean_difference, paired=True, vectorized=True, n_resamples=n_resamples,
                       confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values: the k-th smallest of m is multiplied by m - k + 1, made non-decreasing, capped at 1
    (NaN stays NaN and is not counted in the family). Written out: statsmodels' multipletests runs gc.collect() on
    every call, 0.16 s each, most of the report's time."""
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(values), math.nan)
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(values[finite], kind="stable")]
    scaled = values[order] * (len(order) - np.arange(len(order)))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def compare_pair(attention: np.ndarray, baseline: np.ndarray) -> dict:
    """One (seed, epsilon): accuracies, difference, bootstrap CI, discordant counts, McNemar p."""
    attention, baseline = np.asarray(attention, dtype=bool), np.asarray(baseline, dtype=bool)
    n = len(attention)
    if n == 0:
        return dict(n_points=0, baseline_acc=math.nan, attention_acc=math.nan, difference=math.nan, ci_low=math.nan,
                    ci_high=math.nan, attention_only=0, baseline_only=0, p_value=math.nan, note="no paired points")
    low, high = bootstrap_ci(attention, baseline)
    only_attention, only_baseline = int((attention & ~baseline).sum()), int((baseline & ~attention).sum())
    return dict(n_points=n, baseline_acc=float(baseline.mean()), attention_acc=float(attention.mean()),
                difference=float(attention.mean() - baseline.mean()), ci_low=low, ci_high=high,
                attention_only=only_attention, baseline_only=only_baseline,
                p_value=mcnemar_exact(only_attention, only_baseline),
                note="" if n >= 2 else "1 paired point: no confidence interval")


def paired_comparisons(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per model x attack x seed x epsilon (see the module docstring); p_holm within model x attack x seed."""
    rows = []
    for key, group in with_recipe(pairs).groupby([*MODEL, "seed", "epsilon"], sort=True):
        *model, seed, epsilon = key
        for attack, column in ATTACK_COLUMNS.items():
            rows.append({**dict(zip(MODEL, model)), "attack": attack, "seed": int(seed), "epsilon": float(epsilon),
                         **compare_pair(group[column].to_numpy(), group[f"base_{column}"].to_numpy())})
    frame = pd.DataFrame(rows, columns=[c for c in COMPARISON_COLUMNS if c != "p_holm"])
    frame["p_holm"] = math.nan
    for _, family in frame.groupby([*MODEL, "attack", "seed"], sort=False):
        frame.loc[family.index, "p_holm"] = holm(family["p_value"])
    return frame[list(COMPARISON_COLUMNS)]


def pooled_comparisons(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Per model x attack x epsilon over seeds: with >= 2 seeds the CI is over seeds, with one the image bootstrap."""
    rows = []
    usable = with_recipe(per_seed[per_seed["n_points"] > 0])
    for key, group in usable.groupby([*MODEL, "attack", "epsilon"], sort=True):
        *model, attack, epsilon = key
        seeds = tuple(sorted(int(s) for s in group["seed"]))
        only_attention, only_baseline = int(group["attention_only"].sum()), int(group["baseline_only"].sum())
        if len(group) >= 2:
            interval = seed_interval(group["difference"])  # a difference of accuracies lies in [-1, 1]
            low, high, over, note = max(interval.low, -1.0), min(interval.high, 1.0), "seeds", ""
            p_value = seed_t_test(group["difference"].to_numpy(), "two-sided", difference_floor(group))
        else:
            low, high, over = group["ci_low"].iloc[0], group["ci_high"].iloc[0], "images"
            note = "one seed: two trained models, not two architectures" + (
                f"; {group['note'].iloc[0]}" if group["note"].iloc[0] else "")
            p_value = math.nan
        rows.append({**dict(zip(MODEL, model)), "attack": attack, "epsilon": float(epsilon), "n_seeds": len(group),
                     "seeds": seeds, "n_points": int(group["n_points"].max()),  # the same images in every seed
                     "baseline_acc": float(group["baseline_acc"].mean()),
                     "attention_acc": float(group["attention_acc"].mean()),
                     "difference": float(group["difference"].mean()), "ci_low": float(low), "ci_high": float(high),
                     "ci_over": over, "attention_only": only_attention, "baseline_only": only_baseline,
                     "p_value": p_value, "note": note})
    frame = pd.DataFrame(rows, columns=[c for c in POOLED_COLUMNS if c != "p_holm"])
    frame["p_holm"] = math.nan
    for _, family in frame.groupby([*MODEL, "attack"], sort=False):
        frame.loc[family.index, "p_holm"] = holm(family["p_value"])
    return frame[list(POOLED_COLUMNS)]


def median_ci(values: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED
              ) -> tuple[float, float, float]:
    """(median, 95 % percentile-bootstrap CI low, high) of values (inf allowed: never broken); NaN CI below 2."""
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(values))
    if len(values) < 2 or np.all(values == values[0]):
        return (median, math.nan, math.nan) if len(values) < 2 else (median, median, median)
    # order statistics only: resample ranks (finite), map back to values, so inf radii need no arithmetic
    order = np.sort(values)
    ranks = np.arange(len(order), dtype=float)
    result = bootstrap((ranks,), np.median, vectorized=True, n_resamples=n_resamples, confidence_level=CONFIDENCE,
                       method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval.low, result.confidence_interval.high
    return median, float(order[int(math.floor(low))]), float(order[int(math.ceil(high))])


def seed_t_test(differences: np.ndarray, alternative: str, sd_floor: float) -> float:
    """Student's one-sample t-test of per-seed differences against 0 (the unit: a training run), the seed SD at least
    sd_floor (stats.binomial_floor: the statistic's own binomial SE on a seed's test split; a few seeds that happen to
    agree exactly, e.g. 3 of 64 points in each, are not proof). NaN below 2 seeds and where spread and floor are 0."""
    return floored_t_test(np.asarray(differences, dtype=float), alternative, sd_floor)


def difference_floor(group: pd.DataFrame) -> float:
    """The binomial floor of attention - baseline over the seeds of a per-seed table (paired_comparisons rows)."""
    return binomial_floor(1.0, -1.0, group["attention_acc"], group["baseline_acc"], group["n_points"],
                          group["attention_only"], group["baseline_only"])


def two_level_median_ci(radii_by_seed: list[np.ndarray], *, n_resamples: int = N_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(median, 95 % CI low, high) of the radius over seeds and points: each resample draws seeds with replacement,
    then points with replacement within each drawn seed (two-level bootstrap: seeds are the unit of replication,
    points vary within them). With one seed it is the bootstrap over points."""
    pooled = np.concatenate(radii_by_seed) if radii_by_seed else np.zeros(0)
    if len(pooled) == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(pooled))
    if len(pooled) < 2:
        return median, math.nan, math.nan
    rng = np.random.default_rng(seed)
    medians = np.empty(n_resamples)
    for b in range(n_resamples):
        chosen = rng.integers(0, len(radii_by_seed), len(radii_by_seed))
        draws = [radii_by_seed[s][rng.integers(0, len(radii_by_seed[s]), len(radii_by_seed[s]))] for s in chosen]
        medians[b] = np.median(np.concatenate(draws))
    low, high = np.quantile(medians, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2], method="inverted_cdf")
    return median, float(low), float(high)


def radius_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Per model (seeds pooled): points per seed, median smallest adversarial epsilon with a two-level bootstrap CI
    (seeds, then points within them), share never broken."""
    rows = []
    one_per_point = with_recipe(points.drop_duplicates(["run_id", "point"]))
    for key, group in one_per_point.groupby(list(MODEL), sort=True):
        median, low, high = two_level_median_ci([part["radius"].to_numpy(dtype=float)
                                                 for _, part in group.groupby("seed", sort=True)])
        rows.append({**dict(zip(MODEL, key)), "n_seeds": group["seed"].nunique(),
                     "n_points": int(group.groupby("seed").size().max()),
                     "median_radius": median, "ci_low": low, "ci_high": high,
                     "never_broken": float(np.isinf(group["radius"]).mean())})
    return pd.DataFrame(rows, columns=[*MODEL, "n_seeds", "n_points", "median_radius", "ci_low", "ci_high",
                                       "never_broken"])
