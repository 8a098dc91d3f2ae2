"""One trial as a Ray Tune function trainable: data -> model -> train -> attack -> explain -> MLflow."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import data, explain, models, records, robustness, tracking, training
from .data import UnitFloatView
from .data.preprocess import xray_sigma
from .evaluation_progress import ProgressPublisher, open_progress
from .runtime import isolation
from .runtime.resources import configure_tensorflow
from .runtime.timing import PhaseTimer
from .spec import keys
from .spec.config import TrialConfig
from .spec.keys import RUN_SETTINGS
from .spec.tasks import get_task
from .tracking import artifacts, buffer


_previous_trial_end: float | None = None  # in this worker process (workers run trial after trial)


def run_trial(tune_config: dict[str, Any]) -> None:
    """Ray Tune entry point. tune_config = {"trial": TrialConfig dict, "tracking_uri": ..., "experiment_id": ...}."""
    global _previous_trial_end
    import ray
    from ray import tune

    settings = {k: tune_config[k] for k in RUN_SETTINGS if k in tune_config}
    config = TrialConfig.from_tune({k: v for k, v in tune_config.items() if k not in RUN_SETTINGS})
    configure_tensorflow(config.cpus_per_trial, config.gpus_per_trial)
    context = tune.get_context()
    trial_id = context.get_trial_id() or config.run_name
    # a search's trials can share a config name: the driver names each with its study trial number
    name = context.get_trial_name() if settings.get("sweep_kind") == "search" else config.run_name
    node = ray.get_runtime_context().get_node_id()
    idle_since = _previous_trial_end or process_start_time()
    startup = time.time() - idle_since if idle_since else None
    try:
        execute(config, trial_id=trial_id, report=tune.report, checkpoint=tune.get_checkpoint(), node=node,
                startup_seconds=startup, run_name=name, **settings)
    finally:
        isolation.freeze_survivors()
        _previous_trial_end = time.time()


def process_start_time() -> float | None:
    """When this process started (epoch seconds), from /proc; None where there is no /proc."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return None


def execute(config: TrialConfig, *, tracking_uri: str, experiment_id: str, trial_id: str,
            report, checkpoint=None, node: str = "local", startup_seconds: float | None = None,
            run_name: str | None = None, parent_run_id: str | None = None,
            sweep_kind: str = "grid") -> dict[str, float]:
    """The trial's steps in order; `report(metrics, checkpoint=...)` is tune.report inside Ray.

    startup_seconds: time from the worker's start (or its previous trial's end) to this trial's start, logged as
    time/startup (worker boot and imports; the sweep-overhead benchmark reads it).
    A trial whose MLflow run already finished (the driver stopped before Tune recorded its end) reports the logged
    results instead of running again. The process keeps nothing of a trial's graphs: workers run trial after trial.
    """
    config = config.resolved()
    finished = buffer.writes.when_answering(
        lambda: tracking.finished_trial_metrics(tracking_uri, experiment_id, trial_id), tracking_uri)
    if finished is not None:
        report(tune_metrics(finished, config))
        return finished
    run = tracking.trial_run(config, tracking_uri, experiment_id, trial_id, run_name=run_name,
                             parent_run_id=parent_run_id, sweep_kind=sweep_kind)
    with isolation.trial_scope():
        return run_steps(config, run, tracking_uri=tracking_uri, report=report, checkpoint=checkpoint, node=node,
                         startup_seconds=startup_seconds)


