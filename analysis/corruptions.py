"""Natural corruptions in the report: per model, accuracy under each corruption at each severity (seed means), the
corruption errors relative to the sweep's baseline (no attention, same task and backbone), and attention minus
baseline on mean corruption accuracy paired by seed.

Corruption error of model f on corruption c (ImageNet-C, Hendrycks & Dietterich 2019), errors E = 1 - accuracy as
seed means: CE_c = sum_s E^f_{s,c} / sum_s E^base_{s,c}; relative CE_c = sum_s (E^f_{s,c} - E^f_clean) /
sum_s (E^base_{s,c} - E^base_clean) (how much of its clean accuracy the model loses, against how much the baseline
loses); mCE and relative mCE are their means over the corruptions. The baseline's are 1 by definition; below 1 is
more robust than the baseline. E_clean is the clean error of the same points the corruptions ran on.
The paired comparison's unit of replication is the training seed (analysis.claims): per seed, the attention model's
mean corruption accuracy minus the baseline's of the same seed (the same points and the same corrupted images), a
Student-t interval and two-sided test over those differences (paired.seed_t_test, the seed SD floored at the
binomial SE of the seed's points, stats.binomial_floor); no test below 2 seeds.
"""

from __future__ import annotations

import math

import pandas as pd

from .claims import Component, Tested, seeds_needed
from .load import with_recipe
from .paired import seed_t_test
from .stats import binomial_floor, seed_interval
from .tables import model_label, number, seed_interval_text

AVERAGE_VS_WORST = ("Corruptions measure average-case natural robustness: accuracy under common acquisition artefacts "
                    "(noise, blur, compression, the modality's own) at five severities, averaged. The attacks measure "
                    "the worst case: the lowest accuracy any perturbation within the epsilon ball reaches. A model "
                    "can rank differently on the two; neither stands in for the other.")
MODEL = ["task", "backbone", "attention", "placement", "adv_training"]  # a recipe's models: compared within it
BASELINE = ("none", "head")
CELL_COLUMNS = [*MODEL, "corruption", "severity", "accuracy", "seeds"]
ERROR_COLUMNS = [*MODEL, "corruption", "ce", "relative_ce"]
SUMMARY_COLUMNS = [*MODEL, "seeds", "clean", "mean_corruption_acc", "ci_low", "ci_high", "mce", "relative_mce"]
COMPARISON_COLUMNS = ["task", "backbone", "attention", "placement", "adv_training", "difference", "ci_low", "ci_high",
                      "p_value",
                      "seeds", "seeds_needed"]


def corruption_cells(corruptions: pd.DataFrame) -> pd.DataFrame:
    """Per model x corruption x severity: accuracy, mean over seeds; severity 0 is the clean accuracy of the same
    points (corruption "clean")."""
    corruptions = with_recipe(corruptions)
    if corruptions.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    clean = corruptions.drop_duplicates("run_id").assign(corruption="clean", severity=0,
                                                         accuracy=lambda f: f["clean_accuracy"])
    both = pd.concat([clean, corruptions], ignore_index=True)
    cells = both.groupby([*MODEL, "corruption", "severity"], sort=True).agg(
        accuracy=("accuracy", "mean"), seeds=("seed", "nunique")).reset_index()
    return cells[CELL_COLUMNS]


def corruption_errors(corruptions: pd.DataFrame) -> pd.DataFrame:
    """Per model x corruption: CE and relative CE against the baseline of its task and backbone (module docstring);
    NaN without a baseline, or where the baseline lost nothing (relative CE)."""
    cells = corruption_cells(corruptions)
    rows = []
    for (task, backbone, recipe), panel in cells.groupby(["task", "backbone", "adv_training"], sort=True):
        base = panel[(panel["attention"] == BASELINE[0]) & (panel["placement"] == BASELINE[1])]
        base_error = 1 - base.set_index(["corruption", "severity"])["accuracy"]
        base_clean = float(base_error.get(("clean", 0), math.nan))
        for (attention, placement), model in panel.groupby(["attention", "placement"], sort=True):
            error = 1 - model.set_index(["corruption", "severity"])["accuracy"]
            clean = float(error.get(("clean", 0), math.nan))
            for corruption in sorted(set(model["corruption"]) - {"clean"}):
                own = error.xs(corruption, level="corruption")
                theirs = base_error.xs(corruption, level="corruption") if corruption in base_error.index else None
                if theirs is None or set(theirs.index) != set(own.index):
                    ce = relative = math.nan
                else:
                    ce = ratio(own.sum(), theirs.sum())
                    relative = ratio((own - clean).sum(), (theirs - base_clean).sum())
                rows.append({"task": task, "backbone": backbone, "attention": attention, "placement": placement,
                             "adv_training": recipe, "corruption": corruption, "ce": ce, "relative_ce": relative})
    return pd.DataFrame(rows, columns=ERROR_COLUMNS)


def ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator and math.isfinite(denominator) else math.nan


def model_summary(corruptions: pd.DataFrame) -> pd.DataFrame:
    """Per model: seeds, clean accuracy of the corruption points, mean corruption accuracy with its 95 % t-interval
    over seeds, mCE and relative mCE against the baseline."""
    if corruptions.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    corruptions = with_recipe(corruptions)
    errors = corruption_errors(corruptions)
    per_seed = per_seed_means(corruptions)
    rows = []
    for key, model in per_seed.groupby(MODEL, sort=True):
        interval = seed_interval(model["mean_corruption_acc"])
        own = errors[(errors[MODEL] == pd.Series(dict(zip(MODEL, key)))).all(axis=1)]
        rows.append({**dict(zip(MODEL, key)), "seeds": interval.n, "clean": float(model["clean"].mean()),
                     "mean_corruption_acc": interval.mean, "ci_low": interval.low, "ci_high": interval.high,
                     "mce": float(own["ce"].mean()) if len(own) else math.nan,
                     "relative_mce": float(own["relative_ce"].mean()) if len(own) else math.nan})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def per_seed_means(corruptions: pd.DataFrame) -> pd.DataFrame:
    """Per trial: its mean corruption accuracy (over corruptions x severities) and its clean accuracy."""
    grouped = with_recipe(corruptions).groupby(["run_id", *MODEL, "seed"], sort=True)
    return grouped.agg(mean_corruption_acc=("accuracy", "mean"), clean=("clean_accuracy", "first"),
                       points=("points", "first")).reset_index()


