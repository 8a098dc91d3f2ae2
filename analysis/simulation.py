"""Simulated sweeps for checking that the verdict rules hold their level: seeds x shared images x two architectures.

Each image i has a difficulty z_i ~ N(0, 1) shared by every model (the same test images for every seed and model);
each trained model (seed s, architecture a) has its own offset u_sa ~ N(0, seed_sd^2) (seed-to-seed variation) and
per-image noise e_isa ~ N(0, image_sd^2). A point is robust when z_i + u_sa + e_isa < threshold + effect * [a is the
attention model]. The attention model's accuracy gain is `effect` on the probit scale; 0 is the null hypothesis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .paired import seed_t_test


@dataclass(frozen=True)
class Simulated:
    differences: np.ndarray  # (runs, seeds) per-seed accuracy difference, attention - baseline
    attention_only: np.ndarray  # (runs,) discordant counts summed over seeds
    baseline_only: np.ndarray  # (runs,)


def simulate(runs: int, seeds: int, images: int, *, effect: float = 0.0, seed_sd: float = 0.1,
             image_sd: float = 0.5, threshold: float = 0.0, rng_seed: int = 0) -> Simulated:
    rng = np.random.default_rng(rng_seed)
    difficulty = rng.standard_normal((runs, 1, 1, images))
    offsets = rng.normal(0, seed_sd, (runs, seeds, 2, 1))
    noise = rng.normal(0, image_sd, (runs, seeds, 2, images))
    shift = np.array([0.0, effect]).reshape(1, 1, 2, 1)  # index 0: baseline, 1: attention
    robust = difficulty + offsets + noise < threshold + shift
    baseline, attention = robust[:, :, 0], robust[:, :, 1]
    return Simulated(attention.mean(axis=2) - baseline.mean(axis=2),
                     (attention & ~baseline).sum(axis=(1, 2)), (baseline & ~attention).sum(axis=(1, 2)))


def rates(simulated: Simulated, alpha: float = 0.05) -> dict[str, float]:
    """Share of runs in which each rule fires. Before: McNemar on counts summed over seeds (the old pooled p) and
    the old verdict (the seed t-interval excludes 0 upwards and that McNemar p < alpha). After: the t-test over
    seeds (the pooled p now) and the verdict rule (one-sided t-test over seeds, at least 2 seeds)."""
    differences = simulated.differences
    mcnemar = np.array([stats.binomtest(int(a), int(a + b), 0.5).pvalue if a + b else 1.0
                        for a, b in zip(simulated.attention_only, simulated.baseline_only)])
    seeds = differences.shape[1]
    mean, sd = differences.mean(axis=1), differences.std(axis=1, ddof=1)
    low = mean - stats.t.ppf(0.975, seeds - 1) * sd / np.sqrt(seeds)
    pooled = np.array([seed_t_test(row) for row in differences])
    greater = np.array([seed_t_test(row, "greater") for row in differences])
    return {"before: pooled p < alpha": float(np.mean(mcnemar < alpha)),
            "before: supported": float(np.mean((low > 0) & (mcnemar < alpha))),
            "after: pooled p < alpha": float(np.mean(pooled < alpha)),
            "after: supported": float(np.mean(greater < alpha))}
