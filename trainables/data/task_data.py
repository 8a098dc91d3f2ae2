"""TaskData: the arrays one trial trains and evaluates on, plus a plain-valued description."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class TaskData:
    """uint8 RGB images (N, H, W, 3) and int64 labels (N,) per split; `info` holds plain values only.

    From open_task the images are views (views.SplitImages over a memory-mapped entry: rows are read when indexed);
    from load_task (or `in_memory()`) they are arrays.

    info keys: task, source, image_size, seed, data_root, counts ({split: {class_name: n}}), skipped (ids of
    records that could not be read), skipped_problems (one line per skipped record: its path and why), cache
    ("hit" / "miss" / "off"), cache_path, preprocess_version, preprocessing, split_method, dataset, and
    source-specific extras.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple[str, ...]
    info: dict = field(default_factory=dict)
    # {split: (N,) str record ids (file names, npz rows)}, for tracing and leak checks
    ids: dict = field(default_factory=dict)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of "train", "val" or "test"."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; expected one of: train, val, test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def in_memory(self) -> TaskData:
        """The same data with every split's images read into one uint8 array."""
        return dataclasses.replace(self, **{f"x_{name}": np.asarray(getattr(self, f"x_{name}"))
                                            for name in ("train", "val", "test")})
