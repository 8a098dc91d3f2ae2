"""NIH ChestX-ray14 in its published layout.

<root>/Data_Entry_2017.csv           columns 'Image Index', 'Finding Labels' ('|'-separated), 'Patient ID', ...
<root>/train_val_list.txt, test_list.txt   the official split, one image name per line
<root>/images/<name>.png             (or images_001/images/ ... images_012/images/ as released on some mirrors)

Binary task: 'Pneumothorax' among the findings positive, everything else negative. The official test list is
the test split; val is carved out of train_val_list by seed, grouped by patient. Entries in neither list are
left out and counted in info['unlisted'].
"""

from __future__ import annotations

import logging

import numpy as np

from .registry import SourceRequest
from ..catalog import Catalog, file_fingerprint, read_files
from ..errors import DataError
from ..splits import TRAINVAL
from .files import check_unique, read_table, require_file

log = logging.getLogger(__name__)

ENTRIES = "Data_Entry_2017.csv"
TRAIN_VAL_LIST = "train_val_list.txt"
TEST_LIST = "test_list.txt"
POSITIVE_FINDING = "Pneumothorax"
FINDINGS = frozenset({
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
    "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia", "No Finding",
})


def image_folders(root):
    """images/ and the images_*/images/ folders of the split release, in name order."""
    return [folder for folder in [root / "images", *sorted(root.glob("images_*/images"))] if folder.is_dir()]


def read_list(path) -> set[str]:
    require_file(path, "an official ChestX-ray14 split list (one image name per line)")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_chestxray14(request: SourceRequest) -> Catalog:
    root, task = request.root, request.task
    entries = root / ENTRIES
    table = read_table(entries, ("Image Index", "Finding Labels", "Patient ID"),
                       "the ChestX-ray14 data entries ('Image Index', 'Finding Labels', 'Patient ID')")
    check_unique(table["Image Index"], entries, "Image Index")
    findings = table["Finding Labels"].str.split("|")
    unknown = sorted(set().union(*findings.map(set)) - FINDINGS)
    if unknown:
        raise DataError(f"{entries}: column 'Finding Labels' has unknown finding(s) "
                        f"{', '.join(map(repr, unknown[:5]))}; "
                        f"expected '|'-separated names from: {', '.join(sorted(FINDINGS))}")
    test_names, train_val_names = read_list(root / TEST_LIST), read_list(root / TRAIN_VAL_LIST)
    names = table["Image Index"].to_numpy()
    official = np.where(np.isin(names, list(test_names)), "test",
                        np.where(np.isin(names, list(train_val_names)), TRAINVAL, ""))
    listed = official != ""
    unlisted = int((~listed).sum())
    if unlisted:
        log.warning("%s: %d image(s) are in neither %s nor %s and are left out", entries, unlisted,
                    TRAIN_VAL_LIST, TEST_LIST)
    if not image_folders(root):
        raise DataError(f"{root}: no images/ or images_*/images/ folder (expected the ChestX-ray14 PNGs)")
    names, official = names[listed], official[listed]
    labels = findings[listed].map(lambda found: POSITIVE_FINDING in found).to_numpy().astype(np.int64)
    folder_of: dict[str, object] = {}

    def resolve(index: int):
        return folder_of.get(names[index], root / "images") / names[index]

    def read(indices):
        if not folder_of:  # index the folders once, on the first read (a cache hit never reads)
            for folder in reversed(image_folders(root)):
                folder_of.update(dict.fromkeys((path.name for path in folder.iterdir()), folder))
        return read_files(resolve, indices, size=request.image_size, grayscale=task.grayscale,
                          xray_enhancement=task.xray_enhancement)

    return Catalog(
        ids=names,
        labels=labels,
        groups=table["Patient ID"].to_numpy()[listed],
        official_split=official,
        read=read,
        fingerprint=file_fingerprint(entries, root / TRAIN_VAL_LIST, root / TEST_LIST),
        info={"dataset": "ChestX-ray14", "unlisted": unlisted,
              "split_method": "official test list; val = seeded 12.5 % of train_val_list, grouped by patient"},
    )
