"""A sweep is what it computes: trials with a finished run of the same config are not run again (whatever happened
to ray_results), changed settings are a new run, one Ctrl-C anywhere ends in exit 130 with the --resume command,
and the summary names a failure's cause. Ray Tune's Tuner is replaced by a fake that records what it was given."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pytest
from ray import tune

from search_spaces import expand
from sweep import launcher
from sweep.run import main
from trainables import tracking

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))


NOT_CREATED = "not created"  # a grid trial Tune had not created yet when Ctrl-C stopped it


@dataclass
class FakeResult:
    config: dict
    metrics: dict | None
    error: BaseException | None = None


@dataclass
class FakeTuner:
    """tune.Tuner stand-in: `fit` returns what `finish` says for each trial it was given (by run name)."""

    finish: dict = field(default_factory=dict)
    given: list = field(default_factory=list)

    def __call__(self, trainable, *, param_space, tune_config, run_config):
        self.given = [FakeTuner.name_of(trial) for trial in param_space["trial"]["grid_search"]]
        self.param_space = param_space
        return self

    def can_restore(self, path) -> bool:
        return False

    def fit(self):
        results = []
        for trial in self.param_space["trial"]["grid_search"]:
            name = FakeTuner.name_of(trial)
            metrics, error = self.finish.get(name, (evaluated(), None))
            if metrics != NOT_CREATED:
                results.append(FakeResult({"trial": trial}, metrics, error))
        return results

    @staticmethod
    def name_of(trial: dict) -> str:
        return f"{trial['task']}-{trial['backbone']}-{trial['attention']}-{trial['placement']}-s{trial['seed']}"


def evaluated(value: float = 0.5) -> dict:
    return {"phase": "evaluated", "clean_acc": value, "robust_acc_ref": value, "robust_objective": value}


@pytest.fixture
def fake_ray(monkeypatch):
    fake = FakeTuner()
    monkeypatch.setattr(launcher, "connect_ray", lambda address: None)
    monkeypatch.setattr(launcher, "check_resources", lambda trials: None)
    monkeypatch.setattr(tune, "Tuner", fake)
    return fake


def argv(folder: Path, *extra: str, sweep: str = "toy_pair") -> list[str]:
    return [sweep, "--profile", "tiny", "--sweeps-file", SWEEPS_FILE, "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
            "--storage", str(folder / "ray"), *extra]


def finish_in_mlflow(folder: Path, trial) -> None:
    """A finished trial run of this config, as a trial writes it."""
    uri = f"sqlite:///{folder}/mlflow.db"
    experiment = tracking.ensure_experiment(uri, trial.experiment_name)
    with tracking.trial_run(trial, uri, experiment, trial_id=f"old-{trial.run_name}"):
        mlflow.log_metrics({"clean_acc": 0.7, "robust_acc_ref": 0.6, "robust_objective": 0.6})


def toy_pair(**overrides):
    from sweep.run import load_sweeps_file

    load_sweeps_file(Path(SWEEPS_FILE))
    return expand("toy_pair", "tiny", **overrides)


def test_a_trial_digest_is_what_it_computes():
    first, = [t for t in toy_pair() if t.attention == "none"]
    through_ray = type(first).from_tune({"trial": json.loads(json.dumps(first.to_dict()))})  # lists, as Ray hands it
    assert tracking.trial_digest(through_ray) == tracking.trial_digest(first)
    assert tracking.trial_digest(first.replace(cpus_per_trial=4)) == tracking.trial_digest(first)  # resources only
    assert tracking.trial_digest(first.replace(epochs=3 + first.epochs)) != tracking.trial_digest(first)
    seeds = [t for t in toy_pair(seeds=2) if t.attention == "none"]
    assert tracking.trial_digest(seeds[0]) == tracking.trial_digest(first)  # --seeds 2 keeps seed 0's identity
    trials = toy_pair()
    assert tracking.sweep_digest(trials, "sqlite:////a.db") != tracking.sweep_digest(trials, "sqlite:////b.db")


def test_finished_runs_of_the_same_config_are_not_run_again_without_ray_results(tmp_path, fake_ray, capsys):
    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    finish_in_mlflow(tmp_path, none)  # e.g. an earlier run whose ray_results folder was deleted
    assert main(argv(tmp_path)) == 0
    out = capsys.readouterr().out
    assert fake_ray.given == [soft.run_name]  # only the trial without a finished run
    assert out.index("already finished: 1 of 2 trial(s)") < out.index("running toy_pair --profile tiny: 1 trial(s)")
    assert none.run_name in out.split("running")[-1]  # its old result is in the summary


def test_more_seeds_run_only_the_new_seeds_and_say_it_is_a_new_run(tmp_path, fake_ray, capsys):
    for trial in toy_pair():
        finish_in_mlflow(tmp_path, trial)
    assert main(argv(tmp_path)) == 0
    assert "already finished: all 2 trial(s)" in capsys.readouterr().out and fake_ray.given == []
    (tmp_path / "ray" / "toy_pair-tiny-0123abcd").mkdir(parents=True)  # an earlier run's Ray folder
    assert main(argv(tmp_path, "--seeds", "2")) == 0
    out = capsys.readouterr().out
    assert sorted(fake_ray.given) == ["pneumothorax-resnet50-none-head-s1", "pneumothorax-resnet50-soft_corrected-head-s1"]
    assert "settings changed since the last run of toy_pair-tiny" in out and "2 of 4 trial(s)" in out


def test_changed_settings_or_another_store_are_a_new_run(tmp_path, fake_ray, capsys):
    for trial in toy_pair():
        finish_in_mlflow(tmp_path, trial)
    (tmp_path / "ray" / "toy_pair-tiny-0123abcd").mkdir(parents=True)  # the earlier run's Ray folder
    assert main(argv(tmp_path, "--set", "epochs=4")) == 0
    assert len(fake_ray.given) == 2 and "settings changed since the last run" in capsys.readouterr().out
    other = tmp_path / "other"
    other.mkdir()
    argv_other = argv(tmp_path)
    argv_other[argv_other.index("--tracking-uri") + 1] = f"sqlite:///{other}/mlflow.db"
    fake_ray.given = []
    assert main(argv_other) == 0
    assert len(fake_ray.given) == 2  # that store holds no run of these trials
    assert "settings changed since the last run" in capsys.readouterr().out  # ray/ holds the first store's runs


def test_fresh_runs_finished_trials_again(tmp_path, fake_ray):
    for trial in toy_pair():
        finish_in_mlflow(tmp_path, trial)
    assert main(argv(tmp_path, "--fresh")) == 0
    assert len(fake_ray.given) == 2


def test_one_ctrl_c_before_some_trials_started_exits_130_with_the_resume_command(tmp_path, fake_ray, capsys):
    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    fake_ray.finish = {soft.run_name: (None, None)}  # Tune returned after Ctrl-C: this trial never started
    command = argv(tmp_path, "--max-concurrent", "1")
    assert main(command) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "NoneType" not in err
    assert err.strip().splitlines()[-1].strip() == "python -m sweep.run " + " ".join(command) + " --resume"
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("toy_pair-tiny")
    (parent,) = [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("kind") == "sweep"]
    assert parent.info.status == "KILLED"


def test_one_ctrl_c_before_tune_created_every_trial_exits_130(tmp_path, fake_ray, capsys):
    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    fake_ray.finish = {soft.run_name: (NOT_CREATED, None)}  # only the finished trial is among Tune's results
    assert main(argv(tmp_path, "--max-concurrent", "1")) == 130
    assert capsys.readouterr().err.strip().endswith("--resume")


SQLALCHEMY = ("(sqlite3.OperationalError) database is locked\n[SQL: INSERT INTO metrics VALUES (?)]\n"
              "(Background on this error at: https://sqlalche.me/e/20/e3q8)")


def test_the_summary_names_the_cause_not_a_link(tmp_path, fake_ray, capsys):
    from mlflow.exceptions import MlflowException
    from ray.exceptions import RayTaskError

    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    wrapped = RayTaskError("run_trial", "Traceback (most recent call last):\n  ...", MlflowException(SQLALCHEMY))
    fake_ray.finish = {soft.run_name: ({"phase": "training"}, wrapped)}
    assert main(argv(tmp_path)) == 1
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith(soft.run_name)]
    assert row.endswith("failed (MlflowException: (sqlite3.OperationalError) database is locked)")
    assert "sqlalche.me" not in out


def test_a_failure_read_from_text_keeps_the_exception_line():
    from sweep.failures import failure_cause

    text = ("Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    write()\n"
            "sqlalchemy.exc.OperationalError: " + SQLALCHEMY)
    assert failure_cause(text) == "OperationalError: (sqlite3.OperationalError) database is locked"
    assert failure_cause(RuntimeError("injected failure at epoch 1")) == "RuntimeError: injected failure at epoch 1"
    assert failure_cause(None) == ""


def test_a_finished_grid_shows_its_results_without_starting_ray(tmp_path, fake_ray, monkeypatch, capsys):
    for trial in toy_pair():
        finish_in_mlflow(tmp_path, trial)

    def no_ray(address):
        raise AssertionError("a finished grid started Ray")

    monkeypatch.setattr(launcher, "connect_ray", no_ray)
    assert main(argv(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "already finished: all 2 trial(s)" in out and fake_ray.given == []
    assert all(trial.run_name in out for trial in toy_pair())  # their results, in the summary


def test_progress_counts_out_of_the_grid_and_a_handed_back_finished_trial_is_not_counted_again(capsys):
    from types import SimpleNamespace

    from sweep.progress import ProgressPrinter

    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    printer = ProgressPrinter(3, "sqlite:////unused.db", "toy_pair-tiny", done=[soft.run_name])

    def trial(config, trial_id):
        return SimpleNamespace(trial_id=trial_id, config={"trial": config.to_dict()}, last_result=evaluated())

    printer.finish(trial(soft, "a"), "finished")  # a restored run reports the trial that had already finished
    printer.finish(trial(none, "b"), "finished")
    lines = [line for line in capsys.readouterr().out.splitlines() if "finished" in line]
    assert len(lines) == 1 and lines[0].strip().startswith("[2/3] finished " + none.run_name)
