"""The paper's claims at a glance: a forest plot of attention - baseline per claim with its 95 % interval, coloured by
verdict, a short reason beside each. Input: analysis.tables.verdict_forest_table (one row per claims-table row)."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import claims
from .base import empty, new_figure

VERDICT_COLOURS = {claims.SUPPORTED: "#2ca02c", claims.CONTRADICTED: "#d62728", claims.INCONCLUSIVE: "#e08a00",
                   claims.NOT_MEASURED: "#9e9e9e"}
ATTACKS = {"worst_case": ("o", -0.14, "worst case over the attacks"), "pgd": ("D", 0.14, "the paper's PGD")}
LINE_HEIGHT = 0.42  # inches per claim line
LEFT, RIGHT = 0.34, 0.60  # the axes between the claims' names and their reasons, as fractions of the width


def verdict_forest(forest: pd.DataFrame, title: str = "") -> Figure:
    """One line per claim (per task where it is checked per task), top to bottom in the claims table's order: the
    worst case (filled circle) and the paper's PGD (hollow diamond) with their 95 % intervals, solid over seeds,
    dotted over images (one seed: two trained models compared, not architectures); no marker where not measured.
    Artists: "estimate:<claim>:<ordinal>:<attack>" (x = difference), "interval:<claim>:<ordinal>:<attack>"
    (x = ci_low, ci_high)."""
    lines = int(forest["line"].max()) + 1 if len(forest) else 0
    top, bottom = (0.4 if title else 0.12), 0.95  # inches: the title; the x label and a two-row legend
    width, height = 11.5, top + bottom + LINE_HEIGHT * max(lines, 1)
    figure = new_figure(width, height, layout=None)
    if not lines:
        return empty(figure, "no claims were checked")
    axes = figure.add_axes((LEFT, bottom / height, RIGHT - LEFT, 1 - (top + bottom) / height))
    for row in forest.itertuples():
        marker, offset, _ = ATTACKS.get(row.attack, ("s", 0.0, row.attack))
        colour = VERDICT_COLOURS.get(row.verdict, "black")
        y = row.line + offset
        key = f"{row.claim}:{row.ordinal}:{row.attack}"
        if row.interval_over:
            axes.plot([row.ci_low, row.ci_high], [y, y], color=colour, linewidth=2.2 if row.interval_over == "seeds"
                      else 1.4, linestyle="-" if row.interval_over == "seeds" else ":", gid=f"interval:{key}")
        if not math.isnan(row.difference):
            axes.plot([row.difference], [y], linestyle="none", marker=marker, markersize=7, color=colour,
                      markerfacecolor=colour if row.attack == "worst_case" else "white", markeredgewidth=1.5,
                      gid=f"estimate:{key}")
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_ylim(lines - 0.5, -0.5)
    axes.set_yticks([])
    axes.grid(axis="x", alpha=0.3)
    axes.set_xlabel("attention - baseline accuracy at the claim's cell (95 % interval)", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    for line, rows in forest.groupby("line", sort=True):
        rows = rows.sort_values("attack", key=lambda attack: attack != "worst_case", kind="stable")
        first = rows.iloc[0]
        axes.text(-0.02, line - 0.08, "\n".join(textwrap.wrap(first["label"], 58)[:2]), transform=_left(axes),
                  ha="right", va="center", fontsize=7.5)
        axes.text(-0.02, line + 0.3, first["where"], transform=_left(axes), ha="right", va="center", fontsize=6.5,
                  color="dimgray")
        axes.text(1.02, line, _reason(rows), transform=_left(axes), ha="left", va="center", fontsize=7,
                  color=VERDICT_COLOURS.get(first["verdict"], "black"))
    handles = [Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    handles += [Line2D([], [], linestyle="none", marker=m, color="black", markerfacecolor="black" if a == "worst_case"
                       else "white", label=name) for a, (m, _, name) in ATTACKS.items()]
    handles += [Line2D([], [], color="black", linewidth=2.2, label="interval over seeds"),
                Line2D([], [], color="black", linewidth=1.4, linestyle=":", label="1 seed: interval over images")]
    figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        figure.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return figure


def _left(axes):
    """x in axes fractions, y in data (claim lines)."""
    return axes.get_yaxis_transform()


def _reason(rows: pd.DataFrame) -> str:
    """The worst case's reason; the PGD's verdict beside it where it differs."""
    first = rows.iloc[0]
    text = f"{first['verdict'].upper()}: {first['reason']}"
    others = [f"{r.attack}: {r.verdict}" for r in rows.iloc[1:].itertuples() if r.verdict != first["verdict"]]
    return "\n".join(textwrap.wrap(text + (f" ({'; '.join(others)})" if others else ""), 72)[:3])
