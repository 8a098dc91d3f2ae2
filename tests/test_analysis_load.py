"""The MLflow reader and the report CLI's input handling, on runs logged by hand in the trials' layout (fast)."""

from __future__ import annotations

import math
import re

import mlflow
import pytest
from mlflow.entities import Metric, Param

from analysis import load_sweep
from analysis.load import KIND_TAG, SUMMARY_KIND, AnalysisInputError
from analysis.report import main
from trainables.spec import keys
from trainables import tracking
from trainables.spec import TrialConfig, format_epsilon

EPSILONS = (0.00125, 0.0025, 0.005, 0.01)


def log_run(client, experiment_id, *, attention="none", seed=0, start=0, status="FINISHED", accuracy=None,
            checks=None, profile="tiny", tags=None, sweep="paper_grid", sweep_kind="grid", changes=None,
            unlogged=()):
    """A run as trainables.tracking writes it: config params (changes: more config values; unlogged: params a run
    from before them lacks), status tags, final metrics (None: none logged)."""
    config = TrialConfig(task="skin_lesion", backbone="resnet50", scale="mini", attention=attention, seed=seed,
                         epsilons=EPSILONS, sweep=sweep, profile=profile, **(changes or {}))
    run = client.create_run(experiment_id, start_time=1_000_000 + start, run_name=config.run_name,
                            tags={"sweep": config.sweep, "profile": config.profile, keys.TAG_TRIAL_ID: f"t{start}",
                                  keys.TAG_SWEEP_KIND: sweep_kind, **(tags or {})})
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param(k, v) for k, v in config.as_params().items() if k not in unlogged])
    if accuracy is not None:
        checks = checks or {}
        metrics = {keys.ACC_AT_EPS + format_epsilon(e): a for e, a in accuracy.items()}
        metrics.update({keys.CLEAN_ACC: accuracy[0.0], "robust_objective": 0.5})
        metrics.update({keys.CHECK + name: float(ok) for name, ok in checks.items()})
        client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
        client.set_tag(run_id, keys.TAG_CHECKS_FAILED, ",".join(n for n, ok in checks.items() if not ok))
    client.set_tag(run_id, keys.TAG_STATUS, "finished" if status == "FINISHED" else "failed")
    client.set_terminated(run_id, status)
    return run_id


