"""Every write to MLflow goes through this module (trial runs, a sweep's parent run, the report and Pareto-front
summary runs); every name comes from `keys`. The layout is in `keys`' docstring and the README."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import keys, store_lock
from .identity import sweep_digest, trial_digest, trial_digests  # noqa: F401 - part of the interface
from .keys import *  # noqa: F401,F403 - the names are part of this module's interface

_SQLITE = "sqlite:///"


def default_tracking_uri(directory: str | os.PathLike | None = None) -> str:
    """An absolute sqlite URI (Ray trials chdir into session folders, so relative URIs would scatter)."""
    return _SQLITE + str(Path(directory or os.getcwd()).resolve() / "mlflow.db")


def check_tracking_uri(uri: str) -> None:
    """Raise ValueError when trials could not log to this URI: a sqlite path that is a folder or not a database, a
    server that does not answer within the bounded wait (trainables.runtime.waits)."""
    if uri.startswith(_SQLITE):
        path = Path(uri[len(_SQLITE):])
        if not path.is_absolute():
            raise ValueError(f"--tracking-uri must be absolute (trials run in other folders); received {uri!r}, use sqlite:////abs/path/mlflow.db")
        if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
            raise ValueError(f"--tracking-uri {uri!r}: folder {path.parent} does not exist or is not writable")
        check_sqlite_file(path, f"--tracking-uri {uri!r}")
    elif uri.startswith(("http://", "https://")):
        check_server(uri)
    else:
        raise ValueError(f"--tracking-uri must be sqlite:////absolute/path.db or http(s)://host:port; received {uri!r}")


SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, what: str, example: str = "mlflow.db") -> None:
    """A sqlite store's path: absent (it is created), empty, or a sqlite database; not a folder or another file."""
    if path.is_dir():
        raise ValueError(f"{what}: {path} is a folder; expected a sqlite database file (e.g. {path / example})")
    if path.is_file() and path.stat().st_size:
        try:
            with path.open("rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except OSError as error:
            raise ValueError(f"{what}: {path} cannot be read ({error.strerror})") from None
        if header != SQLITE_HEADER:
            raise ValueError(f"{what}: {path} is not a sqlite database; name a new file or an existing store")


def check_server(uri: str) -> None:
    """An MLflow server answers its /health endpoint within the bounded wait."""
    import urllib.error
    import urllib.request

    from ..runtime.waits import connect_timeout, how_to_wait_longer

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=connect_timeout()).close()
    except urllib.error.HTTPError as error:
        raise ValueError(f"--tracking-uri {uri}: the server there answered HTTP {error.code} to /health; expected an "
                         f"MLflow server (mlflow server --serve-artifacts)") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ValueError(f"--tracking-uri {uri}: no answer from an MLflow server ({how_to_wait_longer()})") from None
        raise ValueError(f"--tracking-uri {uri} is not reachable ({reason}); start it with "
                         f"`mlflow server --serve-artifacts`") from None


