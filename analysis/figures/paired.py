"""Figures on per-point outcomes: paired differences with their CIs, clinical metrics vs epsilon, radius curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainables.spec import format_epsilon
from trainables.spec.tasks import get_task

from ..tables import variant_label, variants
from .base import empty, new_figure, pretty

ATTACK_STYLE = {"worst_case": ("-", "o", "worst case"), "pgd": ("--", "s", "paper's PGD")}


def log_ticks(axes, epsilons) -> None:
    ticks = sorted(e for e in set(epsilons) if e > 0)
    axes.set_xscale("log")
    axes.set_xticks(ticks, [format_epsilon(e) for e in ticks], fontsize=7, rotation=30)
    axes.minorticks_off()


def paired_difference_figure(pooled: pd.DataFrame, task: str, backbone: str) -> Figure:
    """Attention - baseline robust accuracy vs epsilon per variant, with the pooled 95 % CI as error bars;
    solid = worst case, dashed = the paper's PGD; a filled marker where Holm's p < 0.05."""
    panel = pooled[(pooled["task"] == task) & (pooled["backbone"] == backbone) & (pooled["epsilon"] > 0)]
    figure = new_figure(6.0, 4.0)
    title = f"{pretty(backbone)}: {pretty(task)}, paired difference (attention - baseline)"
    if panel.empty:
        return empty(figure, f"{title}: no paired trials")
    axes = figure.add_subplot()
    for index, (attention, placement) in enumerate(variants(panel)):
        for attack, (line, marker, name) in ATTACK_STYLE.items():
            rows = panel[(panel["attention"] == attention) & (panel["placement"] == placement)
                         & (panel["attack"] == attack)].sort_values("epsilon")
            if rows.empty:
                continue
            colour = f"C{index % 10}"
            label = f"{variant_label(attention, placement)}, {name} (n={int(rows['n_seeds'].max())} seeds)"
            errors = np.vstack([rows["difference"] - rows["ci_low"], rows["ci_high"] - rows["difference"]])
            axes.errorbar(rows["epsilon"], rows["difference"], yerr=np.nan_to_num(errors), linestyle=line,
                          color=colour, marker=marker, mfc="white", capsize=3, label=label, gid=f"diff:{label}")
            significant = rows[rows["p_holm"] < 0.05]
            axes.plot(significant["epsilon"], significant["difference"], linestyle="none", marker=marker,
                      color=colour, zorder=4, gid=f"significant:{label}")
    axes.axhline(0.0, color="gray", linewidth=0.8)
    log_ticks(axes, panel["epsilon"])
    axes.set(xlabel="epsilon (L-inf, [0,1] pixel space)", ylabel="difference in robust accuracy", title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, title="bars: 95 % CI (over seeds with >= 2, else paired bootstrap over images)\n"
                "filled: Holm-corrected McNemar p < 0.05", title_fontsize=6)
    return figure


def clinical_figure(summary: pd.DataFrame, task: str) -> Figure:
    """Per backbone: sensitivity (solid) and specificity (dashed) vs epsilon for binary tasks, balanced accuracy for
    more classes; worst case, mean over seeds; an x where some seed collapsed to one class."""
    panel = summary[(summary["task"] == task) & (summary["attack"] == "worst_case")] if len(summary) else summary
    backbones = sorted(set(panel["backbone"])) if len(panel) else []
    figure = new_figure(5.0 * max(1, len(backbones)), 3.8)
    binary = get_task(task).num_classes == 2
    title = f"{pretty(task)}: {'sensitivity and specificity' if binary else 'balanced accuracy'} under attack"
    if not backbones:
        return empty(figure, f"{title}: no per-point outcomes")
    metrics = (("sensitivity", "-"), ("specificity", "--")) if binary else (("balanced_acc", "-"),)
    for column, backbone in enumerate(backbones, start=1):
        axes = figure.add_subplot(1, len(backbones), column)
        rows = panel[(panel["backbone"] == backbone) & (panel["epsilon"] > 0)]
        for index, (attention, placement) in enumerate(variants(rows)):
            model = rows[(rows["attention"] == attention) & (rows["placement"] == placement)].sort_values("epsilon")
            for metric, line in metrics:
                label = f"{variant_label(attention, placement)}: {metric}"
                axes.plot(model["epsilon"], model[metric], linestyle=line, marker="o", color=f"C{index % 10}",
                          label=label, gid=f"{metric}:{variant_label(attention, placement)}")
            collapsed = model[model["collapsed_seeds"] > 0]
            axes.plot(collapsed["epsilon"], collapsed[metrics[0][0]], linestyle="none", marker="x", markersize=10,
                      color="black", gid=f"collapsed:{variant_label(attention, placement)}")
        log_ticks(axes, rows["epsilon"])
        axes.set(xlabel="epsilon", ylabel="recall", ylim=(-0.02, 1.02), title=pretty(backbone))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6)
    figure.suptitle(f"{title} (worst case; x: a seed predicts > 95 % one class)", fontsize=9)
    return figure


def radius_curves(points: pd.DataFrame, task: str, backbone: str) -> Figure:
    """Fraction of test points still robust at each radius (1 - CDF of the smallest adversarial epsilon found),
    per model, seeds pooled, log axis; it starts at the clean accuracy."""
    panel = points[(points["task"] == task) & (points["backbone"] == backbone)].drop_duplicates(["run_id", "point"])
    figure = new_figure(6.0, 4.0)
    title = f"{pretty(backbone)}: {pretty(task)}, robustness radius"
    if panel.empty:
        return empty(figure, f"{title}: no per-point outcomes")
    axes = figure.add_subplot()
    finite = panel["radius"][np.isfinite(panel["radius"]) & (panel["radius"] > 0)]
    low = float(finite.min()) / 2 if len(finite) else 1e-4
    high = float(finite.max()) * 2 if len(finite) else 1.0
    grid = np.geomspace(low, high, 200)
    for index, (attention, placement) in enumerate(variants(panel)):
        radii = panel[(panel["attention"] == attention) & (panel["placement"] == placement)]["radius"].to_numpy()
        robust = (radii[None, :] > grid[:, None]).mean(axis=1)
        label = variant_label(attention, placement)
        axes.plot(grid, robust, color=f"C{index % 10}", label=f"{label} ({len(radii)} points)", gid=f"radius:{label}")
    axes.set(xscale="log", xlabel="radius epsilon (L-inf, [0,1] pixel space)", ylabel="fraction of points robust",
             ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return figure
