"""The loader registry: the closed set of sources, what a loader receives, and how a loader registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ...registry import Registry
from ..catalog import Catalog
from ..errors import DataError
from ..tasks import TaskSpec

class Source(str, Enum):
    """The closed set of data sources."""

    SYNTHETIC = "synthetic"  # procedural stand-ins, no files
    ORIGINAL = "original"  # the published releases
    MEDMNIST = "medmnist"  # MedMNIST+ npz files


SOURCE_NAMES = tuple(source.value for source in Source)


@dataclass(frozen=True)
class SourceRequest:
    """What a loader may use: the task, the target image size, the seed and (file sources) its data folder."""

    task: TaskSpec
    image_size: int
    seed: int
    root: Path | None
    max_train: int | None = None
    max_test: int | None = None


@dataclass(frozen=True)
class SourceEntry:
    load: Callable[[SourceRequest], Catalog]
    root_env: str | None  # environment variable naming the data folder; None: the source needs no files


SOURCES: Registry[SourceEntry] = Registry("loader (source, task)", error=DataError)


def register_source(source: str, task: str, *, root_env: str | None = None):
    if source not in SOURCE_NAMES:
        raise ValueError(f"unknown source {source!r}; expected one of: {', '.join(SOURCE_NAMES)}")

    def register(load: Callable[[SourceRequest], Catalog]) -> Callable[[SourceRequest], Catalog]:
        SOURCES.register((source, task), SourceEntry(load=load, root_env=root_env))
        return load

    return register


def list_sources() -> list[str]:
    return list(SOURCE_NAMES)


def data_root_env(source: str, task: str) -> str | None:
    """The environment variable naming the data folder of (source, task); None for sources without files."""
    return get_source(source, task).root_env


def get_source(source: str, task: str) -> SourceEntry:
    if source not in SOURCE_NAMES:
        raise DataError(f"unknown source {source!r}; expected one of: {', '.join(SOURCE_NAMES)}")
    try:
        return SOURCES[(source, task)]
    except KeyError:
        tasks = sorted(name for known_source, name in SOURCES if known_source == source)
        raise DataError(f"source {source!r} has no loader for task {task!r}; it has: {', '.join(tasks)}") from None
