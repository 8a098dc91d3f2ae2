"""load_task: (task, source) -> TaskData, through the source registry, the seeded split and the cache.

Data folders (an argument overrides the environment):
  original / skin_lesion            data_root or $ARS_HAM10000_DIR      (HAM10000 layout, see sources/ham10000.py)
  original / diabetic_retinopathy   data_root or $ARS_KAGGLE_DR_DIR     (Kaggle DR 2015, sources/kaggle_dr.py)
  original / pneumothorax           data_root or $ARS_CHESTXRAY14_DIR   (ChestX-ray14, sources/chestxray14.py)
  medmnist / any task               data_root or $ARS_MEDMNIST_DIR      (MedMNIST+ npz files, sources/medmnist.py)
  synthetic / any task              no files
Cache: cache_dir or $ARS_CACHE_DIR or ~/.cache/attentive-robustness/ (see cache.py).

Unreadable images are skipped, counted in info["skipped"] and logged as a warning; more than 5 % of the records
read is an error, and nothing is cached then.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import cache
from .catalog import Catalog, ReadResult
from .errors import DataError
from .preprocess import PREPROCESS_VERSION, gray_to_rgb
from .sources import SourceEntry, SourceRequest, get_source
from .splits import SPLITS, assign_splits, check_caps, split_indices
from .task_data import TaskData
from .tasks import TaskSpec, get_task

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 24
MAX_SKIPPED_FRACTION = 0.05


def load_task(task: str, source: str = "synthetic", *, image_size: int, seed: int = 0,
              data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
              max_train: int | None = None, max_test: int | None = None) -> TaskData:
    """Load one task's train/val/test arrays: uint8 RGB (N, image_size, image_size, 3), int64 labels (N,).

    max_train caps the training split; max_test caps test at max_test and val at ceil(max_test / 2); capped
    splits keep class proportions (every class kept) and are drawn by seed. For synthetic data they set the sizes.
    """
    spec = get_task(task)
    entry = get_source(source, task)
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < MIN_IMAGE_SIZE:
        raise DataError(f"image_size must be an integer >= {MIN_IMAGE_SIZE}; received {image_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be an integer >= 0; received {seed!r}")
    image_size, seed = int(image_size), int(seed)
    caps = check_caps(max_train, max_test)
    root = resolve_root(entry, data_root, source=source, task=task)
    catalog = entry.load(SourceRequest(spec, image_size, seed, root, max_train, max_test))

    splits = assign_splits(catalog.labels, catalog.groups, catalog.official_split, seed=seed)
    chosen = split_indices(splits, catalog.labels, seed=seed, caps=caps)
    for split in SPLITS:
        if len(chosen[split]) == 0:
            raise DataError(f"{source}/{task}: the {split} split is empty ({len(catalog.ids)} records found"
                            f"{f' in {root}' if root else ''}); expected records in train, val and test")
    selected = np.unique(np.concatenate([chosen[split] for split in SPLITS]))

    def build() -> cache.Arrays:
        return read_checked(catalog, selected, source=source, task=task)

    if catalog.cacheable:
        key_fields = {"source": source, "task": task, "image_size": image_size, "preprocess": PREPROCESS_VERSION,
                      "root": str(root), "fingerprint": catalog.fingerprint,
                      "ids": cache.ids_digest(catalog.ids[selected])}
        cache_path = cache.entry_path(Path(cache_dir).expanduser() if cache_dir else cache.default_cache_dir(),
                                      source=source, task=task, image_size=image_size, key_fields=key_fields)
        arrays, hit = cache.load_or_build(cache_path, build)
        if not np.array_equal(arrays["ids"], catalog.ids[selected]):
            raise DataError(f"cache entry {cache_path} holds other records than requested; delete it")
        cache_state = "hit" if hit else "miss"
    else:
        arrays, cache_state, cache_path = build(), "off", None

    skipped = [str(name) for name in arrays["ids"][~arrays["ok"]]]
    if skipped:
        log.warning("%s/%s: skipped %d of %d images that could not be read: %s", source, task, len(skipped),
                    len(selected), "; ".join(arrays["problems"][:3].tolist()))
    return assemble(spec, catalog, chosen, selected, arrays, info={
        **catalog.info, "task": task, "source": source, "image_size": image_size, "seed": seed,
        "data_root": str(root) if root else None, "max_train": max_train, "max_test": max_test,
        "skipped": skipped, "cache": cache_state, "cache_path": str(cache_path) if cache_path else None,
        "preprocess_version": PREPROCESS_VERSION, "preprocessing": preprocessing_note(spec, image_size),
    })


def resolve_root(entry: SourceEntry, data_root, *, source: str, task: str) -> Path | None:
    if entry.root_env is None:
        return None
    raw = data_root if data_root is not None else os.environ.get(entry.root_env)
    if not raw:
        raise DataError(f"source {source!r} task {task!r} needs its data folder: "
                        f"pass data_root= or set ${entry.root_env}")
    root = Path(raw).expanduser()
    if not root.is_dir():
        origin = "data_root" if data_root is not None else f"${entry.root_env}"
        raise DataError(f"{root}: data folder not found (from {origin}; source {source!r}, task {task!r})")
    return root.resolve()


def read_checked(catalog: Catalog, selected: np.ndarray, *, source: str, task: str) -> cache.Arrays:
    """Read the selected records; fail if more than MAX_SKIPPED_FRACTION of them are unreadable."""
    result: ReadResult = catalog.read(selected)
    skipped = int((~result.ok).sum())
    if skipped > MAX_SKIPPED_FRACTION * len(selected):
        raise DataError(f"{source}/{task}: {skipped} of {len(selected)} images could not be read (more than "
                        f"{MAX_SKIPPED_FRACTION:.0%}), e.g. {result.problems[0]}")
    return {"ids": catalog.ids[selected], "ok": result.ok, "images": result.images,
            "problems": np.asarray(result.problems, dtype=str)}


def assemble(spec: TaskSpec, catalog: Catalog, chosen: dict[str, np.ndarray], selected: np.ndarray,
             arrays: cache.Arrays, info: dict) -> TaskData:
    """Cut the read images into the splits (in each split's seeded order), RGB, with their labels and counts."""
    row_of_record = np.full(len(catalog.ids), -1, dtype=np.int64)
    row_of_record[selected[arrays["ok"]]] = np.arange(int(arrays["ok"].sum()))
    images = arrays["images"]
    parts, counts, ids = {}, {}, {}
    for split in SPLITS:
        rows = row_of_record[chosen[split]]
        readable = rows >= 0
        if not readable.any():
            raise DataError(f"{info['source']}/{spec.name}: no readable image left in the {split} split")
        x = images[rows[readable]]
        parts[f"x_{split}"] = gray_to_rgb(x) if x.ndim == 3 else x
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
