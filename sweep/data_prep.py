"""Preparing a sweep's data before its trials start: each distinct prepared entry its trials will open is built
once, as Ray tasks on every core of the cluster (trainables.data.ray_decode), or reused when it is ready."""

from __future__ import annotations

import sys
from collections.abc import Callable

from trainables.spec import TrialConfig
from trainables.data.prepare import (
    MAX_SKIPPED_FRACTION,
    PrepareOutcome,
    prepare_resolved,
)
from trainables.data.resolve import resolve_task
from trainables.spec.keys import SKIPPED_ARTIFACT, SKIPPED_IMAGES


def data_request(trial: TrialConfig) -> dict:
    """The load arguments of a trial (what `trainables.trial` passes to open_task)."""
    return {"task": trial.task, "source": trial.source, "image_size": trial.image_size, "seed": trial.seed,
            "data_root": trial.data_root, "max_train": trial.max_train, "max_test": trial.max_test,
            "enhancement": trial.enhancement}


def check_data_folders(trials: list[TrialConfig]) -> None:
    """Raise DataError (a ValueError: exit 2 before launch) on any problem the label files and folders show: a data
    folder not set, missing or empty, a label table without its columns, an unreadable npz, an empty split. Nothing
    is decoded (the prepare step does that, on Ray)."""
    for request in dict.fromkeys(tuple(sorted(data_request(t).items())) for t in trials):
        resolve_task(**dict(request))


def prepare_data(trials: list[TrialConfig], report: Callable[[str], None] | None = None) -> list[PrepareOutcome]:
    """Build (on Ray, which must be initialised) or reuse every entry the trials need; one outcome per entry."""
    from trainables.data.ray_decode import decode_on_ray

    report = report or (lambda line: print(line, file=sys.stderr, flush=True))
    outcomes, seen = [], set()
    requests = list(dict.fromkeys(tuple(sorted(data_request(t).items())) for t in trials))
    for request in requests:
        resolved = resolve_task(**dict(request))
        if resolved.entry is None or resolved.entry in seen:  # stand-in data is drawn by each trial
            continue
        seen.add(resolved.entry)
        _, outcome = prepare_resolved(resolved, decode_on_ray, report)
        outcomes.append(outcome)
        for line in describe(outcome):
            report(line)
    return outcomes


def describe(outcome: PrepareOutcome) -> list[str]:
    """What the console shows of a prepared entry: its state and, when any, the unreadable images it left out."""
    if outcome.state == "ready":
        lines = [f"data {outcome.label}: ready ({outcome.images} images) in {outcome.path}"]
    else:
        lines = [f"data {outcome.label}: prepared {outcome.images} images in {outcome.seconds:.1f} s "
                 f"({outcome.images / max(outcome.seconds, 1e-9):.1f}/s, {outcome.skipped} unreadable) -> {outcome.path}"]
    if outcome.skipped:
        lines.append(f"warning: data {outcome.label}: skipped {outcome.skipped} of {outcome.images} images that could "
                     f"not be read (up to {MAX_SKIPPED_FRACTION:.0%} allowed; every trial logs them as metric "
                     f"{SKIPPED_IMAGES} and artifact {SKIPPED_ARTIFACT}), first:")
        lines += [f"  {problem}" for problem in outcome.problems]
    return lines
