"""Randomized smoothing: the bracket of each smoothed classifier g per epsilon beside its base model's worst case,
and g's certified accuracy vs L2 radius. Inputs: analysis.load.load_smoothing's frame (seeds are averaged)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from trainables.spec import format_epsilon

from ..smoothing import bracket_table
from ..tables import variant_label
from .base import empty, new_figure, pretty


def _models(table: pd.DataFrame) -> list[tuple]:
    """(attention, placement, sigma), the baseline first."""
    keys = table[["attention", "placement", "noise_sigma"]].drop_duplicates().itertuples(index=False)
    return sorted(map(tuple, keys), key=lambda key: (key[0] != "none", key[0], key[1], key[2]))


def bracket_figure(smoothing: pd.DataFrame, task: str, backbone: str) -> Figure:
    """One panel per noise sigma; per model a band from certified accuracy (lower bound of g) up to smoothed
    accuracy under the EoT attacks (upper bound of g), and the base model f's worst case dashed, vs epsilon."""
    table = bracket_table(smoothing)
    table = table[(table["task"] == task) & (table["backbone"] == backbone)]
    sigmas = sorted(set(table["noise_sigma"]))
    figure = new_figure(4.2 * max(len(sigmas), 1), 4.0)
    title = f"{pretty(backbone)}: {pretty(task)}\nsmoothed classifier g: certified <= true <= EoT attack"
    if table.empty:
        return empty(figure, f"{title}: no certified trials")
    figure.suptitle(title, fontsize=10)
    for column, sigma in enumerate(sigmas, start=1):
        axes = figure.add_subplot(1, len(sigmas), column)
        panel = table[table["noise_sigma"] == sigma]
        ticks = sorted(set(panel["epsilon"]))
        for index, (attention, placement, _) in enumerate(_models(panel)):
            rows = panel[(panel["attention"] == attention) & (panel["placement"] == placement)].sort_values("epsilon")
            colour, label = f"C{index % 10}", variant_label(attention, placement)
            position = [ticks.index(e) for e in rows["epsilon"]]
            axes.fill_between(position, rows["certified"], rows["smoothed"], color=colour, alpha=0.25,
                              gid=f"bracket:{label}:{sigma:g}")
            axes.plot(position, rows["certified"], color=colour, marker="o", label=f"{label}: g certified .. EoT",
                      gid=f"certified:{label}:{sigma:g}")
            axes.plot(position, rows["smoothed"], color=colour, marker="^", gid=f"smoothed:{label}:{sigma:g}")
            axes.plot(position, rows["base"], color=colour, linestyle="--", marker="x",
                      label=f"{label}: f worst case", gid=f"base:{label}:{sigma:g}")
        axes.set_xticks(range(len(ticks)), ["clean" if e == 0 else format_epsilon(e) for e in ticks], fontsize=7,
                        rotation=30)
        axes.set(xlabel="epsilon (L-inf)", ylabel="accuracy", ylim=(-0.02, 1.02), title=f"sigma {sigma:g}")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6)
    return figure


def certified_radius_figure(smoothing: pd.DataFrame, task: str, backbone: str) -> Figure:
    """g's certified accuracy vs L2 radius ([0, 1] pixel units), one line per model (mean over seeds)."""
    rows = smoothing[(smoothing["task"] == task) & (smoothing["backbone"] == backbone)
                     & (smoothing["measure"] == "certified_l2")]
    figure = new_figure(6.0, 4.0)
    title = f"{pretty(backbone)}: {pretty(task)}, certified accuracy of g vs L2 radius"
    if rows.empty:
        return empty(figure, f"{title}: no certified trials")
    axes = figure.add_subplot()
    means = rows.groupby(["attention", "placement", "noise_sigma", "x"], as_index=False)["value"].mean()
    for index, (attention, placement, sigma) in enumerate(_models(means)):
        curve = means[(means["attention"] == attention) & (means["placement"] == placement)
                      & (means["noise_sigma"] == sigma)].sort_values("x")
        label = f"{variant_label(attention, placement)}, sigma {sigma:g}"
        axes.plot(curve["x"], curve["value"], marker="o", color=f"C{index % 10}", label=label, gid=f"radius:{label}")
    axes.set(xlabel="L2 radius ([0,1] pixel space)", ylabel="certified accuracy", ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return figure
