"""The trade-off plane of an attention ablation: clean vs worst-case robust accuracy per attention variant and training
recipe, with seed intervals on both axes, one panel per task of a backbone."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .base import empty, new_figure, pretty

RECIPE_MARKERS = {"none": "o", "pgd": "^", "trades": "s"}  # adv_training -> marker
RECIPE_NAMES = {"none": "standard training", "pgd": "PGD training", "trades": "TRADES training"}
BAR_ALPHA = 0.45  # at 2 seeds t(1) = 12.7 makes most bars cross the panel: faint, so the means stay readable
ATTENTION_ORDER = ("none", "soft_faithful", "soft_corrected", "se", "cbam", "self_attention", "param_control")


def attention_key(attention: str) -> tuple:
    return (ATTENTION_ORDER.index(attention) if attention in ATTENTION_ORDER else len(ATTENTION_ORDER), attention)


def error_bar(mean: float, low: float, high: float) -> list[list[float]] | None:
    """matplotlib's asymmetric error of one point; None (no bar) without an interval (one seed)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return [[mean - low], [high - mean]]


def view(means: pd.Series, pad: float = 0.08) -> tuple[float, float]:
    finite = means[np.isfinite(means)]
    if finite.empty:
        return -0.02, 1.02
    return max(-0.02, float(finite.min()) - pad), min(1.02, float(finite.max()) + pad)


def tradeoff_figure(tradeoff: pd.DataFrame, backbone: str) -> Figure:
    """tradeoff: analysis.ablation.tradeoff_table. x: clean accuracy, y: worst-case robust accuracy at the reference
    epsilon (each axis zoomed to the means, padded); colour: attention, marker: training recipe; bars: 95 %
    t-intervals over seeds (none with one seed); a thin line joins one attention's recipes. Artists:
    "model:<attention>:<recipe>" (its mean), "xbar:..." and "ybar:..." (its intervals)."""
    panel_rows = tradeoff[tradeoff["backbone"] == backbone]
    tasks = sorted(set(panel_rows["task"]))
    title = f"{pretty(backbone)}: clean vs worst-case robust accuracy"
    if not tasks:
        return empty(new_figure(4, 2), f"{title}: no trusted trials")
    attentions = sorted(set(panel_rows["attention"]), key=attention_key)
    colours = {a: matplotlib.colormaps["tab10"](i % 10) for i, a in enumerate(attentions)}
    figure = new_figure(1.0 + 4.0 * len(tasks), 4.2)
    axes_row = np.atleast_1d(figure.subplots(1, len(tasks), squeeze=False)[0])
    for axes, task in zip(axes_row, tasks):
        rows = panel_rows[panel_rows["task"] == task]
        for attention, model in rows.groupby("attention", sort=False):
            model = model.sort_values("adv_training", key=lambda s: s != "none", kind="stable")
            colour = colours[attention]
            if len(model) > 1:
                axes.plot(model["clean"], model["robust"], color=colour, linewidth=0.8, alpha=0.6)
            for row in model.itertuples():
                key = f"{attention}:{row.adv_training}"
                xerr = error_bar(row.clean, row.clean_low, row.clean_high)
                yerr = error_bar(row.robust, row.robust_low, row.robust_high)
                if xerr is not None:
                    axes.errorbar([row.clean], [row.robust], xerr=xerr, color=colour, linewidth=0.8, capsize=2,
                                  alpha=BAR_ALPHA, linestyle="none", gid=f"xbar:{key}")
                if yerr is not None:
                    axes.errorbar([row.clean], [row.robust], yerr=yerr, color=colour, linewidth=0.8, capsize=2,
                                  alpha=BAR_ALPHA, linestyle="none", gid=f"ybar:{key}")
                axes.plot([row.clean], [row.robust], linestyle="none", color=colour, markersize=8,
                          marker=RECIPE_MARKERS.get(row.adv_training, "D"), markeredgecolor="black",
                          markeredgewidth=0.6, gid=f"model:{key}")
        epsilon = float(rows["epsilon"].iloc[0])
        fewest, most = int(rows["n_seeds"].min()), int(rows["n_seeds"].max())
        seeds = f"{fewest}" if fewest == most else f"{fewest}-{most}"
        axes.set_title(f"{pretty(task)} (eps {epsilon:g}; {seeds} seed{'s' if most != 1 else ''} per model)",
                       fontsize=9)
        axes.set_xlabel("clean accuracy", fontsize=8)
        axes.set_ylabel("worst-case robust accuracy at the reference epsilon", fontsize=8)
        axes.plot([0, 1], [0, 1], color="gray", linewidth=0.6, linestyle=":")  # robust can never exceed clean
        axes.set_xlim(*view(rows["clean"]))  # the means in view; intervals wider than that leave the panel
        axes.set_ylim(*view(rows["robust"]))
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=7)
    recipes = [r for r in RECIPE_MARKERS if r in set(panel_rows["adv_training"])]
    handles = ([Line2D([], [], color=colours[a], marker="o", linestyle="none", label=a) for a in attentions]
               + [Line2D([], [], color="gray", marker=RECIPE_MARKERS[r], linestyle="none",
                         label=RECIPE_NAMES.get(r, r)) for r in recipes])
    figure.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    figure.suptitle(title, fontsize=10)
    return figure
