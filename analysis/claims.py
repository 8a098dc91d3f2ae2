"""The paper's claims (abstract and section 4), each checked against the paired comparisons of a sweep.

A claim names a comparison (task, backbone, epsilon, the paper's attentive model against its baseline) and what the
paper says about it. The verdict reads the pooled comparison (analysis.paired: CI over seeds with >= 2 seeds, else
over images) of the worst case, and separately of the paper's PGD:

    greater / less     supported: the CI excludes 0 on the claimed side and Holm's p < ALPHA; contradicted: the
                       CI lies at or beyond 0 on the other side (e.g. both models at 0 in every seed); inconclusive:
                       the CI includes 0
    equivalent(m)      supported: the CI lies inside [-m, m]; contradicted: it lies wholly outside; inconclusive else
    gain_at_least(g)   supported: some (task, backbone, epsilon > 0) has relative gain >= g and a CI above 0;
                       contradicted: none reaches g and none has a CI above 0; inconclusive else

A claim's epsilon is looked up on the sweep's ladder as written, else divided by 255 (a sweep that reads the ladder
in [0, 255] units, e.g. paper_grid_255); "not measured" when the sweep has neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paper_numbers
from .stats import relative_gain

ALPHA = 0.05
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED = "supported", "contradicted", "inconclusive", "not measured"
CLAIM_COLUMNS = ("claim", "paper_says", "source", "task", "backbone", "epsilon", "reading", "attack", "n_seeds",
                 "n_points", "baseline_acc", "attention_acc", "difference", "ci_low", "ci_high", "ci_over",
                 "relative_gain", "p_holm", "verdict", "why")


@dataclass(frozen=True)
class Claim:
    name: str
    paper_says: str
    source: str
    kind: str  # greater | less | equivalent | gain_at_least
    task: str | None = None  # None: every task (gain_at_least), or one row per task (equivalent over tasks)
    backbone: str = "resnet50"
    epsilon: float | None = None  # 0.0: clean accuracy; None: every epsilon > 0 (gain_at_least)
    threshold: float = 0.0  # the margin (equivalent) or the gain (gain_at_least)


CLAIMS: tuple[Claim, ...] = (
    Claim("skin_resnet_attention_more_robust", "ResNet-50, skin lesion: attention more robust from eps 0.00125",
          "section 4.1", "greater", "skin_lesion", "resnet50", 0.00125),
    Claim("dr_resnet_20x_at_0.32", "ResNet-50, diabetic retinopathy: attention over 20x the baseline at eps 0.32",
          "section 4.1", "greater", "diabetic_retinopathy", "resnet50", 0.32),
    Claim("chest_resnet_equal_at_0.32", "ResNet-50, pneumothorax: both models met at 0.805 at eps 0.32",
          "section 4.1", "equivalent", "pneumothorax", "resnet50", 0.32, threshold=0.02),
    Claim("irv2_clean_within_1pct", "InceptionResNetV2: clean accuracy of baseline and attention within 1 %",
          "section 4.2", "equivalent", None, "inception_resnet_v2", 0.0, threshold=0.01),
    Claim("irv2_chest_attention_worse", "InceptionResNetV2, pneumothorax: attention significantly worse under "
          "attack (baseline usable at eps 0.005)", "section 4.2", "less", "pneumothorax", "inception_resnet_v2", 0.005),
    Claim("headline_16pct", "up to +16 % robust accuracy in typical scenarios", "abstract", "gain_at_least",
          threshold=paper_numbers.HEADLINE_GAINS["typical"]),
    Claim("headline_2700pct", "up to +2700 % robust accuracy in extreme cases", "abstract", "gain_at_least",
          threshold=paper_numbers.HEADLINE_GAINS["extreme"]),
)


def paper_rows(pooled: pd.DataFrame, attack: str) -> pd.DataFrame:
    """The paper's attentive model against its baseline."""
    return pooled[(pooled["attack"] == attack) & (pooled["attention"] == paper_numbers.PAPER_ATTENTION)
                  & (pooled["placement"] == paper_numbers.PAPER_PLACEMENT)]


def find_epsilon(available, epsilon: float) -> tuple[float | None, str]:
    """(the sweep's epsilon for a paper epsilon, the reading: "[0, 1]" or "[0, 255]"), (None, "") if absent."""
    available = np.asarray(sorted(available), dtype=float)
    for value, reading in ((epsilon, "[0, 1]"), (epsilon / 255, "[0, 255]")):
        if epsilon == 0.0:
            return (0.0, "clean") if np.any(available == 0.0) else (None, "")
        close = np.isclose(available, value, rtol=1e-6, atol=0)
        if close.any():
            return float(available[close][0]), reading
    return None, ""