def ladder(clean, step):
    return {0.0: clean, **{e: max(0.0, clean - step * (k + 1)) for k, e in enumerate(EPSILONS)}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analysis-load")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("paper_grid-tiny", artifact_location=str(folder / "artifacts"))
    client.create_experiment("paper_grid-smoke", artifact_location=str(folder / "artifacts-smoke"))  # empty
    ids = {
        "old": log_run(client, experiment, start=0, accuracy=ladder(0.5, 0.1)),
        "new": log_run(client, experiment, start=10, accuracy=ladder(0.8, 0.1),
                       checks={"monotone": True, "within_ball": False}),
        "failed_rerun": log_run(client, experiment, start=20, status="FAILED"),
        "attention": log_run(client, experiment, attention="soft_faithful", start=5, accuracy=ladder(0.7, 0.05),
                             checks={"monotone": True, "within_ball": True}),
        "failed": log_run(client, experiment, attention="soft_faithful", seed=1, start=6, status="FAILED"),
        "other_profile": log_run(client, experiment, attention="soft_corrected", start=7, accuracy=ladder(0.6, 0.1),
                                 profile="smoke"),
    }
    summary = client.create_run(experiment, run_name="report", tags={KIND_TAG: SUMMARY_KIND})
    client.set_terminated(summary.info.run_id, "FINISHED")
    return uri, ids, folder


def test_one_row_per_trial_and_epsilon_newest_finished_run_kept(store):
    uri, ids, _ = store
    frame = load_sweep("paper_grid", "tiny", tracking_uri=uri)
    assert set(frame["run_id"]) == {ids[k] for k in ("new", "attention", "failed", "other_profile")}
    assert sorted(frame.attrs["superseded"]) == sorted([ids["old"], ids["failed_rerun"]])
    assert len(frame) == 4 * len(EPSILONS)
    baseline = frame[frame["run_id"] == ids["new"]].set_index("epsilon")
    assert list(baseline.index) == list(EPSILONS)
    assert baseline["accuracy"].tolist() == pytest.approx([0.7, 0.6, 0.5, 0.4])
    assert baseline["clean_acc"].iloc[0] == 0.8 and baseline["robust_objective"].iloc[0] == 0.5
    assert baseline["checks"].iloc[0] == {"monotone": True, "within_ball": False}
    assert baseline["failed_checks"].iloc[0] == ("within_ball",)
    assert baseline["seed"].iloc[0] == 0 and baseline["status"].iloc[0] == "finished"


def test_failed_run_has_status_failed_and_nan_accuracy(store):
    uri, ids, _ = store
    frame = load_sweep("paper_grid", "tiny", tracking_uri=uri)
    failed = frame[frame["run_id"] == ids["failed"]]
    assert (failed["status"] == "failed").all()
    assert failed["accuracy"].isna().all() and math.isnan(failed["clean_acc"].iloc[0])
    assert list(failed["epsilon"]) == list(EPSILONS)  # the configured ladder, from the run's params
    assert failed["run_name"].iloc[0] == "skin_lesion-resnet50-soft_faithful-head-s1"


def test_mixed_profiles_are_named_in_a_warning(store):
    uri, _, _ = store
    warnings = load_sweep("paper_grid", "tiny", tracking_uri=uri).attrs["warnings"]
    assert len(warnings) == 1
    assert "expected tiny" in warnings[0] and "smoke (1 run(s): skin_lesion-resnet50-soft_corrected-head-s0)" in warnings[0]


def test_unusable_input_is_one_line_and_exit_status_2(store, tmp_path, capsys):
    uri, _, _ = store
    with pytest.raises(AnalysisInputError, match="experiments there: .*paper_grid-smoke, paper_grid-tiny"):
        load_sweep("paper_grid", "paper", tracking_uri=uri)
    cases = {
        "no MLflow experiment 'nosuch-tiny'": ["nosuch", "--profile", "tiny", "--tracking-uri", uri],
        "has no trial runs": ["paper_grid", "--profile", "smoke", "--tracking-uri", uri],
        "no MLflow database at": ["paper_grid", "--tracking-uri", f"sqlite:///{tmp_path / 'missing.db'}"],
        "unrecognized arguments": ["paper_grid", "--bogus"],
    }
    for message, argv in cases.items():
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "missing.db").exists()


def test_text_only_prints_the_table_and_logs_nothing(store, tmp_path, capsys):
    uri, _, _ = store
    assert main(["paper_grid", "--profile", "tiny", "--tracking-uri", uri, "--text-only", "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "skin_lesion / resnet50" in captured.out
    assert "0.800" in captured.out  # the newest finished baseline's clean accuracy, one seed: no interval
    assert "MISSING: 1 of 4 trial(s) without results (1 failed): skin_lesion-resnet50-soft_faithful-head-s1" in captured.out
    assert "skin_lesion-resnet50-none-head-s0: within_ball" in captured.out
    assert "mixed profiles" in captured.err
    assert not (tmp_path / "r").exists()
    reports = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("paper_grid-tiny").experiment_id],
        filter_string=f"tags.{KIND_TAG} = '{SUMMARY_KIND}'")
    assert len(reports) == 1  # only the fixture's own summary run


