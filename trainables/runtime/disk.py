"""Full disks: the free space a sweep needs where it writes, checked before launch, and a disk-full error found
after launch said in one line (where, how much is free) instead of a library's traceback.

Floors, not exact needs: Ray's results folder holds per running trial one checkpoint (two while the next is
written: a full-size InceptionResNetV2 with its optimizer state is ~0.7 GB) and the experiment state; a sqlite
tracking store grows by well under a MB per trial (metrics, tags; artifacts go to its mlartifacts folder beside it);
a prepared entry needs its image file in full (known before it is built: cache.ArrayFile.allocate).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_TEXT = ("no space left on device", "database or disk is full", "disk quota exceeded")
CHECKPOINT_BYTES = 1_500_000_000  # per concurrently running trial at --storage (two full-size checkpoints)
TRACKING_STORE_BYTES = 200_000_000  # a sqlite store, its journal and the trials' artifacts beside it


class DiskFull(ValueError):
    """Not enough free space at a place the sweep writes; str() is the one line to show (a ValueError: found
    before launch, it is refused like bad input, exit 2)."""

    def __init__(self, place: str, path: str | Path, needed: int | None = None,
                 then: str = "run the same command again") -> None:
        self.place, self.path, self.needed, self.free = place, str(path), needed, free_bytes(path)
        wanted = f"needs {describe_bytes(needed)}, " if needed else ""
        super().__init__(f"no space left for {place} at {path}: {wanted}{describe_bytes(self.free)} free there; "
                         f"free space (or point it at a larger disk), then {then}")


def describe_bytes(count: int | None) -> str:
    if count is None:
        return "unknown"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def free_bytes(path: str | Path) -> int | None:
    """Free bytes on the disk of path (or of its nearest existing parent); None if not a local path."""
    for candidate in (Path(path), *Path(path).parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def check_free(place: str, path: str | Path, needed: int) -> None:
    free = free_bytes(path)
    if free is not None and free < needed:
        raise DiskFull(place, path, needed)


def is_disk_full(error: BaseException | None) -> bool:
    """A full disk anywhere in the chain of causes (OSError ENOSPC/EDQUOT, sqlite's "database or disk is full",
    or the same text in an error a library re-raised as a string)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            return True
        if any(text in str(error).lower() for text in DISK_FULL_TEXT):
            return True
        error = error.__cause__ or error.__context__
    return False
