"""The paper's claims (abstract and section 4), each read as the paper states it and checked over training runs.

`verdicts(points)` is the one entry: from a per-point frame (analysis.points, with `trusted`) it pairs each trusted
attention trial with its trusted baseline (same task, backbone, seed, images), compares them per seed
(analysis.paired) and decides every claim for the worst case and for the paper's PGD.

The unit of replication is the training run: a claim about architectures is a claim over seeds. Each claim is a
statistic per seed d_s (e.g. attention minus baseline accuracy), tested with Student's one-sample t-test over the
seeds (one-sided on the claimed side; two one-sided tests for a claim of equality or of a level) and given a 95 %
t-interval over seeds. The images are shared by every seed and model, so the per-seed d_s are the independent units
and the test holds its level (tests/test_verdict_levels.py). Multiplicity: Holm's correction over the whole family the
report tests (every claim x attack row with a p-value), for "supported" and, separately, for "contradicted".

    supported       >= 2 seeds and Holm's p < ALPHA on the claimed side
    contradicted    >= 2 seeds and Holm's p < ALPHA on the opposite side
    inconclusive    neither; with one seed always (it compares two trained models, not two architectures: the why
                    gives the seeds the observed effect would need at 80 % power)
    not measured    no trusted paired trials at the claim's epsilon (untrusted trials are named in the report)

A claim's epsilon is looked up on the sweep's ladder as written, else divided by 255 (a sweep that reads the ladder
in [0, 255] units, e.g. paper_grid_255).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import paired, paper_numbers
from .stats import seed_interval
from .points import pairs

ALPHA = 0.05
POWER = 0.8
# seed-to-seed SD of an accuracy difference: assumed where one seed cannot show it (Picard 2021's order), and the
# floor of the observed one (seeds that agree exactly on a few points prove nothing)
ASSUMED_SEED_SD = 0.02
LEVEL_MARGIN = 0.05  # "met at 0.805": each model within this of the stated level
EQUAL_MARGIN = 0.02  # ... and the two within this of each other
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED = "supported", "contradicted", "inconclusive", "not measured"
VERDICT_COLUMNS = ("claim", "attack", "n_seeds", "difference", "ci_low", "ci_high", "p_holm", "verdict", "why",
                   "paper_says", "reading", "task", "backbone", "epsilon", "baseline_acc", "attention_acc")


@dataclass(frozen=True)
class Claim:
    name: str
    paper_says: str
    source: str
    reading: str  # how it is checked, in words (shown beside it)
    task: str | None  # None: every task (one row per task, or the best cell for a headline)
    backbone: str | None
    epsilon: float | None  # 0.0: clean accuracy; None: every epsilon > 0
    statistic: str  # a key of STATISTICS
    threshold: float = 0.0
    from_epsilon_on: bool = False  # the claim holds at `epsilon` and every larger epsilon of the ladder


CLAIMS: tuple[Claim, ...] = (
    Claim("skin_resnet_attention_more_robust",
          "ResNet-50, skin lesion: attention more robust from eps 0.00125", "section 4.1: \"the attention model "
          "is more robust starting from epsilon 0.00125\"",
          "attention - baseline > 0 at 0.00125 and at every larger ladder epsilon (all must hold: the largest p)",
          "skin_lesion", "resnet50", 0.00125, "greater", from_epsilon_on=True),
    Claim("dr_resnet_20x_at_0.32",
          "ResNet-50, diabetic retinopathy: attention over 20x the baseline at eps 0.32",
          "section 4.1: \"over 20 times the accuracy of the baseline\"",
          "attention - 20 x baseline > 0 at 0.32 (a ratio above 20, baseline 0 included)",
          "diabetic_retinopathy", "resnet50", 0.32, "ratio_above", threshold=20.0),
    Claim("chest_resnet_equal_at_0.32",
          "ResNet-50, pneumothorax: both models met at 0.805 at eps 0.32",
          "section 4.1: \"both models met at an accuracy of 0.805\"",
          f"each model within +-{LEVEL_MARGIN:g} of 0.805 and the two within +-{EQUAL_MARGIN:g} at 0.32 "
          "(two one-sided tests on each; the largest p)",
          "pneumothorax", "resnet50", 0.32, "met_at", threshold=0.805),
    Claim("irv2_clean_within_1pct",
          "InceptionResNetV2: clean accuracy of baseline and attention within 1 %",
          "section 4.2: \"clean accuracy within 1 % of each other\"",
          "|attention - baseline| < 0.01 on clean images (two one-sided tests), per task",
          None, "inception_resnet_v2", 0.0, "within", threshold=0.01),
    Claim("irv2_chest_attention_worse",
          "InceptionResNetV2, pneumothorax: attention significantly worse under attack (baseline usable at eps "
          "0.005)", "section 4.2", "attention - baseline < 0 at 0.005",
          "pneumothorax", "inception_resnet_v2", 0.005, "less"),
    Claim("headline_16pct", "up to +16 % robust accuracy in typical scenarios",
          "abstract: \"up to 16 % in typical scenarios\"",
          "some task x backbone x epsilon > 0 with attention >= 1.16 x baseline; the best cell is chosen, so its p "
          "is Bonferroni-corrected over the cells (the max statistic's bound)",
          None, None, None, "best_gain", threshold=paper_numbers.HEADLINE_GAINS["typical"]),
    Claim("headline_2700pct", "up to +2700 % robust accuracy in extreme cases",
          "abstract: \"up to 2700 % in extreme cases\"",
          "some cell with attention >= 28 x baseline; Bonferroni over the cells, as above",
          None, None, None, "best_gain", threshold=paper_numbers.HEADLINE_GAINS["extreme"]),
)


# --- per-seed statistics: (attention accuracy (S,), baseline accuracy (S,), threshold) -> components, each a
# (statistic per seed (S,), side) whose mean must lie on `side` of 0 for the claim; all components must hold

Component = tuple[np.ndarray, str]
STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray, float], list[Component]]] = {
    "greater": lambda a, b, t: [(a - b, "greater")],
    "less": lambda a, b, t: [(a - b, "less")],
    "ratio_above": lambda a, b, t: [(a - t * b, "greater")],
    "within": lambda a, b, t: [(a - b - t, "less"), (a - b + t, "greater")],
    "met_at": lambda a, b, t: [(a - (t + LEVEL_MARGIN), "less"), (a - (t - LEVEL_MARGIN), "greater"),
                               (b - (t + LEVEL_MARGIN), "less"), (b - (t - LEVEL_MARGIN), "greater"),
                               (a - b - EQUAL_MARGIN, "less"), (a - b + EQUAL_MARGIN, "greater")],
    "best_gain": lambda a, b, t: [(a - (1 + t) * b, "greater")],
}
OPPOSITE = {"greater": "less", "less": "greater"}


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


def component_test(components: list[Component]) -> tuple[float, float]:
    """(p on the claimed side: the largest component p, an intersection-union test; p on the opposite side: the
    smallest opposite p, Bonferroni over the components). NaN below 2 seeds."""
    claimed = [paired.seed_t_test(values, side, ASSUMED_SEED_SD) for values, side in components]
    opposite = [paired.seed_t_test(values, OPPOSITE[side], ASSUMED_SEED_SD) for values, side in components]
    if any(math.isnan(p) for p in claimed):
        return math.nan, math.nan
    return max(claimed), min(1.0, len(opposite) * min(opposite))


def seeds_needed(difference: float, sd: float) -> int | None:
    """Seeds a one-sided t-test at ALPHA needs to find `difference` with POWER, at seed SD `sd`; None beyond 1000."""
    if not difference or not math.isfinite(difference):
        return None
    effect = abs(difference) / max(sd, 1e-9)
    for n in range(2, 1001):
        critical = stats.t.ppf(1 - ALPHA, n - 1)
        if 1 - stats.nct.cdf(critical, n - 1, effect * math.sqrt(n)) >= POWER:
            return n
    return None


def one_seed_why(difference: float) -> str:
    needed = seeds_needed(difference, ASSUMED_SEED_SD)
    return ("one seed compares two trained models, not two architectures (see the per-seed table); "
            + (f"an effect of {difference:+.3f} would need about {needed} seeds at {POWER:.0%} power "
               f"(seed SD {ASSUMED_SEED_SD:g} assumed)" if needed else "no effect to power"))


def cell_values(per_seed: pd.DataFrame, task, backbone, epsilon: float) -> pd.DataFrame:
    return per_seed[(per_seed["task"] == task) & (per_seed["backbone"] == backbone)
                    & np.isclose(per_seed["epsilon"], epsilon)].sort_values("seed")


def claim_row(claim: Claim, attack: str, *, task, backbone, epsilon, reading, cells: list[pd.DataFrame],
              p_claimed: float = math.nan, p_opposite: float = math.nan, note: str = "") -> dict:
    """One verdict row before Holm: the first cell carries the shown difference, interval and accuracies."""
    base = {"claim": claim.name, "attack": attack, "paper_says": claim.paper_says, "reading": reading or claim.reading,
            "task": task, "backbone": backbone, "epsilon": epsilon, "p_claimed": p_claimed,
            "p_opposite": p_opposite, "note": note}
    if not cells or cells[0].empty:
        return {**base, "n_seeds": 0, "difference": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "baseline_acc": math.nan, "attention_acc": math.nan}
    cell = cells[0]
    differences = cell["difference"].to_numpy(dtype=float)
    if len(differences) >= 2:
        interval = seed_interval(differences)
        low, high = max(interval.low, -1.0), min(interval.high, 1.0)
    else:
        low, high = float(cell["ci_low"].iloc[0]), float(cell["ci_high"].iloc[0])
    return {**base, "n_seeds": len(differences), "difference": float(differences.mean()), "ci_low": low,
            "ci_high": high, "baseline_acc": float(cell["baseline_acc"].mean()),
            "attention_acc": float(cell["attention_acc"].mean())}


def check_cells(claim: Claim, per_seed: pd.DataFrame, attack: str, task: str) -> dict:
    panel = per_seed[(per_seed["task"] == task) & (per_seed["backbone"] == claim.backbone)]
    epsilon, reading = find_epsilon(panel["epsilon"].unique(), claim.epsilon)
    where = dict(task=task, backbone=claim.backbone, epsilon=claim.epsilon if epsilon is None else epsilon)
    if epsilon is None:
        note = ("no trusted paired trials for this task and backbone" if panel.empty
                else f"eps {claim.epsilon:g} (or / 255) is not on this sweep's ladder")
        return claim_row(claim, attack, **where, reading="", cells=[], note=note)
    epsilons = [e for e in sorted(panel["epsilon"].unique()) if e >= epsilon] if claim.from_epsilon_on else [epsilon]
    cells = [cell_values(panel, task, claim.backbone, e) for e in epsilons]
    components = [c for cell in cells for c in STATISTICS[claim.statistic](
        cell["attention_acc"].to_numpy(float), cell["baseline_acc"].to_numpy(float), claim.threshold)]
    p_claimed, p_opposite = component_test(components)
    span = f"eps {format(epsilons[0], 'g')}..{format(epsilons[-1], 'g')}" if len(epsilons) > 1 else ""
    return claim_row(claim, attack, **where, reading=f"{claim.reading} ({reading}{'; ' + span if span else ''})",
                     cells=cells, p_claimed=p_claimed, p_opposite=p_opposite)


def check_best_gain(claim: Claim, per_seed: pd.DataFrame, attack: str) -> dict:
    attacked = per_seed[per_seed["epsilon"] > 0]
    if attacked.empty:
        return claim_row(claim, attack, task="any", backbone="any", epsilon=math.nan, reading="", cells=[],
                         note="no trusted paired trials under attack")
    cells = [cell.sort_values("seed") for _, cell in attacked.groupby(["task", "backbone", "epsilon"], sort=True)]
    tested = []
    for cell in cells:
        (values, side), = STATISTICS[claim.statistic](cell["attention_acc"].to_numpy(float),
                                                       cell["baseline_acc"].to_numpy(float), claim.threshold)
        tested.append((paired.seed_t_test(values, side, ASSUMED_SEED_SD), float(values.mean()), cell))
    best_p, _, best = min(tested, key=lambda item: (math.inf if math.isnan(item[0]) else item[0], -item[1]))
    if math.isnan(best_p):  # one seed: show the cell with the largest relative gain
        best = max(cells, key=lambda cell: float(cell["attention_acc"].mean() - (1 + claim.threshold)
                                                 * cell["baseline_acc"].mean()))
    p_claimed = min(1.0, len(cells) * best_p) if not math.isnan(best_p) else math.nan
    row = claim_row(claim, attack, task=best["task"].iloc[0], backbone=best["backbone"].iloc[0],
                    epsilon=float(best["epsilon"].iloc[0]), reading="", cells=[best], p_claimed=p_claimed,
                    p_opposite=math.nan)
    row["note"] = f"the best of {len(cells)} cells"
    return row


def decide(frame: pd.DataFrame) -> pd.DataFrame:
    """Holm over the family (every row with a p-value) on each side, then the verdicts and their reasons."""
    frame = frame.copy()
    frame["p_holm"] = paired.holm(frame["p_claimed"].to_numpy(float))
    opposite = paired.holm(frame["p_opposite"].to_numpy(float))
    verdicts, whys = [], []
    for row, p_against in zip(frame.to_dict("records"), opposite):
        levels = (f"baseline {row['baseline_acc']:.3f}, attention {row['attention_acc']:.3f}"
                  if not math.isnan(row["baseline_acc"]) else "")
        if row["n_seeds"] == 0:
            verdict, why = NOT_MEASURED, row["note"]
        elif row["n_seeds"] == 1:
            verdict, why = INCONCLUSIVE, one_seed_why(row["difference"])
        elif row["p_holm"] < ALPHA:
            verdict, why = SUPPORTED, f"Holm p {row['p_holm']:.2g} < {ALPHA} over {row['n_seeds']} seeds"
        elif p_against < ALPHA:
            verdict, why = CONTRADICTED, f"the opposite holds: Holm p {p_against:.2g} < {ALPHA}"
        else:
            needed = seeds_needed(row["difference"], max(
                (row["ci_high"] - row["ci_low"]) / 2 / stats.t.ppf(0.975, row["n_seeds"] - 1)
                * math.sqrt(row["n_seeds"]), 1e-6))
            verdict, why = INCONCLUSIVE, (f"Holm p {row['p_holm']:.2g} >= {ALPHA} over {row['n_seeds']} seeds"
                                          + (f"; about {needed} seeds for {POWER:.0%} power" if needed else ""))
        verdicts.append(verdict)
        whys.append("; ".join(part for part in (why, row["note"] if row["n_seeds"] else "", levels) if part))
    frame["verdict"], frame["why"] = verdicts, whys
    return frame[list(VERDICT_COLUMNS)].reset_index(drop=True)


def paper_pairs(points: pd.DataFrame) -> pd.DataFrame:
    """Trusted trials only, the paper's attentive model against its baseline."""
    trusted = points[points["trusted"].astype(bool)] if "trusted" in points else points
    rows = pairs(trusted)
    return rows[(rows["attention"] == paper_numbers.PAPER_ATTENTION)
                & (rows["placement"] == paper_numbers.PAPER_PLACEMENT)]


def verdicts(points: pd.DataFrame) -> pd.DataFrame:
    """The claims table of a per-point frame (analysis.points.POINT_COLUMNS with `trusted`): one row per claim (per
    task for a claim over every task) and attack (worst_case, pgd); see the module docstring."""
    per_seed = paired.paired_comparisons(paper_pairs(points))
    rows = []
    for attack in paired.ATTACK_COLUMNS:
        attack_rows = per_seed[per_seed["attack"] == attack]
        for claim in CLAIMS:
            if claim.statistic == "best_gain":
                rows.append(check_best_gain(claim, attack_rows, attack))
                continue
            tasks = [claim.task] if claim.task else sorted(set(attack_rows["task"])) or ["any"]
            rows += [check_cells(claim, attack_rows, attack, task) for task in tasks]
    return decide(pd.DataFrame(rows))