def test_report_of_an_experiment_whose_trials_all_failed_still_explains_itself(store, tmp_path, capsys):
    uri, _, folder = store
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("paper_grid-failing", artifact_location=str(folder / "artifacts-failing"))
    log_run(client, experiment, status="FAILED", profile="failing")
    bare = client.create_run(experiment, run_name="not-a-trial-name")  # no params, no metrics, still RUNNING
    out = tmp_path / "report"
    assert main(["paper_grid", "--profile", "failing", "--tracking-uri", uri, "--out", str(out)]) == 0
    page = "".join(path.read_text() for path in sorted(out.glob("*.html")))  # the front page and the detail pages
    assert "2 of 2 trial(s) without results (1 failed, 1 running)" in (out / "index.html").read_text()
    assert "not-a-trial-name" in page and bare.info.run_id in page
    linked = set(re.findall(r'<img src="([^"]+)"', page))
    assert linked == {p.name for p in out.glob("*.png")} and all((out / n).is_file() for n in linked)
    assert "MISSING: 2 of 2 trial(s)" in capsys.readouterr().out
    summaries = client.search_runs([experiment], filter_string=f"tags.{KIND_TAG} = '{SUMMARY_KIND}'")
    assert len(summaries) == 1 and summaries[0].info.status == "FINISHED"


def test_search_sweeps_keep_every_trial_under_a_shared_run_name(store):
    uri, _, folder = store
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("optuna_robust-tiny", artifact_location=str(folder / "artifacts-optuna"))
    first = log_run(client, experiment, start=0, accuracy=ladder(0.5, 0.1), sweep="optuna_robust", sweep_kind="search")
    second = log_run(client, experiment, start=1, accuracy=ladder(0.6, 0.1), sweep="optuna_robust", sweep_kind="search")
    frame = load_sweep("optuna_robust", "tiny", tracking_uri=uri)
    assert set(frame["run_id"]) == {first, second} and frame["run_name"].nunique() == 1
    assert not frame.attrs["superseded"] and not frame.attrs["warnings"]


def test_a_search_declared_outside_the_registry_keeps_every_trial(store):
    # a search from a --sweeps-file is unknown to analysis' process: the run tag, not the registry, says "search"
    uri, _, folder = store
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("my_search-tiny", artifact_location=str(folder / "artifacts-my-search"))
    runs = {log_run(client, experiment, start=k, accuracy=ladder(0.5 + 0.1 * k, 0.1), sweep="my_search",
                    sweep_kind="search") for k in range(3)}
    frame = load_sweep("my_search", "tiny", tracking_uri=uri)
    assert set(frame["run_id"]) == runs and frame["run_name"].nunique() == 1
    assert not frame.attrs["superseded"]


def test_a_sweeps_parent_run_is_not_a_trial(store):
    uri, _, folder = store
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("parented-tiny", artifact_location=str(folder / "artifacts-parented"))
    parent = tracking.start_sweep_run(uri, experiment, sweep="parented", profile="tiny", sweep_kind="grid", trials=1)
    child = log_run(client, experiment, accuracy=ladder(0.5, 0.1), sweep="parented",
                    tags={keys.TAG_PARENT: parent})
    tracking.end_sweep_run(uri, parent, failed=0)
    frame = load_sweep("parented", "tiny", tracking_uri=uri)
    assert set(frame["run_id"]) == {child}
    assert client.get_run(parent).info.status == "FINISHED" and client.get_run(parent).data.tags["kind"] == "sweep"


def test_training_recipe_and_reference_epsilon_columns_with_defaults_for_older_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("attention_ablation-tiny", artifact_location=str(tmp_path / "artifacts"))
    pgd = log_run(client, experiment, sweep="attention_ablation", accuracy=ladder(0.7, 0.1),
                  changes={"adv_training": "pgd", "reference_epsilon": 0.005})
    old = log_run(client, experiment, sweep="attention_ablation", attention="se", accuracy=ladder(0.8, 0.1),
                  unlogged=("adv_training", "reference_epsilon"))
    trials = load_sweep("attention_ablation", "tiny", tracking_uri=uri).drop_duplicates("run_id").set_index("run_id")
    assert trials.loc[pgd, "adv_training"] == "pgd" and trials.loc[pgd, "reference_epsilon"] == 0.005
    assert trials.loc[old, "adv_training"] == "none"  # a run from before adversarial training
    assert trials.loc[old, "reference_epsilon"] == 0.0025  # not logged: skin lesion's own
    warnings = load_sweep("attention_ablation", "tiny", tracking_uri=uri).attrs["warnings"]
    assert any("training recipes none, pgd" in w for w in warnings)
