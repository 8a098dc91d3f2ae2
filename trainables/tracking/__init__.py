"""Every write to MLflow goes through this package, every read of runs through `reader`; every name comes from
trainables.spec.keys (its docstring has the layout). Nothing here imports the science (data, models, robustness,
explanations, previews): the trial hands tracking plain results.

store      the tracking URI (checked before launch), the client, the experiment
reader     finished runs by config digest or name, a trial's run, earlier sweeps, a source run's model
runs       a sweep's parent run, one trial's run, the summary runs (report, Pareto front)
artifacts  what a trial logs into its run: the data set, epochs, its records (metrics, tags and files the trial
           computed), the model; it writes what it is handed and computes nothing
identity   the digests naming a trial and a sweep
"""

from __future__ import annotations

from .identity import sweep_digest, trial_digest, trial_digests  # noqa: F401 - part of the interface
from .reader import (finished_runs_by_digest, finished_runs_by_name, finished_trial_metrics,  # noqa: F401
                     download_artifact, logged_epochs, logged_model, search_all, sweep_digests)
from .runs import (end_sweep_run, log_pareto_front, log_report, log_summary_run, mark_trial_failed,  # noqa: F401
                   record_attempt, start_sweep_run, supersede_finished, trial_run)
from .store import (SQLITE_HEADER, check_server, check_sqlite_file, check_tracking_uri,  # noqa: F401
                    default_tracking_uri, ensure_experiment, mlflow_client)
