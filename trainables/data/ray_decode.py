"""The prepare step's decoder on Ray: one task per chunk of records, one CPU each, on every core of every node.

Each task decodes its chunk (OpenCV on one thread: Ray gives it one core) and writes its rows straight into the
entry's image file with os.pwrite, so no image travels through the object store or the driver. The file is in
the temporary folder beside the entry: on a multi-node cluster $ARS_CACHE_DIR must be shared storage mounted at
the same path everywhere (a task that cannot see the file fails with a message saying so).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import cache
from .catalog import Catalog
from .errors import DataError
from .prepare import Chunk, ChunkResult, Progress, decode_chunk

_CATALOGS: dict[str, Catalog] = {}  # per worker process: a catalog is fetched once, its folder index built once
DECODE_THREADS_ENV = "ARS_DECODE_THREADS"


def _decode_task(catalog_ref: list, key: str, chunk: Chunk, path: str, shape: tuple[int, ...]) -> ChunkResult:
    import cv2
    import ray

    os.environ[DECODE_THREADS_ENV] = "1"
    cv2.setNumThreads(1)
    if key not in _CATALOGS:
        _CATALOGS.clear()
        _CATALOGS[key] = ray.get(catalog_ref[0])
    if not Path(path).is_file():
        raise DataError(f"{path} is not visible on this node ({os.uname().nodename}): on a multi-node cluster "
                        f"${cache.CACHE_ENV} must be shared storage mounted at the same path on every node")
    return decode_chunk(_CATALOGS[key], chunk, cache.ArrayFile(Path(path), shape))


def decode_on_ray(catalog: Catalog, chunks: list[Chunk], images: cache.ArrayFile,
                  progress: Progress) -> list[ChunkResult]:
    """Run every chunk as a Ray task (Ray must be initialised); results as they finish, progress as they come."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=2)(_decode_task)
    catalog_ref = ray.put(catalog)
    key = f"{images.path}:{id(catalog)}"
    pending = [task.remote([catalog_ref], key, chunk, str(images.path), images.shape) for chunk in chunks]
    results = []
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=min(len(pending), 8), timeout=5.0)
            for ref in done:
                results.append(_result(ref))
                progress.add(results[-1])
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return results


def _result(ref) -> ChunkResult:
    """The task's result; a task's own error (a full disk, a DataError) is raised as itself, not as Ray's wrapper."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, OSError):
            raise OSError(cause.errno, cause.strerror) from None
        if isinstance(cause, DataError):
            raise DataError(str(cause)) from None
        raise
