"""MedMNIST+ npz files (`medmnist` v3 format), read from a folder the user points to.

<root>/dermamnist_{64,128,224}.npz (or dermamnist.npz, 28 px)   skin_lesion, 7 classes in the task's order
<root>/retinamnist_*.npz     diabetic_retinopathy: grade >= 2 positive (note: DeepDRiD images, not Kaggle's)
<root>/chestmnist_*.npz      pneumothorax: label column 7 of 14

Keys train_images, train_labels, val_images, val_labels, test_images, test_labels; images uint8 N x S x S (gray)
or N x S x S x 3, labels N x L. The file whose size is the smallest >= image_size is used (else the largest),
then resized. The official splits are kept.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..catalog import Catalog, ReadResult, file_fingerprint, prepare_arrays
from ..errors import DataError
from ..splits import SPLITS
from .registry import SourceRequest

LEGACY_SIZE = 28  # MedMNIST v2 files carry no size in their name


@dataclass(frozen=True)
class Flavour:
    flag: str
    label_columns: int
    label_values: tuple[int, ...]
    to_task_labels: Callable[[np.ndarray], np.ndarray]  # (N, L) MedMNIST labels -> (N,) task labels
    note: str


FLAVOURS = {
    "skin_lesion": Flavour("dermamnist", 1, tuple(range(7)), lambda labels: labels[:, 0], "HAM10000 via DermaMNIST"),
    "diabetic_retinopathy": Flavour("retinamnist", 1, tuple(range(5)), lambda labels: (labels[:, 0] >= 2),
                                    "RetinaMNIST is DeepDRiD, not the Kaggle 2015 set; grades >= 2 positive"),
    "pneumothorax": Flavour("chestmnist", 14, (0, 1), lambda labels: labels[:, 7],
                            "ChestX-ray14 via ChestMNIST; pneumothorax = label column 7"),
}


def available_files(root: Path, flag: str) -> dict[int, Path]:
    pattern = re.compile(rf"^{flag}(?:_(\d+))?\.npz$")
    found = {}
    for path in root.iterdir():
        match = pattern.match(path.name)
        if match:
            found[int(match.group(1)) if match.group(1) else LEGACY_SIZE] = path
    return found


def choose_file(root: Path, flag: str, image_size: int) -> Path:
    """The npz of the smallest size >= image_size, else the largest."""
    found = available_files(root, flag)
    if not found:
        raise DataError(f"{root}: no {flag}_{{64,128,224}}.npz or {flag}.npz found (MedMNIST+ files)")
    larger = [size for size in found if size >= image_size]
    return found[min(larger) if larger else max(found)]


def check_labels(labels: np.ndarray, flavour: Flavour, path: Path, key: str) -> np.ndarray:
    labels = labels.reshape(-1, 1) if labels.ndim == 1 else labels
    if labels.ndim != 2 or labels.shape[1] != flavour.label_columns:
        raise DataError(f"{path}: {key} has shape {labels.shape}; expected (N, {flavour.label_columns})")
    unknown = np.setdiff1d(np.unique(labels), flavour.label_values)
    if unknown.size:
        raise DataError(f"{path}: {key} has value(s) {unknown[:5].tolist()} outside the known labels "
                        f"{list(flavour.label_values)}")
    return flavour.to_task_labels(labels.astype(np.int64)).astype(np.int64)


def check_images(images: np.ndarray, count: int, path: Path, key: str) -> None:
    shape_ok = images.ndim == 3 or (images.ndim == 4 and images.shape[3] in (1, 3))
    if images.dtype != np.uint8 or not shape_ok or images.shape[0] != count:
        raise DataError(f"{path}: {key} is {images.dtype} of shape {images.shape}; expected uint8 "
                        f"({count}, S, S) or ({count}, S, S, 3) to match the labels")


UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)  # a truncated or corrupt file


def open_npz(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except UNREADABLE as error:
        raise DataError(f"{path}: cannot be read as an npz file ({error}); expected a MedMNIST+ npz "
                        f"(truncated download?)") from None


def read_member(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except UNREADABLE as error:
        raise DataError(f"{path}: {key} cannot be read ({error}); the file is truncated or corrupt") from None


def load_medmnist(request: SourceRequest) -> Catalog:
    task = request.task
    flavour = FLAVOURS[task.name]
    path = choose_file(request.root, flavour.flag, request.image_size)
    with open_npz(path) as npz:
        expected = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]
        missing = [key for key in expected if key not in npz]
        if missing:
            raise DataError(f"{path}: missing key(s) {', '.join(missing)}; expected train/val/test _images and _labels")
        split_labels = {split: check_labels(read_member(npz, f"{split}_labels", path), flavour, path, f"{split}_labels")
                        for split in SPLITS}
    rows = {split: np.arange(len(labels)) for split, labels in split_labels.items()}
    split_of_record = np.concatenate([np.full(len(rows[split]), split) for split in SPLITS])
    row_of_record = np.concatenate([rows[split] for split in SPLITS])

    def read(indices) -> ReadResult:
        indices = np.asarray(indices)
        images: list[np.ndarray | None] = [None] * len(indices)
        with open_npz(path) as npz:
            for split in SPLITS:
                positions = np.flatnonzero(split_of_record[indices] == split)
                if len(positions):
                    split_images = read_member(npz, f"{split}_images", path)
                    check_images(split_images, len(rows[split]), path, f"{split}_images")
                    for position, image in zip(positions, split_images[row_of_record[indices[positions]]]):
                        images[position] = image
        prepared = prepare_arrays(images, size=request.image_size, grayscale=task.grayscale,
                                  xray_enhancement=task.xray_enhancement)
        return ReadResult(images=prepared, ok=np.ones(len(indices), dtype=bool))

    return Catalog(
        ids=[f"{split}/{row}" for split, row in zip(split_of_record, row_of_record)],
        labels=np.concatenate([split_labels[split] for split in SPLITS]),
        official_split=split_of_record,
        read=read,
        fingerprint=file_fingerprint(path),
        info={"dataset": flavour.note, "file": path.name, "split_method": "official MedMNIST splits"},
    )
