"""What a trial logs into its active run: the data set, per-epoch metrics, the evaluation (metrics, result.json,
points.npz, the accuracy curve), explanations with their preview grids (trainables.previews), timings and the model."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import previews
from ..config import format_epsilon
from ..explain import write_explanations
from ..robustness.certify import certified_accuracy
from ..robustness.clinical import worst_case_clinical
from . import buffer, keys
from .reader import download_artifact

# mlflow is imported inside the functions that use it (see store.py); every write goes through buffer.writes.

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
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    sizes = {split: int(sum(counts.values())) for split, counts in info.get("counts", {}).items()}
    source = CodeDatasetSource(tags={"source": str(info.get("source")), "task": str(info.get("task")),
                                     "data_root": str(info.get("data_root")), "image_size": str(info.get("image_size")),
                                     **{f"{split}_size": str(n) for split, n in sizes.items()}})
    dataset = MetaDataset(source, name=f"{info.get('task')}-{info.get('source')}", digest=dataset_digest(info, ids))
    buffer.writes.log_input(dataset, context=keys.DATASET_CONTEXT, retry=_retry_on_duplicate)


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
    buffer.writes.log_params({keys.MODEL_PARAM + key: str(value) for key, value in description.items()})


def log_skipped_images(info: dict[str, Any]) -> None:
    """How many unreadable images the data layer skipped (a metric, 0 when none) and which (a text artifact)."""
    skipped = list(info.get("skipped", []))
    buffer.writes.log_metric(keys.SKIPPED_IMAGES, len(skipped))
    if skipped:
        lines = list(info.get("skipped_problems", [])) or skipped
        buffer.writes.log_text("\n".join(lines) + "\n", keys.SKIPPED_ARTIFACT)


def log_epoch(metrics: dict[str, float], epoch: int) -> None:
    buffer.writes.log_metrics({k: float(metrics[k]) for k in keys.EPOCH_METRICS if k in metrics}, step=epoch)


def accuracy_metrics(accuracy: dict[float, float]) -> dict[str, float]:
    return {keys.ACC_AT_EPS + format_epsilon(eps): acc for eps, acc in accuracy.items()}


def attack_metrics(result) -> dict[str, float]:
    """Per attack: accuracy after it at each epsilon, its points and cost; the worst case's points and radius."""
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
    return {keys.clinical_key(name, format_epsilon(eps)): value
            for eps, values in worst_case_clinical(result, num_classes).items()
            for name, value in values.items() if np.isfinite(value)}


def log_evaluation(result, objective_values: dict[str, float], num_classes: int | None = None) -> None:
    """Per-epsilon worst-case accuracy, clinical metrics (with num_classes), per-attack accuracy and cost,
    objectives, check outcomes (metrics + tag),
    the result as JSON (its one schema: RobustnessResult.to_dict), the per-point outcomes (points.npz), the
    accuracy curve (trainables.previews.trial_accuracy_curve)."""
    metrics = accuracy_metrics(result.accuracy)
    metrics.update(attack_metrics(result))
    if num_classes is not None:
        metrics.update(clinical_metrics(result, num_classes))
    metrics.update(objective_values)
    metrics.update({keys.CHECK + name: float(check.passed) for name, check in result.checks.items()})
    buffer.writes.log_metrics(metrics)
    buffer.writes.set_tag(keys.TAG_CHECKS_FAILED, ",".join(result.failed_checks()))
    buffer.writes.log_text(json.dumps(result.to_dict(), indent=2), keys.RESULT_ARTIFACT)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(keys.POINTS_ARTIFACT).name
        np.savez(path, **result.points())
        buffer.writes.log_artifact(str(path), str(Path(keys.POINTS_ARTIFACT).parent))
    buffer.writes.log_figure(previews.trial_accuracy_curve(result.accuracy), keys.CURVE_ARTIFACT)


def log_certification(evaluation, points: np.ndarray, labels: np.ndarray, epsilons, image_shape) -> None:
    """A smoothed classifier (robustness.SmoothedEvaluation): certified accuracy at each ladder epsilon and L2 radius,
    the abstain rate, smoothed (empirical) accuracy under the EoT attacks at each epsilon, the bracket checks
    (check/<name>, added to the checks_failed tag) and the per-point outcomes (robustness/certified.npz, `point` =
    test index as in points.npz)."""
    import mlflow

    result, attack = evaluation.certification, evaluation.attack
    accuracy = certified_accuracy(result, labels, l2_radii=keys.CERTIFIED_L2_RADII,
                                  linf_epsilons=(0.0, *epsilons), image_shape=image_shape)
    metrics = {keys.CERTIFIED_ACC_AT_EPS + format_epsilon(eps): value for eps, value in accuracy.linf.items()}
    metrics.update({keys.CERTIFIED_ACC_AT_L2 + format_epsilon(r): value for r, value in accuracy.l2.items()})
    metrics.update({keys.SMOOTHED_ACC_AT_EPS + format_epsilon(eps): value for eps, value in attack.accuracy.items()})
    metrics.update({keys.CHECK + name: float(check.passed) for name, check in evaluation.checks.items()})
    metrics[keys.ABSTAIN_RATE] = float(np.mean(result.prediction < 0)) if len(points) else float("nan")
    metrics[keys.CERTIFIED_POINTS] = float(len(points))
    buffer.writes.log_metrics(metrics)
    run = mlflow.get_run(mlflow.active_run().info.run_id)
    before = [name for name in run.data.tags.get(keys.TAG_CHECKS_FAILED, "").split(",") if name]
    buffer.writes.set_tag(keys.TAG_CHECKS_FAILED, ",".join([*before, *evaluation.failed_checks()]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(keys.CERTIFIED_ARTIFACT).name
        np.savez(path, point=np.asarray(points), label=np.asarray(labels), prediction=result.prediction,
                 radius=result.radius, p_lower=result.p_lower, epsilons=np.asarray(attack.epsilons),
                 smoothed_prediction=attack.clean_prediction, smoothed_robust=attack.robust,
                 broken_by=attack.broken_by, broken_prediction=attack.broken_prediction)
        buffer.writes.log_artifact(str(path), str(Path(keys.CERTIFIED_ARTIFACT).parent))


def log_explanations(explanations) -> None:
    """explanations/samples.npz (trainables.explain's arrays) and the two preview grids drawn by trainables.previews."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_explanations(explanations, folder / keys.SAMPLES_FILE)
        previews.write_png(previews.perturbation_preview(explanations), folder / Path(keys.PERTURBATION_PREVIEW).name)
        previews.write_png(previews.gradcam_preview(explanations), folder / Path(keys.GRADCAM_PREVIEW).name)
        buffer.writes.log_artifacts(str(folder), keys.EXPLANATIONS_DIR)


def log_evaluation_progress(line: str, counts: dict[str, float], step: int) -> None:
    buffer.writes.set_tag(keys.EVAL_PROGRESS, line)
    buffer.writes.log_metrics({keys.EVAL_PROGRESS_METRIC + name: float(value) for name, value in counts.items()}, step=step)


def log_timings(metrics: dict[str, float]) -> None:
    buffer.writes.log_metrics(metrics)


def log_model(model) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(keys.MODEL_ARTIFACT).name
        model.save(path)
        buffer.writes.log_artifact(str(path), str(Path(keys.MODEL_ARTIFACT).parent))


def download_model(tracking_uri: str, run_id: str, destination: str | os.PathLike) -> Path:
    return download_artifact(tracking_uri, run_id, keys.MODEL_ARTIFACT, destination)
