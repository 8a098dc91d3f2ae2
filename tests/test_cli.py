import json
import subprocess
import sys

import pytest

from search_spaces import PROFILES, SWEEPS
from sweep.run import main
from trainables.spec import TrialConfig


def test_list_names_every_sweep_and_profile(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in [*SWEEPS, *PROFILES]:
        assert f"  {name} " in out


def test_dry_run_json_prints_one_full_config_per_trial(capsys):
    assert main(["paper_grid", "--profile", "smoke", "--dry-run", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 12
    trials = [TrialConfig.from_dict(json.loads(line)) for line in lines]
    assert len({t.run_name for t in trials}) == 12  # every trial distinct
    assert all(t.profile == "smoke" and t.scale == "mini" for t in trials)


def test_dry_run_lines_are_readable(capsys):
    assert main(["paper_grid", "--profile", "smoke", "--dry-run", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "skin_lesion-resnet50-soft_faithful-head-s1" in out
    assert out.strip().endswith("24 trial(s)")


@pytest.mark.parametrize("argv, message", [
    (["nosuch"], "unknown sweep 'nosuch'; expected one of: paper_grid"),
    (["paper_grid", "--profile", "huge"], "unknown profile 'huge'; expected one of: paper, smoke"),
    (["paper_grid", "--max-concurrent", "0"], "expected an integer >= 1"),
    (["paper_grid", "--set", "epochz=3"], "--set expects key=value"),
    (["paper_grid", "--set", "backbone=vgg"], "unknown backbone 'vgg'"),
    (["optuna_robust", "--profile", "tiny"], "give the number of trials with --trials N"),
    (["optuna_robust", "--trials", "0"], "expected an integer >= 1"),
    ([], "name a sweep"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_tracking_uri_and_address_are_refused_before_ray_starts(tmp_path, capsys):
    assert main(["paper_grid", "--profile", "tiny", "--tracking-uri", "sqlite:///relative.db"]) == 2
    assert "must be absolute" in capsys.readouterr().err
    assert main(["paper_grid", "--profile", "tiny", "--tracking-uri", f"sqlite:///{tmp_path}/missing/dir/m.db"]) == 2
    assert "does not exist or is not writable" in capsys.readouterr().err
    assert main(["paper_grid", "--profile", "tiny", "--tracking-uri", "ftp://x"]) == 2
    assert "must be sqlite" in capsys.readouterr().err
    argv = ["paper_grid", "--profile", "tiny", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--storage", str(tmp_path)]
    assert main(argv + ["--address", "127.0.0.1:1"]) == 2
    assert "no Ray cluster reachable" in capsys.readouterr().err
    assert main(argv + ["--address", "nonsense"]) == 2
    assert "--address must be host:port" in capsys.readouterr().err


def test_module_entry_point_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "sweep.run", "nosuch"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: unknown sweep 'nosuch'; expected one of: paper_grid, paper_grid_255, placement_grid, epsilon_grid, attention_ablation, smoothing_grid, optuna_robust"]


def test_driver_validates_and_schedules_trials_without_importing_keras_or_tensorflow():
    code = """
import sys
from search_spaces import expand
from sweep import launcher
trials = launcher.longest_first(expand("paper_grid", "smoke"))
launcher.trainable_with_resources(trials)
print(len(trials), sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split(maxsplit=1) == ["12", "[]\n"]  # the import costs ~5 s on 2 CPUs


def test_only_runs_the_part_of_a_grid_that_matches(capsys):
    argv = ["paper_grid", "--profile", "smoke", "--dry-run", "--only", "task=skin_lesion", "--only", "backbone=resnet50"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("2 trial(s)")
    assert "skin_lesion-resnet50-none-head-s0" in out and "skin_lesion-resnet50-soft_faithful-head-s0" in out
    assert main(["paper_grid", "--profile", "smoke", "--dry-run", "--only", "task=skin_lesion,pneumothorax"]) == 0
    assert capsys.readouterr().out.strip().endswith("8 trial(s)")


@pytest.mark.parametrize("argv, message", [
    (["--only", "task=skin"], "--only task=skin: no trial of paper_grid has that; its trials have task in: "
                              "diabetic_retinopathy, pneumothorax, skin_lesion"),
    (["--only", "colour=red"], "--only expects KEY=VALUE[,VALUE]"),
    (["--only", "task=skin_lesion", "--only", "task=pneumothorax"], "no trial of paper_grid matches all of these"),
    (["--set", "task=skin_lesion"], "to run part of a grid use --only KEY=VALUE"),
    (["--set", 'extra={"fail_once_at_epoch": 1}'], "--set expects key=value"),
])
def test_bad_selection_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["paper_grid", "--profile", "smoke", "--dry-run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_sweeps_file_cannot_reuse_a_built_in_name(tmp_path, capsys):
    mine = tmp_path / "mine.py"
    mine.write_text("from search_spaces import Sweep, register_sweep\n"
                    "register_sweep(Sweep(name='paper_grid', description='mine'))\n")
    assert main(["--sweeps-file", str(mine), "--list"]) == 2
    err = capsys.readouterr().err
    assert "sweep 'paper_grid' is already registered" in err and len(err.strip().splitlines()) == 1
    assert main(["--sweeps-file", str(tmp_path / "notes.txt"), "--list"]) == 2
    assert "expected an existing .py file" in capsys.readouterr().err


def test_a_sweeps_file_loads_once_per_process(tmp_path, capsys):
    mine = tmp_path / "once.py"
    mine.write_text("from search_spaces import Sweep, axis, register_sweep\n"
                    "register_sweep(Sweep(name='once_only', description='mine', axes=(axis('task', ['pneumothorax']),)))\n")
    for _ in range(2):  # a second run in the same process (tests, notebooks) does not register it twice
        assert main(["--sweeps-file", str(mine), "once_only", "--profile", "tiny", "--dry-run"]) == 0
    assert capsys.readouterr().out.count("1 trial(s)") == 2


def test_a_failure_after_launch_exits_1_with_its_traceback(tmp_path, monkeypatch, capsys):
    from sweep import launcher

    def broken_grid(*args, **kwargs):
        raise ValueError("something inside Ray Tune")

    monkeypatch.setattr(launcher, "connect_ray", lambda address: None)
    monkeypatch.setattr(launcher, "check_resources", lambda trials: None)
    monkeypatch.setattr(launcher, "run_grid", broken_grid)
    argv = ["paper_grid", "--profile", "tiny", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--storage", str(tmp_path)]
    assert main(argv) == 1  # not 2: the user typed nothing wrong
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: something inside Ray Tune" in err
    assert "the sweep failed after it started" in err


@pytest.mark.parametrize("error, status", [(RuntimeError("Ray broke"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_a_sweep_s_parent_run_records_how_the_sweep_ended(tmp_path, error, status):
    import mlflow

    from sweep.launcher import LaunchSettings, fit_in_sweep_run
    from trainables import tracking

    uri = f"sqlite:///{tmp_path}/m.db"
    experiment = tracking.ensure_experiment(uri, "ended-tiny")
    parent = tracking.start_sweep_run(uri, experiment, sweep="ended", profile="tiny", sweep_kind="grid", trials=2)

    class BrokenTuner:
        def fit(self):
            raise error

    with pytest.raises(type(error)):
        fit_in_sweep_run(BrokenTuner(), LaunchSettings(tracking_uri=uri, storage=tmp_path), experiment, parent)
    assert mlflow.MlflowClient(uri).get_run(parent).info.status == status


def test_dry_run_json_into_a_closed_pipe_ends_quietly():
    """`--dry-run --json | head -1`: the reader leaves early; no BrokenPipeError traceback, exit 0."""
    argv = [sys.executable, "-m", "sweep.run", "paper_grid", "--profile", "smoke", "--dry-run", "--json", "--seeds", "3"]
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver.stdout.close()  # before the first line is written: every write fails
    err = driver.stderr.read()
    assert driver.wait(timeout=120) == 0
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
