"""A tracking server stopped mid-trial and started again ~35 s later (issue 26, item 5): the trial trains on through
the outage, its run ends FINISHED with every epoch logged once, in its first attempt, and the sweep exits 0."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from hooks import callback

pytestmark = pytest.mark.slow

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))
EPOCHS, EPOCH_WAIT_S, OUTAGE_S = 10, 3.0, 35.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    """`mlflow server` on the port, over the same sqlite store and artifact folder every time; answering /health."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--artifacts-destination", str(folder / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # its own group: stop it whole
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise AssertionError("mlflow server did not answer within 90 s")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def epochs_ended(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    return [(int(epoch), float(at)) for _, epoch, at in (line.split() for line in path.read_text().splitlines())]


def test_a_trial_trains_through_a_tracking_server_outage_and_loses_nothing(tmp_path):
    port, epochs = free_port(), tmp_path / "epochs.txt"
    server = start_server(tmp_path, port)
    hook = json.dumps({callback("timed_epochs"): {"path": str(epochs), "seconds": EPOCH_WAIT_S}})
    argv = [sys.executable, "-m", "sweep.run", "toy_pair", "--profile", "tiny", "--sweeps-file", SWEEPS_FILE,
            "--only", "attention=none", "--set", f"epochs={EPOCHS}", "--set", f"patience={EPOCHS}",
            "--set", f"epoch_callbacks={hook}", "--tracking-uri", f"http://127.0.0.1:{port}",
            "--storage", str(tmp_path / "ray")]
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not epochs_ended(epochs) and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
        assert epochs_ended(epochs), "the trial never ended an epoch"
        stop_server(server)
        down_at = time.time()
        time.sleep(OUTAGE_S)
        server = start_server(tmp_path, port)
        up_at = time.time()
        output, _ = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
        stop_server(server)
    assert driver.returncode == 0, output[-3000:]
    during = [epoch for epoch, at in epochs_ended(epochs) if down_at + 10 < at < up_at]
    assert len(during) >= 3, f"the trial did not train on while the server was down: {epochs_ended(epochs)}"

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("toy_pair-tiny")
    (run,) = [r for r in client.search_runs([experiment.experiment_id]) if "kind" not in r.data.tags]
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "finished"
    assert run.data.tags["attempts"] == "1"
    for key in ("train_loss", "val_accuracy"):
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, key)) == list(range(1, EPOCHS + 1))
    assert "robust_objective" in run.data.metrics  # the evaluation, logged during or after the outage
    (model,) = (tmp_path / "mlartifacts").rglob("model.keras")  # the server's artifact folder
    assert run.info.run_id in model.parts and model.stat().st_size > 0
