"""HAM10000 in its published layout.

<root>/HAM10000_metadata.csv          columns lesion_id, image_id, dx, ... (one row per image)
<root>/HAM10000_images_part_1/<image_id>.jpg
<root>/HAM10000_images_part_2/<image_id>.jpg

No official split: records are split by seed, grouped by lesion_id (one lesion never spans two splits).
"""

from __future__ import annotations

from .registry import SourceRequest
from ..catalog import Catalog, class_indices, file_fingerprint, read_files
from ..errors import DataError
from .files import check_unique, first_existing, read_table

METADATA = "HAM10000_metadata.csv"
IMAGE_DIRS = ("HAM10000_images_part_1", "HAM10000_images_part_2")


def load_ham10000(request: SourceRequest) -> Catalog:
    root, task = request.root, request.task
    metadata = root / METADATA
    table = read_table(metadata, ("lesion_id", "image_id", "dx"), "the HAM10000 metadata (lesion_id, image_id, dx)")
    check_unique(table["image_id"], metadata, "image_id")
    image_dirs = [root / name for name in IMAGE_DIRS]
    if not any(folder.is_dir() for folder in image_dirs):
        raise DataError(f"{root}: neither {IMAGE_DIRS[0]}/ nor {IMAGE_DIRS[1]}/ exists (expected HAM10000 JPEGs)")
    image_ids = table["image_id"].to_numpy()

    def resolve(index: int):
        return first_existing([folder / f"{image_ids[index]}.jpg" for folder in image_dirs])

    def read(indices):
        return read_files(resolve, indices, size=request.image_size, grayscale=task.grayscale,
                          xray_enhancement=task.xray_enhancement)

    return Catalog(
        ids=image_ids,
        labels=class_indices(table["dx"], task.class_names, source=metadata, column="dx"),
        groups=table["lesion_id"].to_numpy(),
        read=read,
        fingerprint=file_fingerprint(metadata),
        info={"dataset": "HAM10000", "split_method": "seeded 70/10/20, grouped by lesion_id, stratified by dx"},
    )
