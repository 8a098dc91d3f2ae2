"""The trial's resumable evaluation: its progress store lives in the trial's checkpoint folder, and every save is
reported to Ray Tune with that folder as the trial's checkpoint (so a trial restarted on any node gets it back), to
the trial's MLflow run (a tag and metrics) and, through the reported result, to the driver's console."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .robustness.evaluate.progress import EvaluationProgress
from .spec import keys
from .spec.config import TrialConfig
from .spec.lazy import resolve_callback
from .tracking import artifacts, identity


@dataclass(frozen=True)
class UnitEvent:
    """What an evaluation callback sees after each unit: the trial, the unit's key, whether it ran now (False: it was
    replayed from the checkpoint) and the process (failure injection in the tests kills it here)."""

    config: TrialConfig
    key: str
    ran: bool
    pid: int


def open_progress(config: TrialConfig, folder: Path, *, name: str = "",
                  publish: Callable[[EvaluationProgress], None]) -> EvaluationProgress:
    """The store of the evaluation `name` ("" for the test split's, "val" for the validation split's) in the
    checkpoint folder; `publish(progress)` runs after every save. A store saved by another config is refused."""

    def after_unit(key: str, ran: bool) -> None:
        for spec, arguments in config.eval_callbacks.items():
            resolve_callback(spec)(UnitEvent(config, f"{name}/{key}" if name else key, ran, os.getpid()),
                                   **arguments)

    return EvaluationProgress(folder / name if name else folder, identity.trial_digest(config),
                              interval_s=config.eval_checkpoint_s, after_unit=after_unit, on_save=publish)


class ProgressPublisher:
    """Hands every save to the trial's MLflow run (log_progress) and to Ray Tune with the checkpoint (`report_save`);
    the line the driver prints (keys.EVAL_PROGRESS) comes with a save at most every eval_checkpoint_s, however often
    cheap saves come. The objectives are NaN until the evaluation ends, as during training: a searcher expects them
    in every result."""

    def __init__(self, config: TrialConfig, report_save: Callable[[dict], None],
                 clock: Callable[[], float] = time.monotonic):
        self.interval_s, self.report_save, self.clock = config.eval_checkpoint_s, report_save, clock
        self.last_line = -math.inf

    def __call__(self, progress: EvaluationProgress) -> None:
        log_progress(progress)
        result = {**dict.fromkeys(keys.OBJECTIVES, math.nan), keys.PHASE: keys.PHASE_EVALUATING}
        if self.clock() - self.last_line >= self.interval_s:
            result[keys.EVAL_PROGRESS], self.last_line = progress.line(), self.clock()
        self.report_save(result)


def log_progress(progress: EvaluationProgress) -> None:
    """The save's status on the trial's MLflow run: the line as a tag, the counts as metrics at step = save number."""
    status = progress.status
    artifacts.log_evaluation_progress(progress.line(), {
        "units_done": len(progress.units), "units_replayed": progress.units_replayed,
        "points_done": status.get("done", 0), "points_total": status.get("total", 0),
        "eta_s": status.get("eta_s", float("nan"))}, step=progress.saves)
