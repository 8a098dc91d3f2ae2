"""The paper's claims (abstract and section 4), each read as the paper states it and checked over training runs.

`verdicts(points)` is the one entry: from a per-point frame (analysis.points, with `trusted`) it pairs each trusted
attention trial with its trusted baseline (same task, backbone, seed, points), compares them per seed
(analysis.paired) and decides every claim for the worst case and for the paper's PGD. `verdicts_of(per_seed)` runs
the same rule on a per-seed table; analysis.simulation runs it on simulated sweeps (benchmarks/verdict_levels.py).

The unit of replication is the training run: a claim about architectures is a claim over seeds. Each claim is a
statistic per seed (STATISTICS: linear components of the two accuracies, e.g. a - b, a - 20 b, a - 0.855), tested
with Student's one-sample t-test over the seeds on each side, the seed SD floored at the component's own binomial
SE on one seed's test points (stats.binomial_floor: scale-aware, so a - 20 b gets a floor 20 times b's), with a 95 %
t-interval of attention - baseline over seeds. HAM10000 and Kaggle DR draw their test split per seed, so the seeds'
statistics are independent and the test holds its level (tests/test_verdict_levels.py).

The decision: each row (claim x task x attack) gets one two-sided p, twice the smaller of its two one-sided p's
(claimed side: the largest component p, an intersection-union test; opposite side: Bonferroni over the
components), so "supported" and "contradicted" share one error budget of ALPHA. Holm's correction runs within the
claim's own family, one claim on one task: its attacks (worst case and PGD: two hypotheses; on clean accuracy one).
So each claim on each task gets a wrong verdict of either kind with probability <= ALPHA; the report's claims are
separate statements, not one family (with 18 p-values in one family no claim could be decided at 2-5 seeds).

    supported       >= 2 seeds, Holm's p < ALPHA and the claimed side the smaller p
    contradicted    >= 2 seeds, Holm's p < ALPHA and the opposite side the smaller p
    inconclusive    neither; with one seed always (it compares two trained models, not two architectures); the why
                    and `seeds_needed` give the seeds this rule needs for the observed effect at 80 % power
                    (seeds_needed simulates the rule itself, floor and family included)
    not measured    no trusted paired trials at the claim's epsilon (untrusted trials are named in the report)

A claim's epsilon is looked up on the sweep's ladder as written, else divided by 255 (a sweep that reads the ladder
in [0, 255] units, e.g. paper_grid_255). To add a claim: one `Claim(...)` naming a key of STATISTICS (or a new
entry there: threshold -> components) in CLAIMS, or pass your own tuple of claims to `verdicts_of`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paired, paper_numbers
from .stats import binomial_floor, floored_t_test, seed_interval
from .points import pairs

ALPHA = 0.05
POWER = 0.8
# training seed-to-seed SD of an accuracy difference, assumed for the seed advice where one seed cannot show it
# (Picard 2021's order); with two seeds or more the observed SD (floored) is used
ASSUMED_SEED_SD = 0.02
MAX_ADVISED_SEEDS = 50  # the seed advice searches up to here
LEVEL_MARGIN = 0.05  # "met at 0.805": each model within this of the stated level
EQUAL_MARGIN = 0.02  # ... and the two within this of each other
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED = "supported", "contradicted", "inconclusive", "not measured"
VERDICT_COLUMNS = ("claim", "attack", "n_seeds", "difference", "ci_low", "ci_high", "p_holm", "verdict", "why",
                   "paper_says", "reading", "task", "backbone", "epsilon", "baseline_acc", "attention_acc",
                   "seeds_needed")


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


# --- per-seed statistics. A statistic is a list of linear components of the two accuracies of one seed (attention a,
# baseline b): attention * a + baseline * b + constant, whose mean over seeds must lie on `side` of 0 for the claim;
# every component of every cell must hold (an intersection-union test: the largest p). A new claim names a key of
# STATISTICS (or adds one: threshold -> components) and a threshold; nothing else.

@dataclass(frozen=True)
class Component:
    attention: float  # weight of the attention model's accuracy
    baseline: float  # weight of the baseline's
    constant: float
    side: str  # "greater" or "less": where the mean must lie for the claim

    def values(self, attention_acc, baseline_acc) -> np.ndarray:
        return (self.attention * np.asarray(attention_acc, float) + self.baseline * np.asarray(baseline_acc, float)
                + self.constant)

    def floor(self, cell: pd.DataFrame) -> float:
        """Its seed SD floor on this cell's seeds (stats.binomial_floor, from each seed's paired counts)."""
        return binomial_floor(self.attention, self.baseline, cell["attention_acc"], cell["baseline_acc"],
                              cell["n_points"], cell["attention_only"], cell["baseline_only"])


def _band(attention: float, baseline: float, level: float, margin: float) -> list[Component]:
    """attention * a + baseline * b within +-margin of level (two one-sided components)."""
    return [Component(attention, baseline, -(level + margin), "less"),
            Component(attention, baseline, -(level - margin), "greater")]


STATISTICS: dict[str, Callable[[float], list[Component]]] = {
    "greater": lambda t: [Component(1.0, -1.0, 0.0, "greater")],
    "less": lambda t: [Component(1.0, -1.0, 0.0, "less")],
    "ratio_above": lambda t: [Component(1.0, -t, 0.0, "greater")],
    "within": lambda t: _band(1.0, -1.0, 0.0, t),
    "met_at": lambda t: [*_band(1.0, 0.0, t, LEVEL_MARGIN), *_band(0.0, 1.0, t, LEVEL_MARGIN),
                         *_band(1.0, -1.0, 0.0, EQUAL_MARGIN)],
    "best_gain": lambda t: [Component(1.0, -(1.0 + t), 0.0, "greater")],
}
OPPOSITE = {"greater": "less", "less": "greater"}


@dataclass(frozen=True)
class Tested:
    """One component on one cell's seeds: its per-seed values, its floor, and the SD the test used."""

    component: Component
    values: np.ndarray  # (S,)
    floor: float
    cell: int = 0  # which cell of the claim (components of one cell read the same outcomes)

    @property
    def sd(self) -> float:
        """The seed SD the test uses: max(sample SD, floor); with one seed the floor and an assumed training SD."""
        if len(self.values) >= 2:
            return max(float(np.std(self.values, ddof=1)), self.floor)
        training = ASSUMED_SEED_SD * math.hypot(self.component.attention, self.component.baseline) / math.sqrt(2)
        return math.hypot(self.floor, training) if math.isfinite(self.floor) else training

    def p(self, side: str) -> float:
        return floored_t_test(self.values, side, self.floor)


