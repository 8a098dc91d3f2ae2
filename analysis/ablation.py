"""The control claims of an attention ablation (the attention_ablation sweep): is it the attention or the extra
parameters, and how does attention compare with adversarial training?

Three contrasts, each on the same test points of the same seed (analysis.points), decided by analysis.claims' own
rule (claims.verdicts_of: Student's t over the seeds, the seed SD floored at the statistic's binomial SE, the
seed advice simulated), so the seed is the unit of replication as for the paper's claims:

    vs none           each attention variant (param_control included) against no attention, same training recipe
    vs param_control  each attention variant against param_control (soft attention's convolutions and parameter
                      count without its gate), same recipe: the control claim, "the attention or the parameters?"
    adv training      each adversarial recipe (pgd, trades) against standard training, same attention

Each contrast is two statements per task and backbone:

    robust gain   variant - baseline > 0 on worst-case robust accuracy (the worst case over the trial's attacks)
                  at the trials' reference epsilon (the robust objective's, and adversarial training's default)
    clean cost    variant - baseline < 0 on clean accuracy (the same points); "contradicted" = a clean gain

Every statement is its own family of one hypothesis (one accuracy, one epsilon), decided two-sided at claims.ALPHA,
like each of the paper's claims; with one seed it is always inconclusive (two trained models, not two designs).
Only trusted trials (every sanity check passed) enter. Parameter counts differ between the variants (se and cbam
add fewer than soft attention, self_attention many more; param_control matches soft attention's within 1 %), so
only "vs param_control" of soft_faithful is a parameter-matched comparison.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import claims, paired
from .load import STANDARD_TRAINING
from .points import PAIR_KEYS
from .stats import seed_interval
from .tables import number

BASELINE_ATTENTION = "none"
CONTROL_ATTENTION = "param_control"
SOFT_ATTENTIONS = {"soft_faithful", "soft_corrected"}  # the paper's own block: a paper_grid has nothing to ablate
OUTCOMES = ("robust", "pgd_robust", "radius")
ROBUST_GAIN, CLEAN_COST = "robust gain", "clean cost"


@dataclass(frozen=True)
class Contrast:
    name: str
    column: str  # the column the variant and its baseline differ in
    baseline: str
    question: str

    def variants(self, points: pd.DataFrame) -> list[str]:
        excluded = {self.baseline} | ({BASELINE_ATTENTION} if self.baseline == CONTROL_ATTENTION else set())
        return sorted(set(points[self.column]) - excluded)


CONTRASTS = (
    Contrast("vs none", "attention", BASELINE_ATTENTION, "does the block beat no attention?"),
    Contrast("vs param_control", "attention", CONTROL_ATTENTION,
             "is it the attention or the extra parameters? (param_control: soft attention's parameters, no gate)"),
    Contrast("adv training", "adv_training", STANDARD_TRAINING, "does adversarial training beat standard training?"),
)
ABLATION_COLUMNS = ("comparison", "variant", "baseline", "attention", "adv_training", "placement", "statement",
                    *claims.VERDICT_COLUMNS)
TRADEOFF_COLUMNS = ("task", "backbone", "attention", "placement", "adv_training", "epsilon", "n_seeds", "clean",
                    "clean_low", "clean_high", "robust", "robust_low", "robust_high")


@dataclass
class Ablation:
    claims: pd.DataFrame  # ablation_claims
    tradeoff: pd.DataFrame  # tradeoff_table


def ablation_of(points: pd.DataFrame, frame: pd.DataFrame, *, advise: bool = True) -> Ablation | None:
    """The ablation of a loaded sweep (frame: analysis.load's, for the reference epsilons; points: analysis.points');
    None when the sweep ablates nothing (a paper_grid: only none and soft attention, standard training)."""
    if not ablation_ran(points):
        return None
    reference = reference_epsilons(frame)
    return Ablation(ablation_claims(points, reference, advise=advise), tradeoff_table(points, reference))


def ablation_ran(points: pd.DataFrame) -> bool:
    """An ablation to report: an attention variant beyond none and soft attention, or an adversarial recipe."""
    if points is None or points.empty:
        return False
    return bool(set(points["attention"]) - SOFT_ATTENTIONS - {BASELINE_ATTENTION}
                or set(points["adv_training"]) - {STANDARD_TRAINING})


def reference_epsilons(frame: pd.DataFrame) -> dict[str, float]:
    """task -> the reference epsilon its trials logged (the most common one)."""
    known = frame.dropna(subset=["reference_epsilon"]).drop_duplicates("run_id")
    return {task: float(group["reference_epsilon"].mode().iloc[0]) for task, group in known.groupby("task")}


def contrast_pairs(points: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """points.pairs-shaped rows: each variant's points beside its baseline's on the same PAIR_KEYS (the contrast's
    column excepted) and, but for no attention (which has no placement of its own), the same placement; the
    attention and adv_training columns are the variant's."""
    match_placement = not (contrast.column == "attention" and contrast.baseline == BASELINE_ATTENTION)
    keys = [key for key in (*PAIR_KEYS, "attention", *(("placement",) if match_placement else ())) if key !=
            contrast.column]
    base = points[points[contrast.column] == contrast.baseline]
    variant = points[points[contrast.column].isin(contrast.variants(points))]
    carried = list(dict.fromkeys([*keys, "attention", "adv_training", "placement", *OUTCOMES]))
    merged = variant[carried].merge(base[[*keys, *OUTCOMES]].rename(columns={c: f"base_{c}" for c in OUTCOMES}),
                                    on=keys)
    return merged.sort_values([*PAIR_KEYS[:6], "attention", "placement", "epsilon", "point"],
                              kind="stable").reset_index(drop=True)