def run_steps(config: TrialConfig, run, *, tracking_uri: str, report, checkpoint, node: str,
              startup_seconds: float | None) -> dict[str, float]:
    """run: the trial's MLflow run, a context manager (tracking.trial_run) entered once the data is loaded."""
    import keras

    keras.utils.set_random_seed(config.seed)
    timer = PhaseTimer()
    if startup_seconds is not None:
        timer.seconds["startup"] = startup_seconds
    with timer.phase("data"):
        task_data = data.open_task(config.task, config.source, image_size=config.image_size, seed=config.seed,
                                   data_root=config.data_root, max_train=config.max_train, max_test=config.max_test,
                                   enhancement=config.enhancement)
    with run, tempfile.TemporaryDirectory() as work:
        work = Path(work)
        tracking.record_attempt(node)
        artifacts.log_dataset(task_data.info, task_data.ids)
        artifacts.log_skipped_images(task_data.info)
        folder = restored_folder(checkpoint, work / "checkpoint")
        if config.source_run_id:
            with timer.phase("model"):
                model = models.load_model(artifacts.download_model(tracking_uri, config.source_run_id, work))
        else:
            with timer.phase("train"):
                logged = buffer.writes.when_answering(tracking.logged_epochs)
                model = train_model(config, task_data, report, folder, timer, logged, restored=checkpoint is not None)
        artifacts.log_model_description(models.describe_model(model))

        publish = ProgressPublisher(config, lambda result: report(result, checkpoint=checkpoint_of(folder)))
        x_eval, y_eval = evaluation_points(task_data, config.max_eval)
        with timer.phase("evaluate"):
            result = robustness.evaluate_robustness(
                model, x_eval, y_eval, config.epsilons, settings=config.attack_settings, seed=config.seed,
                sample_indices=list(range(min(config.explain_samples, len(y_eval)))),
                progress=open_progress(config, folder, publish=publish),
            )
        final = robustness.objectives(result.accuracy, config.reference_epsilon, result.clean_accuracy)
        if config.objective_split == "val":
            with timer.phase("evaluate_val"):
                final.update(validation_objectives(model, task_data, config,
                                                   open_progress(config, folder, name="val", publish=publish)))
        certification = None
        if config.certify:
            with timer.phase("certify"):
                certification = certify_points(model, x_eval, y_eval, config,
                                               open_progress(config, folder, name="certify", publish=publish))
        with timer.phase("explain"):
            explanations = explain.explain_samples(model, x_eval[result.sample_indices], y_eval[result.sample_indices],
                                                   result.adversarial_samples)
        corruption = None
        if config.corruption_names:  # last: it draws from no stream the steps before it use
            with timer.phase("corruptions"):
                corruption = corruption_accuracy(model, x_eval, y_eval, config,
                                                 open_progress(config, folder, name="corruptions", publish=publish))
        failed = [*result.failed_checks(), *(certification[0].failed_checks() if certification else ())]
        reasons = [result.failure_line()] if result.failed_checks() else []
        if certification:
            reasons += [f"{name}: {certification[0].checks[name].detail}" for name in certification[0].failed_checks()]
        why = "; ".join(reasons)
        with timer.phase("mlflow"):
            logged = [records.evaluation_record(result, final, task_data.num_classes),
                      records.explanation_record(explanations), records.checks_record(failed, why)]
            if certification is not None:
                logged.append(records.certification_record(*certification, config.epsilons, x_eval.shape[1:]))
            if corruption is not None:
                logged.append(records.corruption_record(corruption))
            for record in logged:
                artifacts.log_record(record)
            if not config.source_run_id:
                model_file = work / Path(keys.MODEL_ARTIFACT).name
                model.save(model_file)
                artifacts.log_model(model_file)
        artifacts.log_timings(timer.as_metrics())
    metrics = {**final, **timer.as_metrics(), keys.CHECKS_FAILED: ",".join(failed), keys.CHECKS_WHY: why,
               keys.PHASE: keys.PHASE_EVALUATED}
    report(tune_metrics(metrics, config))
    return metrics


def restored_folder(checkpoint, folder: Path) -> Path:
    """The trial's checkpoint folder: a copy of the Ray checkpoint it was restarted from (training state, then the
    evaluation's progress), or empty. Every epoch and every evaluation save is reported from it."""
    if checkpoint is None:
        folder.mkdir()
    else:
        with checkpoint.as_directory() as restored:
            shutil.copytree(restored, folder)
    return folder


def checkpoint_of(folder: Path):
    from ray import tune

    return tune.Checkpoint.from_directory(str(folder))


def certify_points(model, x_eval, y_eval, config: TrialConfig, progress=None):
    """Randomized-smoothing certificates of the smoothed classifier (noise_sigma) on certify_points seeded test points
    (their identity in the noise keys is their test index), and the EoT attacks on it at each ladder epsilon ->
    (robustness.SmoothedEvaluation, their test indices, their labels)."""
    count = min(config.certify_points, len(y_eval))
    rows = np.sort(np.random.default_rng([config.seed, 3]).choice(len(y_eval), count, replace=False))
    result = robustness.evaluate_smoothed(model, x_eval.subset(rows), y_eval[rows], config.epsilons,
                                          sigma=config.noise_sigma, n0=config.certify_n0, n=config.certify_n,
                                          alpha=config.certify_alpha, settings=config.attack_settings,
                                          batch_size=config.eval_batch_size, seed=config.seed, point_ids=rows,
                                          progress=progress)
    return result, rows, y_eval[rows]


