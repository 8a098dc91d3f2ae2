"""Real toy trials through Ray Tune into a temporary MLflow store, read back; resume and re-evaluation."""

import contextlib
import io

import mlflow
import pytest
import ray

from pathlib import Path

from sweep.run import main

pytestmark = pytest.mark.slow

TOY = "toy"
TOY_REEVAL = "toy_reeval"


SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A Ray, an MLflow store and the toy sweep run once in it (each test passes alone: none relies on another)."""
    folder = tmp_path_factory.mktemp("e2e")
    ray.init(num_cpus=2, include_dashboard=False)
    store = {"uri": f"sqlite:///{folder}/mlflow.db", "storage": str(folder / "ray"), "folder": folder}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        store["exit"] = main(sweep_argv(TOY, store))
    store["out"] = output.getvalue()
    yield store
    ray.shutdown()


def sweep_argv(name, store):
    return [name, "--profile", "tiny", "--sweeps-file", SWEEPS_FILE, "--tracking-uri", store["uri"], "--storage", store["storage"]]


def runs_of(uri, sweep):
    """(client, trial runs); a sweep's parent runs and summary runs carry a kind tag and are not trials."""
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"{sweep}-tiny")
    return client, [r for r in client.search_runs([experiment.experiment_id]) if "kind" not in r.data.tags]


def parent_runs_of(uri, sweep):
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"{sweep}-tiny")
    return [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("kind") == "sweep"]


def test_toy_sweep_logs_one_complete_run_per_trial(store):
    assert store["exit"] == 0
    out = store["out"]
    assert "pneumothorax-resnet50-soft_faithful-head-s0" in out and "finished" in out
    client, runs = runs_of(store["uri"], TOY)
    assert sorted(r.info.run_name for r in runs) == ["pneumothorax-resnet50-none-head-s0", "pneumothorax-resnet50-soft_faithful-head-s0"]
    parents = parent_runs_of(store["uri"], TOY)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # one parent run per sweep invocation
    for run in runs:
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id  # nested under it in the UI
        assert run.data.tags["sweep_kind"] == "grid"
        (dataset,) = [d.dataset for d in run.inputs.dataset_inputs]  # the data the trial used, as an MLflow input
        assert dataset.name == "pneumothorax-synthetic" and len(dataset.digest) == 16
        assert run.info.status == "FINISHED" and run.data.tags["status"] == "finished"
        metrics = run.data.metrics
        for eps in ("0", "0.00125", "0.32"):
            assert 0.0 <= metrics[f"acc_at_eps/{eps}"] <= 1.0
        assert metrics["clean_acc"] == metrics["acc_at_eps/0"]
        assert metrics["acc_at_eps/0.32"] <= metrics["acc_at_eps/0.00125"] <= metrics["clean_acc"]
        assert 0.0 <= metrics["robust_objective"] <= 1.0
        assert metrics["skipped_images"] == 0  # stand-in data: nothing unreadable, and it says so
        assert any(key.startswith("check/") for key in metrics)
        assert run.data.params["task"] == "pneumothorax" and run.data.params["model.backbone"] == "resnet50"
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert sorted(m.step for m in history) == [1, 2]  # no epoch logged twice, even after the restart
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"model", "explanations", "curves", "robustness"} <= artifacts


def test_failed_trial_resumed_from_its_checkpoint(store):
    client, runs = runs_of(store["uri"], TOY)
    attentive = next(r for r in runs if "soft_faithful" in r.info.run_name)
    (experiment_dir,) = (store["folder"] / "ray").glob(f"{TOY}-tiny-*")  # keyed by the sweep's digest
    trial_dirs = list(experiment_dir.glob("*/"))
    assert trial_dirs
    # the injected failure happened once and the trial went on from epoch 1, not from scratch
    errors = list(experiment_dir.rglob("error.txt"))
    assert len(errors) == 1 and "injected failure at epoch 1" in errors[0].read_text()
    assert [m.step for m in client.get_metric_history(attentive.info.run_id, "train_loss")] == [1, 2]


def test_finished_sweep_is_not_run_twice(store, capsys):
    assert main(sweep_argv(TOY, store)) == 0
    assert "already finished" in capsys.readouterr().out
    without_ray_results = {**store, "storage": str(store["folder"] / "empty-ray")}  # as if ray_results were deleted
    assert main(sweep_argv(TOY, without_ray_results)) == 0
    assert "already finished" in capsys.readouterr().out
    assert len(runs_of(store["uri"], TOY)[1]) == 2
    assert len(parent_runs_of(store["uri"], TOY)) == 1


def test_reevaluation_reuses_trained_models_without_training(store):
    assert main(sweep_argv(TOY_REEVAL, store)) == 0
    client, source_runs = runs_of(store["uri"], TOY)
    _, new_runs = runs_of(store["uri"], TOY_REEVAL)
    source = {r.info.run_name: r for r in source_runs}
    assert len(new_runs) == 2
    for run in new_runs:
        original = source[run.info.run_name]
        assert run.data.tags["source_run_id"] == original.info.run_id
        assert run.data.metrics["clean_acc"] == original.data.metrics["clean_acc"]  # same model, same points
        assert "train_loss" not in run.data.metrics
        worst_case = {k for k in run.data.metrics if k.startswith("acc_at_eps/") and k.count("/") == 1}
        assert worst_case == {"acc_at_eps/0", "acc_at_eps/0.004", "acc_at_eps/0.5"}
        for attack in ("pgd", "apgd_ce", "apgd_margin", "square"):  # the ensemble's numbers, one per attack
            assert f"acc_at_eps/{attack}/0.5" in run.data.metrics
        assert run.data.metrics["acc_at_eps/square/0.5"] == run.data.metrics["acc_at_eps/0.5"]


def test_reevaluation_without_source_models_is_refused(tmp_path, capsys):
    argv = ["epsilon_grid", "--profile", "tiny", "--tracking-uri", f"sqlite:///{tmp_path}/empty.db", "--storage", str(tmp_path)]
    assert main(argv) == 2
    assert "no finished runs with trained models in MLflow experiment 'paper_grid-tiny'" in capsys.readouterr().err
