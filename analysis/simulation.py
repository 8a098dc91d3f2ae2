"""Simulated sweeps that run the report's own decision rule (analysis.claims.verdicts_of: the floor, the family, the
correction and each claim's statistic), for its size and power per claim kind (benchmarks/verdict_levels.py,
tests/test_verdict_levels.py).

The design the data has: every seed trains both models and draws its own test split of `points` images (HAM10000 and
Kaggle DR split per seed), on which both models of that seed are evaluated. Seed s gives each model a training
offset (attention d_a ~ N(0, sd_a^2), baseline d_b ~ N(0, sd_b^2)), the same in every cell and attack (the same
trained models); a cell's true accuracies are the scenario's means plus those offsets. On the seed's points the two
models' outcomes are a 2x2 multinomial with P(both robust) = c min(A, B) + (1 - c) A B (c: how alike the two models'
errors are, 0.7), drawn afresh for each cell and attack. sd_a and sd_b are set so that the claim's statistic has the
scenario's training seed SD (0.03) before the test split's binomial noise, which comes on top.

`summed_mcnemar` keeps the older design with images shared by every seed (ChestX-ray14's official test list), to
show that summing McNemar counts over seeds does not hold its level there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import claims

CONCORDANCE = 0.7
SEED_SD = 0.03


@dataclass(frozen=True)
class Scenario:
    """One claim under planted accuracies. cells: (task, backbone, epsilon, baseline mean, attention mean) for every
    cell the claim reads; seed_sd: the training SD of the claim's statistic (`weights`: its component's weights on
    attention and baseline accuracy, which split it between the two models)."""

    name: str
    claim: claims.Claim
    cells: tuple[tuple[str, str, float, float, float], ...]
    weights: tuple[float, float] = (1.0, -1.0)
    seed_sd: float = SEED_SD
    points: int = 1000

    @property
    def model_sds(self) -> tuple[float, float]:
        return tuple(self.seed_sd / (math.sqrt(2) * abs(w)) if w else 0.0 for w in self.weights)


def claim_named(name: str) -> claims.Claim:
    return next(claim for claim in claims.CLAIMS if claim.name == name)


SKIN_BASELINE = (0.6, 0.45, 0.3, 0.2)  # at the ladder 0.00125 .. 0.01


def scenarios(effect: float = 0.10, *, seed_sd: float = SEED_SD, points: int = 1000) -> dict[str, tuple[Scenario,
                                                                                                         Scenario]]:
    """Per claim kind: (the null at the boundary of the claim, the claim true by `effect` on its statistic; for
    "within" and "met_at" the true side is the middle of the band, whose margins are the paper's 0.01 and 0.02)."""
    skin = claim_named("skin_resnet_attention_more_robust")
    dr, chest = claim_named("dr_resnet_20x_at_0.32"), claim_named("chest_resnet_equal_at_0.32")
    within, worse = claim_named("irv2_clean_within_1pct"), claim_named("irv2_chest_attention_worse")
    headline = claim_named("headline_16pct")
    ladder = (0.00125, 0.0025, 0.005, 0.01)
    gain = 1 + headline.threshold

    def pair(name, claim, null_cells, true_cells, weights=(1.0, -1.0)):
        return (Scenario(f"{name}: null", claim, tuple(null_cells), weights, seed_sd, points),
                Scenario(f"{name}: true", claim, tuple(true_cells), weights, seed_sd, points))

    return {
        "greater (a - b, 4 epsilons)": pair(
            "greater", skin, [("skin_lesion", "resnet50", e, b, b) for e, b in zip(ladder, SKIN_BASELINE)],
            [("skin_lesion", "resnet50", e, b, b + effect) for e, b in zip(ladder, SKIN_BASELINE)]),
        "less (a - b)": pair("less", worse, [("pneumothorax", "inception_resnet_v2", 0.005, 0.5, 0.5)],
                             [("pneumothorax", "inception_resnet_v2", 0.005, 0.5, 0.5 - effect)]),
        "ratio (a - 20 b)": pair("ratio", dr, [("diabetic_retinopathy", "resnet50", 0.32, 0.01, 0.20)],
                                 [("diabetic_retinopathy", "resnet50", 0.32, 0.01, 0.20 + effect)],
                                 weights=(1.0, -dr.threshold)),
        "best gain (a - 1.16 b, best of 4)": pair(
            "best gain", headline,
            [(task, "resnet50", e, 0.3, 0.3 * gain) for task in ("skin_lesion", "pneumothorax") for e in ladder[:2]],
            [(task, "resnet50", e, 0.3, 0.3 * gain + effect) for task in ("skin_lesion", "pneumothorax")
             for e in ladder[:2]], weights=(1.0, -gain)),
        "within 0.01 (|a - b|)": pair("within", within, [("skin_lesion", "inception_resnet_v2", 0.0, 0.80, 0.81)],
                                      [("skin_lesion", "inception_resnet_v2", 0.0, 0.80, 0.80)]),
        "met at 0.805 (levels, |a - b| < 0.02)": pair(
            "met at", chest, [("pneumothorax", "resnet50", 0.32, 0.795, 0.815)],
            [("pneumothorax", "resnet50", 0.32, 0.805, 0.805)]),
    }


def simulated_per_seed(scenario: Scenario, seeds: int, runs: int, rng_seed: int = 0) -> pd.DataFrame:
    """`runs` simulated per-seed tables (paired.paired_comparisons' columns the claims read, plus `run`)."""
    rng = np.random.default_rng(rng_seed)
    sd_a, sd_b = scenario.model_sds
    offsets_a = rng.normal(0, sd_a, (runs, seeds, 1))
    offsets_b = rng.normal(0, sd_b, (runs, seeds, 1))
    n = scenario.points
    parts = []
    for task, backbone, epsilon, base, attention in scenario.cells:
        a = np.clip(attention + offsets_a, 0.0005, 0.9995)
        b = np.clip(base + offsets_b, 0.0005, 0.9995)
        a, b = np.broadcast_to(a, (runs, seeds, 2)), np.broadcast_to(b, (runs, seeds, 2))  # 2 attacks
        both = CONCORDANCE * np.minimum(a, b) + (1 - CONCORDANCE) * a * b
        probabilities = np.stack([both, a - both, b - both, 1 - a - b + both], axis=-1)
        counts = rng.multinomial(n, probabilities / probabilities.sum(axis=-1, keepdims=True))
        n11, n10, n01 = counts[..., 0], counts[..., 1], counts[..., 2]
        run, seed, attack = np.meshgrid(np.arange(runs), np.arange(seeds), np.arange(2), indexing="ij")
        attention_acc, baseline_acc = (n11 + n10) / n, (n11 + n01) / n
        parts.append(pd.DataFrame({
            "run": run.ravel(), "task": task, "backbone": backbone, "epsilon": float(epsilon),
            "seed": seed.ravel(), "attack": np.array(["worst_case", "pgd"])[attack.ravel()], "n_points": n,
            "attention_acc": attention_acc.ravel(), "baseline_acc": baseline_acc.ravel(),
            "difference": (attention_acc - baseline_acc).ravel(), "attention_only": n10.ravel(),
            "baseline_only": n01.ravel(), "ci_low": math.nan, "ci_high": math.nan}))
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Rates:
    """Shares of simulated sweeps: the worst-case row supported / contradicted, and any row of the claim's family
    (its attacks) given a verdict of either kind (under a null: the error of the decision)."""

    runs: int
    supported: float
    contradicted: float
    any_verdict: float
    verdicts: pd.DataFrame = field(repr=False)

    @property
    def monte_carlo_se(self) -> float:
        return math.sqrt(max(self.any_verdict * (1 - self.any_verdict), 0.05 * 0.95) / self.runs)


def verdict_rates(scenario: Scenario, seeds: int, runs: int, rng_seed: int = 0) -> Rates:
    """The claims table of every simulated sweep, by the report's own rule (claims.verdicts_of)."""
    per_seed = simulated_per_seed(scenario, seeds, runs, rng_seed)
    tables = [claims.verdicts_of(table, (scenario.claim,), advise=False).assign(run=run)
              for run, table in per_seed.groupby("run", sort=True)]
    table = pd.concat(tables, ignore_index=True)
    decided = table["verdict"].isin([claims.SUPPORTED, claims.CONTRADICTED])
    worst = table[table["attack"] == "worst_case"]
    return Rates(runs, float((worst["verdict"] == claims.SUPPORTED).mean()),
                 float((worst["verdict"] == claims.CONTRADICTED).mean()),
                 float(decided.groupby(table["run"]).any().mean()), table)


def advised_seeds(scenario: Scenario) -> int | None:
    """The seed advice (claims.seeds_needed) from the scenario's true effect and seed SD: what the report would say
    if a sweep showed exactly these. The components' per-seed values are built to have the true means and SDs."""
    tested = []
    family = 2 if all(cell[2] > 0 for cell in scenario.cells) else 1
    sd_a, sd_b = scenario.model_sds
    for index, (_task, _backbone, _epsilon, base, attention) in enumerate(scenario.cells):
        for component in claims.STATISTICS[scenario.claim.statistic](scenario.claim.threshold):
            mean = float(component.values(attention, base))
            floor = _floor(component, attention, base, scenario.points)
            sd = math.sqrt((component.attention * sd_a) ** 2 + (component.baseline * sd_b) ** 2 + floor ** 2)
            values = mean + sd / math.sqrt(2) * np.array([1.0, -1.0])
            tested.append(claims.Tested(component, values, floor, index))
    best_of = len(scenario.cells) if scenario.claim.statistic == "best_gain" else 1
    return claims.seeds_needed(tested, family, best_of)


def _floor(component: claims.Component, attention: float, base: float, points: int) -> float:
    """The component's binomial SE on one seed's points at these true accuracies (the simulation's 2x2 table)."""
    both = CONCORDANCE * min(attention, base) + (1 - CONCORDANCE) * attention * base
    variance = (component.attention ** 2 * attention * (1 - attention) + component.baseline ** 2 * base * (1 - base)
                + 2 * component.attention * component.baseline * (both - attention * base)) / points
    return math.sqrt(max(variance, 0.0))


def summed_mcnemar(runs: int, seeds: int, images: int, *, seed_sd: float = 0.1, image_sd: float = 0.5,
                   alpha: float = 0.05, rng_seed: int = 0) -> float:
    """Share of null sweeps (images shared by every seed and model; image difficulty z_i ~ N(0, 1), model offsets
    N(0, seed_sd^2), per-image noise N(0, image_sd^2); robust when their sum < 0) in which McNemar's test on the
    discordant counts summed over seeds has p < alpha: the pooled test before the seed became the unit."""
    rng = np.random.default_rng(rng_seed)
    difficulty = rng.standard_normal((runs, 1, 1, images))
    offsets = rng.normal(0, seed_sd, (runs, seeds, 2, 1))
    robust = difficulty + offsets + rng.normal(0, image_sd, (runs, seeds, 2, images)) < 0
    attention_only = (robust[:, :, 1] & ~robust[:, :, 0]).sum(axis=(1, 2))
    baseline_only = (robust[:, :, 0] & ~robust[:, :, 1]).sum(axis=(1, 2))
    p = [stats.binomtest(int(x), int(x + y), 0.5).pvalue if x + y else 1.0
         for x, y in zip(attention_only, baseline_only)]
    return float(np.mean(np.asarray(p) < alpha))
