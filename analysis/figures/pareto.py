"""Clean accuracy vs robust objective per task, every finished trial a point, the Pareto front as a line."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainables.spec import keys

from ..load import finished, trials
from ..tables import missing_note, variant_label, variants
from .base import empty, new_figure, note, pretty

MARKERS = {"resnet50": "o", "inception_resnet_v2": "s"}


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Rows of points (x, y) not dominated when maximising both, sorted by x; duplicates kept once."""
    points = np.unique(np.asarray(points, dtype=float).reshape(-1, 2), axis=0)
    keep = [not np.any(np.all(points >= p, axis=1) & np.any(points > p, axis=1)) for p in points]
    front = points[keep]
    return front[np.argsort(front[:, 0], kind="stable")]


def pareto_scatter(frame: pd.DataFrame, objective: str = keys.ROBUST_OBJECTIVE) -> Figure:
    runs = trials(finished(frame)).dropna(subset=[keys.CLEAN_ACC, objective])
    tasks = sorted(set(frame["task"].dropna()))
    figure = new_figure(3.6 * max(1, len(tasks)), 3.6)
    if runs.empty:
        empty(figure, "clean vs robust objective: no finished trials")
        note(figure, missing_note(frame))
        return figure
    grid = figure.subplots(1, len(tasks), squeeze=False)[0]
    colours = {v: f"C{i % 10}" for i, v in enumerate(variants(frame))}
    for axes, task in zip(grid, tasks):
        task_runs = runs[runs["task"] == task]
        for (attention, placement, backbone), group in task_runs.groupby(["attention", "placement", "backbone"]):
            axes.scatter(group[keys.CLEAN_ACC], group[objective], color=colours[(attention, placement)],
                         marker=MARKERS.get(backbone, "^"), s=28, gid=f"trials:{task}",
                         label=f"{variant_label(attention, placement)}, {backbone}")
        if len(task_runs):
            front = pareto_front(task_runs[[keys.CLEAN_ACC, objective]].to_numpy())
            axes.plot(front[:, 0], front[:, 1], "-D", color="black", linewidth=1, markersize=9,
                      markerfacecolor="none", gid=f"front:{task}",
                      label="Pareto front")
        axes.set(title=pretty(task), xlabel="clean accuracy", ylabel=objective.replace("_", " "))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6)
    note(figure, missing_note(frame))
    return figure


def study_pareto_front(points: np.ndarray, front: np.ndarray, *, x_label: str = "clean accuracy",
                       y_label: str = "robust objective") -> Figure:
    """An Optuna study's completed trials (points (N, 2), gray) and its Pareto front (front (F, 2), a line)."""
    figure = new_figure(5.0, 4.0)
    axes = figure.add_subplot()
    points, front = np.asarray(points, float).reshape(-1, 2), np.asarray(front, float).reshape(-1, 2)
    axes.scatter(points[:, 0], points[:, 1], color="lightgray", label="trials", gid="trials:study")
    axes.plot(front[:, 0], front[:, 1], "o-", color="C3", label="Pareto front", gid="front:study")
    axes.set(xlabel=x_label, ylabel=y_label)
    axes.legend()
    return figure
