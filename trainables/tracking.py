"""MLflow layout of a sweep: the only writer of MLflow keys (analysis reads them through the names below).

experiment  "<sweep>-<profile>", created on the driver before trials start
run         one per trial, named "<task>-<backbone>-<attention>-<placement>-s<seed>", tagged with the Ray trial id
params      every TrialConfig field, plus "model.<key>" from describe_model
metrics     per epoch (step = epoch): train_loss, train_accuracy, val_loss, val_accuracy
            final: clean_acc, acc_at_eps/<eps>, robust_acc_ref, robust_auc, robust_objective, check/<name> (1/0),
            time/<phase> (seconds), peak_rss_mb
tags        sweep, profile, trial_id, status (finished | failed), checks_failed, source_run_id,
            ray_node_id, attempts
artifacts   curves/accuracy_vs_epsilon.png, robustness/result.json, explanations/..., model/model.keras
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .config import TrialConfig, format_epsilon

EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
CLEAN = "clean_acc"
ACC_AT_EPS = "acc_at_eps/"
CHECK = "check/"
OBJECTIVES = ("clean_acc", "robust_acc_ref", "robust_auc", "robust_objective")
MODEL_PARAM = "model."
TAG_TRIAL_ID = "trial_id"
TAG_STATUS = "status"
TAG_CHECKS_FAILED = "checks_failed"
TAG_SOURCE_RUN = "source_run_id"
TAG_NODE = "ray_node_id"
TAG_KIND = "kind"  # "summary" on report / Pareto-front runs, which are not trials
SUMMARY_KIND = "summary"
TAG_ATTEMPTS = "attempts"
MODEL_ARTIFACT = "model/model.keras"
RESULT_ARTIFACT = "robustness/result.json"
CURVE_ARTIFACT = "curves/accuracy_vs_epsilon.png"
EXPLANATIONS_DIR = "explanations"


def default_tracking_uri(directory: str | os.PathLike | None = None) -> str:
    """An absolute sqlite URI (Ray trials chdir into session folders, so relative URIs would scatter)."""
    return "sqlite:///" + str(Path(directory or os.getcwd()).resolve() / "mlflow.db")


def check_tracking_uri(uri: str) -> None:
    """Raise ValueError when trials could not log to this URI."""
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_absolute():
            raise ValueError(f"--tracking-uri must be absolute (trials run in other folders); received {uri!r}, use sqlite:////abs/path/mlflow.db")
        if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
            raise ValueError(f"--tracking-uri {uri!r}: folder {path.parent} does not exist or is not writable")
    elif uri.startswith(("http://", "https://")):
        import urllib.request

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5)
        except OSError as error:
            raise ValueError(f"--tracking-uri {uri!r} is not reachable ({error}); start it with `mlflow server --serve-artifacts`") from None
    else:
        raise ValueError(f"--tracking-uri must be sqlite:////absolute/path.db or http(s)://host:port; received {uri!r}")


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The experiment's id, created if new; with sqlite its artifacts live beside the database file, not in the
    current folder (two stores would otherwise share ./mlruns/<id>)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri[len("sqlite:///"):]).parent / "mlartifacts" / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def _run_for_trial(client, experiment_id: str, trial_id: str):
    runs = client.search_runs([experiment_id], filter_string=f"tags.{TAG_TRIAL_ID} = '{trial_id}'", max_results=1)
    return runs[0] if runs else None


def finished_trial_metrics(tracking_uri: str, experiment_id: str, trial_id: str) -> dict[str, Any] | None:
    """The final metrics of this trial's run if it already finished, else None.

    A driver stopped (Ctrl-C, killed) after a trial's run finished but before Ray Tune recorded the trial's end
    resumes that trial: it must report these results, not run again.
    """
    import mlflow

    run = _run_for_trial(mlflow.MlflowClient(tracking_uri), experiment_id, trial_id)
    if run is None or run.info.status != "FINISHED" or run.data.tags.get(TAG_STATUS) != "finished":
        return None
    return {**run.data.metrics, "checks_failed": run.data.tags.get(TAG_CHECKS_FAILED, ""), "phase": "evaluated"}


@contextlib.contextmanager
def trial_run(config: TrialConfig, tracking_uri: str, experiment_id: str, trial_id: str) -> Iterator[Any]:
    """The trial's MLflow run; a restarted trial (same Ray trial id) continues its earlier run."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    existing = _run_for_trial(client, experiment_id, trial_id)
    if existing is not None:
        run = mlflow.start_run(run_id=existing.info.run_id)
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=config.run_name)
        mlflow.log_params(config.as_params())
        mlflow.set_tags({"sweep": config.sweep, "profile": config.profile, TAG_TRIAL_ID: trial_id,
                         TAG_SOURCE_RUN: str(config.source_run_id)})
    try:
        yield run
    except BaseException:
        mlflow.set_tag(TAG_STATUS, "failed")
        mlflow.end_run("FAILED")
        raise
    mlflow.set_tag(TAG_STATUS, "finished")
    mlflow.end_run("FINISHED")