def statements(task: str, backbone: str, epsilon: float, label: str) -> tuple[claims.Claim, claims.Claim]:
    robust = claims.Claim(
        f"{label}: {ROBUST_GAIN}", f"{label}: higher worst-case robust accuracy", "issue #34 (ablation)",
        f"variant - baseline > 0, worst case over the attacks at the reference epsilon {epsilon:g}", task, backbone,
        epsilon, "greater")
    clean = claims.Claim(f"{label}: {CLEAN_COST}", f"{label}: lower clean accuracy", "issue #34 (ablation)",
                         "variant - baseline < 0 on clean accuracy (contradicted: a clean gain)", task, backbone, 0.0,
                         "less")
    return robust, clean


def recipe_name(adv_training: str) -> str:
    return "standard training" if adv_training == STANDARD_TRAINING else f"{adv_training} training"


def label_of(contrast: Contrast, variant: str, attention: str, adv_training: str) -> str:
    if contrast.column == "attention":
        recipe = "standard" if adv_training == STANDARD_TRAINING else adv_training
        return f"{variant} vs {contrast.baseline} ({recipe} training)"
    return f"{variant} vs standard training ({attention})"


def ablation_claims(points: pd.DataFrame, reference: dict[str, float], *, advise: bool = True) -> pd.DataFrame:
    """Every contrast x variant x task x backbone x statement, decided (module docstring): ABLATION_COLUMNS; empty
    when there is no ablation (ablation_ran)."""
    if not ablation_ran(points):
        return pd.DataFrame(columns=list(ABLATION_COLUMNS))
    trusted = points[points["trusted"].astype(bool)]
    parts = []
    for contrast in CONTRASTS:
        rows = contrast_pairs(trusted, contrast)
        # the statements read clean accuracy and the reference epsilon only (the per-seed bootstrap is the cost)
        rows = rows[(rows["epsilon"] == 0.0) | np.isclose(rows["epsilon"], rows["task"].map(reference).astype(float),
                                                          rtol=1e-6, atol=0)]
        if rows.empty:
            continue
        per_seed = paired.paired_comparisons(rows)
        per_seed = per_seed[per_seed["attack"] == "worst_case"]
        groups = per_seed.groupby(["task", "backbone", "scale", "enhancement", "attention", "adv_training",
                                   "placement"], sort=True)
        for (task, backbone, _, _, attention, adv_training, placement), cell in groups:
            variant = attention if contrast.column == "attention" else adv_training
            label = label_of(contrast, variant, attention, adv_training)
            epsilon = reference.get(task, math.nan)
            verdicts = claims.verdicts_of(cell, statements(task, backbone, epsilon, label), advise=advise)
            verdicts = verdicts[verdicts["attack"] == "worst_case"]
            parts.append(verdicts.assign(
                comparison=contrast.name, variant=variant, baseline=contrast.baseline, attention=attention,
                adv_training=adv_training, placement=placement,
                statement=[ROBUST_GAIN if name.endswith(ROBUST_GAIN) else CLEAN_COST for name in verdicts["claim"]]))
    if not parts:
        return pd.DataFrame(columns=list(ABLATION_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(ABLATION_COLUMNS)]


def tradeoff_table(points: pd.DataFrame, reference: dict[str, float]) -> pd.DataFrame:
    """Per model (task, backbone, attention, placement, adv_training): clean and worst-case robust accuracy at the
    reference epsilon on the worst case's points, mean over seeds (trusted trials) with 95 % t-intervals clipped to
    [0, 1] (NaN with one seed)."""
    if points is None or points.empty:
        return pd.DataFrame(columns=list(TRADEOFF_COLUMNS))
    trusted = points[points["trusted"].astype(bool)]
    per_trial = trusted.groupby(["run_id", "task", "backbone", "attention", "placement", "adv_training", "seed",
                                 "epsilon"], sort=True)["robust"].mean().reset_index()
    rows = []
    model_keys = ["task", "backbone", "attention", "placement", "adv_training"]
    for key, model in per_trial.groupby(model_keys, sort=True):
        epsilon = reference.get(key[0], math.nan)
        clean = seed_interval(model.loc[model["epsilon"] == 0.0, "robust"])
        robust = seed_interval(model.loc[np.isclose(model["epsilon"], epsilon, rtol=1e-6, atol=0), "robust"])
        rows.append({**dict(zip(model_keys, key)), "epsilon": epsilon, "n_seeds": min(clean.n, robust.n),
                     "clean": clean.mean, "clean_low": max(clean.low, 0.0), "clean_high": min(clean.high, 1.0),
                     "robust": robust.mean, "robust_low": max(robust.low, 0.0), "robust_high": min(robust.high, 1.0)})
    return pd.DataFrame(rows, columns=list(TRADEOFF_COLUMNS))


# ---------------------------------------------------------------- what the report shows

def interval_text(low: float, high: float) -> str:
    return f"[{low:+.3f}, {high:+.3f}]" if math.isfinite(low) and math.isfinite(high) else "-"


def ablation_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["task, backbone", "comparison", "statement", "seeds", "baseline", "variant", "difference",
              "95 % CI", "Holm p", "verdict", "seeds needed", "why"]
    rows = [[f"{r.task}, {r.backbone}", r.claim.rsplit(":", 1)[0], r.statement, str(r.n_seeds),
             number(r.baseline_acc), number(r.attention_acc), number(r.difference, sign="+"),
             interval_text(r.ci_low, r.ci_high), number(r.p_holm, 3), r.verdict,
             "-" if pd.isna(r.seeds_needed) else str(int(r.seeds_needed)), r.why] for r in table.itertuples()]
    return header, rows


def ablation_html(table: pd.DataFrame, tradeoff: pd.DataFrame, table_html) -> str:
    """The detail page's tables (table_html: the report's table renderer)."""
    def escaped(rows):
        return [[html.escape(cell) for cell in row] for row in rows]

    parts = [f"<p class=\"small\">{html.escape(DEFINITION)}</p>"]
    for contrast in CONTRASTS:
        part = table[table["comparison"] == contrast.name]
        if part.empty:
            continue
        header, rows = ablation_rows(part)
        parts.append(f"<h2>{html.escape(contrast.name)}: {html.escape(contrast.question)}</h2>"
                     + table_html(header, escaped(rows)))
    parts.append("<h2>Clean and worst-case robust accuracy per model</h2>"
                 + table_html(*tradeoff_rows(tradeoff)))
    return "\n".join(parts)


def tradeoff_rows(tradeoff: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    def cell(mean, low, high):
        return number(mean) + (f" [{low:.3f}, {high:.3f}]" if math.isfinite(low) else "")

    header = ["task, backbone", "attention", "training", "seeds", "clean (95 % CI)", "robust at ref eps (95 % CI)",
              "ref eps"]
    rows = [[html.escape(f"{r.task}, {r.backbone}"), html.escape(f"{r.attention} @ {r.placement}"),
             html.escape(recipe_name(r.adv_training)), str(r.n_seeds), cell(r.clean, r.clean_low, r.clean_high),
             cell(r.robust, r.robust_low, r.robust_high), f"{r.epsilon:g}"] for r in tradeoff.itertuples()]
    return header, rows


def ablation_lines(ablation: Ablation | None) -> list[str]:
    """Text tables for the terminal; nothing without an ablation."""
    if ablation is None:
        return []
    table, tradeoff = ablation.claims, ablation.tradeoff
    lines = ["", "Attention ablation: control claims (seeds are the unit; worst case over the attacks at the "
             "reference epsilon, and clean accuracy)"]
    for r in table.itertuples():
        lines.append(f"  {r.task} {r.backbone} {r.claim}: {number(r.difference, sign='+')} "
                     f"{interval_text(r.ci_low, r.ci_high)} over {r.n_seeds} seed(s): {r.verdict}"
                     + ("" if pd.isna(r.seeds_needed) else f" (about {int(r.seeds_needed)} seeds needed)"))
    lines.append("Clean vs worst-case robust accuracy at the reference epsilon (mean over seeds):")
    for r in tradeoff.itertuples():
        lines.append(f"  {r.task} {r.backbone} {r.attention} @ {r.placement}, {recipe_name(r.adv_training)}: clean "
                     f"{number(r.clean)}, robust {number(r.robust)} at {r.epsilon:g} ({r.n_seeds} seed(s))")
    return lines


def verdict_tally(table: pd.DataFrame) -> str:
    """'vs none: 2 supported, 8 inconclusive; ...' on robust gain, per comparison."""
    parts = []
    for contrast in CONTRASTS:
        counts = table[(table["comparison"] == contrast.name) & (table["statement"] == ROBUST_GAIN)][
            "verdict"].value_counts()
        if len(counts):
            parts.append(f"{contrast.name}: " + ", ".join(
                f"{counts[v]} {v}" for v in (claims.SUPPORTED, claims.CONTRADICTED, claims.INCONCLUSIVE,
                                             claims.NOT_MEASURED) if v in counts))
    return "; ".join(parts)


def ablation_figures(tradeoff: pd.DataFrame) -> list[tuple[object, str, str]]:
    """(figure, file stem, caption) of the trade-off plane, one figure per backbone (a panel per task)."""
    from . import figures

    if tradeoff is None or tradeoff.empty:
        return []
    return [(figures.tradeoff_figure(tradeoff, backbone), f"tradeoff_{backbone}",
             f"{backbone}: clean vs worst-case robust accuracy at the reference epsilon per attention (colour) and "
             f"training recipe (marker), mean over seeds with 95 % t-intervals on both axes (none with one seed; a "
             f"bar leaving the panel is wider than shown); a line joins an attention's standard and adversarial "
             f"training") for backbone in sorted(set(tradeoff["backbone"]))]


DEFINITION = ("Each statement compares a variant with its baseline on the same test points of the same seed; the "
              "seed is the unit of replication (analysis.claims: Student's t over the seeds, the seed SD floored at "
              "the statistic's binomial SE, two-sided at 0.05, one hypothesis per statement). Robust gain: variant "
              "- baseline > 0 on worst-case robust accuracy (the worst case over the trial's attacks) at the "
              "reference epsilon. Clean cost: variant - baseline < 0 on clean accuracy; contradicted = a clean "
              "gain. vs param_control asks whether it is the attention or the extra parameters: param_control has "
              "soft attention's convolutions and parameter count (within 1 %) without its gate; se and cbam add "
              "fewer parameters, self_attention many more. One seed is never enough (two trained models, not two "
              "designs). Only trials whose sanity checks all passed enter.")