def _client(tracking_uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri)


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The experiment's id, created if new; with sqlite its artifacts live beside the database file, not in the
    current folder (two stores would otherwise share ./mlruns/<id>)."""
    from mlflow.exceptions import MlflowException

    with store_lock.first_use(tracking_uri):  # two drivers creating one store (or experiment) at once
        client = _client(tracking_uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if tracking_uri.startswith(_SQLITE):
            location = (Path(tracking_uri[len(_SQLITE):]).parent / "mlartifacts" / name).as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as error:  # an http:// store: another driver created it a moment ago
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return client.get_experiment_by_name(name).experiment_id


# ---------------------------------------------------------------- a sweep's parent run (driver)

def start_sweep_run(tracking_uri: str, experiment_id: str, *, sweep: str, profile: str, sweep_kind: str,
                    trials: int, resume: bool = False, digest: str = "") -> str:
    """The parent run of one sweep invocation (the trials nest under it in the MLflow UI); returns its id.
    With resume, the newest parent run of the same sweep digest is continued, so a resumed sweep stays one group."""
    client = _client(tracking_uri)
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
    client = _client(tracking_uri)
    client.log_metric(run_id, "trials_failed", failed)
    client.set_terminated(run_id, "KILLED" if interrupted else ("FAILED" if failed else "FINISHED"))


# ---------------------------------------------------------------- one trial's run (worker)

def _run_for_trial(client, experiment_id: str, trial_id: str):
    runs = client.search_runs([experiment_id], filter_string=f"tags.{keys.TAG_TRIAL_ID} = '{trial_id}'", max_results=1)
    return runs[0] if runs else None


def _search_all(client, experiment_id: str, filter_string: str) -> list:
    """Every run matching the filter, newest first, page by page (stores cap one page)."""
    found, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                  order_by=["attributes.start_time DESC"], page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _is_finished(run) -> bool:
    tags = run.data.tags
    return (run.info.status == "FINISHED" and tags.get(keys.TAG_STATUS) == keys.STATUS_FINISHED
            and keys.TAG_SUPERSEDED not in tags)


def _final_metrics(run) -> dict[str, Any]:
    return {**run.data.metrics, keys.CHECKS_FAILED: run.data.tags.get(keys.TAG_CHECKS_FAILED, ""),
            keys.PHASE: keys.PHASE_EVALUATED}


def _finished_with_digests(client, experiment_id: str) -> list:
    return [run for run in _search_all(client, experiment_id, "attributes.status = 'FINISHED'")
            if _is_finished(run) and run.data.tags.get(keys.TAG_CONFIG_DIGEST)]


def finished_runs_by_digest(tracking_uri: str, experiment_id: str) -> dict[str, dict[str, Any]]:
    """config digest -> final metrics of the newest finished (not superseded) trial run with it."""
    found: dict[str, dict[str, Any]] = {}
    for run in _finished_with_digests(_client(tracking_uri), experiment_id):
        found.setdefault(run.data.tags[keys.TAG_CONFIG_DIGEST], _final_metrics(run))
    return found


def supersede_finished(tracking_uri: str, experiment_id: str, digests, by: str) -> int:
    """--fresh: earlier finished runs of these configs no longer count as done (they stay, tagged); how many."""
    client, wanted, count = _client(tracking_uri), set(digests), 0
    for run in _finished_with_digests(client, experiment_id):
        if run.data.tags[keys.TAG_CONFIG_DIGEST] in wanted:
            client.set_tag(run.info.run_id, keys.TAG_SUPERSEDED, by)
            count += 1
    return count


def sweep_digests(tracking_uri: str, experiment_id: str) -> set[str]:
    """The digests of the sweeps that ran in this experiment before (their parent runs)."""
    runs = _search_all(_client(tracking_uri), experiment_id, f"tags.{keys.TAG_KIND} = '{keys.SWEEP_KIND}'")
    return {run.data.tags[keys.TAG_SWEEP_DIGEST] for run in runs if run.data.tags.get(keys.TAG_SWEEP_DIGEST)}


def finished_trial_metrics(tracking_uri: str, experiment_id: str, trial_id: str) -> dict[str, Any] | None:
    """The final metrics of this trial's run if it already finished, else None.

    A driver stopped (Ctrl-C, killed) after a trial's run finished but before Ray Tune recorded the trial's end
    resumes that trial: it must report these results, not run again. (A finished run of the same config under
    another trial id is found by the driver before launch: finished_runs_by_digest.)
    """
    run = _run_for_trial(_client(tracking_uri), experiment_id, trial_id)
    return _final_metrics(run) if run is not None and _is_finished(run) else None


@contextlib.contextmanager
def trial_run(config, tracking_uri: str, experiment_id: str, trial_id: str, *, run_name: str | None = None,
              parent_run_id: str | None = None, sweep_kind: str = "grid") -> Iterator[Any]:
    """The trial's MLflow run; a restarted trial (same Ray trial id) continues its earlier run."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    existing = _run_for_trial(_client(tracking_uri), experiment_id, trial_id)
    if existing is not None:
        run = mlflow.start_run(run_id=existing.info.run_id)
    else:
        tags = {keys.TAG_SWEEP: config.sweep, keys.TAG_PROFILE: config.profile, keys.TAG_SWEEP_KIND: sweep_kind,
                keys.TAG_TRIAL_ID: trial_id, keys.TAG_SOURCE_RUN: str(config.source_run_id),
                keys.TAG_CONFIG_DIGEST: trial_digest(config)}
        if parent_run_id:
            tags[keys.TAG_PARENT] = parent_run_id
        run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name or config.run_name, tags=tags)
        mlflow.log_params(config.as_params())
    try:
        yield run
    except BaseException:
        mlflow.set_tag(keys.TAG_STATUS, keys.STATUS_FAILED)
        mlflow.end_run("FAILED")
        raise
    mlflow.set_tag(keys.TAG_STATUS, keys.STATUS_FINISHED)
    mlflow.end_run("FINISHED")


