"""A toy Optuna search through Ray Tune: the study lives on disk and a second invocation extends it."""

import optuna
import pytest
import ray

from sweep.run import main

pytestmark = pytest.mark.slow

SHRUNK = ["--set", "max_train=48", "--set", "max_test=16", "--set", "max_eval=16", "--set", "epochs=1",
          "--set", "explain_samples=2", "--set", "task=pneumothorax", "--set", "epsilons=[0.01,0.32]"]


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_search_writes_its_study_and_a_second_run_extends_it(local_ray, tmp_path, capsys):
    study_url = f"sqlite:///{tmp_path}/optuna.db"
    argv = ["optuna_robust", "--profile", "tiny", "--trials", "1", "--study-storage", study_url,
            "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--storage", str(tmp_path / "ray"), *SHRUNK]
    assert main(argv) == 0
    study = optuna.load_study(study_name="optuna_robust-tiny", storage=study_url)
    assert len(study.trials) == 1 and study.directions == [optuna.study.StudyDirection.MAXIMIZE] * 2
    assert all(t.state == optuna.trial.TrialState.COMPLETE and len(t.values) == 2 for t in study.trials)
    assert {"attention", "heads", "learning_rate"} <= set(study.trials[0].params)
    assert study.metric_names == ["clean_acc", "robust_objective"]  # named in optuna-dashboard, not "0" and "1"
    assert "Pareto front" in capsys.readouterr().out

    assert main(argv) == 0
    assert len(optuna.load_study(study_name="optuna_robust-tiny", storage=study_url).trials) == 2

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("optuna_robust-tiny")
    runs = client.search_runs([experiment.experiment_id])
    assert sum(r.data.tags.get("kind") == "summary" for r in runs) == 2  # one Pareto-front run per invocation
    assert sum(r.data.tags.get("kind") == "sweep" for r in runs) == 2  # one parent run per invocation
    trial_runs = [r for r in runs if "kind" not in r.data.tags]
    assert len(trial_runs) == 2 and all(r.data.tags["sweep_kind"] == "search" for r in trial_runs)
    names = sorted(r.info.run_name for r in trial_runs)
    assert len(set(names)) == 2  # one readable name per study trial: the config's name plus the trial number
    assert sorted(int(n.rsplit("-t", 1)[1]) for n in names) == [0, 1]
    # the study chose on the validation split: its values are the runs' val/ objectives, never the test split's
    study = optuna.load_study(study_name="optuna_robust-tiny", storage=study_url)
    by_number = {int(r.info.run_name.rsplit("-t", 1)[1]): r.data.metrics for r in trial_runs}
    for trial in study.trials:
        metrics = by_number[trial.number]
        assert trial.values == [pytest.approx(metrics["val/clean_acc"]), pytest.approx(metrics["val/robust_objective"])]
        assert "clean_acc" in metrics and "acc_at_eps/0" in metrics  # the test split, logged as always
