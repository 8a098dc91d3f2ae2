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


@pytest.fixture
def small_disk(tmp_path):
    """A real 1.6 GB disk (tmpfs; memory is taken only as it fills) for --storage: a root's mount, skipped where
    mounting is not allowed (tests/test_faults.py covers the handling with an injected full disk)."""
    folder = tmp_path / "ray"
    folder.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1600m", "tmpfs", str(folder)], capture_output=True,
                           text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for --storage here ({mount.stderr.strip() or 'not root'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as stream:
        os.posix_fallocate(stream.fileno(), 0, os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize)
    return filler


def test_a_storage_that_fills_mid_sweep_is_one_line_and_a_summary_and_the_resume_then_works(tmp_path, small_disk):
    announce = tmp_path / "epochs.txt"
    hook = json.dumps({callback("announce_epochs"): {"path": str(announce)}})
    argv = sweep_argv("toy_pair", tmp_path, "--set", f"epoch_callbacks={hook}", "--max-concurrent", "1")
    driver = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    epochs, deadline = [], time.monotonic() + 300
    while driver.poll() is None and time.monotonic() < deadline and not (2 in epochs and epochs[-1] == 1):
        epoch = int(announce.read_text().split()[1]) if announce.exists() else 0
        if epoch and (not epochs or epochs[-1] != epoch):
            epochs.append(epoch)
        time.sleep(0.1)
    filler = fill(small_disk)  # the second trial has started: the first finished
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 1, output[-3000:]
    assert (f"error: no space left for Ray's results (--storage) at {small_disk}: needs 1.5 GB, 0 bytes free "
            "there") in output, output[-3000:]
    assert "the sweep failed after it started" not in output  # no traceback of the driver
    table = output[output.index("robust@ref"):].splitlines()  # Ray's log lines interleave (stderr)
    rows = {line.split()[0]: line for line in table if line.startswith("pneumothorax-")}
    assert sorted(row.split()[-1] for row in rows.values()) == ["--storage)", "finished"], rows

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("toy_pair-tiny").experiment_id
    finished_before = {r.info.run_name: r.info.run_id for r in client.search_runs([experiment])
                       if r.data.tags.get("kind") != "sweep" and r.info.status == "FINISHED"}
    assert len(finished_before) == 1
    filler.unlink()  # space freed
    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    finished = {}
    for run in client.search_runs([experiment]):
        if run.data.tags.get("kind") != "sweep" and run.info.status == "FINISHED":
            finished.setdefault(run.info.run_name, []).append(run.info.run_id)
    assert sorted(finished) == sorted(rows) and all(len(ids) == 1 for ids in finished.values())
    assert all(finished[name] == [run_id] for name, run_id in finished_before.items())  # not run again
