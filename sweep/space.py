"""Free space where a sweep writes: checked before launch (exit 2, one line), and a disk that fills after launch
said in one line naming the place (exit 1) instead of the library's traceback. Nothing half-made is left that
would stop the same command (or its --resume) once space is freed."""

from __future__ import annotations

import os
from pathlib import Path

from trainables.runtime import disk

SQLITE = "sqlite:///"
STORAGE = "Ray's results (--storage)"
AFTER_LAUNCH = "continue with the command below"


class StorageFilled(Exception):
    """--storage filled while the sweep ran. Ray writes its state there in place, so what it wrote since is
    truncated and cannot be read back (its results grid, its experiment state): `outcomes` come from the tracking
    store instead (sweep.launcher.stored_outcomes), and the next --resume sets the damaged folder aside
    (sweep.ray_state). str() is the one line to show."""

    def __init__(self, storage: str, concurrent_trials: int) -> None:
        super().__init__(str(disk.DiskFull(STORAGE, storage, storage_needs(concurrent_trials), then=AFTER_LAUNCH)))
        self.outcomes: list = []


def concurrent_trials(trials: int, max_concurrent: int | None) -> int:
    return max(1, min(trials, max_concurrent or os.cpu_count() or 1))


def storage_needs(concurrent: int) -> int:
    return disk.CHECKPOINT_BYTES * max(concurrent, 1)


def storage_filled(storage: str | Path) -> bool:
    """Less free at a local --storage than one running trial needs: the floor checked before launch, crossed since."""
    free = disk.free_bytes(storage) if "://" not in str(storage) else None
    return free is not None and free < disk.CHECKPOINT_BYTES


def sqlite_folder(tracking_uri: str) -> Path | None:
    return Path(tracking_uri[len(SQLITE):]).parent if tracking_uri.startswith(SQLITE) else None


def check_space(storage: str, tracking_uri: str, concurrent_trials: int) -> None:
    """Raise disk.DiskFull when --storage (local) or a sqlite tracking store has less than its floor free."""
    if "://" not in storage:
        disk.check_free(STORAGE, storage, storage_needs(concurrent_trials))
    folder = sqlite_folder(tracking_uri)
    if folder is not None:
        disk.check_free("the tracking store", folder, disk.TRACKING_STORE_BYTES)


def disk_full_line(error: BaseException, storage: str, tracking_uri: str) -> str | None:
    """One line for a full disk found after launch (None: not a full disk): where, and what is free there."""
    if not disk.is_disk_full(error):
        return None
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if text.startswith("no space left"):  # the prepared-data cache says it itself (trainables.data.cache)
        return text
    chain, seen = [], error
    while seen is not None and len(chain) < 20:
        chain.append(type(seen).__module__)
        seen = seen.__cause__ or seen.__context__
    if any(module.startswith(("mlflow", "sqlalchemy", "sqlite3")) for module in chain) and sqlite_folder(tracking_uri):
        return str(disk.DiskFull("the tracking store", sqlite_folder(tracking_uri), disk.TRACKING_STORE_BYTES,
                                 then=AFTER_LAUNCH))
    if "://" not in storage:
        return str(disk.DiskFull(STORAGE, storage, disk.CHECKPOINT_BYTES, then=AFTER_LAUNCH))
    return f"no space left on a disk the sweep writes ({text})"