def record_attempt(node: str) -> None:
    """Which Ray node ran the trial, and how many attempts it took (restarts continue the same run)."""
    import mlflow

    run = mlflow.active_run()
    attempts = int(run.data.tags.get(TAG_ATTEMPTS, "0")) + 1 if run else 1
    mlflow.set_tags({TAG_NODE: node, TAG_ATTEMPTS: str(attempts)})


def mark_trial_failed(tracking_uri: str, experiment_name: str, trial_id: str) -> None:
    """Driver side: a trial that died without closing its run (e.g. SIGKILL) is marked failed, not left RUNNING."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    run = experiment and _run_for_trial(client, experiment.experiment_id, trial_id)
    if run and run.info.status == "RUNNING":
        client.set_tag(run.info.run_id, TAG_STATUS, "failed")
        client.set_terminated(run.info.run_id, "FAILED")


def log_model_description(description: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_params({MODEL_PARAM + key: str(value) for key, value in description.items()})


def log_epoch(metrics: dict[str, float], epoch: int) -> None:
    import mlflow

    mlflow.log_metrics({k: float(metrics[k]) for k in EPOCH_METRICS if k in metrics}, step=epoch)


def log_evaluation(result, objective_values: dict[str, float]) -> None:
    """Per-epsilon accuracy, objectives, check outcomes (metrics + tag), the result as JSON, the curve plot."""
    import mlflow

    metrics = {ACC_AT_EPS + format_epsilon(eps): acc for eps, acc in result.accuracy.items()}
    metrics.update(objective_values)
    metrics.update({CHECK + name: float(check.passed) for name, check in result.checks.items()})
    mlflow.log_metrics(metrics)
    mlflow.set_tag(TAG_CHECKS_FAILED, ",".join(result.failed_checks()))
    summary = {
        "accuracy": {format_epsilon(e): a for e, a in result.accuracy.items()},
        "objectives": objective_values,
        "checks": {n: {"passed": c.passed, "value": c.value, "detail": c.detail} for n, c in result.checks.items()},
        "gradient_evaluations": result.gradient_evaluations,
        "seconds": result.seconds,
    }
    mlflow.log_text(json.dumps(summary, indent=2), RESULT_ARTIFACT)
    mlflow.log_figure(accuracy_curve_figure(result.accuracy), CURVE_ARTIFACT)


def accuracy_curve_figure(accuracy: dict[float, float]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positive = sorted(e for e in accuracy if e > 0)
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(positive, [accuracy[e] for e in positive], marker="o", label="robust")
    axes.axhline(accuracy[0.0], linestyle="--", color="gray", label="clean")
    axes.set(xscale="log", xlabel="epsilon (L-inf, [0,1] pixels)", ylabel="accuracy", ylim=(0, 1.02))
    axes.legend()
    figure.tight_layout()
    plt.close(figure)
    return figure


def log_timings(metrics: dict[str, float]) -> None:
    import mlflow

    mlflow.log_metrics(metrics)


def log_directory(directory: str | os.PathLike, artifact_path: str) -> None:
    import mlflow

    mlflow.log_artifacts(str(directory), artifact_path)


def log_model(model) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(MODEL_ARTIFACT).name
        model.save(path)
        mlflow.log_artifact(str(path), str(Path(MODEL_ARTIFACT).parent))


def download_model(tracking_uri: str, run_id: str, destination: str | os.PathLike) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=MODEL_ARTIFACT,
                                                    dst_path=str(destination), tracking_uri=tracking_uri))


def finished_runs_by_name(tracking_uri: str, experiment_name: str) -> dict[str, str]:
    """run name -> run id of the newest finished run of each trial in the experiment ({} if none)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return {}
    runs = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=5000)
    found: dict[str, str] = {}
    for run in runs:
        found.setdefault(run.info.run_name, run.info.run_id)
    return found
