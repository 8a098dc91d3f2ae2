"""Many machines and failures, on one machine: a 2-node Ray cluster, a SIGKILLed worker, an interrupted driver."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import pytest
import ray
from ray.cluster_utils import Cluster

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


@pytest.fixture
def two_node_cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_sweep_on_a_two_node_cluster_uses_both_nodes(two_node_cluster, tmp_path, capsys):
    assert main(sweep_argv("toy_pair", tmp_path, "--address", two_node_cluster.address)) == 0
    _, runs = runs_of(tmp_path, "toy_pair-tiny")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    nodes = {r.data.tags["ray_node_id"] for r in runs}
    assert nodes == {node["NodeID"] for node in ray.nodes() if node["Alive"]}  # one trial on each node


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
        assert sorted(steps) == [1, 2, 3]  # the restart continued from its checkpoint instead of epoch 0


def test_interrupted_driver_resumes_without_rerunning_finished_trials(tmp_path):
    argv = [sys.executable, "-m", "sweep.run", *sweep_argv("toy_three", tmp_path, "--max-concurrent", "1")]
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 400
    started = tmp_path / "ray" / "toy_three-tiny"  # exists once the driver has created the MLflow store
    while time.monotonic() < deadline:
        _, runs = runs_of(tmp_path, "toy_three-tiny") if started.exists() else (None, [])
        if any(r.info.status == "FINISHED" for r in runs):
            break
        time.sleep(1)
    driver.send_signal(signal.SIGINT)  # Ctrl-C
    driver.communicate(timeout=180)
    _, before = runs_of(tmp_path, "toy_three-tiny")
    finished_before = {r.info.run_id for r in before if r.info.status == "FINISHED"}
    assert 1 <= len(finished_before) < 3

    again = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr  # never silently starts over

    resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    _, after = runs_of(tmp_path, "toy_three-tiny")
    assert len(after) == 3 and all(r.info.status == "FINISHED" for r in after)
    for run in after:
        if run.info.run_id in finished_before:
            assert run.data.tags["attempts"] == "1"  # finished trials were not run again

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "already finished" in rerun.stdout
    assert len(runs_of(tmp_path, "toy_three-tiny")[1]) == 3
