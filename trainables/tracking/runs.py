"""The runs this project writes: a sweep's parent run (driver), one trial's run (worker) and the summary runs
(report, Pareto front)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator

from ..spec import keys
from . import buffer
from .identity import trial_digest
from .reader import finished_with_digests, run_for_trial
from .store import ensure_experiment, mlflow_client

# mlflow is imported inside the functions that use it (see store.py).


# ---------------------------------------------------------------- a sweep's parent run (driver)

def start_sweep_run(tracking_uri: str, experiment_id: str, *, sweep: str, profile: str, sweep_kind: str,
                    trials: int, resume: bool = False, digest: str = "") -> str:
    """The parent run of one sweep invocation (the trials nest under it in the MLflow UI); returns its id.
    With resume, the newest parent run of the same sweep digest is continued, so a resumed sweep stays one group."""
    client = mlflow_client(tracking_uri)
    if resume:
        wanted = f"tags.{keys.TAG_KIND} = '{keys.SWEEP_KIND}'"
        if digest:
            wanted += f" and tags.{keys.TAG_SWEEP_DIGEST} = '{digest}'"
        previous = client.search_runs([experiment_id], filter_string=wanted,
                                      order_by=["attributes.start_time DESC"], max_results=1)
        if previous:
            client.update_run(previous[0].info.run_id, status="RUNNING")
            return previous[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"{sweep}-{profile}", tags={
        keys.TAG_KIND: keys.SWEEP_KIND, keys.TAG_SWEEP: sweep, keys.TAG_PROFILE: profile,
        keys.TAG_SWEEP_KIND: sweep_kind, keys.TAG_SWEEP_DIGEST: digest})
    client.log_metric(run.info.run_id, "trials", trials)
    return run.info.run_id


def end_sweep_run(tracking_uri: str, run_id: str, *, failed: int, interrupted: bool = False) -> None:
    """Close the parent run: KILLED when interrupted, FAILED when a trial (or the launch) failed, else FINISHED."""
    client = mlflow_client(tracking_uri)
    client.log_metric(run_id, "trials_failed", failed)
    client.set_terminated(run_id, "KILLED" if interrupted else ("FAILED" if failed else "FINISHED"))


def supersede_finished(tracking_uri: str, experiment_id: str, digests, by: str) -> int:
    """--fresh: earlier finished runs of these configs no longer count as done (they stay, tagged); how many."""
    client, wanted, count = mlflow_client(tracking_uri), set(digests), 0
    for run in finished_with_digests(client, experiment_id):
        if run.data.tags[keys.TAG_CONFIG_DIGEST] in wanted:
            client.set_tag(run.info.run_id, keys.TAG_SUPERSEDED, by)
            count += 1
    return count



# ---------------------------------------------------------------- one trial's run (worker)

@contextlib.contextmanager
def trial_run(config, tracking_uri: str, experiment_id: str, trial_id: str, *, run_name: str | None = None,
              parent_run_id: str | None = None, sweep_kind: str = "grid") -> Iterator[Any]:
    """The trial's MLflow run; a restarted trial (same Ray trial id) continues its earlier run. Its writes go through
    buffer.writes: through an outage of the store the trial goes on, and the run ends once they are all logged."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.active_run() is not None:  # left here by an earlier trial of this worker that lost its store
        buffer.writes.abandon_run("FAILED")
    existing = buffer.writes.when_answering(lambda: run_for_trial(mlflow_client(tracking_uri), experiment_id, trial_id))
    if existing is not None:
        run = buffer.writes.when_answering(lambda: mlflow.active_run() or mlflow.start_run(run_id=existing.info.run_id))
    else:
        tags = {keys.TAG_SWEEP: config.sweep, keys.TAG_PROFILE: config.profile, keys.TAG_SWEEP_KIND: sweep_kind,
                keys.TAG_TRIAL_ID: trial_id, keys.TAG_SOURCE_RUN: str(config.source_run_id),
                keys.TAG_CONFIG_DIGEST: trial_digest(config)}
        if parent_run_id:
            tags[keys.TAG_PARENT] = parent_run_id
        run = buffer.writes.when_answering(lambda: mlflow.active_run() or mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name or config.run_name, tags=tags))
        buffer.writes.log_params(config.as_params())
    try:
        yield run
    except buffer.TrackingOutage:
        buffer.writes.abandon_run("FAILED")
        raise
    except BaseException:
        buffer.writes.set_tag(keys.TAG_STATUS, keys.STATUS_FAILED)
        buffer.writes.end_run("FAILED")
        raise
    try:
        buffer.writes.set_tag(keys.TAG_STATUS, keys.STATUS_FINISHED)
        buffer.writes.end_run("FINISHED")
    except buffer.TrackingOutage:
        buffer.writes.abandon_run("FAILED")
        raise