def tested_components(statistic: str, threshold: float, cell: pd.DataFrame, index: int = 0) -> list[Tested]:
    a, b = cell["attention_acc"].to_numpy(float), cell["baseline_acc"].to_numpy(float)
    return [Tested(c, c.values(a, b), c.floor(cell), index) for c in STATISTICS[statistic](threshold)]


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


def component_test(tested: list[Tested]) -> tuple[float, float]:
    """(p on the claimed side: the largest component p, an intersection-union test; p on the opposite side: the
    smallest opposite p, Bonferroni over the components). NaN below 2 seeds."""
    claimed = [t.p(t.component.side) for t in tested]
    opposite = [t.p(OPPOSITE[t.component.side]) for t in tested]
    if not tested or any(math.isnan(p) for p in claimed + opposite):
        return math.nan, math.nan
    return max(claimed), min(1.0, len(opposite) * min(opposite))


def seeds_needed(tested: list[Tested], hypotheses: int = 1, best_of: int = 1, *, runs: int = 4000,
                 rng_seed: int = 0) -> int | None:
    """Seeds the decision needs to decide the claim with POWER, found by simulating the rule itself on normal seeds:
    each component keeps its observed mean, seed SD (Tested.sd, the floor included) and floor; the SD splits into a
    training part shared by every cell and attack (the same trained models) and the binomial part (the floor),
    drawn afresh per cell and per hypothesis (each attack's own outcomes). Per hypothesis, the claimed side's p is
    floored_t_test's largest over the components (best_of > 1: the smallest over the cells times best_of), doubled
    (two sides, one budget); Holm over the family's `hypotheses` (each given the same effect) decides the first.
    The seed count is found by bisection (the same draws per count, power grows with seeds). None when a mean lies
    on the wrong side or more than MAX_ADVISED_SEEDS would be needed."""
    means = [float(np.mean(t.values)) for t in tested]
    if not tested or any(not math.isfinite(m) or not math.isfinite(t.sd) for m, t in zip(means, tested)):
        return None
    if best_of == 1 and any((m <= 0) if t.component.side == "greater" else (m >= 0) for m, t in zip(means, tested)):
        return None
    cells = sorted({t.cell for t in tested})

    def power(seeds: int) -> float:
        rng = np.random.default_rng([rng_seed, seeds])
        training = rng.standard_normal((runs, seeds))
        p = np.empty((hypotheses, runs))
        for h in range(hypotheses):
            noise = {cell: rng.standard_normal((runs, seeds)) for cell in cells}
            cell_p = {cell: np.zeros(runs) for cell in cells}
            for mean, t in zip(means, tested):
                spread = math.sqrt(max(t.sd ** 2 - t.floor ** 2, 0.0))
                values = mean + spread * training + t.floor * noise[t.cell]
                cell_p[t.cell] = np.maximum(cell_p[t.cell], floored_t_test(values, t.component.side, t.floor))
            stacked = np.stack([cell_p[cell] for cell in cells])
            p[h] = np.minimum(1.0, best_of * stacked.min(axis=0)) if best_of > 1 else stacked.max(axis=0)
        return float(np.mean(holm_first(np.minimum(1.0, 2 * p)) < ALPHA))

    if power(MAX_ADVISED_SEEDS) < POWER:
        return None
    low, high = 1, MAX_ADVISED_SEEDS  # power(low) < POWER <= power(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power(middle) >= POWER else (middle, high)
    return high


