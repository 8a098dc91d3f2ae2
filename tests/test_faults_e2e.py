"""Faults around a real sweep (issue 26): a driver stopped by SIGTERM while its trials train."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from hooks import callback

pytestmark = pytest.mark.slow

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))


def sweep_argv(name, folder, *extra):
    return [sys.executable, "-m", "sweep.run", name, "--profile", "tiny", "--sweeps-file", SWEEPS_FILE,
            "--tracking-uri", f"sqlite:///{folder}/mlflow.db", "--storage", str(folder / "ray"), *extra]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0  # a zombie has ended


def test_sigterm_to_the_driver_stops_the_trials_closes_the_run_and_leaves_no_worker(tmp_path):
    announce = tmp_path / "epochs.txt"
    hook = json.dumps({callback("announce_epochs"): {"path": str(announce)}})
    argv = sweep_argv("toy_pair", tmp_path, "--set", f"epoch_callbacks={hook}", "--max-concurrent", "1")
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not announce.exists() and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    worker = int(announce.read_text().split()[0])
    driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == 143, output[-3000:]
    assert "stopped by SIGTERM" in output and shlex.join(argv[3:]) + " --resume" in output
    assert "*** SIGTERM" not in output and "Aborted" not in output  # no Ray C++ stack dump
    for _ in range(50):
        if not alive(worker):
            break
        time.sleep(0.2)
    assert not alive(worker), "the trial's worker outlived its driver by 10 s"
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("toy_pair-tiny")
    (parent,) = [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("kind") == "sweep"]
    assert parent.info.status == "KILLED"
