"""From (source, task) to the loader its TaskSpec names (trainables.spec.tasks), and what a loader receives.

A file source's loader is the "module:function" of `TaskSpec.loaders[source]`, imported on first use; the stand-in
source is one generic loader (synthetic.load_synthetic) over the task's `StandIn`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...spec.enums import SOURCE_NAMES, Source
from ...spec.lazy import resolve
from ...spec.tasks import TaskSpec, get_task
from ..catalog import Catalog
from ..errors import DataError

STANDIN_LOADER = "trainables.data.sources.synthetic:load_synthetic"  # every task's StandIn, drawn with OpenCV


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


def get_source(source: str, task: str) -> SourceEntry:
    if source not in SOURCE_NAMES:
        raise DataError(f"unknown source {source!r}; expected one of: {', '.join(SOURCE_NAMES)}")
    try:
        spec = get_task(task)
    except ValueError as error:
        raise DataError(str(error)) from None
    if source not in spec.sources:
        raise DataError(f"task {task!r} cannot be read from source {source!r}; its sources: {', '.join(spec.sources)}")
    function, root_env = (STANDIN_LOADER, None) if source == Source.SYNTHETIC.value else (
        spec.loaders[source].function, spec.loaders[source].root_env)
    try:
        return SourceEntry(resolve(function, f"{source} loader of task {task!r}"), root_env)
    except ValueError as error:
        raise DataError(str(error)) from None
