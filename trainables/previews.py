"""The previews a trial logs into its MLflow run: its accuracy curve (curves/accuracy_vs_epsilon.png, matplotlib)
and the grids beside its explanation arrays (explanations/*.png), drawn with OpenCV: matplotlib needs seconds for
a (1 + E) x S grid, on every trial. Here, not in analysis.figures, because trials (trainables) draw them.

perturbation_preview: per sample row, the clean image then |x_adv - x| per epsilon.
gradcam_preview: per sample row, Grad-CAM over the clean image then over the adversarial image per epsilon.
Both take trainables.explain.Explanations and return RGB uint8 (rows x (1 + E) cells of CELL px under a title).
gradcam_overlay and perturbation_image draw one cell's pixels: the report's figures (analysis.figures.images) show
the same pixels, so there is one drawing of an explanation.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .spec.keys import format_epsilon

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# cv2 and matplotlib are imported where they draw: the sweep driver imports the trial (so this module too) and
# never draws.

CELL = 96  # px per grid cell: small inputs are upscaled so the previews stay readable
TITLE = 14  # px of title strip above each cell


def trial_accuracy_curve(accuracy: dict[float, float]) -> Figure:
    """One trial's robust accuracy vs log epsilon with its clean accuracy dashed (the trial's MLflow preview)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 3.5), layout="constrained")
    axes = figure.add_subplot()
    positive = sorted(e for e in accuracy if e > 0)
    axes.plot(positive, [accuracy[e] for e in positive], marker="o", label="robust", gid="robust:trial")
    axes.axhline(accuracy[0.0], linestyle="--", color="gray", label="clean", gid="clean:trial")
    axes.set(xscale="log", xlabel="epsilon (L-inf, [0,1] pixels)", ylabel="accuracy", ylim=(0, 1.02))
    axes.set_xticks(positive, [format_epsilon(e) for e in positive], fontsize=7, rotation=30)
    axes.minorticks_off()
    axes.legend()
    return figure


def _cell(image_rgb: np.ndarray, title: str) -> np.ndarray:
    """One grid cell: an (h, w, 3) uint8 image scaled to CELL px under a one-line title."""
    import cv2

    cell = cv2.resize(image_rgb, (CELL, CELL), interpolation=cv2.INTER_NEAREST)
    strip = np.full((TITLE, CELL, 3), 255, np.uint8)
    cv2.putText(strip, title, (2, TITLE - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.28, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, cell])


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def gradcam_overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """Grad-CAM (h, w) in [0, 1] stretched over the image as a jet heat map, 45 % opaque."""
    import cv2

    height, width = image.shape[:2]
    heat = cv2.resize(to_uint8(cam), (width, height), interpolation=cv2.INTER_LINEAR)
    heat = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(to_uint8(image), 0.55, heat, 0.45, 0)


def perturbation_image(perturbation: np.ndarray) -> np.ndarray:
    """|x_adv - x| (h, w) uint8, already scaled to 0-255 per image by trainables.explain, as a gray RGB image."""
    return np.repeat(perturbation[..., None], 3, axis=-1)


def _tile(rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.vstack([np.hstack(row) for row in rows])


def perturbation_preview(explanations) -> np.ndarray:
    rows = []
    for row, image in enumerate(explanations.images):
        cells = [_cell(to_uint8(image), f"y={explanations.labels[row]} p={explanations.predictions_clean[row]}")]
        for column, eps in enumerate(explanations.epsilons):
            cells.append(_cell(perturbation_image(explanations.perturbation[column, row]),
                               f"e={eps:g} p={explanations.predictions_adversarial[column, row]}"))
        rows.append(cells)
    return _tile(rows)


def gradcam_preview(explanations) -> np.ndarray:
    rows = []
    for row, image in enumerate(explanations.images):
        cells = [_cell(gradcam_overlay(image, explanations.gradcam_clean[row]),
                       f"y={explanations.labels[row]} p={explanations.predictions_clean[row]}")]
        for column, eps in enumerate(explanations.epsilons):
            cells.append(_cell(gradcam_overlay(explanations.adversarial[column, row],
                                               explanations.gradcam_adversarial[column, row]),
                               f"e={eps:g} p={explanations.predictions_adversarial[column, row]}"))
        rows.append(cells)
    return _tile(rows)


def encode_png(image_rgb: np.ndarray) -> bytes:
    """An RGB uint8 image as PNG bytes."""
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"could not encode an image of shape {image_rgb.shape} as PNG")
    return encoded.tobytes()


def write_png(image_rgb: np.ndarray, path) -> Path:
    path = Path(path)
    path.write_bytes(encode_png(image_rgb))
    return path


def figure_png(figure: Figure) -> bytes:
    """A matplotlib figure as PNG bytes (what mlflow.log_figure would store)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
