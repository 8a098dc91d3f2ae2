"""Accuracy per corruption x severity as a heat map, one panel per model of a task x backbone (seed means)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..tables import model_label, variant_sort_key
from .base import empty, new_figure, pretty


def corruption_matrix(cells: pd.DataFrame) -> tuple[np.ndarray, list[str], list[int]]:
    """cells of one model (analysis.corruptions.corruption_cells) -> (corruptions x severities, clean first)."""
    names = [n for n in dict.fromkeys(cells["corruption"]) if n != "clean"]
    severities = sorted(set(cells["severity"]) | {0})
    lookup = {(c, s): a for c, s, a in zip(cells["corruption"], cells["severity"], cells["accuracy"])}
    clean = lookup.get(("clean", 0), math.nan)
    matrix = np.array([[clean if s == 0 else lookup.get((n, s), math.nan) for s in severities] for n in names],
                      dtype=float).reshape(len(names), len(severities))
    return matrix, names, severities


def corruption_heatmap(cells: pd.DataFrame, task: str, backbone: str) -> Figure:
    """cells: analysis.corruptions.corruption_cells (seed means per model x corruption x severity, severity 0 =
    clean). Rows: the task's corruptions; columns: clean (the same points), severities 1-5; one panel per model (a
    training recipe's models apart)."""
    cells = cells[(cells["task"] == task) & (cells["backbone"] == backbone)]
    models = sorted(set(zip(cells["attention"], cells["placement"], cells["adv_training"])),
                    key=lambda m: (m[2] != "none", m[2], variant_sort_key(m[:2])))
    title = f"{pretty(backbone)}: {pretty(task)}"
    if not models:
        return empty(new_figure(4, 2), f"{title}: no corruption metrics")
    count = len(set(cells["corruption"])) - 1
    figure = new_figure(1.2 + 2.6 * len(models), 1.2 + 0.24 * count)
    axes_row = np.atleast_1d(figure.subplots(1, len(models), sharey=True))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgray")
    image = None
    for axes, (attention, placement, recipe) in zip(axes_row, models):
        model = cells[(cells["attention"] == attention) & (cells["placement"] == placement)
                      & (cells["adv_training"] == recipe)]
        matrix, names, severities = corruption_matrix(model)
        image = axes.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=1, aspect="auto",
                            gid=f"corruptions:{model_label(attention, placement, recipe)}")
        axes.set_xticks(range(len(severities)), ["clean" if s == 0 else str(s) for s in severities], fontsize=7)
        axes.set_yticks(range(len(names)), names, fontsize=7)
        for (i, j), value in np.ndenumerate(matrix):
            axes.text(j, i, "n/a" if math.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=5.5,
                      color="black" if math.isnan(value) or value > 0.6 else "white")
        seeds = int(model["seeds"].max()) if len(model) else 0
        axes.set_title(f"{model_label(attention, placement, recipe)} ({seeds} seed{'s' if seeds != 1 else ''})",
                       fontsize=8)
        axes.set_xlabel("severity", fontsize=7)
    figure.colorbar(image, ax=list(axes_row), shrink=0.8, label="accuracy")
    figure.suptitle(f"{title}: accuracy under natural corruptions", fontsize=9)
    return figure
