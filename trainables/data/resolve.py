"""From a data request (task, source, size, seed, caps, folders) to its records, splits and prepared-entry path.

Nothing is decoded here: the catalog's label files are read, the seeded split is drawn and the cache key computed.
Shared by the prepare step (prepare.py) and by trials opening prepared data (loading.py).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..spec.tasks import MIN_IMAGE_SIZE, TaskSpec, get_task
from . import cache
from .catalog import Catalog
from .errors import DataError
from .preprocess import PREPROCESS_VERSION
from .sources import SourceEntry, SourceRequest, get_source
from .splits import SPLITS, assign_splits, check_caps, split_indices


@dataclass(frozen=True)
class Resolved:
    """One request's records: `selected` (sorted catalog indices read into the entry) and each split's indices."""

    spec: TaskSpec
    source: str
    image_size: int
    seed: int
    root: Path | None
    catalog: Catalog
    chosen: dict[str, np.ndarray]  # split -> catalog indices, in the split's seeded order
    selected: np.ndarray
    entry: Path | None  # the prepared entry's folder; None: the source is not prepared (stand-ins are drawn)
    max_train: int | None = None
    max_test: int | None = None

    @property
    def label(self) -> str:
        return f"{self.source}/{self.spec.name} {self.image_size}px"

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One stored image: gray tasks keep one channel on disk, RGB is made per batch."""
        size = self.image_size
        return (size, size) if self.spec.grayscale else (size, size, 3)


def resolve_task(task: str, source: str = "synthetic", *, image_size: int, seed: int = 0,
                 data_root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                 max_train: int | None = None, max_test: int | None = None, enhancement: str = "data") -> Resolved:
    """enhancement="model": the task's X-ray enhancement is left to a layer of the model, the images stay raw."""
    entry = get_source(source, task)
    spec = get_task(task)
    if enhancement == "model":
        spec = dataclasses.replace(spec, xray_enhancement=False)
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
    path = None
    if catalog.cacheable:
        # the data folder's fingerprint is checked against the entry's manifest (a changed folder is rebuilt in
        # place) rather than keyed, so an entry is never orphaned by an edit of its folder
        key_fields = {"source": source, "task": task, "image_size": image_size, "preprocess": PREPROCESS_VERSION,
                      "root": str(root), "ids": cache.ids_digest(catalog.ids[selected]),
                      **({"enhancement": enhancement} if enhancement != "data" else {})}
        path = cache.entry_path(Path(cache_dir).expanduser() if cache_dir else cache.default_cache_dir(),
                                source=source, task=task, image_size=image_size, key_fields=key_fields)
    return Resolved(spec, source, image_size, seed, root, catalog, chosen, selected, path, max_train, max_test)


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
