"""Paper figures 3-8: clean and robust accuracy vs epsilon for one task x backbone, one line per attention variant."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainables.spec import format_epsilon

from .. import paper_numbers
from ..tables import UNTRUSTED_MARK, accuracy_summary, missing_note, untrusted_models, variant_label, variants
from .base import empty, new_figure, note, pretty

CLEAN_POSITION = 0.5  # the paper's clean accuracies sit at this fraction of the smallest epsilon (a log axis has no 0)


def accuracy_curves(frame: pd.DataFrame, task: str, backbone: str) -> Figure:
    """Robust accuracy (solid, markers: the worst case on its points) vs log epsilon, the clean accuracy of the same
    points (dashed, same colour), and where it differs the paper's PGD on every point (dotted) per variant; the
    numbers the paper states in its text (analysis.paper_numbers) as stars in the colour of their model, its clean
    accuracies at a "clean" tick left of the ladder.

    With several seeds the line is their mean and the shaded band the 95 % t-interval (analysis.stats), clipped
    to the possible accuracies [0, 1]; a trial without results is named in a note at the bottom.
    """
    panel = frame[(frame["task"] == task) & (frame["backbone"] == backbone)]
    figure = new_figure(6.0, 4.2)
    paper_figure = paper_numbers.CURVE_FIGURES.get((backbone, task))
    title = f"{pretty(backbone)}: {pretty(task)}" + (f"  (paper fig. {paper_figure})" if paper_figure else "")
    if panel.empty:
        return empty(figure, f"{title}: no trials")
    summary = accuracy_summary(panel)
    if summary.empty:
        empty(figure, f"{title}: no finished trials")
        note(figure, missing_note(panel))
        return figure
    axes = figure.add_subplot()
    several_seeds = False
    untrusted = untrusted_models(panel)
    every_point = panel.assign(accuracy=panel["pgd_accuracy"], worst_case_clean=np.nan)  # clean: clean_acc
    pgd_summary = accuracy_summary(every_point) if every_point["accuracy"].notna().any() else summary.iloc[:0]
    for index, (attention, placement) in enumerate(variants(panel)):
        rows = summary[(summary["attention"] == attention) & (summary["placement"] == placement)]
        if rows.empty:
            continue
        label = variant_label(attention, placement)
        marked = label + (UNTRUSTED_MARK if (task, backbone, attention, placement) in untrusted else "")
        colour = f"C{index % 10}"
        robust = rows[rows["epsilon"] > 0].sort_values("epsilon")
        seeds = int(rows["n"].max())
        axes.plot(robust["epsilon"], robust["mean"], marker="o", color=colour, gid=f"robust:{label}",
                  label=f"{marked} (n={seeds})")
        if (robust["n"] >= 2).any():
            several_seeds = True
            banded = robust["n"] >= 2
            axes.fill_between(robust["epsilon"], np.where(banded, robust["ci_low"].clip(0, 1), np.nan),
                              np.where(banded, robust["ci_high"].clip(0, 1), np.nan), color=colour, alpha=0.2,
                              linewidth=0, gid=f"band:{label}")
        pgd = pgd_summary.query("attention == @attention and placement == @placement and epsilon > 0")
        if len(pgd) and not np.allclose(pgd.sort_values("epsilon")["mean"].to_numpy(), robust["mean"].to_numpy()
                                        if len(robust) == len(pgd) else np.nan):
            axes.plot(pgd["epsilon"], pgd["mean"], linestyle=":", marker=".", color=colour, gid=f"pgd:{label}",
                      label=f"{label}, paper's PGD on every point")  # its own point set: its own curve
        clean = rows[rows["epsilon"] == 0]
        if len(clean):
            axes.axhline(float(clean["mean"].iloc[0]), linestyle="--", color=colour, linewidth=1.2,
                         gid=f"clean:{label}", label=f"{label}, clean")
    axes.set(xscale="log", xlabel="epsilon (L-inf, [0,1] pixel space)", ylabel="accuracy", ylim=(-0.02, 1.02),
             title=title)
    ticks = sorted(set(summary.loc[summary["epsilon"] > 0, "epsilon"]))
    ticks, labels = paper_points(axes, task, backbone, variants(panel), ticks)
    axes.set_xticks(ticks, labels, fontsize=7, rotation=30)
    axes.minorticks_off()
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower left")
    if several_seeds:
        axes.text(0.99, 0.01, "line: mean over seeds; band: 95 % t-interval, clipped to [0, 1]",
                  transform=axes.transAxes, ha="right", va="bottom", fontsize=6, color="dimgray")
    note(figure, missing_note(panel))
    return figure


def paper_points(axes, task: str, backbone: str, drawn: list[tuple[str, str]], ticks: list[float]):
    """Stars at the paper's stated numbers for this panel (gid "paper:<variant>:<epsilon>"), in the colour of the
    variant they belong to (gray where this sweep has no such model); clean numbers at CLEAN_POSITION x the smallest
    epsilon, under a "clean" tick. Returns the x ticks and their labels."""
    numbers = [n for n in paper_numbers.PUBLISHED if (n.task, n.backbone) == (task, backbone)]
    ticks = sorted(set(ticks) | {n.epsilon for n in numbers if n.epsilon > 0})
    labels = [format_epsilon(e) for e in ticks]
    if not numbers or not ticks:
        return ticks, labels
    clean_x = ticks[0] * CLEAN_POSITION
    for index, number in enumerate(numbers):
        variant = (number.attention, "head" if number.attention == "none" else paper_numbers.PAPER_PLACEMENT)
        colour = f"C{drawn.index(variant) % 10}" if variant in drawn else "gray"
        x = number.epsilon or clean_x
        axes.plot([x], [number.accuracy], linestyle="none", marker="*", markersize=12, color=colour,
                  markeredgecolor="black", markeredgewidth=0.6, zorder=5,
                  gid=f"paper:{variant_label(*variant)}:{number.epsilon:g}",
                  label="paper, stated in its text" if index == 0 else None)
    if any(n.epsilon == 0 for n in numbers):
        ticks, labels = [clean_x, *ticks], ["clean", *labels]
    return ticks, labels
