"""What a trial logs into its active run: the data set, per-epoch metrics, its records (the evaluation, the
certificates, the explanations, handed over as plain metrics, tags and file contents by trainables.records),
timings and the model. Tracking writes what it is handed: nothing here computes a result.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec import keys
from . import buffer
from .reader import download_artifact

# mlflow is imported inside the functions that use it (see store.py); every write goes through buffer.writes.


@dataclass
class Record:
    """What a trial hands tracking to write into its run: metrics, tags and files (artifact path -> content)."""

    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def log_record(record: Record) -> None:
    """The record's metrics, tags and files, the files in one upload under their artifact paths."""
    if record.metrics:
        buffer.writes.log_metrics(record.metrics)
    for key, value in record.tags.items():
        buffer.writes.set_tag(key, value)
    if record.files:
        with tempfile.TemporaryDirectory() as folder:
            for artifact, content in record.files.items():
                path = Path(folder) / artifact
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            buffer.writes.log_artifacts(folder)


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


def log_evaluation_progress(line: str, counts: dict[str, float], step: int) -> None:
    buffer.writes.set_tag(keys.EVAL_PROGRESS, line)
    buffer.writes.log_metrics({keys.EVAL_PROGRESS_METRIC + name: float(value) for name, value in counts.items()}, step=step)


def log_timings(metrics: dict[str, float]) -> None:
    buffer.writes.log_metrics(metrics)


def log_model(path: str | os.PathLike) -> None:
    """A saved model file (model.save(path) in the trial) as the run's model artifact."""
    buffer.writes.log_artifact(str(path), str(Path(keys.MODEL_ARTIFACT).parent))


def download_model(tracking_uri: str, run_id: str, destination: str | os.PathLike) -> Path:
    return download_artifact(tracking_uri, run_id, keys.MODEL_ARTIFACT, destination)
