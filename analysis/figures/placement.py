"""Robust accuracy per attention variant/placement x epsilon as a heatmap, and its difference to no attention."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainables.spec import format_epsilon

from ..tables import accuracy_summary, missing_note, variant_label, variants
from .base import empty, new_figure, note, pretty


def accuracy_matrix(frame: pd.DataFrame, task: str,
                    backbone: str) -> tuple[np.ndarray, list[tuple[str, str]], list[float]]:
    """Mean accuracy (rows: variants, baseline first; columns: clean then each epsilon), NaN where missing."""
    panel = frame[(frame["task"] == task) & (frame["backbone"] == backbone)]
    summary = accuracy_summary(panel)
    rows = variants(panel)
    columns = [0.0, *sorted(set(panel["epsilon"].dropna()) - {0.0})]
    lookup = {(a, p, e): m for a, p, e, m in
              zip(summary["attention"], summary["placement"], summary["epsilon"], summary["mean"])}
    matrix = np.array([[lookup.get((a, p, e), math.nan) for e in columns] for a, p in rows], dtype=float)
    matrix = matrix.reshape(len(rows), len(columns))
    return matrix, rows, columns


def _heatmap(axes, matrix, rows, columns, *, cmap, vmin, vmax, gid, fmt):
    cmap = matplotlib.colormaps[cmap].with_extremes(bad="lightgray")
    image = axes.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", gid=gid)
    axes.set_xticks(range(len(columns)), ["clean" if e == 0 else format_epsilon(e) for e in columns],
                    rotation=45, fontsize=7)
    axes.set_yticks(range(len(rows)), [variant_label(*r) for r in rows], fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        axes.text(j, i, "n/a" if math.isnan(value) else fmt(value), ha="center", va="center", fontsize=6,
                  color="black" if math.isnan(value) or 0.25 < (value - vmin) / (vmax - vmin) < 0.75 else "white")
    return image


def placement_heatmap(frame: pd.DataFrame, task: str, backbone: str) -> Figure:
    """Left: mean robust accuracy per variant x epsilon (clean first). Right: minus the baseline's, same cell."""
    title = f"{pretty(backbone)}: {pretty(task)}"
    matrix, rows, columns = accuracy_matrix(frame, task, backbone)
    figure = new_figure(3.0 + 1.1 * len(columns), 1.6 + 0.35 * len(rows))
    if not rows or np.isnan(matrix).all():
        return empty(figure, f"{title}: no finished trials")
    left, right = figure.subplots(1, 2)
    image = _heatmap(left, matrix, rows, columns, cmap="viridis", vmin=0.0, vmax=1.0, gid="accuracy",
                     fmt=lambda v: f"{v:.2f}")
    figure.colorbar(image, ax=left, shrink=0.8, label="accuracy")
    left.set_title(f"{title}: accuracy (mean over seeds)", fontsize=8)
    if ("none", "head") in rows and len(rows) > 1:
        base = matrix[rows.index(("none", "head"))]
        others = [r for r in rows if r != ("none", "head")]
        difference = np.array([matrix[rows.index(r)] - base for r in others])
        limit = max(0.05, float(np.nanmax(np.abs(difference))) if not np.isnan(difference).all() else 0.05)
        image = _heatmap(right, difference, others, columns, cmap="RdBu", vmin=-limit, vmax=limit, gid="difference",
                         fmt=lambda v: f"{v:+.2f}")
        figure.colorbar(image, ax=right, shrink=0.8, label="accuracy - no attention")
        right.set_title("difference to no attention", fontsize=8)
    else:
        right.set_axis_off()
        right.text(0.5, 0.5, "no baseline (attention none) to compare with", ha="center", va="center", fontsize=8)
    note(figure, missing_note(frame[(frame["task"] == task) & (frame["backbone"] == backbone)]))
    return figure
