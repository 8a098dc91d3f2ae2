"""On-disk store of prepared (decoded, preprocessed) images that trials memory-map, so decoding happens once.

Location: $ARS_CACHE_DIR if set, else ~/.cache/attentive-robustness/ (or `cache_dir=`). On one machine keep it on
a local disk; on a multi-node cluster it must be shared storage mounted at the same path on every node (NFS, EFS,
a Lustre scratch): the prepare step's Ray tasks on any node write into it and trials on any node read it.

An entry is a folder `<source>-<task>-<size>px-<key>/` of `.npy` files (opened with mmap_mode="r": the page
cache, not the trial's private memory, holds what is read) and a `manifest.json` (format version, the data
folder's fingerprint, each array's shape, dtype and per-chunk checksums, verified once per node: checksums.py).
key is a SHA-256 over: source, task, image size,
PREPROCESS_VERSION, the data folder's absolute path and the ids of the records read. Without max_train / max_test
every record is read, so all seeds share one entry (the seeded split is applied when a trial opens it).

Writes: a build fills a temporary folder beside the entry (the image file is allocated in full first, so a disk
too small fails at once with a clear error) and is renamed into place, so a reader sees a complete entry or none;
a failed build leaves nothing behind. The first process to miss builds under a `filelock.FileLock`
(`<entry>.lock`); others wait, then read it. An entry that is incomplete, truncated, from another format version,
with a malformed manifest or bytes that fail their checksum, or whose data folder changed since (fingerprint
mismatch) is rebuilt, with a warning.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..runtime.disk import describe_bytes, free_bytes
from . import checksums
from .errors import DataError

log = logging.getLogger(__name__)

CACHE_ENV = "ARS_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/attentive-robustness")
LOCK_TIMEOUT_S = 4 * 3600  # a build of the largest data set at full size takes well under this
FORMAT_VERSION = 3  # 1: one .npz per entry, read whole; 2: a folder of memory-mappable .npy files; 3: with checksums
MANIFEST = "manifest.json"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

Arrays = dict[str, np.ndarray]


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def entry_path(cache_dir: Path, *, source: str, task: str, image_size: int, key_fields: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key_fields, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"{source}-{task}-{image_size}px-{digest}"


def ids_digest(ids: np.ndarray) -> str:
    return hashlib.sha256("\n".join(np.asarray(ids).astype(str)).encode()).hexdigest()


# ---------------------------------------------------------------- writing (into a temporary folder)

class ArrayFile:
    """A `.npy` file allocated in full up front and filled by row ranges with os.pwrite (from any process).

    pwrite raises OSError on a full disk; writing through a memory map would kill the process with SIGBUS instead.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype=np.uint8) -> None:
        self.path, self.shape, self.dtype = Path(path), tuple(int(s) for s in shape), np.dtype(dtype)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        self._header = _npy_header(header)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self.nbytes = len(self._header) + self.shape[0] * self.row_bytes

    def allocate(self) -> None:
        with open(self.path, "wb") as stream:
            stream.write(self._header)
            try:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(stream.fileno(), 0, self.nbytes)
                else:
                    stream.truncate(self.nbytes)
            except OSError as error:
                raise OSError(error.errno, f"{error.strerror}: {self.path.name} needs {describe_bytes(self.nbytes)}, "
                                           f"{describe_bytes(free_bytes(self.path))} free") from None

    def write_rows(self, start: int, rows: np.ndarray) -> None:
        """rows: (n, *shape[1:]) in this file's dtype, written at rows start .. start + n - 1."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or start < 0 or start + len(rows) > self.shape[0]:
            raise ValueError(f"rows of shape {rows.shape} at {start} do not fit {self.path.name} of shape {self.shape}")
        descriptor = os.open(self.path, os.O_WRONLY)
        try:
            view, offset = memoryview(rows).cast("B"), len(self._header) + start * self.row_bytes
            while view:
                written = os.pwrite(descriptor, view, offset)
                view, offset = view[written:], offset + written
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _npy_header(header: dict) -> bytes:
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue()


def save_array(folder: Path, name: str, array: np.ndarray) -> None:
    with open(Path(folder) / f"{name}.npy", "wb") as stream:
        np.save(stream, np.asarray(array), allow_pickle=False)
        stream.flush()
        os.fsync(stream.fileno())


def write_manifest(folder: Path, fingerprint: str = "") -> None:
    """Written last into the temporary folder: the shapes and dtypes every later read is checked against."""
    arrays = {}
    for path in sorted(Path(folder).glob("*.npy")):
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        arrays[path.stem] = {"shape": list(array.shape), "dtype": array.dtype.str, "bytes": path.stat().st_size,
                             **checksums.file_checksums(path)}
    (Path(folder) / MANIFEST).write_text(json.dumps(
        {"format": FORMAT_VERSION, "fingerprint": fingerprint, "arrays": arrays}, indent=1))


# ---------------------------------------------------------------- reading

def read_entry(path: Path, fingerprint: str | None = None, *, warn: bool = True) -> Arrays | None:
    """The entry's arrays, memory-mapped read-only; None if there is none or it must be rebuilt (with a warning).

    fingerprint: the data folder's current fingerprint; a different one stored in the entry means it changed.
    warn: False when the caller read the same entry (and warned) a moment before.
    """
    path = Path(path)
    if not path.exists():
        return None
    problem = None
    try:
        text = (path / MANIFEST).read_bytes()
        manifest = json.loads(text)
        problem = checksums.manifest_problem(manifest, FORMAT_VERSION)
        if problem is None and fingerprint is not None and manifest["fingerprint"] != fingerprint:
            problem = f"the data folder changed since it was prepared ({manifest['fingerprint']} -> {fingerprint})"
        if problem is None:
            arrays = {}
            for name, expected in manifest["arrays"].items():
                file = path / f"{name}.npy"
                if file.stat().st_size != expected["bytes"]:
                    raise ValueError(f"{file.name} has {file.stat().st_size} bytes, expected {expected['bytes']}")
                array = np.load(file, mmap_mode="r", allow_pickle=False)
                if list(array.shape) != expected["shape"] or array.dtype.str != expected["dtype"]:
                    raise ValueError(f"{file.name} holds {array.dtype.str} {array.shape}, expected {expected}")
                arrays[name] = array
            problem = checksums.verify_once(path, text, manifest["arrays"])
            if problem is None:
                return arrays
    except (OSError, ValueError, KeyError, TypeError) as error:
        problem = f"unreadable ({error})"
    if warn:
        log.warning("prepared entry %s: %s; rebuilding it", path, problem)
    return None


# ---------------------------------------------------------------- building once

def load_or_build(path: Path, build: Callable[[Path], None], *, fingerprint: str = "") -> tuple[Arrays, bool]:
    """The entry's arrays and whether it was ready; on a miss `build(folder)` fills a temporary folder (once
    across processes) with `.npy` files, which then becomes the entry."""
    path = Path(path)
    arrays = read_entry(path, fingerprint)
    if arrays is not None:
        return arrays, True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cache folder {path.parent} cannot be created ({error}); "
                        f"set {CACHE_ENV} or cache_dir") from None
    try:
        with FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S):
            arrays = read_entry(path, fingerprint, warn=False)  # another process may have built it while we waited
            if arrays is not None:
                return arrays, True
            _build_into_place(path, build, fingerprint)
    except Timeout:
        raise DataError(f"timed out after {LOCK_TIMEOUT_S} s waiting for the cache lock {path}.lock") from None
    arrays = read_entry(path, fingerprint)
    if arrays is None:
        raise DataError(f"prepared entry {path} cannot be read right after it was written")
    return arrays, False


def _build_into_place(path: Path, build: Callable[[Path], None], fingerprint: str) -> None:
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        build(temporary)
        write_manifest(temporary, fingerprint)
        if path.exists():  # a stale entry (checked under the lock): move it aside, then delete it
            stale = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".stale"))
            os.replace(path, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(temporary, path)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if error.errno in DISK_FULL:
            raise DataError(f"no space left in {path.parent} while preparing {path.name} ({error.strerror}); "
                            f"nothing was kept. Free space there or point {CACHE_ENV} at a larger disk") from None
        raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
