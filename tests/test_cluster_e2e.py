"""Many machines and failures, on one machine: a 2-node cluster started with `ray start`, a SIGKILLed worker, an
interrupted driver."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import mlflow
import pytest
import ray

from hooks import callback
from sweep.run import main

pytestmark = pytest.mark.slow

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))


def sweep_argv(name, folder, *extra):
    return [name, "--profile", "tiny", "--sweeps-file", SWEEPS_FILE, "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
            "--storage", str(folder / "ray"), *extra]


def runs_of(folder, experiment):
    """(client, trial runs): a sweep's parent runs carry a kind tag and are not trials."""
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id]) if found else []
    return client, [r for r in runs if "kind" not in r.data.tags]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_ray_nodes(temp_dir: str) -> None:
    """End the processes of the nodes this test started: those whose command line names its temp dir. (`ray stop`
    would stop every Ray on the machine, other sessions' included.)"""
    def ours() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if (entry.name.isdigit() and int(entry.name) != os.getpid()
                        and temp_dir.encode() in (entry / "cmdline").read_bytes()):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        for pid in ours():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while ours() and time.monotonic() < deadline:
            time.sleep(0.2)


def test_readme_recipe_ray_start_with_token_auth_runs_a_sweep_through_address(tmp_path):
    """The README's multi-node recipe on loopback: `ray start --head` (Ray 2.60 turns token authentication on once a
    token exists), a worker started with RAY_AUTH_MODE=token, the driver joining with --address finds the token."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ADDRESS")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 characters
    port = free_port()

    def ray(*args, **extra_env):
        command = [sys.executable, "-m", "ray.scripts.scripts", *args]
        subprocess.run(command, env={**env, **extra_env}, check=True, capture_output=True, timeout=120)

    try:
        ray("get-auth-token", "--generate")
        assert (home / ".ray" / "auth_token").read_text().strip()
        ray("start", "--head", "--port", str(port), "--num-cpus", "1", "--temp-dir", temp_dir,
            "--include-dashboard", "false", "--disable-usage-stats")
        ray("start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", RAY_AUTH_MODE="token")
        argv = [sys.executable, "-m", "sweep.run", *sweep_argv("toy_pair", tmp_path, "--address", f"127.0.0.1:{port}")]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    finally:
        stop_ray_nodes(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    _, runs = runs_of(tmp_path, "toy_pair-tiny")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["ray_node_id"] for r in runs}) == 2  # one trial on each node (1 CPU each)


def kill_after_first_epoch(announce: Path, killed: list) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if announce.exists():
            pid, epoch = announce.read_text().split()
            if int(epoch) >= 1:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.2)


def test_sigkilled_worker_resumes_from_its_checkpoint(tmp_path):
    announce = tmp_path / "epochs.txt"
    killed: list = []
    watcher = threading.Thread(target=kill_after_first_epoch, args=(announce, killed), daemon=True)
    watcher.start()
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        hook = json.dumps({callback("announce_epochs"): {"path": str(announce)}})
        argv = sweep_argv("toy_pair", tmp_path, "--set", f"epoch_callbacks={hook}")
        assert main(argv) == 0
        shutil.rmtree(tmp_path / "ray")  # ray_results lost: the finished runs alone say the sweep is done
        assert main(argv) == 0
    finally:
        ray.shutdown()
    watcher.join(timeout=1)
    assert killed, "the worker was never killed"
    client, runs = runs_of(tmp_path, "toy_pair-tiny")
    assert sorted(r.info.run_name for r in runs) == ["pneumothorax-resnet50-none-head-s0", "pneumothorax-resnet50-soft_corrected-head-s0"]
    assert all(r.info.status == "FINISHED" and r.data.tags["status"] == "finished" for r in runs)
    attempts = sorted(int(r.data.tags["attempts"]) for r in runs)
    assert attempts == [1, 2]  # exactly one trial was killed and restarted, in its own run
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")]
        assert sorted(steps) == [1, 2]  # the restart continued from its checkpoint instead of epoch 0


def test_interrupted_driver_resumes_without_rerunning_finished_trials(tmp_path):
    argv = [sys.executable, "-m", "sweep.run", *sweep_argv("toy_three", tmp_path, "--max-concurrent", "1")]
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:  # the Ray folder exists once the driver has created the MLflow store
        started = any((tmp_path / "ray").glob("toy_three-tiny-*"))
        _, runs = runs_of(tmp_path, "toy_three-tiny") if started else (None, [])
        if any(r.info.status == "FINISHED" for r in runs):
            break
        time.sleep(1)
    driver.send_signal(signal.SIGINT)  # one Ctrl-C, while the last trial has not started
    output, _ = driver.communicate(timeout=180)
    assert driver.returncode == 130, output[-3000:]
    assert "Traceback" not in output and " ".join(argv[3:]) + " --resume" in output  # the command to continue
    _, before = runs_of(tmp_path, "toy_three-tiny")
    finished_before = {r.info.run_id for r in before if r.info.status == "FINISHED"}
    assert 1 <= len(finished_before) < 3

    again = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr  # never silently starts over

    resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    out, left = resumed.stdout, 3 - len(finished_before)
    assert out.index(f"already finished: {len(finished_before)} of 3") < out.index(f"toy_three --profile tiny: {left} trial(s)")
    assert f"[{len(finished_before) + 1}/3] finished" in out and "[1/3]" not in out  # counts out of the whole grid
    client, after = runs_of(tmp_path, "toy_three-tiny")
    assert len(after) == 3 and all(r.info.status == "FINISHED" for r in after)
    for run in after:
        if run.info.run_id in finished_before:
            assert run.data.tags["attempts"] == "1"  # finished trials were not run again
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train_loss")) == [1, 2]

    shutil.rmtree(tmp_path / "ray")  # ray_results lost: nothing runs twice
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "already finished" in rerun.stdout
    assert len(runs_of(tmp_path, "toy_three-tiny")[1]) == 3
