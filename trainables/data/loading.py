"""open_task / load_task: (task, source) -> TaskData, through the source registry, the seeded split and the
prepared entry (decoded once, memory-mapped by every trial; see cache.py and prepare.py).

Data folders (an argument overrides the environment):
  original / skin_lesion            data_root or $ARS_HAM10000_DIR      (HAM10000 layout, see sources/ham10000.py)
  original / diabetic_retinopathy   data_root or $ARS_KAGGLE_DR_DIR     (Kaggle DR 2015, sources/kaggle_dr.py)
  original / pneumothorax           data_root or $ARS_CHESTXRAY14_DIR   (ChestX-ray14, sources/chestxray14.py)
  medmnist / any task               data_root or $ARS_MEDMNIST_DIR      (MedMNIST+ npz files, sources/medmnist.py)
  synthetic / any task              no files (drawn in memory, never prepared)
Prepared entries: cache_dir or $ARS_CACHE_DIR or ~/.cache/attentive-robustness/ (see cache.py).

Unreadable images are skipped, counted in info["skipped"] and logged as a warning; more than 5 % of the records
read is an error, and nothing is kept then.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..spec.tasks import TaskSpec
from .catalog import Catalog, ReadResult
from .errors import DataError
from .prepare import MAX_SKIPPED_FRACTION, Decoder, decode_here, prepare_resolved
from .preprocess import PREPROCESS_VERSION
from .resolve import MIN_IMAGE_SIZE, resolve_root, resolve_task
from .splits import SPLITS
from .task_data import TaskData
from .views import SplitImages

log = logging.getLogger(__name__)

__all__ = ["MAX_SKIPPED_FRACTION", "MIN_IMAGE_SIZE", "load_task", "open_task", "resolve_root"]


def open_task(task: str, source: str = "synthetic", *, image_size: int, seed: int = 0,
              data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
              max_train: int | None = None, max_test: int | None = None, decoder: Decoder = decode_here,
              enhancement: str = "data") -> TaskData:
    """One task's splits as views (SplitImages, uint8 RGB per indexed batch) over the prepared, memory-mapped
    entry, built first (by `decoder`) if it is not ready; stand-in data is drawn into memory. Labels: int64 (N,).

    max_train caps the training split; max_test caps test at max_test and val at ceil(max_test / 2); capped
    splits keep class proportions (every class kept) and are drawn by seed. For synthetic data they set the sizes.
    """
    resolved = resolve_task(task, source, image_size=image_size, seed=seed, data_root=data_root,
                            cache_dir=cache_dir, max_train=max_train, max_test=max_test, enhancement=enhancement)
    arrays, outcome = prepare_resolved(resolved, decoder)
    if arrays is None:
        arrays, cache_state = read_checked(resolved.catalog, resolved.selected, source=source, task=task), "off"
    else:
        cache_state = "hit" if outcome.state == "ready" else "miss"
    ok = np.asarray(arrays["ok"])
    skipped = [str(name) for name in np.asarray(arrays["ids"])[~ok]]
    problems = [str(line) for line in np.asarray(arrays["problems"]).tolist()]
    if skipped:
        log.warning("%s/%s: skipped %d of %d images that could not be read: %s", source, task, len(skipped),
                    len(resolved.selected), "; ".join(problems[:3]))
    root, spec = resolved.root, resolved.spec
    return assemble(spec, resolved.catalog, resolved.chosen, resolved.selected, arrays, info={
        **resolved.catalog.info, "task": task, "source": source, "image_size": resolved.image_size,
        "seed": resolved.seed, "data_root": str(root) if root else None, "max_train": max_train,
        "max_test": max_test, "skipped": skipped, "skipped_problems": problems, "cache": cache_state,
        "cache_path": str(resolved.entry) if cache_state != "off" else None,
        "preprocess_version": PREPROCESS_VERSION, "preprocessing": preprocessing_note(spec, resolved.image_size),
    })


def load_task(task: str, source: str = "synthetic", *, image_size: int, seed: int = 0,
              data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
              max_train: int | None = None, max_test: int | None = None) -> TaskData:
    """open_task with every split read into memory: uint8 RGB arrays (N, image_size, image_size, 3).

    For small data sets, tests and notebooks; trials use open_task (memory set by the batch, not the data set).
    """
    opened = open_task(task, source, image_size=image_size, seed=seed, data_root=data_root, cache_dir=cache_dir,
                       max_train=max_train, max_test=max_test)
    return opened.in_memory()


def read_checked(catalog: Catalog, selected: np.ndarray, *, source: str, task: str) -> dict[str, np.ndarray]:
    """Read the selected records into memory; fail if more than MAX_SKIPPED_FRACTION of them are unreadable."""
    result: ReadResult = catalog.read(selected)
    skipped = int((~result.ok).sum())
    if skipped > MAX_SKIPPED_FRACTION * len(selected):
        raise DataError(f"{source}/{task}: {skipped} of {len(selected)} images could not be read (more than "
                        f"{MAX_SKIPPED_FRACTION:.0%}), e.g. {result.problems[0]}")
    return {"ids": catalog.ids[selected], "ok": result.ok, "images": result.images,
            "problems": np.asarray(result.problems, dtype=str)}


def assemble(spec: TaskSpec, catalog: Catalog, chosen: dict[str, np.ndarray], selected: np.ndarray,
             arrays: dict[str, np.ndarray], info: dict) -> TaskData:
    """Cut the images into the splits (each in its seeded order) as views, with their labels and counts.

    arrays["images"] holds one row per selected record (a prepared entry) or per readable one (read in memory).
    """
    ok = np.asarray(arrays["ok"])
    images = arrays["images"]
    row_of_selected = np.arange(len(selected)) if len(images) == len(selected) else np.cumsum(ok) - 1
    row_of_record = np.full(len(catalog.ids), -1, dtype=np.int64)
    row_of_record[selected[ok]] = row_of_selected[ok]
    parts, counts, ids = {}, {}, {}
    for split in SPLITS:
        rows = row_of_record[chosen[split]]
        readable = rows >= 0
        if not readable.any():
            raise DataError(f"{info['source']}/{spec.name}: no readable image left in the {split} split")
        parts[f"x_{split}"] = SplitImages(images, rows[readable])
        parts[f"y_{split}"] = catalog.labels[chosen[split]][readable]
        ids[split] = catalog.ids[chosen[split]][readable]
        per_class = np.bincount(parts[f"y_{split}"], minlength=spec.num_classes)
        counts[split] = {name: int(n) for name, n in zip(spec.class_names, per_class)}
    return TaskData(**parts, num_classes=spec.num_classes, class_names=spec.class_names,
                    info={**info, "counts": counts}, ids=ids)


def preprocessing_note(spec: TaskSpec, image_size: int) -> str:
    steps = ["decode (gray)" if spec.grayscale else "decode (RGB)"]
    if spec.xray_enhancement:
        steps.append("min-max, 4x - 4 GaussianBlur(sigma = 20 * native side / 1024) + 128 at native resolution")
    steps.append(f"resize to {image_size}x{image_size} (INTER_AREA when shrinking)")
    if spec.grayscale:
        steps.append("gray -> RGB")
    return "; ".join(steps)
