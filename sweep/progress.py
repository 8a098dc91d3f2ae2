"""Progress lines on the driver: one per trial start and end, what a person can follow over SSH.

Ray Tune pickles the run's callbacks with the experiment and a resumed run gets those copies back, not new ones:
the callback holds no state and reports to this module's active printer, so a resumed sweep counts on from what
finished before instead of restarting at 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ray.tune import Callback

from trainables.spec import keys
from trainables.tracking import mark_trial_failed

from .labels import trial_label

_active: "ProgressPrinter | None" = None


def start(total: int | None, tracking_uri: str, experiment_name: str, done: Iterable[str] = ()) -> "ProgressPrinter":
    """The printer of the sweep this driver runs now (one at a time)."""
    global _active
    _active = ProgressPrinter(total, tracking_uri, experiment_name, done)
    return _active


class ProgressCallback(Callback):
    def on_trial_start(self, iteration, trials, trial, **info):
        if _active:
            _active.begin(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if _active and keys.EVAL_PROGRESS in result:
            _active.evaluating(trial, result[keys.EVAL_PROGRESS])

    def on_trial_complete(self, iteration, trials, trial, **info):
        if _active:
            _active.finish(trial, "finished")

    def on_trial_error(self, iteration, trials, trial, **info):
        if _active:
            mark_trial_failed(_active.tracking_uri, _active.experiment_name, trial.trial_id)
            _active.finish(trial, "FAILED")


class ProgressPrinter:
    """The count is out of the whole grid: `done` names the trials that finished before this invocation."""

    def __init__(self, total: int | None, tracking_uri: str, experiment_name: str, done: Iterable[str] = ()) -> None:
        self.total, self.tracking_uri, self.experiment_name = total, tracking_uri, experiment_name
        self.earlier = set(done)
        self.counted = set(done)
        self.started: dict[str, float] = {}

    @property
    def done(self) -> int:
        return len(self.counted)

    def begin(self, trial) -> None:
        self.started[trial.trial_id] = time.monotonic()
        print(f"  start   {trial_label(trial)}", flush=True)

    def evaluating(self, trial, line: str) -> None:
        """A save of the trial's resumable evaluation (every eval_checkpoint_s at most)."""
        print(f"  eval    {trial_label(trial)}  {line}", flush=True)

    def finish(self, trial, status: str) -> None:
        label = trial_label(trial)  # a trial finished before is counted already (search trials can share a label)
        if label in self.earlier:  # a restored run hands it back (Ctrl-C came before Tune saw it end): not news
            return
        self.counted.add(trial.trial_id)
        seconds = time.monotonic() - self.started.get(trial.trial_id, time.monotonic())
        result = trial.last_result or {}
        scores = ""
        if result.get(keys.PHASE) == keys.PHASE_EVALUATED:
            scores = (f"clean {result[keys.CLEAN_ACC]:.3f}  robust@ref {result[keys.ROBUST_ACC_REF]:.3f}  "
                      f"objective {result[keys.ROBUST_OBJECTIVE]:.3f}")
        total = f"/{self.total}" if self.total else ""
        print(f"  [{self.done}{total}] {status:8s} {label}  {scores}  ({seconds:.0f} s)", flush=True)
        if result.get(keys.CHECKS_FAILED):
            print(f"           WARNING robustness checks failed: {result[keys.CHECKS_FAILED]} (details: MLflow "
                  f"artifact {keys.RESULT_ARTIFACT})", flush=True)
            if result.get(keys.CHECKS_WHY):
                print(f"           untrusted: {result[keys.CHECKS_WHY]}", flush=True)
