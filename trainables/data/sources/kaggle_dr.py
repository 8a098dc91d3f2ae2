"""Kaggle Diabetic Retinopathy Detection (2015) in its published layout.

<root>/trainLabels.csv        columns image, level (grade 0-4)
<root>/train/<image>.jpeg     (also accepted: .jpg, .png, e.g. after a local re-encode)

Binary task: grades 0 and 1 negative, 2, 3 and 4 positive. Only the labelled train release is used; it is split
by seed, grouped by patient (the image name before `_left` / `_right`), so both eyes of a patient share a split.
"""

from __future__ import annotations

import numpy as np

from .registry import SourceRequest
from ..catalog import Catalog, file_fingerprint, read_files
from ..errors import DataError
from .files import check_unique, first_existing, read_table, require_dir

LABELS = "trainLabels.csv"
IMAGE_DIR = "train"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
GRADES = ("0", "1", "2", "3", "4")
FIRST_POSITIVE_GRADE = 2


def load_kaggle_dr(request: SourceRequest) -> Catalog:
    root, task = request.root, request.task
    labels_file = root / LABELS
    table = read_table(labels_file, ("image", "level"), "the Kaggle DR labels (image, level)")
    check_unique(table["image"], labels_file, "image")
    unknown = sorted(set(table["level"]) - set(GRADES))
    if unknown:
        raise DataError(f"{labels_file}: column 'level' has unknown value(s) {', '.join(map(repr, unknown[:5]))}; "
                        f"expected one of: {', '.join(GRADES)}")
    image_dir = require_dir(root / IMAGE_DIR, "the Kaggle DR training images <image>.jpeg")
    names = table["image"].to_numpy()
    grades = table["level"].astype(int).to_numpy()

    def resolve(index: int):
        return first_existing([image_dir / f"{names[index]}{suffix}" for suffix in IMAGE_SUFFIXES])

    def read(indices):
        return read_files(resolve, indices, size=request.image_size, grayscale=task.grayscale,
                          xray_enhancement=task.xray_enhancement)

    return Catalog(
        ids=names,
        labels=(grades >= FIRST_POSITIVE_GRADE).astype(np.int64),
        groups=table["image"].str.replace(r"_(left|right)$", "", regex=True).to_numpy(),
        read=read,
        fingerprint=file_fingerprint(labels_file),
        info={"dataset": "Kaggle DR 2015 (train release)",
              "split_method": "seeded 70/10/20, grouped by patient, stratified by label",
              "grade_counts": {grade: int((grades == int(grade)).sum()) for grade in GRADES}},
    )
