"""Paper figures 2 / 9 / 12 (perturbations) and 10 / 11 / 13 / 14 (Grad-CAM) from a trial's explanation arrays.

`explanations` maps a variant label (e.g. "no attention") to the arrays of one run's `explanations/samples.npz`
(analysis.load.load_explanations): epsilons (E,), images (S,H,W,3) in [0,1], labels (S,), adversarial (E,S,H,W,3),
gradcam_clean (S,h,w) and gradcam_adversarial (E,S,h,w) in [0,1], perturbation (E,S,H,W) uint8 (|x_adv - x|
rescaled to 0-255 per image by trainables.explain), predictions_clean (S,), predictions_adversarial (E,S).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from trainables.spec import format_epsilon
from trainables.previews import gradcam_overlay, perturbation_image

from .base import empty, new_figure

CELL = 1.25  # inches per image
TITLE_SPACE = 0.75  # inches above the first row: the figure title and the first row's two-line titles


def _grid(figure: Figure, rows: int, columns: int, height: float):
    """Subplots with fixed margins (a layout engine over dozens of images costs seconds per figure)."""
    return figure.subplots(rows, columns, squeeze=False, gridspec_kw=dict(
        left=0.04, right=0.99, bottom=0.01, top=1 - TITLE_SPACE / height, wspace=0.08, hspace=0.45))


def representative_sample(explanations: Mapping[str, Mapping[str, np.ndarray]]) -> int:
    """The first sample classified correctly on clean input by the most variants (an image already misclassified
    is not attacked, so its perturbation would be empty)."""
    arrays = list(explanations.values())
    count = min(len(a["labels"]) for a in arrays)
    correct = sum((a["predictions_clean"][:count] == a["labels"][:count]).astype(int) for a in arrays
                  if "predictions_clean" in a)
    return int(np.argmax(correct)) if np.ndim(correct) else 0


def _epsilon_columns(arrays: Mapping[str, np.ndarray], max_epsilons: int | None) -> list[int]:
    count = len(arrays["epsilons"])
    if not max_epsilons or count <= max_epsilons:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, max_epsilons)})


def _show(axes, image, title: str = "", **kwargs) -> None:
    # interpolation "none": the image's own pixels (PDF: embedded once at their size; PNG: nearest), so a figure of
    # dozens of small images stays light instead of smoothed gradients that compress badly
    axes.imshow(np.clip(image, 0, 1) if image.dtype.kind == "f" else image, interpolation="none", **kwargs)
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=7)


def _overlay(axes, image: np.ndarray, cam: np.ndarray, title: str) -> None:
    _show(axes, gradcam_overlay(image, cam), title)


def _prediction(arrays, key: str, index) -> str:
    values = arrays.get(key)
    return "" if values is None else f"pred {int(values[index])}"


def perturbation_figure(explanations: Mapping[str, Mapping[str, np.ndarray]], *, sample: int | None = None,
                        title: str = "", max_epsilons: int | None = None) -> Figure:
    """Per variant two rows: the clean image then the adversarial image per epsilon; the perturbation maps below.
    `sample` None: representative_sample."""
    if not explanations:
        return empty(new_figure(6, 2), f"{title}: no explanation artifacts")
    first = next(iter(explanations.values()))
    sample = representative_sample(explanations) if sample is None else sample
    columns = _epsilon_columns(first, max_epsilons)
    height = CELL * 2 * len(explanations) + TITLE_SPACE
    figure = new_figure(CELL * (len(columns) + 1), height, layout=None)
    grid = _grid(figure, 2 * len(explanations), len(columns) + 1, height)
    for row, (label, arrays) in enumerate(explanations.items()):
        top, bottom = grid[2 * row], grid[2 * row + 1]
        _show(top[0], arrays["images"][sample],
              f"clean, label {int(arrays['labels'][sample])}\n{_prediction(arrays, 'predictions_clean', sample)}")
        top[0].set_ylabel(label, fontsize=8)
        bottom[0].set_axis_off()
        bottom[0].text(0.5, 0.5, f"{label}\nperturbation\n|x_adv - x| scaled to 0-255", ha="center", va="center",
                       fontsize=7, transform=bottom[0].transAxes)
        for column, e in enumerate(columns, start=1):
            eps = format_epsilon(float(arrays["epsilons"][e]))
            _show(top[column], arrays["adversarial"][e, sample],
                  f"eps {eps}\n{_prediction(arrays, 'predictions_adversarial', (e, sample))}")
            _show(bottom[column], perturbation_image(arrays["perturbation"][e, sample]))
    figure.suptitle(title or "adversarial examples and perturbations", fontsize=9, y=0.995, va="top")
    return figure


def gradcam_figure(explanations: Mapping[str, Mapping[str, np.ndarray]], *, sample: int | None = None,
                   title: str = "", max_epsilons: int | None = None) -> Figure:
    """One row per variant: Grad-CAM over the clean image, then over the adversarial image at each epsilon.
    `sample` None: representative_sample."""
    if not explanations:
        return empty(new_figure(6, 2), f"{title}: no explanation artifacts")
    first = next(iter(explanations.values()))
    sample = representative_sample(explanations) if sample is None else sample
    columns = _epsilon_columns(first, max_epsilons)
    height = CELL * len(explanations) + TITLE_SPACE
    figure = new_figure(CELL * (len(columns) + 1), height, layout=None)
    grid = _grid(figure, len(explanations), len(columns) + 1, height)
    for row, (label, arrays) in enumerate(explanations.items()):
        _overlay(grid[row][0], arrays["images"][sample], arrays["gradcam_clean"][sample],
                 f"clean, label {int(arrays['labels'][sample])}\n{_prediction(arrays, 'predictions_clean', sample)}")
        grid[row][0].set_ylabel(label, fontsize=8)
        for column, e in enumerate(columns, start=1):
            eps = format_epsilon(float(arrays["epsilons"][e]))
            _overlay(grid[row][column], arrays["adversarial"][e, sample], arrays["gradcam_adversarial"][e, sample],
                     f"eps {eps}\n{_prediction(arrays, 'predictions_adversarial', (e, sample))}")
    figure.suptitle(title or "Grad-CAM, clean vs perturbed", fontsize=9, y=0.995, va="top")
    return figure