def holm_first(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p of the first of H hypotheses (axis 0) in each of many families (axis 1)."""
    order = np.argsort(p, axis=0, kind="stable")
    ranked = np.take_along_axis(p, order, axis=0) * (len(p) - np.arange(len(p)))[:, None]
    adjusted = np.minimum(np.maximum.accumulate(ranked, axis=0), 1.0)
    first = np.argmax(order == 0, axis=0)
    return np.take_along_axis(adjusted, first[None, :], axis=0)[0]


def advice(needed: int | None) -> str:
    return (f"about {needed} seeds for {POWER:.0%} power at the observed effect and seed SD" if needed
            else f"more than {MAX_ADVISED_SEEDS} seeds for {POWER:.0%} power (or no effect on the claimed side)")


def one_seed_why(tested: list[Tested], hypotheses: int, cells: int = 1) -> tuple[str, int | None]:
    needed = seeds_needed(tested, hypotheses, cells)
    return ("one seed compares two trained models, not two architectures (see the per-seed table); "
            + advice(needed) + f" (training seed SD {ASSUMED_SEED_SD:g} of a difference assumed, on top of the "
            "binomial floor)"), needed


def cell_values(per_seed: pd.DataFrame, task, backbone, epsilon: float) -> pd.DataFrame:
    return per_seed[(per_seed["task"] == task) & (per_seed["backbone"] == backbone)
                    & np.isclose(per_seed["epsilon"], epsilon)].sort_values("seed")


def claim_row(claim: Claim, attack: str, *, task, backbone, epsilon, reading, cells: list[pd.DataFrame],
              p_claimed: float = math.nan, p_opposite: float = math.nan, note: str = "",
              tested: list[Tested] = (), best_of: int = 1) -> dict:
    """One verdict row before the decision: the first cell carries the shown difference, interval and accuracies.
    tested: the components the claimed side rests on (for the seed advice); best_of: cells a best cell is chosen
    from (its Bonferroni factor)."""
    base = {"claim": claim.name, "attack": attack, "paper_says": claim.paper_says, "reading": reading or claim.reading,
            "task": task, "backbone": backbone, "epsilon": epsilon, "p_claimed": p_claimed,
            "p_opposite": p_opposite, "note": note, "tested": list(tested), "best_of": best_of}
    if not cells or cells[0].empty:
        return {**base, "n_seeds": 0, "difference": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "baseline_acc": math.nan, "attention_acc": math.nan}
    cell = cells[0]
    differences = cell["difference"].to_numpy(dtype=float)
    if len(differences) >= 2:
        floor = binomial_floor(1.0, -1.0, cell["attention_acc"], cell["baseline_acc"], cell["n_points"],
                               cell["attention_only"], cell["baseline_only"])
        interval = seed_interval(differences, floor=floor)  # the shown difference's own floor, as its test's
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
    tested = [t for index, cell in enumerate(cells)
              for t in tested_components(claim.statistic, claim.threshold, cell, index)]
    p_claimed, p_opposite = component_test(tested)
    span = f"eps {format(epsilons[0], 'g')}..{format(epsilons[-1], 'g')}" if len(epsilons) > 1 else ""
    return claim_row(claim, attack, **where, reading=f"{claim.reading} ({reading}{'; ' + span if span else ''})",
                     cells=cells, p_claimed=p_claimed, p_opposite=p_opposite, tested=tested)


def check_best_gain(claim: Claim, per_seed: pd.DataFrame, attack: str) -> dict:
    """The best cell's p, Bonferroni over the cells, on the claimed side; on the opposite side every cell must fall
    short (the largest opposite p)."""
    attacked = per_seed[per_seed["epsilon"] > 0]
    if attacked.empty:
        return claim_row(claim, attack, task="any", backbone="any", epsilon=math.nan, reading="", cells=[],
                         note="no trusted paired trials under attack")
    cells = [cell.sort_values("seed") for _, cell in attacked.groupby(["task", "backbone", "epsilon"], sort=True)]
    tested = []
    for index, cell in enumerate(cells):
        (component,) = tested_components(claim.statistic, claim.threshold, cell, index)
        tested.append((component.p("greater"), component.p("less"), float(component.values.mean()), cell,
                       component))
    best_p, _, _, best, best_component = min(
        tested, key=lambda item: (math.inf if math.isnan(item[0]) else item[0], -item[2]))
    if math.isnan(best_p):  # one seed: show the cell with the largest relative gain
        best_p, _, _, best, best_component = max(tested, key=lambda item: item[2])
    p_claimed = min(1.0, len(cells) * best_p) if not math.isnan(best_p) else math.nan
    opposite = [item[1] for item in tested]
    p_opposite = math.nan if any(math.isnan(p) for p in opposite) else max(opposite)
    row = claim_row(claim, attack, task=best["task"].iloc[0], backbone=best["backbone"].iloc[0],
                    epsilon=float(best["epsilon"].iloc[0]), reading="", cells=[best], p_claimed=p_claimed,
                    p_opposite=p_opposite, tested=[item[4] for item in tested], best_of=len(cells))
    row["note"] = f"the best of {len(cells)} cells"
    return row


def hypothesis(row: dict) -> tuple:
    """A family is one claim on one task; each attack is one hypothesis in it, except on clean accuracy, where the
    attacks read the same outcomes and make one."""
    return (row["claim"], row["task"], "clean" if row["epsilon"] == 0 else row["attack"])


def decide(frame: pd.DataFrame, *, advise: bool = True) -> pd.DataFrame:
    """The decision rule (module docstring): one two-sided p per row, Holm within its family, then the verdicts,
    their reasons and (advise) the seed advice, which changes no verdict (the simulations leave it out)."""
    frame = frame.copy()
    records = frame.to_dict("records")
    p_claimed, p_opposite = frame["p_claimed"].to_numpy(float), frame["p_opposite"].to_numpy(float)
    two_sided = np.minimum(1.0, 2 * np.fmin(p_claimed, p_opposite))
    claimed_side = ~(p_opposite < p_claimed)  # NaN opposite: the claimed side
    keys = [hypothesis(row) for row in records]
    families = [key[:2] for key in keys]
    p_holm, family_size = np.full(len(frame), math.nan), np.ones(len(frame), dtype=int)
    for family in dict.fromkeys(families):
        members = [i for i, f in enumerate(families) if f == family]
        hypotheses = list(dict.fromkeys(keys[i] for i in members))
        p_of = {h: max((two_sided[i] for i in members if keys[i] == h), key=lambda p: -1 if math.isnan(p) else p)
                for h in hypotheses}
        adjusted = dict(zip(hypotheses, paired.holm([p_of[h] for h in hypotheses])))
        for i in members:
            p_holm[i], family_size[i] = adjusted[keys[i]], len(hypotheses)
    frame["p_holm"] = p_holm
    verdicts, whys, needed_column = [], [], []
    for i, row in enumerate(records):
        levels = (f"baseline {row['baseline_acc']:.3f}, attention {row['attention_acc']:.3f}"
                  if not math.isnan(row["baseline_acc"]) else "")
        family = f"Holm over {family_size[i]} " + ("hypotheses" if family_size[i] > 1 else "hypothesis")
        needed = None
        if row["n_seeds"] == 0:
            verdict, why = NOT_MEASURED, row["note"]
        elif row["n_seeds"] == 1:
            why, needed = one_seed_why(row["tested"], family_size[i], row["best_of"]) if advise else ("", None)
            verdict = INCONCLUSIVE
        elif p_holm[i] < ALPHA and claimed_side[i]:
            verdict, why = SUPPORTED, f"p {p_holm[i]:.2g} < {ALPHA} ({family}) over {row['n_seeds']} seeds"
        elif p_holm[i] < ALPHA:
            verdict, why = CONTRADICTED, (f"the opposite holds: p {p_holm[i]:.2g} < {ALPHA} ({family}) over "
                                          f"{row['n_seeds']} seeds")
        else:
            needed = seeds_needed(row["tested"], family_size[i], row["best_of"]) if advise else None
            verdict = INCONCLUSIVE
            why = (f"p {p_holm[i]:.2g} >= {ALPHA} ({family}) over {row['n_seeds']} seeds"
                   + (f"; {advice(needed)}" if advise else ""))
        verdicts.append(verdict)
        needed_column.append(needed)
        whys.append("; ".join(part for part in (why, row["note"] if row["n_seeds"] else "", levels) if part))
    frame["verdict"], frame["why"] = verdicts, whys
    frame["seeds_needed"] = pd.array(needed_column, dtype="Int64")
    return frame[list(VERDICT_COLUMNS)].reset_index(drop=True)


def paper_pairs(points: pd.DataFrame) -> pd.DataFrame:
    """Trusted trials only, the paper's attentive model against its baseline, both trained as the paper trained them
    (adv_training "none": adversarially trained pairs are analysis.ablation's)."""
    trusted = points[points["trusted"].astype(bool)] if "trusted" in points else points
    rows = pairs(trusted)
    return rows[(rows["attention"] == paper_numbers.PAPER_ATTENTION)
                & (rows["placement"] == paper_numbers.PAPER_PLACEMENT) & (rows["adv_training"] == "none")]


def claim_rows(per_seed: pd.DataFrame, claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """The rows before the decision, from a per-seed table (paired.paired_comparisons): one per claim (per task for
    a claim over every task) and attack."""
    rows = []
    for attack in paired.ATTACK_COLUMNS:
        attack_rows = per_seed[per_seed["attack"] == attack]
        for claim in claims:
            if claim.statistic == "best_gain":
                rows.append(check_best_gain(claim, attack_rows, attack))
                continue
            tasks = [claim.task] if claim.task else sorted(set(attack_rows["task"])) or ["any"]
            rows += [check_cells(claim, attack_rows, attack, task) for task in tasks]
    return pd.DataFrame(rows)


def verdicts_of(per_seed: pd.DataFrame, claims: tuple[Claim, ...] = CLAIMS, *,
                advise: bool = True) -> pd.DataFrame:
    """The claims table of a per-seed table: what verdicts() runs, and what analysis.simulation runs on simulated
    sweeps (the same rule, not a copy; advise=False leaves out the seed advice, which decides nothing)."""
    return decide(claim_rows(per_seed, claims), advise=advise)


def verdicts(points: pd.DataFrame) -> pd.DataFrame:
    """The claims table of a per-point frame (analysis.points.POINT_COLUMNS with `trusted`): one row per claim (per
    task for a claim over every task) and attack (worst_case, pgd); see the module docstring."""
    return verdicts_of(paired.paired_comparisons(paper_pairs(points)))
