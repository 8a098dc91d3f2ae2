"""Sanity-check summary: trials x checks, green pass / red fail / gray not logged (the trial failed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..tables import check_matrix, missing_note
from .base import empty, new_figure, note

PASS_FAIL = ListedColormap(["#d62728", "#2ca02c"])


def checks_grid(frame: pd.DataFrame) -> Figure:
    matrix = check_matrix(frame)
    figure = new_figure(2.5 + 0.45 * max(1, matrix.shape[1]), 1.2 + 0.22 * max(1, matrix.shape[0]))
    if matrix.shape[1] == 0:
        empty(figure, "no sanity checks were logged")
        note(figure, missing_note(frame))
        return figure
    axes = figure.add_subplot()
    cmap = PASS_FAIL.with_extremes(bad="lightgray")
    axes.imshow(np.ma.masked_invalid(matrix.to_numpy()), cmap=cmap, vmin=0, vmax=1, aspect="auto", gid="checks")
    axes.set_xticks(range(matrix.shape[1]), list(matrix.columns), rotation=60, ha="right", fontsize=7)
    axes.set_yticks(range(matrix.shape[0]), list(matrix.index), fontsize=6)
    for (i, j), value in np.ndenumerate(matrix.to_numpy()):
        axes.text(j, i, "?" if math.isnan(value) else ("ok" if value else "FAIL"), ha="center", va="center",
                  fontsize=5, color="white" if not math.isnan(value) else "black")
    failed = int((matrix.to_numpy() == 0).any(axis=1).sum())
    axes.set_title(f"sanity checks: {failed} of {matrix.shape[0]} trial(s) with a failed check", fontsize=8)
    note(figure, missing_note(frame))
    return figure
