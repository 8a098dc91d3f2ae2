"""The one reader of MLflow's runs: the launcher's lookups (finished runs by config digest, a trial's run, the
sweeps that ran before), the analysis' trial runs (analysis.load) and a source run's model (sweep.validate)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..spec import keys
from .store import mlflow_client

NEWEST_FIRST = ["attributes.start_time DESC"]


def search_all(client, experiment_id: str, filter_string: str = "", order_by: list[str] | None = NEWEST_FIRST) -> list:
    """Every run matching the filter, newest first unless told, page by page (stores cap one page)."""
    found, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                  order_by=order_by, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def run_for_trial(client, experiment_id: str, trial_id: str):
    runs = client.search_runs([experiment_id], filter_string=f"tags.{keys.TAG_TRIAL_ID} = '{trial_id}'", max_results=1)
    return runs[0] if runs else None


def _is_finished(run) -> bool:
    tags = run.data.tags
    return (run.info.status == "FINISHED" and tags.get(keys.TAG_STATUS) == keys.STATUS_FINISHED
            and keys.TAG_SUPERSEDED not in tags)


def _final_metrics(run) -> dict[str, Any]:
    return {**run.data.metrics, keys.CHECKS_FAILED: run.data.tags.get(keys.TAG_CHECKS_FAILED, ""),
            keys.CHECKS_WHY: run.data.tags.get(keys.TAG_CHECKS_WHY, ""), keys.PHASE: keys.PHASE_EVALUATED}


def finished_with_digests(client, experiment_id: str) -> list:
    return [run for run in search_all(client, experiment_id, "attributes.status = 'FINISHED'")
            if _is_finished(run) and run.data.tags.get(keys.TAG_CONFIG_DIGEST)]


def finished_runs_by_digest(tracking_uri: str, experiment_id: str) -> dict[str, dict[str, Any]]:
    """config digest -> final metrics of the newest finished (not superseded) trial run with it."""
    found: dict[str, dict[str, Any]] = {}
    for run in finished_with_digests(mlflow_client(tracking_uri), experiment_id):
        found.setdefault(run.data.tags[keys.TAG_CONFIG_DIGEST], _final_metrics(run))
    return found


def sweep_digests(tracking_uri: str, experiment_id: str) -> set[str]:
    """The digests of the sweeps that ran in this experiment before (their parent runs)."""
    runs = search_all(mlflow_client(tracking_uri), experiment_id, f"tags.{keys.TAG_KIND} = '{keys.SWEEP_KIND}'")
    return {run.data.tags[keys.TAG_SWEEP_DIGEST] for run in runs if run.data.tags.get(keys.TAG_SWEEP_DIGEST)}


def finished_trial_metrics(tracking_uri: str, experiment_id: str, trial_id: str) -> dict[str, Any] | None:
    """The final metrics of this trial's run if it already finished, else None.

    A driver stopped (Ctrl-C, killed) after a trial's run finished but before Ray Tune recorded the trial's end
    resumes that trial: it must report these results, not run again. (A finished run of the same config under
    another trial id is found by the driver before launch: finished_runs_by_digest.)
    """
    run = run_for_trial(mlflow_client(tracking_uri), experiment_id, trial_id)
    return _final_metrics(run) if run is not None and _is_finished(run) else None


def finished_runs_by_name(tracking_uri: str, experiment_name: str) -> dict[str, str]:
    """run name -> run id of the newest finished trial run of each trial in the experiment ({} if none)."""
    client = mlflow_client(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return {}
    runs = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=5000)
    found: dict[str, str] = {}
    for run in runs:
        if run.data.tags.get(keys.TAG_KIND) is None:
            found.setdefault(run.info.run_name, run.info.run_id)
    return found


def logged_epochs() -> set[int]:
    """The epochs the active run already holds: a trial restarted from an older checkpoint than its last logged
    epoch (killed between logging and checkpointing) trains those epochs again but must not log them twice."""
    import mlflow

    run = mlflow.active_run()
    history = mlflow_client(mlflow.get_tracking_uri()).get_metric_history(run.info.run_id, keys.TRAIN_LOSS)
    return {int(metric.step) for metric in history}


def logged_model(tracking_uri: str, run_id: str) -> bool | None:
    """Whether the run logged keys.MODEL_ARTIFACT; None when the store has no such run."""
    from mlflow.exceptions import MlflowException

    store = mlflow_client(tracking_uri)
    try:
        store.get_run(run_id)
    except MlflowException:
        return None
    folder, _, name = keys.MODEL_ARTIFACT.rpartition("/")
    return any(item.path == keys.MODEL_ARTIFACT for item in store.list_artifacts(run_id, folder))


def download_artifact(tracking_uri: str, run_id: str, artifact_path: str,
                      destination: str | os.PathLike | None = None) -> Path:
    """One artifact of a run, downloaded into destination (a temporary folder when None); its local path."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path,
                                                    dst_path=str(destination) if destination else None,
                                                    tracking_uri=tracking_uri))
