"""Figure plumbing shared by the figure modules: Agg figures without pyplot, saving as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

PRETTY = {"resnet50": "ResNet-50", "inception_resnet_v2": "InceptionResNetV2", "skin_lesion": "skin lesion",
          "diabetic_retinopathy": "diabetic retinopathy", "pneumothorax": "pneumothorax"}
FORMATS = ("png", "pdf")


def pretty(name: str) -> str:
    return PRETTY.get(name, name)


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    return Figure(figsize=(width, height), layout=layout)


def note(figure: Figure, text: str) -> None:
    """A visible remark about missing data, at the bottom of the figure."""
    if text:
        figure.text(0.01, 0.005, text, fontsize=7, color="firebrick", ha="left", va="bottom", wrap=True)


def empty(figure: Figure, text: str) -> Figure:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, color="firebrick", wrap=True)
    return figure


def save_figure(figure: Figure, directory: str | Path, stem: str, dpi: int = 110) -> list[Path]:
    """Write <stem>.png (for a screen: a 256-colour palette, a third of the bytes and the same to the eye) and
    <stem>.pdf (vector, images at their own pixels) into directory; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = directory / f"{stem}.{fmt}"
        figure.savefig(path, dpi=dpi)
        figure.set_layout_engine("none")  # keep the layout of the first save: computing it again costs as much
        if fmt == "png":
            palette_png(path)
        paths.append(path)
    return paths


def palette_png(path: Path) -> None:
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    reduced.save(path, optimize=True)