def record_attempt(node: str) -> None:
    """Which Ray node ran the trial, and how many attempts it took (restarts continue the same run)."""
    import mlflow

    run = mlflow.active_run()
    attempts = int(run.data.tags.get(keys.TAG_ATTEMPTS, "0")) + 1 if run else 1
    mlflow.set_tags({keys.TAG_NODE: node, keys.TAG_ATTEMPTS: str(attempts)})


def mark_trial_failed(tracking_uri: str, experiment_name: str, trial_id: str) -> None:
    """Driver side: a trial that died without closing its run (e.g. SIGKILL) is marked failed, not left RUNNING."""
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    run = experiment and _run_for_trial(client, experiment.experiment_id, trial_id)
    if run and run.info.status == "RUNNING":
        client.set_tag(run.info.run_id, keys.TAG_STATUS, keys.STATUS_FAILED)
        client.set_terminated(run.info.run_id, "FAILED")


def dataset_digest(info: dict[str, Any], ids: dict[str, Any]) -> str:
    """What identifies the data a trial saw: source, task, size, preprocessing and every record id per split."""
    digest = hashlib.sha256()
    for key in ("source", "task", "image_size", "preprocess_version", "seed"):  # nothing machine-specific
        digest.update(f"{key}={info.get(key)};".encode())
    for split in sorted(ids):
        digest.update(f"{split}:".encode() + "\n".join(map(str, ids[split])).encode())
    return digest.hexdigest()[:16]


def log_dataset(info: dict[str, Any], ids: dict[str, Any]) -> None:
    """The trial's data as an MLflow input (the run page's Datasets): source, task, split sizes, digest."""
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    sizes = {split: int(sum(counts.values())) for split, counts in info.get("counts", {}).items()}
    source = CodeDatasetSource(tags={"source": str(info.get("source")), "task": str(info.get("task")),
                                     "data_root": str(info.get("data_root")), "image_size": str(info.get("image_size")),
                                     **{f"{split}_size": str(n) for split, n in sizes.items()}})
    dataset = MetaDataset(source, name=f"{info.get('task')}-{info.get('source')}", digest=dataset_digest(info, ids))
    _retry_on_duplicate(lambda: mlflow.log_input(dataset, context=keys.DATASET_CONTEXT))


def _retry_on_duplicate(write, attempts: int = 4) -> None:
    """MLflow's SQL store looks a data set up, then inserts it: two trials of one task starting together can both
    miss it and the second insert violates the unique key. The failed transaction rolled back, and a retry finds the
    row the other trial wrote."""
    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            return write()
        except MlflowException as error:
            message = str(error).lower()
            if attempt == attempts - 1 or not ("unique constraint" in message or "duplicate" in message):
                raise
            time.sleep(0.2 * (attempt + 1))