def attention_comparison(corruptions: pd.DataFrame) -> pd.DataFrame:
    """Attention minus baseline on mean corruption accuracy per task and backbone, paired by seed."""
    if corruptions.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    per_seed = per_seed_means(corruptions)
    rows = []
    for (task, backbone, recipe), panel in per_seed.groupby(["task", "backbone", "adv_training"], sort=True):
        is_base = (panel["attention"] == BASELINE[0]) & (panel["placement"] == BASELINE[1])
        baseline = panel[is_base].set_index("seed")["mean_corruption_acc"]
        points = panel[is_base].set_index("seed")["points"]
        for (attention, placement), model in panel[~is_base].groupby(["attention", "placement"], sort=True):
            paired = model.set_index("seed")["mean_corruption_acc"]
            seeds = sorted(set(paired.index) & set(baseline.index))
            if not seeds:  # no baseline trained with any of its seeds: nothing to pair
                continue
            differences = [paired[s] - baseline[s] for s in seeds]
            # the floor of one corruption cell on the seed's points, models taken as independent: a mean over
            # corruptions x severities varies less, so the floor is conservative
            floor = binomial_floor(1.0, -1.0, [paired[s] for s in seeds], [baseline[s] for s in seeds],
                                   [points[s] for s in seeds])
            interval = seed_interval(differences, floor=floor)
            side = "greater" if interval.mean >= 0 else "less"
            advice = Tested(Component(1.0, -1.0, 0.0, side), [float(d) for d in differences], floor)
            rows.append({"task": task, "backbone": backbone, "attention": attention, "placement": placement,
                         "adv_training": recipe, "difference": interval.mean, "ci_low": interval.low,
                         "ci_high": interval.high,
                         "p_value": seed_t_test(differences, "two-sided", floor), "seeds": len(seeds),
                         "seeds_needed": seeds_needed([advice]) if len(seeds) > 1 else None})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def panels(corruptions: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(set(zip(corruptions["task"], corruptions["backbone"])))


def corruption_lines(corruptions: pd.DataFrame) -> list[str]:
    """Text tables for the terminal; nothing when no trial measured corruptions."""
    if corruptions.empty:
        return []
    lines = ["", "Natural corruptions (mean over corruptions x severities 1-5; mCE, relative mCE vs no attention)",
             AVERAGE_VS_WORST]
    for row in model_summary(corruptions).itertuples():
        interval = f" [{row.ci_low:.3f}, {row.ci_high:.3f}]" if row.seeds > 1 else ""
        label = model_label(row.attention, row.placement, row.adv_training)
        lines.append(f"  {row.task} {row.backbone} {label}: clean "
                     f"{row.clean:.3f}, mean corruption acc {row.mean_corruption_acc:.3f}{interval}, mCE "
                     f"{row.mce:.2f}, relative mCE {row.relative_mce:.2f} ({row.seeds} seed(s))")
    comparison = attention_comparison(corruptions)
    if not comparison.empty:
        lines.append("Attention - baseline, mean corruption accuracy, per seed (t-interval over seeds):")
        for row in comparison.itertuples():
            label = model_label(row.attention, row.placement, row.adv_training)
            lines.append(f"  {row.task} {row.backbone} {label}: {row.difference:+.3f} {seed_interval_text(row)}")
    return lines


def corruption_html(corruptions: pd.DataFrame, table_html) -> str:
    """The report's section (table_html: the report's table renderer); empty without corruption metrics."""
    if corruptions is None or corruptions.empty:
        return ""
    import html

    summary = [[html.escape(f"{r.task}, {r.backbone}"),
                html.escape(model_label(r.attention, r.placement, r.adv_training)),
                str(r.seeds), number(r.clean), number(r.mean_corruption_acc),
                f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if r.seeds > 1 else "-", number(r.mce, 2),
                number(r.relative_mce, 2)] for r in model_summary(corruptions).itertuples()]
    comparison = [[html.escape(f"{r.task}, {r.backbone}"),
                   html.escape(model_label(r.attention, r.placement, r.adv_training)),
                   f"{r.difference:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if r.seeds > 1 else "-",
                   f"{r.p_value:.3g}" if r.seeds > 1 else "-", str(r.seeds), str(r.seeds_needed or "-")]
                  for r in attention_comparison(corruptions).itertuples()]
    return ("<h2>Natural corruptions: average-case robustness beside the attacks' worst case</h2>\n"
            f"<p><b>{html.escape(AVERAGE_VS_WORST)}</b></p>\n"
            "<p class=\"small\">Mean corruption accuracy: over every corruption of the task at severities 1-5, on the "
            "same seeded points for every model; mCE = mean over corruptions of sum_s error / the baseline's; "
            "relative mCE: the same on the errors added to the clean error (ImageNet-C). Below 1: more robust "
            "than no attention.</p>"
            + table_html(["task, backbone", "model", "seeds", "clean (same points)", "mean corruption acc", "95 % CI",
                          "mCE", "relative mCE"], summary)
            + "<p class=\"small\">Attention - baseline on mean corruption accuracy: per seed, the difference of the "
              "two models trained with that seed; 95 % t-interval and t-test over seeds (the unit of "
              "replication).</p>"
            + table_html(["task, backbone", "attention variant", "difference", "95 % CI", "p", "seeds",
                          "seeds needed"], comparison))


def corruption_figures(corruptions: pd.DataFrame) -> list[tuple[object, str, str]]:
    """(figure, file stem, caption) of the heat maps, one per task x backbone (a panel per model)."""
    from . import figures

    if corruptions is None or corruptions.empty:
        return []
    cells = corruption_cells(corruptions)
    return [(figures.corruption_heatmap(cells, task, backbone), f"corruptions_{task}_{backbone}",
             f"{backbone}, {task}: accuracy per corruption x severity per model (mean over seeds; 0 = clean, the "
             f"same points)") for task, backbone in panels(corruptions)]
