"""Which units the paper's epsilons are in: its published numbers beside this sweep read in [0, 1] and in [0, 255].

The paper's ladder 0.00125 ... 0.32 spans a factor 256 and 0.32 / 255 = 0.00125. Read in [0, 1] units, the sweep is
paper_grid; read in [0, 255] units (epsilon / 255 in our [0, 1] space) it is paper_grid_255. Ours is the paper's own
attack (PGD on every point), mean over finished seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import paper_numbers
from .load import finished

PIXEL_LEVELS = 255
SUFFIX = "_255"
UNITS_COLUMNS = ("task", "backbone", "attention", "epsilon", "paper", "ours_unit", "ours_255")


def counterpart(sweep: str) -> str:
    """paper_grid <-> paper_grid_255."""
    return sweep[:-len(SUFFIX)] if sweep.endswith(SUFFIX) else sweep + SUFFIX


def pgd_mean(frame: pd.DataFrame | None, number: paper_numbers.PublishedNumber, epsilon: float) -> float:
    if frame is None or frame.empty:
        return math.nan
    placement = paper_numbers.PAPER_PLACEMENT
    rows = finished(frame)
    rows = rows[(rows["task"] == number.task) & (rows["backbone"] == number.backbone)
                & (rows["attention"] == number.attention) & (rows["placement"] == placement)
                & np.isclose(rows["epsilon"], epsilon, rtol=1e-6, atol=0)]
    return float(rows["pgd_accuracy"].mean()) if len(rows) else math.nan


def units_table(unit_frame: pd.DataFrame | None, frame_255: pd.DataFrame | None) -> pd.DataFrame:
    """Every published number under attack (epsilon > 0) beside ours under both readings (NaN: not run)."""
    rows = [(n.task, n.backbone, n.attention, n.epsilon, n.accuracy, pgd_mean(unit_frame, n, n.epsilon),
             pgd_mean(frame_255, n, n.epsilon / PIXEL_LEVELS)) for n in paper_numbers.PUBLISHED if n.epsilon > 0]
    return pd.DataFrame(rows, columns=list(UNITS_COLUMNS))


def units_sentence(table: pd.DataFrame) -> str:
    """One sentence: which reading the published numbers fit (mean absolute difference over the numbers both have)."""
    both = table.dropna(subset=["ours_unit", "ours_255"])
    if both.empty:
        missing = [name for name, column in (("[0, 1]", "ours_unit"), ("[0, 255]", "ours_255"))
                   if table[column].isna().all()]
        return (f"Cannot tell which units the paper's epsilons are in: no trials for the {' and '.join(missing)} "
                f"reading{'s' if len(missing) > 1 else ''} (run paper_grid and paper_grid_255 with the same profile).")
    unit_error = float((both["ours_unit"] - both["paper"]).abs().mean())
    error_255 = float((both["ours_255"] - both["paper"]).abs().mean())
    better = "[0, 255]" if error_255 < unit_error else "[0, 1]"
    return (f"Over {len(both)} published number(s) the paper fits the {better} reading better: mean |paper - ours| "
            f"{min(unit_error, error_255):.3f} vs {max(unit_error, error_255):.3f} for the other reading"
            f"{'' if abs(unit_error - error_255) > 0.05 else ' (a small difference: weak evidence)'}.")