def log_model_description(description: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_params({keys.MODEL_PARAM + key: str(value) for key, value in description.items()})


def logged_epochs() -> set[int]:
    """The epochs the active run already holds: a trial restarted from an older checkpoint than its last logged
    epoch (killed between logging and checkpointing) trains those epochs again but must not log them twice."""
    import mlflow

    run = mlflow.active_run()
    history = _client(mlflow.get_tracking_uri()).get_metric_history(run.info.run_id, keys.TRAIN_LOSS)
    return {int(metric.step) for metric in history}


def log_skipped_images(info: dict[str, Any]) -> None:
    """How many unreadable images the data layer skipped (a metric, 0 when none) and which (a text artifact)."""
    import mlflow

    skipped = list(info.get("skipped", []))
    mlflow.log_metric(keys.SKIPPED_IMAGES, len(skipped))
    if skipped:
        lines = list(info.get("skipped_problems", [])) or skipped
        mlflow.log_text("\n".join(lines) + "\n", keys.SKIPPED_ARTIFACT)


def log_epoch(metrics: dict[str, float], epoch: int) -> None:
    import mlflow

    mlflow.log_metrics({k: float(metrics[k]) for k in keys.EPOCH_METRICS if k in metrics}, step=epoch)


def accuracy_metrics(accuracy: dict[float, float]) -> dict[str, float]:
    from ..config import format_epsilon

    return {keys.ACC_AT_EPS + format_epsilon(eps): acc for eps, acc in accuracy.items()}


def attack_metrics(result) -> dict[str, float]:
    """Per attack: accuracy after it at each epsilon, its points and cost; the worst case's points and radius."""
    from ..config import format_epsilon

    metrics = {f"{keys.ACC_AT_EPS}{name}/{format_epsilon(eps)}": acc
               for name, values in result.accuracy_by_attack.items() for eps, acc in values.items()}
    metrics.update({f"{keys.ACC_AT_EPS}{result.attacks[0]}/{keys.WORST_CASE_POINTS}/{format_epsilon(eps)}": acc
                    for eps, acc in result.first_attack_on_ensemble.items()})
    metrics.update({keys.POINTS + name: float(count) for name, count in result.points_by_attack.items()})
    metrics[keys.POINTS + keys.WORST_CASE_POINTS] = float(len(result.ensemble_indices))
    for name, cost in result.cost.items():
        metrics[keys.ATTACK_GRADIENTS + name] = float(cost["gradient_evaluations"])
        metrics[keys.ATTACK_QUERIES + name] = float(cost["queries"])
    if np.isfinite(result.median_radius):  # inf: more than half the points never broke (said in result.json)
        metrics[keys.MEDIAN_RADIUS] = result.median_radius
    return metrics


def clinical_metrics(result, num_classes: int) -> dict[str, float]:
    """The worst case's clinical metrics per epsilon as MLflow metrics (keys.clinical_key)."""
    from ..config import format_epsilon
    from ..robustness.clinical import worst_case_clinical

    return {keys.clinical_key(name, format_epsilon(eps)): value
            for eps, values in worst_case_clinical(result, num_classes).items()
            for name, value in values.items() if np.isfinite(value)}


def log_evaluation(result, objective_values: dict[str, float], num_classes: int | None = None) -> None:
    """Per-epsilon worst-case accuracy, clinical metrics (with num_classes), per-attack accuracy and cost,
    objectives, check outcomes (metrics + tag),
    the result as JSON (its one schema: RobustnessResult.to_dict), the per-point outcomes (points.npz), the
    accuracy curve (analysis.figures.trial_accuracy_curve)."""
    import mlflow

    from analysis.figures import trial_accuracy_curve

    metrics = accuracy_metrics(result.accuracy)
    metrics.update(attack_metrics(result))
    if num_classes is not None:
        metrics.update(clinical_metrics(result, num_classes))
    metrics.update(objective_values)
    metrics.update({keys.CHECK + name: float(check.passed) for name, check in result.checks.items()})
    mlflow.log_metrics(metrics)
    mlflow.set_tag(keys.TAG_CHECKS_FAILED, ",".join(result.failed_checks()))
    mlflow.log_text(json.dumps(result.to_dict(), indent=2), keys.RESULT_ARTIFACT)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(keys.POINTS_ARTIFACT).name
        np.savez(path, **result.points())
        mlflow.log_artifact(str(path), str(Path(keys.POINTS_ARTIFACT).parent))
    mlflow.log_figure(trial_accuracy_curve(result.accuracy), keys.CURVE_ARTIFACT)


def log_explanations(explanations) -> None:
    """explanations/samples.npz (trainables.explain's arrays) and the two preview grids drawn by analysis.figures."""
    import mlflow

    from analysis.figures import gradcam_preview, perturbation_preview, write_png

    from ..explain import write_explanations

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_explanations(explanations, folder / keys.SAMPLES_FILE)
        write_png(perturbation_preview(explanations), folder / Path(keys.PERTURBATION_PREVIEW).name)
        write_png(gradcam_preview(explanations), folder / Path(keys.GRADCAM_PREVIEW).name)
        mlflow.log_artifacts(str(folder), keys.EXPLANATIONS_DIR)


def log_timings(metrics: dict[str, float]) -> None:
    import mlflow

    mlflow.log_metrics(metrics)


def log_model(model) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(keys.MODEL_ARTIFACT).name
        model.save(path)
        mlflow.log_artifact(str(path), str(Path(keys.MODEL_ARTIFACT).parent))


def download_model(tracking_uri: str, run_id: str, destination: str | os.PathLike) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=keys.MODEL_ARTIFACT,
                                                    dst_path=str(destination), tracking_uri=tracking_uri))


def finished_runs_by_name(tracking_uri: str, experiment_name: str) -> dict[str, str]:
    """run name -> run id of the newest finished trial run of each trial in the experiment ({} if none)."""
    client = _client(tracking_uri)
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


# ---------------------------------------------------------------- summary runs (report, Pareto front)

def log_summary_run(tracking_uri: str, experiment_id: str, run_name: str, *, tags: dict[str, str],
                    metrics: dict[str, float], artifacts_dir: str | os.PathLike | None = None,
                    texts: dict[str, str] | None = None, figures: dict[str, Any] | None = None) -> str:
    """A run that is not a trial (tag kind=summary): metrics, a folder of files, texts and figures; returns its id."""
    client = _client(tracking_uri)
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
