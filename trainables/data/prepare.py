"""The prepare step: decode, enhance and resize a request's records once, into a prepared entry (see cache.py).

    outcome = prepare_task("pneumothorax", "original", image_size=299, decoder=decode_on_ray)

A decoder fills the entry's image file chunk by chunk: `decode_here` in this process (threads; what a trial does
when it finds nothing prepared), `ray_decode.decode_on_ray` as Ray tasks on every core of the cluster (what
`python -m sweep.prepare` and `python -m sweep.run` do before trials start). Entry files:
  images.npy    uint8 (n_selected, S, S) gray or (n_selected, S, S, 3) RGB, one row per selected record
                (rows of unreadable records stay zero and are never used)
  ids.npy, ok.npy, problems.npy   record ids, which rows were readable, one line per unreadable record
More than MAX_SKIPPED_FRACTION unreadable records fail the build (nothing is kept), as soon as that many failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache
from .catalog import Catalog
from .errors import DataError
from .resolve import Resolved, resolve_task

log = logging.getLogger(__name__)

MAX_SKIPPED_FRACTION = 0.05
CHUNK_ROWS = 16  # records per decode task: ~0.6 s at 1024 px; many more tasks than cores keeps every core busy to the end
PROGRESS_EVERY_S = 10.0
SHOWN_PROBLEMS = 5  # skipped records named in a PrepareOutcome (every one is in the entry and the trial's run)


@dataclass(frozen=True)
class Chunk:
    start: int  # first row of the entry's image file
    indices: np.ndarray  # catalog indices of its records


@dataclass(frozen=True)
class ChunkResult:
    start: int
    ok: np.ndarray  # (len(chunk),) bool
    problems: tuple[str, ...]


class Progress:
    """Counts decoded records and fails the build as soon as more than the allowed fraction is unreadable."""

    def __init__(self, label: str, total: int, report: Callable[[str], None] | None = None) -> None:
        self.label, self.total, self.report = label, total, report or log.info
        self.done = self.skipped = 0
        self.start = self.last = time.perf_counter()

    def add(self, result: ChunkResult, example: str = "") -> None:
        self.done += len(result.ok)
        self.skipped += int((~result.ok).sum())
        if self.skipped > MAX_SKIPPED_FRACTION * self.total:
            raise DataError(f"{self.label}: {self.skipped} of {self.total} images could not be read (more than "
                            f"{MAX_SKIPPED_FRACTION:.0%}), e.g. {example or result.problems[0]}")
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY_S or self.done == self.total:
            self.last = now
            self.report(f"prepare {self.label}: {self.done}/{self.total} images ({self.rate:.1f}/s), "
                        f"{self.skipped} unreadable")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        return self.done / max(self.seconds, 1e-9)


def chunks_of(selected: np.ndarray, rows: int = CHUNK_ROWS) -> list[Chunk]:
    return [Chunk(start, selected[start:start + rows]) for start in range(0, len(selected), rows)]


def decode_chunk(catalog: Catalog, chunk: Chunk, images: cache.ArrayFile) -> ChunkResult:
    """Decode one chunk and write its rows (unreadable ones zero) into the image file."""
    result = catalog.read(chunk.indices)
    rows = np.zeros((len(chunk.indices), *images.shape[1:]), np.uint8)
    rows[result.ok] = result.images
    images.write_rows(chunk.start, rows)
    return ChunkResult(chunk.start, result.ok, result.problems)


Decoder = Callable[[Catalog, list[Chunk], cache.ArrayFile, Progress], list[ChunkResult]]


def decode_here(catalog: Catalog, chunks: list[Chunk], images: cache.ArrayFile, progress: Progress) -> list[ChunkResult]:
    """In this process, chunk after chunk (each chunk on the catalog's decode threads)."""
    results = []
    for chunk in chunks:
        results.append(decode_chunk(catalog, chunk, images))
        progress.add(results[-1])
    return results


def entry_builder(resolved: Resolved, decoder: Decoder, report: Callable[[str], None] | None = None,
                  chunk_rows: int = CHUNK_ROWS) -> Callable[[Path], None]:
    """The build function of resolved's entry for cache.load_or_build: fills a temporary folder."""
    def build(folder: Path) -> None:
        selected = resolved.selected
        images = cache.ArrayFile(folder / "images.npy", (len(selected), *resolved.image_shape))
        images.allocate()
        progress = Progress(resolved.label, len(selected), report)
        results = sorted(decoder(resolved.catalog, chunks_of(selected, chunk_rows), images, progress),
                         key=lambda result: result.start)
        ok = np.concatenate([result.ok for result in results]) if results else np.zeros(0, bool)
        problems = [problem for result in results for problem in result.problems]
        cache.save_array(folder, "ids", resolved.catalog.ids[selected])
        cache.save_array(folder, "ok", ok)
        cache.save_array(folder, "problems", np.asarray(problems, dtype=str))

    return build


@dataclass(frozen=True)
class PrepareOutcome:
    label: str
    path: Path | None  # None: nothing to prepare (stand-in data is drawn by each trial)
    state: str  # "ready" (reused), "built" or "not prepared"
    images: int
    skipped: int
    seconds: float
    problems: tuple[str, ...] = ()  # one line per skipped record (its path and why), at most SHOWN_PROBLEMS


def prepare_resolved(resolved: Resolved, decoder: Decoder = decode_here,
                     report: Callable[[str], None] | None = None) -> tuple[cache.Arrays | None, PrepareOutcome]:
    start = time.perf_counter()
    if resolved.entry is None:
        return None, PrepareOutcome(resolved.label, None, "not prepared", len(resolved.selected), 0, 0.0)
    arrays, ready = cache.load_or_build(resolved.entry, entry_builder(resolved, decoder, report),
                                        fingerprint=resolved.catalog.fingerprint)
    if not np.array_equal(arrays["ids"], resolved.catalog.ids[resolved.selected]):
        raise DataError(f"prepared entry {resolved.entry} holds other records than requested; delete it")
    skipped = int((~arrays["ok"]).sum())
    problems = tuple(str(line) for line in np.asarray(arrays["problems"])[:SHOWN_PROBLEMS].tolist())
    return arrays, PrepareOutcome(resolved.label, resolved.entry, "ready" if ready else "built",
                                  len(resolved.selected), skipped, time.perf_counter() - start, problems)


def prepare_task(task: str, source: str, *, image_size: int, seed: int = 0, data_root=None, cache_dir=None,
                 max_train: int | None = None, max_test: int | None = None, decoder: Decoder = decode_here,
                 report: Callable[[str], None] | None = None) -> PrepareOutcome:
    """Make sure the request's entry is prepared (reusing a ready one); what a trial then opens without decoding."""
    resolved = resolve_task(task, source, image_size=image_size, seed=seed, data_root=data_root,
                            cache_dir=cache_dir, max_train=max_train, max_test=max_test)
    return prepare_resolved(resolved, decoder, report)[1]
