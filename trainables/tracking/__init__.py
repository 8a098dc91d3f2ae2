"""Every write to MLflow goes through this package, every read of runs through `reader`; every name comes from
`keys`. The layout is in `keys`' docstring and the README.

store      the tracking URI (checked before launch), the client, the experiment
reader     finished runs by config digest or name, a trial's run, earlier sweeps, a source run's model
runs       a sweep's parent run, one trial's run, the summary runs (report, Pareto front)
artifacts  what a trial logs into its run (data set, epochs, evaluation, explanations, model); imported as
           trainables.tracking.artifacts, not re-exported here: it needs config and robustness, which import keys
identity   the digests naming a trial and a sweep
"""

from __future__ import annotations

from .identity import sweep_digest, trial_digest, trial_digests  # noqa: F401 - part of the interface
from .keys import *  # noqa: F401,F403 - the names are part of this package's interface
from .reader import (finished_runs_by_digest, finished_runs_by_name, finished_trial_metrics,  # noqa: F401
                     download_artifact, logged_epochs, logged_model, search_all, sweep_digests)
from .runs import (end_sweep_run, log_pareto_front, log_report, log_summary_run, mark_trial_failed,  # noqa: F401
                   record_attempt, start_sweep_run, supersede_finished, trial_run)
from .store import (SQLITE_HEADER, check_server, check_sqlite_file, check_tracking_uri,  # noqa: F401
                    default_tracking_uri, ensure_experiment, mlflow_client)