def record_attempt(node: str) -> None:
    """Which Ray node ran the trial, and how many attempts it took (restarts continue the same run)."""
    import mlflow

    run = mlflow.active_run()
    attempts = int(run.data.tags.get(keys.TAG_ATTEMPTS, "0")) + 1 if run else 1
    buffer.writes.set_tags({keys.TAG_NODE: node, keys.TAG_ATTEMPTS: str(attempts)})


def mark_trial_failed(tracking_uri: str, experiment_name: str, trial_id: str) -> None:
    """Driver side: a trial that died without closing its run (e.g. SIGKILL) is marked failed, not left RUNNING."""
    client = mlflow_client(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    run = experiment and run_for_trial(client, experiment.experiment_id, trial_id)
    if run and run.info.status == "RUNNING":
        client.set_tag(run.info.run_id, keys.TAG_STATUS, keys.STATUS_FAILED)
        client.set_terminated(run.info.run_id, "FAILED")



# ---------------------------------------------------------------- summary runs (report, Pareto front)

def log_summary_run(tracking_uri: str, experiment_id: str, run_name: str, *, tags: dict[str, str],
                    metrics: dict[str, float], artifacts_dir: str | os.PathLike | None = None,
                    texts: dict[str, str] | None = None, figures: dict[str, Any] | None = None) -> str:
    """A run that is not a trial (tag kind=summary): metrics, a folder of files, texts and figures; returns its id."""
    client = mlflow_client(tracking_uri)
    run = client.create_run(experiment_id, run_name=run_name, tags={keys.TAG_KIND: keys.SUMMARY_KIND, **tags})
    run_id = run.info.run_id
    try:
        for name, value in metrics.items():
            client.log_metric(run_id, name, value)
        if artifacts_dir is not None:
            client.log_artifacts(run_id, str(artifacts_dir))
        for path, text in (texts or {}).items():
            client.log_text(run_id, text, path)
        for path, figure in (figures or {}).items():
            client.log_figure(run_id, figure, path)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def log_pareto_front(tracking_uri: str, experiment_name: str, study_name: str, rows: list[dict], figure,
                     study_trials: int) -> str:
    """The Optuna study's Pareto front as a summary run (JSON rows and a figure); returns its run id."""
    return log_summary_run(
        tracking_uri, ensure_experiment(tracking_uri, experiment_name), keys.PARETO_RUN,
        tags={keys.TAG_STUDY: study_name},
        metrics={keys.STUDY_TRIALS: study_trials, keys.PARETO_SIZE: len(rows)},
        texts={keys.PARETO_JSON: json.dumps(rows, indent=2, default=str)}, figures={keys.PARETO_FIGURE: figure})


def log_report(tracking_uri: str, experiment_id: str, out_dir: str | os.PathLike, *, sweep: str, profile: str,
               counts: dict[str, int]) -> str:
    """The report folder as a summary run named "report"; counts: keys.REPORT_METRICS -> number."""
    return log_summary_run(tracking_uri, experiment_id, keys.REPORT_RUN,
                           tags={keys.TAG_SWEEP: sweep, keys.TAG_PROFILE: profile},
                           metrics={name: counts[name] for name in keys.REPORT_METRICS}, artifacts_dir=out_dir)
