"""On-disk cache of decoded, preprocessed images, so decoding and resizing happen once per machine.

Location: $ARS_CACHE_DIR if set, else ~/.cache/attentive-robustness/ (or `load_task(cache_dir=...)`); keep it on a
local disk of each machine. One uncompressed .npz per entry, named
`<source>-<task>-<size>px-<key>.npz`, where key is a SHA-256 over: source, task, image size, PREPROCESS_VERSION,
the data folder's absolute path, the source's fingerprint (its label files' size and mtime) and the ids of the
records read. Without max_train / max_test every record is read, so all seeds share one entry (the seeded split
is applied after the cache); with caps the entry holds just the records the seed's capped split selects.

Concurrent trials: the first one to miss builds the entry under a `filelock.FileLock` (`<entry>.lock`); the
others wait and then read it. Entries are written to a temporary file in the same folder and moved into place
with os.replace, so a reader sees a complete file or none; a failed build leaves nothing behind. An unreadable
entry is rebuilt. Synthetic data is never cached (drawing it is cheaper than reading it back).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .errors import DataError

log = logging.getLogger(__name__)

CACHE_ENV = "ARS_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/attentive-robustness")
LOCK_TIMEOUT_S = 4 * 3600  # a build of the largest data set at full size takes well under this

Arrays = dict[str, np.ndarray]


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def entry_path(cache_dir: Path, *, source: str, task: str, image_size: int, key_fields: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key_fields, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"{source}-{task}-{image_size}px-{digest}.npz"


def ids_digest(ids: np.ndarray) -> str:
    return hashlib.sha256("\n".join(np.asarray(ids).astype(str)).encode()).hexdigest()


def read_entry(path: Path) -> Arrays | None:
    """The arrays of a complete entry, or None if there is none or it cannot be read."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        log.warning("cache entry %s is unreadable (%s); rebuilding it", path, error)
        return None


def write_entry(path: Path, arrays: Arrays) -> None:
    """Write to a temporary file beside `path`, then os.replace: readers never see a partial file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_or_build(path: Path, build: Callable[[], Arrays]) -> tuple[Arrays, bool]:
    """The entry's arrays and whether they came from the cache; builds and stores them (once) on a miss."""
    arrays = read_entry(path)
    if arrays is not None:
        return arrays, True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cache folder {path.parent} cannot be created ({error}); "
                        f"set {CACHE_ENV} or cache_dir") from None
    try:
        with FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S):
            arrays = read_entry(path)  # another process may have built it while we waited
            if arrays is not None:
                return arrays, True
            arrays = build()
            write_entry(path, arrays)
            return arrays, False
    except Timeout:
        raise DataError(f"timed out after {LOCK_TIMEOUT_S} s waiting for the cache lock {path}.lock") from None
