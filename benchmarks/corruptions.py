"""Natural corruptions: throughput of each corruption on a batch (vectorised, trainables.corruptions) against the same
function called image by image (the per-image baseline), measured in the same run, and a picture of every corruption
of each modality at severities 1, 3 and 5 on a stand-in image (docs/corruptions_<modality>.png).

    python benchmarks/corruptions.py [--size 48] [--batch 100] [--repeats 3] [--no-grids] [--out docs]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from trainables.corruptions import corrupt
from trainables.corruptions.draws import PointDraws
from trainables.previews import write_png
from trainables.spec.corruptions import (
    COMMON,
    MODALITY_OF_TASK,
    get_corruption,
    list_corruptions,
)
from trainables.spec.lazy import resolve
from trainables.spec.tasks import get_task

GRID_SEVERITIES = (1, 3, 5)
CELL = 64  # px per image in the grids (each PNG under 400 kB)
LABEL_WIDTH = 150


def standin_images(task: str, count: int, size: int, seed: int = 0) -> np.ndarray:
    """count stand-in images of the task, float32 [0, 1] RGB (N, size, size, 3)."""
    spec = get_task(task)
    render = resolve(spec.standin.render)
    rng = np.random.default_rng(seed)
    images = []
    for index in range(count):
        image = render(index % spec.num_classes, size, rng)
        images.append(np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image)
    return np.stack(images).astype(np.float32) / 255.0


def seconds(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def per_image(images: np.ndarray, name: str, severity: int, grayscale: bool) -> np.ndarray:
    """The baseline: the same corruption, one image per call (what a per-image loop would cost)."""
    return np.concatenate([corrupt(images[i: i + 1], name, severity, seed=0, point_ids=[i], grayscale=grayscale)
                           for i in range(len(images))])


def throughput_table(size: int, batch: int, repeats: int) -> list[str]:
    lines = [f"corruption throughput, {batch} images of {size} px, severity 3, best of {repeats} (images/s)",
             f"{'corruption':22s} {'modality':11s} {'vectorised':>11s} {'per image':>10s} {'speed-up':>9s} {'same':>5s}"]
    totals = [0.0, 0.0]
    for task, modality in MODALITY_OF_TASK.items():
        images = standin_images(task, batch, size)
        grayscale = get_task(task).grayscale
        names = list_corruptions(modality) + (list_corruptions(COMMON) if task == "skin_lesion" else [])
        for name in names:
            ids = np.arange(batch)
            vectorised = seconds(lambda: corrupt(images, name, 3, seed=0, point_ids=ids, grayscale=grayscale),
                                 repeats)
            looped = seconds(lambda: per_image(images, name, 3, grayscale), repeats)
            same = np.array_equal(corrupt(images, name, 3, seed=0, point_ids=ids, grayscale=grayscale),
                                  per_image(images, name, 3, grayscale))
            totals[0] += vectorised
            totals[1] += looped
            lines.append(f"{name:22s} {get_corruption(name).modality:11s} {batch / vectorised:11.0f} "
                         f"{batch / looped:10.0f} {looped / vectorised:8.1f}x {str(same):>5s}")
    lines.append(f"{'all of them':22s} {'':11s} {batch / totals[0]:11.0f} {batch / totals[1]:10.0f} "
                 f"{totals[1] / totals[0]:8.1f}x   (images/s through every corruption once)")
    return lines


def label(text: str, height: int, width: int) -> np.ndarray:
    canvas = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(canvas, text, (4, height // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (20, 20, 20), 1, cv2.LINE_AA)
    return canvas


def modality_grid(task: str, size: int = CELL) -> np.ndarray:
    """Rows: clean then every corruption of the task (common first); columns: severities 1, 3, 5. uint8 RGB."""
    image = standin_images(task, 2, size, seed=3)[1:2]
    grayscale = get_task(task).grayscale
    header = np.concatenate([label("", 22, LABEL_WIDTH)]
                            + [label(f"severity {s}", 22, size) for s in GRID_SEVERITIES], axis=1)
    rows = [header]
    clean = (image[0] * 255).round().astype(np.uint8)
    rows.append(np.concatenate([label("clean", size, LABEL_WIDTH), clean,
                                np.full((size, size * (len(GRID_SEVERITIES) - 1), 3), 255, np.uint8)], axis=1))
    for name in list_corruptions(COMMON) + list_corruptions(MODALITY_OF_TASK[task]):
        cells = [(corrupt(image, name, s, seed=0, point_ids=[0], grayscale=grayscale)[0] * 255).round()
                 .astype(np.uint8) for s in GRID_SEVERITIES]
        rows.append(np.concatenate([label(name, size, LABEL_WIDTH), *cells], axis=1))
    return np.concatenate(rows, axis=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-grids", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    args = parser.parse_args(argv)
    print("\n".join(throughput_table(args.size, args.batch, args.repeats)), flush=True)
    if not args.no_grids:
        for task, modality in MODALITY_OF_TASK.items():
            path = write_png(modality_grid(task), args.out / f"corruptions_{modality}.png")
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    draws = PointDraws.for_points(0, [0], 1, 1)  # the draws are pure: the same key gives the same numbers
    assert np.array_equal(draws.uniform(0, (4,)), PointDraws.for_points(0, [0], 1, 1).uniform(0, (4,)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
