"""What a source hands to the loader: the records (ids, labels, groups, official splits) and how to read them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import preprocess
from .errors import DataError


@dataclass(frozen=True)
class ReadResult:
    """Images for requested records, in request order, with the unreadable ones left out."""

    images: np.ndarray  # (n_ok, S, S) gray or (n_ok, S, S, 3) RGB, uint8
    ok: np.ndarray  # (n_requested,) bool: which requested records are in `images`
    problems: tuple[str, ...] = ()  # one line per record that could not be read


@dataclass(frozen=True)
class Catalog:
    """All records of one (source, task); nothing is decoded until `read(indices)` is called.

    ids: unique record names (file names, npz rows); they name skipped files and key the cache.
    groups: records sharing a group (lesion, patient) stay in one split; None: each record is its own group.
    official_split: "train" / "val" / "test" / "trainval" per record; None: split by seed.
    fingerprint: identifies the source's content (e.g. the label file's size and mtime) for the cache key.
    """

    ids: np.ndarray
    labels: np.ndarray
    read: Callable[[np.ndarray], ReadResult]
    fingerprint: str
    groups: np.ndarray | None = None
    official_split: np.ndarray | None = None
    cacheable: bool = True
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", np.asarray(self.ids).astype(str))
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=np.int64))
        if self.groups is None:
            object.__setattr__(self, "groups", self.ids)
        object.__setattr__(self, "groups", np.asarray(self.groups).astype(str))
        lengths = {len(self.ids), len(self.labels), len(self.groups)}
        if self.official_split is not None:
            lengths.add(len(self.official_split))
        if len(lengths) != 1:
            raise ValueError(f"catalog arrays differ in length: {sorted(lengths)}")
        if len(np.unique(self.ids)) != len(self.ids):
            raise ValueError("catalog ids are not unique")


def file_fingerprint(*paths: Path) -> str:
    """Name, size and modification time of the files that define a source's records."""
    parts = []
    for path in paths:
        stat = Path(path).stat()
        parts.append(f"{Path(path).name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def decode_workers() -> int:
    """Decode threads per read: ARS_DECODE_THREADS (1 inside a Ray prepare task, which owns one core), else the
    machine's cores up to 8."""
    return max(1, int(os.environ.get("ARS_DECODE_THREADS") or min(8, os.cpu_count() or 1)))


def read_files(resolve: Callable[[int], Path], indices: Sequence[int], *, size: int, grayscale: bool,
               xray_enhancement: bool) -> ReadResult:
    """Decode and prepare the files `resolve(i)` for each index, in parallel threads (OpenCV releases the GIL).

    Missing or undecodable files are left out and described in `problems`; the caller decides if too many are.
    """
    channels_shape = (size, size) if grayscale else (size, size, 3)
    images = np.empty((len(indices), *channels_shape), dtype=np.uint8)
    ok = np.zeros(len(indices), dtype=bool)
    problems: list[str] = []
    # a reduced JPEG decode would blur the image before the X-ray filter, which must see native pixels
    min_side = None if xray_enhancement else size

    def prepare(position: int) -> str | None:
        path = resolve(int(indices[position]))
        try:
            native = preprocess.read_image(path, grayscale=grayscale, min_side=min_side)
        except preprocess.UnreadableImage as error:
            return str(error)
        images[position] = preprocess.prepare_image(native, size=size, grayscale=grayscale,
                                                    xray_enhancement=xray_enhancement)
        ok[position] = True
        return None

    with ThreadPoolExecutor(max_workers=decode_workers()) as pool:
        problems = [problem for problem in pool.map(prepare, range(len(indices))) if problem is not None]
    return ReadResult(images=images[ok], ok=ok, problems=tuple(problems))


def class_indices(values: Sequence, class_names: Sequence[str], *, source: Path | str, column: str) -> np.ndarray:
    """Map label strings to class indices; any value outside `class_names` is an error naming the file."""
    values = np.asarray(values).astype(str)
    lookup = {name: index for index, name in enumerate(class_names)}
    unknown = sorted({str(value) for value in values} - set(lookup))
    if unknown:
        raise DataError(f"{source}: column {column!r} has unknown value(s) {', '.join(map(repr, unknown[:5]))}; "
                        f"expected one of: {', '.join(class_names)}")
    return np.array([lookup[value] for value in values], dtype=np.int64)


def prepare_arrays(native: Sequence[np.ndarray], *, size: int, grayscale: bool, xray_enhancement: bool) -> np.ndarray:
    """Prepare already decoded images (e.g. rows of an npz array), in parallel threads."""
    channels_shape = (size, size) if grayscale else (size, size, 3)
    images = np.empty((len(native), *channels_shape), dtype=np.uint8)

    def prepare(position: int) -> None:
        images[position] = preprocess.prepare_image(native[position], size=size, grayscale=grayscale,
                                                    xray_enhancement=xray_enhancement)

    with ThreadPoolExecutor(max_workers=decode_workers()) as pool:
        list(pool.map(prepare, range(len(native))))
    return images