def verdict_for(kind: str, low: float, high: float, p_holm: float, threshold: float) -> tuple[str, str]:
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE, "no confidence interval could be computed"
    if kind == "equivalent":
        if -threshold <= low and high <= threshold:
            return SUPPORTED, f"CI inside +-{threshold:g}"
        if low > threshold or high < -threshold:
            return CONTRADICTED, f"CI wholly outside +-{threshold:g}"
        return INCONCLUSIVE, f"CI overlaps the +-{threshold:g} margin"
    claimed_side, other_side = (low > 0, high <= 0) if kind == "greater" else (high < 0, low >= 0)
    if claimed_side and p_holm < ALPHA:
        return SUPPORTED, f"CI excludes 0, Holm p {p_holm:.2g} < {ALPHA}"
    if claimed_side:
        return INCONCLUSIVE, f"CI excludes 0 but Holm p {p_holm:.2g} >= {ALPHA}"
    if other_side:
        return CONTRADICTED, "CI at or beyond 0 on the other side"
    return INCONCLUSIVE, "CI includes 0"


def row(claim: Claim, attack: str, found: pd.Series | None, *, task, backbone, epsilon, reading,
        verdict: str, why: str) -> dict:
    def value(name, default=math.nan):
        return found[name] if found is not None else default

    return {"claim": claim.name, "paper_says": claim.paper_says, "source": claim.source, "task": task,
            "backbone": backbone, "epsilon": epsilon, "reading": reading, "attack": attack,
            "n_seeds": int(value("n_seeds", 0)), "n_points": int(value("n_points", 0)),
            "baseline_acc": value("baseline_acc"), "attention_acc": value("attention_acc"),
            "difference": value("difference"), "ci_low": value("ci_low"), "ci_high": value("ci_high"),
            "ci_over": value("ci_over", ""),
            "relative_gain": relative_gain(value("attention_acc"), value("baseline_acc")),
            "p_holm": value("p_holm"), "verdict": verdict, "why": why}


def check_comparison(claim: Claim, rows: pd.DataFrame, attack: str, task: str) -> dict:
    panel = rows[(rows["task"] == task) & (rows["backbone"] == claim.backbone)]
    epsilon, reading = find_epsilon(panel["epsilon"], claim.epsilon)
    where = dict(task=task, backbone=claim.backbone, epsilon=claim.epsilon if epsilon is None else epsilon,
                 reading=reading)
    if epsilon is None:
        why = ("no paired trials for this task and backbone" if panel.empty
               else f"eps {claim.epsilon:g} (or / 255) is not on this sweep's ladder")
        return row(claim, attack, None, **where, verdict=NOT_MEASURED, why=why)
    found = panel[np.isclose(panel["epsilon"], epsilon)].iloc[0]
    verdict, why = verdict_for(claim.kind, found["ci_low"], found["ci_high"], found["p_holm"], claim.threshold)
    why += f"; baseline {found['baseline_acc']:.3f}, attention {found['attention_acc']:.3f}"
    return row(claim, attack, found, **where, verdict=verdict, why=why)


def check_gain(claim: Claim, rows: pd.DataFrame, attack: str) -> dict:
    attacked = rows[rows["epsilon"] > 0].copy()
    where = dict(task="any", backbone="any", epsilon=math.nan, reading="")
    if attacked.empty:
        return row(claim, attack, None, **where, verdict=NOT_MEASURED, why="no paired trials under attack")
    attacked["gain"] = [relative_gain(a, b) for a, b in zip(attacked["attention_acc"], attacked["baseline_acc"])]
    significant = attacked[(attacked["ci_low"] > 0) & (attacked["p_holm"] < ALPHA)]
    reaching = significant[significant["gain"] >= claim.threshold]
    pick = reaching if len(reaching) else (significant if len(significant) else attacked)
    best = pick.loc[pick["gain"].fillna(-math.inf).idxmax()] if pick["gain"].notna().any() else pick.iloc[0]
    where = dict(task=best["task"], backbone=best["backbone"], epsilon=float(best["epsilon"]), reading="")
    if len(reaching):
        verdict, why = SUPPORTED, f"gain {best['gain']:+.0%} >= {claim.threshold:+.0%} with a CI above 0"
    elif not len(significant) and not (attacked["gain"] >= claim.threshold).any():
        verdict, why = CONTRADICTED, f"no cell reaches {claim.threshold:+.0%} and none has a CI above 0"
    else:
        verdict, why = INCONCLUSIVE, (f"a gain >= {claim.threshold:+.0%} occurs only where the CI includes 0"
                                      if (attacked["gain"] >= claim.threshold).any()
                                      else f"CIs above 0 exist but no gain reaches {claim.threshold:+.0%}")
    return row(claim, attack, best, **where, verdict=verdict, why=why)


def claims_table(pooled: pd.DataFrame) -> pd.DataFrame:
    """One row per claim (per task for a claim over every task) and attack (worst case, the paper's PGD)."""
    out = []
    for attack in ("worst_case", "pgd"):
        rows = paper_rows(pooled, attack)
        for claim in CLAIMS:
            if claim.kind == "gain_at_least":
                out.append(check_gain(claim, rows, attack))
                continue
            tasks = [claim.task] if claim.task else sorted(set(rows["task"])) or ["any"]
            out += [check_comparison(claim, rows, attack, task) for task in tasks]
    return pd.DataFrame(out, columns=list(CLAIM_COLUMNS))
