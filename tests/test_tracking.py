"""Writes to MLflow that concurrent trials share."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from trainables import tracking
from trainables.tracking import artifacts

INFO = {"source": "synthetic", "task": "pneumothorax", "image_size": 32, "counts": {"train": {0: 3, 1: 1}}}
IDS = {"train": [0, 1, 2, 3]}
# what MLflow 3.17 raised in CI when two trials of one task logged their data set at the same moment
DUPLICATE = "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest"


def failing_first(monkeypatch, message):
    original = SqlAlchemyStore.log_inputs
    calls = []

    def log_inputs(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MlflowException(message)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SqlAlchemyStore, "log_inputs", log_inputs)
    return calls


def test_a_data_set_insert_that_lost_the_race_is_retried_and_logged(tmp_path, monkeypatch):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    calls = failing_first(monkeypatch, DUPLICATE)
    with mlflow.start_run() as run:
        artifacts.log_dataset(INFO, IDS)
    logged = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert len(calls) == 2
    assert [d.dataset.digest for d in logged] == [artifacts.dataset_digest(INFO, IDS)]


def test_other_store_errors_are_not_retried(tmp_path, monkeypatch):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    calls = failing_first(monkeypatch, "(sqlite3.OperationalError) disk I/O error")
    with mlflow.start_run(), pytest.raises(MlflowException, match="disk I/O"):
        artifacts.log_dataset(INFO, IDS)
    assert len(calls) == 1
