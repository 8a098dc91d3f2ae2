"""Randomized smoothing in the report: per model, the bracket of its smoothed classifier g (certified lower bound,
empirical upper bound under the EoT attacks) beside the base model f's worst case, and attention vs baseline on
certified accuracy. Unit of replication: the training seed, as in every claim of the report (analysis.claims):
per seed, the attention model's certified accuracy minus the baseline's of the same seed, a Student-t interval and
a two-sided test over those differences with the seed SD floored at the difference's binomial SE on the trial's
certified points (stats.binomial_floor, the two models taken as independent: only their accuracies are logged; no
p-value when the points are unknown); no test below 2 seeds. The seed advice is claims.seeds_needed's for that
test (one hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainables.spec import format_epsilon

from .claims import Component, Tested, seeds_needed
from .stats import binomial_floor, floored_t_test, seed_interval
from .tables import seed_interval_text, variant_label

G_NOT_F = ("The certified accuracy is a guarantee about the smoothed classifier g(x) = argmax_c P(f(x + noise) = c), "
           "not about the base model f: f's robustness is only the attacks' upper bound (its worst case), and g's "
           "true robust accuracy lies between its certified and its empirical (EoT attack) accuracy.")
MODEL = ["task", "backbone", "attention", "placement", "noise_sigma"]
BRACKET_COLUMNS = [*MODEL, "epsilon", "certified", "smoothed", "base", "seeds"]
COMPARISON_COLUMNS = ["task", "backbone", "noise_sigma", "attention", "placement", "epsilon", "difference", "ci_low",
                      "ci_high", "p_value", "seeds", "seeds_needed"]


def bracket_table(smoothing: pd.DataFrame) -> pd.DataFrame:
    """Per model and epsilon: mean over seeds of certified, smoothed (EoT) and base worst-case accuracy."""
    on_ladder = smoothing[smoothing["measure"].isin(["certified", "smoothed", "base"])]
    if on_ladder.empty:
        return pd.DataFrame(columns=BRACKET_COLUMNS)
    wide = on_ladder.pivot_table(index=[*MODEL, "x", "seed"], columns="measure", values="value").reset_index()
    rows = []
    for key, cell in wide.groupby([*MODEL, "x"], sort=True):
        means = {m: float(cell[m].mean()) if m in cell else math.nan for m in ("certified", "smoothed", "base")}
        rows.append({**dict(zip([*MODEL, "epsilon"], key)), "seeds": int(cell["seed"].nunique()), **means})
    return pd.DataFrame(rows, columns=BRACKET_COLUMNS)


def certified_comparison(smoothing: pd.DataFrame) -> pd.DataFrame:
    """Attention minus baseline certified accuracy per task, backbone, sigma and epsilon, paired by seed."""
    certified = smoothing[smoothing["measure"] == "certified"]
    rows = []
    for (task, backbone, sigma), panel in certified.groupby(["task", "backbone", "noise_sigma"], sort=True):
        baseline = panel[panel["attention"] == "none"].set_index(["x", "seed"])["value"]
        # a pair's points: the fewer of its two trials' (each trial certifies its own points of its seed's split)
        counts = panel.groupby(["attention", "placement", "seed"])["points"].first()
        base_counts = counts[counts.index.get_level_values("attention") == "none"].droplevel([0, 1])
        points = {key: float(np.min([value, base_counts.get(key[2], math.nan)])) for key, value in counts.items()}
        for (attention, placement), model in panel[panel["attention"] != "none"].groupby(["attention", "placement"]):
            for epsilon, cell in model.groupby("x"):
                paired = cell.set_index("seed")["value"]
                base = baseline.xs(epsilon, level="x") if epsilon in baseline.index.get_level_values("x") else None
                seeds = sorted(set(paired.index) & set(base.index)) if base is not None else []
                differences = [paired[s] - base[s] for s in seeds]
                pair_points = [points.get((attention, placement, s), math.nan) for s in seeds]
                floor = binomial_floor(1.0, -1.0, [paired[s] for s in seeds], [base[s] for s in seeds], pair_points)
                interval = seed_interval(differences, floor=floor)
                p_value, needed = certified_test([paired[s] for s in seeds], [base[s] for s in seeds], pair_points)
                rows.append({"task": task, "backbone": backbone, "noise_sigma": sigma, "attention": attention,
                             "placement": placement, "epsilon": epsilon, "difference": interval.mean,
                             "ci_low": interval.low, "ci_high": interval.high, "p_value": p_value,
                             "seeds": len(seeds), "seeds_needed": needed})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def certified_p(attention, baseline, points) -> float:
    """Two-sided p over seeds of attention - baseline certified accuracy (per seed's accuracies and certified
    points), the seed SD floored at the difference's binomial SE; NaN below 2 seeds or without the points."""
    attention, baseline, points = (np.asarray(v, dtype=float) for v in (attention, baseline, points))
    if len(attention) < 2 or not np.all(np.isfinite(points)):
        return math.nan
    return floored_t_test(attention - baseline, "two-sided", binomial_floor(1.0, -1.0, attention, baseline, points))


def certified_test(attention, baseline, points) -> tuple[float, int | None]:
    """(certified_p, the seeds claims.seeds_needed advises for that test at the observed effect)."""
    p_value = certified_p(attention, baseline, points)
    if math.isnan(p_value):
        return p_value, None
    differences = np.asarray(attention, dtype=float) - np.asarray(baseline, dtype=float)
    floor = binomial_floor(1.0, -1.0, attention, baseline, points)
    side = "greater" if differences.mean() > 0 else "less"
    return p_value, seeds_needed([Tested(Component(1.0, -1.0, 0.0, side), differences, floor)])


def smoothing_lines(smoothing: pd.DataFrame) -> list[str]:
    """Text tables for the terminal: the brackets and the paired comparison; nothing without certified trials."""
    if smoothing.empty:
        return []
    lines = ["", "Randomized smoothing: certified (lower bound) | smoothed under EoT (upper bound) of g; base f's "
             "worst case", G_NOT_F]
    for row in bracket_table(smoothing).itertuples():
        lines.append(f"  {row.task} {row.backbone} {variant_label(row.attention, row.placement)} sigma "
                     f"{row.noise_sigma:g} eps {format_epsilon(row.epsilon)}: certified {row.certified:.3f} | "
                     f"smoothed {row.smoothed:.3f}; base {row.base:.3f} ({row.seeds} seed(s))")
    comparison = certified_comparison(smoothing)
    if not comparison.empty:
        lines.append("Attention - baseline, certified accuracy, per seed (t-interval over seeds):")
        for row in comparison.itertuples():
            lines.append(f"  {row.task} {row.backbone} sigma {row.noise_sigma:g} "
                         f"{variant_label(row.attention, row.placement)} eps {format_epsilon(row.epsilon)}: "
                         f"{row.difference:+.3f} {seed_interval_text(row)}")
    return lines