def corruption_accuracy(model, x_eval, y_eval, config: TrialConfig, progress=None):
    """Accuracy under config.corruption_names at severities 1-5 on corruption_points seeded test points (all when
    None; their identity in the draws is their test index) -> trainables.corruptions.CorruptionResult."""
    from .corruptions import evaluate_corruptions
    from .robustness.attacks.compiled import compile_forward

    count = len(y_eval) if config.corruption_points is None else min(config.corruption_points, len(y_eval))
    rows = np.arange(len(y_eval)) if count == len(y_eval) else np.sort(
        np.random.default_rng([config.seed, 35]).choice(len(y_eval), count, replace=False))
    forward = compile_forward(model, x_eval.shape[1:])

    def predict(images: np.ndarray) -> np.ndarray:
        return np.argmax(forward(images).numpy(), axis=1)

    return evaluate_corruptions(predict, x_eval.subset(rows), y_eval[rows], config.corruption_names, seed=config.seed,
                                point_ids=rows, batch_size=config.eval_batch_size,
                                grayscale=get_task(config.task).grayscale,
                                progress=progress)


def validation_objectives(model, task_data, config: TrialConfig, progress=None) -> dict[str, float]:
    """The objectives on the validation split (same attacks and budgets), as val/<objective>."""
    x_val, y_val = evaluation_points(task_data, config.max_eval, split="val")
    result = robustness.evaluate_robustness(model, x_val, y_val, config.epsilons, settings=config.attack_settings,
                                            seed=config.seed, sample_indices=[], progress=progress)
    values = robustness.objectives(result.accuracy, config.reference_epsilon, result.clean_accuracy)
    return {keys.VAL_OBJECTIVE + name: value for name, value in values.items()}


def tune_metrics(metrics: dict[str, Any], config: TrialConfig) -> dict[str, Any]:
    """What Ray Tune (and Optuna) receive: with objective_split="val" the objectives are the validation split's."""
    if config.objective_split != "val":
        return metrics
    return {**metrics, **{name: metrics[keys.VAL_OBJECTIVE + name] for name in keys.OBJECTIVES
                          if keys.VAL_OBJECTIVE + name in metrics}}


def train_model(config: TrialConfig, task_data, report, folder: Path, timer: PhaseTimer,
                logged: set[int] = frozenset(), restored: bool = False):
    """Build (or restore from the checkpoint folder) and train the model, reporting and checkpointing every epoch
    from `folder`; `logged`: epochs the trial's MLflow run already holds (from an attempt killed before its
    checkpoint); `restored`: this attempt started from a checkpoint (the epoch callbacks see it)."""
    model = models.build_model(config.backbone, config.attention, task_data.num_classes,
                               input_shape=(config.image_size, config.image_size, 3), placement=config.placement,
                               weights=config.weights, scale=config.scale, heads=config.heads, dropout=config.dropout,
                               xray_sigma=model_xray_sigma(config))
    training.compile_model(model, config)
    state = training.TrainingState()
    if training.has_checkpoint(folder):
        state = training.load_checkpoint(folder, model)

    train_data = data.training_dataset(task_data.x_train, task_data.y_train, num_classes=task_data.num_classes,
                                       batch_size=config.batch_size, seed=config.seed, epoch_fraction=config.epoch_fraction,
                                       noise_sigma=config.noise_sigma)
    val_data = data.eval_dataset(task_data.x_val, task_data.y_val, num_classes=task_data.num_classes,
                                 batch_size=config.eval_batch_size)
    class_weight = data.class_weights(task_data.y_train, task_data.num_classes) if config.class_weighting else None

    def on_epoch_end(epoch: int, metrics: dict, model, state: training.TrainingState) -> None:
        with timer.phase("mlflow_epochs"):
            if epoch not in logged:
                artifacts.log_epoch(metrics, epoch)
        with timer.phase("checkpoint"):
            training.save_checkpoint(folder, model, state)
            report({**metrics, keys.EPOCH: epoch, keys.CLEAN_ACC: metrics[keys.VAL_ACCURACY],
                    keys.ROBUST_OBJECTIVE: math.nan, keys.PHASE: keys.PHASE_TRAINING},
                   checkpoint=checkpoint_of(folder))
        training.run_epoch_callbacks(training.EpochEvent(config, epoch, metrics, os.getpid(), restored))

    training.train(model, train_data, val_data, config, class_weight=class_weight, state=state,
                   on_epoch_end=on_epoch_end)
    return model


def model_xray_sigma(config: TrialConfig) -> float | None:
    """The enhancement's blur sigma at the model's input size, when the enhancement is a layer of the model."""
    return xray_sigma((config.image_size, config.image_size)) if config.enhancement == "model" else None


def evaluation_points(task_data, max_eval: int | None, split: str = "test"):
    """The first max_eval points of the split (deterministic: the data layer's split is seeded), as float32 [0,1]
    converted per indexed batch (data.UnitFloatView): no float32 copy of the split."""
    images, labels = getattr(task_data, f"x_{split}"), getattr(task_data, f"y_{split}")
    count = len(labels) if max_eval is None else min(max_eval, len(labels))
    return UnitFloatView(images[:count]), labels[:count]
