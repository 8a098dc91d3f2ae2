import json
import subprocess
import sys

import pytest

from search_spaces import PROFILES, SWEEPS
from sweep.run import main
from trainables.config import TrialConfig


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
    assert done.stderr.strip().splitlines() == ["error: unknown sweep 'nosuch'; expected one of: paper_grid, placement_grid, epsilon_grid, optuna_robust"]


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
