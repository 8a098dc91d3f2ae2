"""Faults around a sweep (issue 26), without Ray: signals to the driver, runs left RUNNING by a driver that is
gone, a second driver of the same sweep, malformed or damaged prepared entries, the report of an unfinished sweep.
Ray Tune's Tuner is the fake of test_sweep_identity."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import mlflow
import numpy as np
import pytest

from sweep.run import main
from test_sweep_identity import argv, evaluated, fake_ray, toy_pair  # noqa: F401 - fake_ray is a fixture


def parent_runs(folder):
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    experiment = client.get_experiment_by_name("toy_pair-tiny")
    return [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("kind") == "sweep"]


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_or_sighup_to_the_driver_ends_it_like_ctrl_c(tmp_path, fake_ray, capsys, signum, status):
    def fit_then_signal():
        os.kill(os.getpid(), signum)  # the scheduler's signal, while Tune runs the trials
        return [evaluated()]

    fake_ray.fit = fit_then_signal
    command = argv(tmp_path)
    before = signal.getsignal(signum)  # SIG_DFL alone; an earlier in-process ray.init leaves its own
    assert main(command) == status
    err = capsys.readouterr().err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert err.strip().splitlines()[-1].strip() == "python -m sweep.run " + " ".join(command) + " --resume"
    (parent,) = parent_runs(tmp_path)
    assert parent.info.status == "KILLED"
    assert signal.getsignal(signum) is before  # the handler from before the driver ran is back


# ---------------------------------------------------------------- prepared entries

def built_entry(folder, images):
    from trainables.data import cache

    entry = folder / "entry"
    cache.load_or_build(entry, saving(images=images, ids=np.arange(len(images))), fingerprint="f")
    return entry


def saving(**arrays):
    from trainables.data import cache

    def build(folder):
        for name, array in arrays.items():
            cache.save_array(folder, name, array)
    return build


MALFORMED = {
    "a list": lambda m: [m],
    "a string": lambda m: "entry",
    "no arrays": lambda m: {k: v for k, v in m.items() if k != "arrays"},
    "arrays a list": lambda m: {**m, "arrays": list(m["arrays"])},
    "an array without bytes": lambda m: {**m, "arrays": {"images": {k: v for k, v in m["arrays"]["images"].items()
                                                                   if k != "bytes"}, "ids": m["arrays"]["ids"]}},
    "bytes as text": lambda m: {**m, "arrays": {**m["arrays"], "ids": {**m["arrays"]["ids"], "bytes": "80"}}},
    "no checksums": lambda m: {**m, "arrays": {**m["arrays"], "ids": {**m["arrays"]["ids"], "checksums": None}}},
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_malformed_manifest_of_any_shape_is_rebuilt_with_one_warning(tmp_path, caplog, shape):
    import json

    from trainables.data import cache

    images = np.full((40, 8, 8), 7, np.uint8)
    entry = built_entry(tmp_path, images)
    manifest = entry / cache.MANIFEST
    manifest.write_text(json.dumps(MALFORMED[shape](json.loads(manifest.read_text()))))
    with caplog.at_level("WARNING"):
        arrays, ready = cache.load_or_build(entry, saving(images=images, ids=np.arange(40)), fingerprint="f")
    assert not ready and int(arrays["images"].sum()) == 7 * images.size
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert len(caplog.records) == 1 and "rebuilding it" in caplog.text
    assert cache.load_or_build(entry, lambda folder: pytest.fail("rebuilt twice"), fingerprint="f")[1]


def test_zeroed_image_bytes_are_detected_and_the_entry_rebuilt(tmp_path, caplog):
    from trainables.data import cache

    images = np.arange(300 * 16 * 16 * 3, dtype=np.uint32).astype(np.uint8).reshape(300, 16, 16, 3) | 1
    entry = built_entry(tmp_path, images)
    assert cache.load_or_build(entry, lambda folder: pytest.fail("a sound entry was rebuilt"), fingerprint="f")[1]
    with open(entry / "images.npy", "r+b") as stream:  # black images where the data was, in place
        stream.seek(-5 * 16 * 16 * 3, 2)
        stream.write(bytes(5 * 16 * 16 * 3))
    with caplog.at_level("WARNING"):
        arrays, ready = cache.load_or_build(entry, saving(images=images, ids=np.arange(300)), fingerprint="f")
    assert not ready and "fail their checksum" in caplog.text
    np.testing.assert_array_equal(arrays["images"], images)


def test_an_entry_is_verified_once_per_node_until_a_file_of_it_changes(tmp_path, monkeypatch):
    from trainables.data import cache, checksums

    entry = built_entry(tmp_path, np.ones((20, 4, 4), np.uint8))
    reads = []
    original = checksums.first_bad_chunk
    monkeypatch.setattr(checksums, "first_bad_chunk", lambda path, expected: reads.append(path.name) or
                        original(path, expected))
    for _ in range(3):
        assert cache.read_entry(entry, "f") is not None
    assert reads == []  # verified when it was built and first read: no trial start reads it again
    os.utime(entry / "ids.npy")  # written since
    assert cache.read_entry(entry, "f") is not None
    assert sorted(reads) == ["ids.npy", "images.npy"]


# ---------------------------------------------------------------- full disks

def test_a_full_disk_at_storage_is_one_line_before_launch_naming_the_place_and_the_space(tmp_path, fake_ray, capsys,
                                                                                         monkeypatch):
    from trainables.runtime import disk

    monkeypatch.setattr(disk, "free_bytes", lambda path: 10_000_000)
    assert main(argv(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fake_ray.given == []
    assert f"no space left for Ray's results (--storage) at {tmp_path / 'ray'}: needs 3.0 GB, 10.0 MB free" in err
    monkeypatch.setattr(disk, "free_bytes", lambda path: 100_000_000_000)  # space freed: the same command runs
    assert main(argv(tmp_path)) == 0 and len(fake_ray.given) == 2


def test_a_tracking_store_that_fills_after_launch_is_one_line_and_the_resume_then_works(tmp_path, fake_ray, capsys):
    from mlflow.exceptions import MlflowException

    def fit_on_a_full_disk():
        raise MlflowException("(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT INTO metrics]")

    fake_ray.fit = fit_on_a_full_disk
    command = argv(tmp_path)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"error: no space left for the tracking store at {tmp_path}: needs 200.0 MB" in err
    assert err.strip().endswith(" --resume")
    del fake_ray.fit
    assert main(command + ["--resume"]) == 0


def test_a_storage_that_fills_mid_sweep_is_one_line_and_a_summary_and_the_resume_then_works(tmp_path, fake_ray,
                                                                                           capsys, monkeypatch):
    """Ray on a full --storage (tests/test_faults_e2e.py fills a real one): trial errors and its experiment state are
    written truncated, and fit dies reading an empty error.pkl back (EOFError); the disk is freed before --resume."""
    import pickle

    from trainables import tracking
    from trainables.runtime import disk
    from test_sweep_identity import finish_in_mlflow

    first, second = toy_pair()
    free = {"bytes": 100_000_000_000}
    monkeypatch.setattr(disk, "free_bytes", lambda path: free["bytes"])
    ray_folder = tmp_path / "ray" / f"toy_pair-tiny-{tracking.sweep_digest([first, second], f'sqlite:///{tmp_path}/mlflow.db')[:8]}"

    def fit_until_the_disk_fills():
        finish_in_mlflow(tmp_path, first)  # one trial finished before the disk filled
        free["bytes"] = 0
        ray_folder.mkdir(parents=True)
        (ray_folder / "tuner.pkl").write_bytes(pickle.dumps({"param_space": {}}))
        (ray_folder / "experiment_state-2026-12-05_06-54-07.json").write_text('{"runner_data": {"_session_str": "20')
        raise EOFError("Ran out of input")  # ray.tune.ResultGrid unpickling a trial's empty error.pkl

    fake_ray.fit = fit_until_the_disk_fills
    command = argv(tmp_path)
    assert main(command) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("error:") == 1
    assert (f"error: no space left for Ray's results (--storage) at {tmp_path / 'ray'}: needs 3.0 GB, 0 bytes free "
            "there") in err
    assert err.strip().endswith(" --resume")
    table = out[out.index("trial "):]
    assert f"{first.run_name}" in table and "0.700" in table.split(first.run_name)[1].splitlines()[0]
    assert "failed (no space left at --storage)" in table.split(second.run_name)[1].splitlines()[0]

    free["bytes"] = 100_000_000_000  # space freed
    del fake_ray.fit
    fake_ray.can_restore = lambda path: (Path(path) / "tuner.pkl").exists()
    fake_ray.restore = lambda *args, **kwargs: pytest.fail("Ray's damaged state was restored")
    assert main(command + ["--resume"]) == 0
    assert fake_ray.given == [second.run_name]  # the finished trial is not run again
    assert "experiment_state-2026-12-05_06-54-07.json: not a whole JSON document" in capsys.readouterr().out
    assert not ray_folder.exists() and len(list(ray_folder.parent.glob(f"{ray_folder.name}-*"))) == 1  # set aside


# ---------------------------------------------------------------- ghosts and a second driver

def sweep_parent(folder, *, driver: str | None, heartbeat_age: float = 0.0, trials_running: int = 1,
                 uri: str | None = None):
    """A parent run of toy_pair as a driver leaves it (lease tags as trainables.tracking.lease writes them), with
    RUNNING trial runs under it, in the sqlite store of `folder` or at `uri`; returns (client, parent id, trial run
    ids)."""
    import socket
    import time

    from trainables import tracking
    from trainables.spec import keys

    uri = uri or f"sqlite:///{folder}/mlflow.db"
    trials = toy_pair()
    experiment = tracking.ensure_experiment(uri, trials[0].experiment_name)
    client = mlflow.MlflowClient(uri)
    tags = {keys.TAG_KIND: keys.SWEEP_KIND, keys.TAG_SWEEP_DIGEST: tracking.sweep_digest(trials, uri)}
    if driver:
        now = time.time()
        tags.update({keys.TAG_DRIVER: f"{socket.gethostname()}:{driver}" if driver.isdigit() else driver,
                     keys.TAG_DRIVER_SINCE: str(now - heartbeat_age - 60), keys.TAG_HEARTBEAT: str(now - heartbeat_age)})
    parent = client.create_run(experiment, run_name="toy_pair-tiny", tags=tags).info.run_id
    children = [client.create_run(experiment, run_name=trial.run_name, tags={keys.TAG_PARENT: parent}).info.run_id
                for trial in trials[:trials_running]]
    return client, parent, children


def dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("extra", [[], ["--fresh"], ["--resume"]])
@pytest.mark.parametrize("gone", ["dead pid on this host", "silent on another host"])
def test_runs_left_running_by_a_gone_driver_are_closed_first_whatever_the_options(tmp_path, fake_ray, capsys,
                                                                                   extra, gone):
    driver = str(dead_pid()) if gone.startswith("dead") else "elsewhere:123"
    client, parent, children = sweep_parent(tmp_path, driver=driver, heartbeat_age=0 if gone.startswith("dead") else 600)
    assert main(argv(tmp_path, *extra)) == 0
    assert "left RUNNING" in capsys.readouterr().out
    for run_id in [parent, *children]:
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and "ended_by" in run.data.tags, gone
    assert len(fake_ray.given) == 2  # then the sweep ran as asked


def test_a_second_driver_of_a_live_sweep_exits_2_naming_it_and_never_suggests_resume(tmp_path, fake_ray, capsys):
    import socket

    client, parent, children = sweep_parent(tmp_path, driver=str(os.getppid()))  # alive, heartbeat fresh
    (tmp_path / "ray" / "toy_pair-tiny-0123abcd").mkdir(parents=True)
    assert main(argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "mlflow.store.db" not in line]) == 1  # MLflow's creating the store
    assert "--resume" not in err
    assert f"running in another driver: pid {os.getppid()} on host {socket.gethostname()} since" in err
    assert fake_ray.given == [] and client.get_run(parent).info.status == "RUNNING"
    assert main(argv(tmp_path, "--resume")) == 2 and main(argv(tmp_path, "--fresh")) == 2
    assert all(client.get_run(run_id).info.status == "RUNNING" for run_id in children)


def test_of_two_drivers_that_open_parent_runs_together_the_later_gives_way(tmp_path):
    from trainables import tracking
    from trainables.tracking import lease

    client, first, _ = sweep_parent(tmp_path, driver=str(os.getppid()), trials_running=0)
    uri, trials = f"sqlite:///{tmp_path}/mlflow.db", toy_pair()
    experiment = client.get_experiment_by_name("toy_pair-tiny").experiment_id
    digest = tracking.sweep_digest(trials, uri)
    second = tracking.start_sweep_run(uri, experiment, sweep="toy_pair", profile="tiny", sweep_kind="grid", trials=2,
                                      digest=digest)
    with lease.heartbeats(), pytest.raises(lease.SweepBusy, match=f"pid {os.getppid()}"):
        lease.hold(uri, experiment, second, digest, "toy_pair-tiny")
    assert client.get_run(second).info.status == "KILLED" and client.get_run(first).info.status == "RUNNING"


def interrupted_sweep_with_its_ray_folder(folder, fake_ray):
    """toy_pair interrupted (Ctrl-C) by a driver of this process, its Ray folder left restorable; returns its
    parent run id."""
    import pickle

    from trainables import tracking

    def interrupt():
        raise KeyboardInterrupt

    fake_ray.fit = interrupt
    assert main(argv(folder)) == 130
    del fake_ray.fit
    trials, uri = toy_pair(), f"sqlite:///{folder}/mlflow.db"
    ray_folder = folder / "ray" / f"toy_pair-tiny-{tracking.sweep_digest(trials, uri)[:8]}"
    ray_folder.mkdir(parents=True)
    (ray_folder / "tuner.pkl").write_bytes(pickle.dumps({"param_space": {}}))
    (ray_folder / "experiment_state-2026-12-05_06-54-07.json").write_text('{"runner_data": {}}')

    def restore(path, trainable, **options):
        fake_ray.param_space = {"trial": {"grid_search": [trial.to_dict() for trial in trials]}}
        return fake_ray

    fake_ray.can_restore = lambda path: (Path(path) / "tuner.pkl").exists()
    fake_ray.restore = restore
    (parent,) = parent_runs(folder)
    return parent.info.run_id


def test_of_two_resumes_started_together_exactly_one_goes_on_and_the_other_names_it(tmp_path, fake_ray, capsys,
                                                                                     monkeypatch):
    import contextlib
    import re
    import threading

    from trainables.tracking import lease

    parent = interrupted_sweep_with_its_ray_folder(tmp_path, fake_ray)
    capsys.readouterr()
    drivers = {"first": "host-a:101", "second": "host-b:202"}
    monkeypatch.setattr(lease, "this_driver", lambda: drivers[threading.current_thread().name])
    both_checked = threading.Barrier(2, timeout=60)
    check = lease.refuse_if_live

    def checked_together(*args):  # both drivers found no live driver before either reopened the run
        check(*args)
        both_checked.wait()

    monkeypatch.setattr(lease, "refuse_if_live", checked_together)
    one_ended, train = threading.Event(), fake_ray.fit

    def train_until_the_other_ended():  # the trials outlast the start of the other driver
        one_ended.wait(timeout=10)
        return train()

    fake_ray.fit = train_until_the_other_ended
    statuses = {}

    def drive() -> None:
        statuses[threading.current_thread().name] = main(argv(tmp_path, "--resume"))
        one_ended.set()

    threads = [threading.Thread(target=drive, name=name) for name in drivers]
    heartbeats = lease.heartbeats
    monkeypatch.setattr(lease, "heartbeats", contextlib.nullcontext)  # a process has one: the test's, below
    with heartbeats():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sorted(statuses.values()) == [0, 2], statuses
    (winner,) = [name for name, status in statuses.items() if status == 0]
    host, pid = drivers[winner].split(":")
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and re.search(f"in another driver( at the same time)?: pid {pid} on host {host} since ",
                                       err[0]), err  # it saw the winner's lease, or lost the claim to it
    assert "--resume" not in err[0]
    assert [run.info.run_id for run in parent_runs(tmp_path)] == [parent]  # one group, finished by the winner
    assert mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(parent).info.status == "FINISHED"


def test_of_two_drivers_that_take_the_same_run_at_once_the_store_decides(tmp_path, monkeypatch):
    """Both read the run before either writes: the write-once lease param lets exactly one through."""
    from trainables import tracking
    from trainables.spec import keys
    from trainables.tracking import lease

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment = tracking.ensure_experiment(uri, "toy_pair-tiny")
    run_id = tracking.start_sweep_run(uri, experiment, sweep="toy_pair", profile="tiny", sweep_kind="grid", trials=2)
    client = mlflow.MlflowClient(uri)
    seen_by_both = client.get_run(run_id)
    monkeypatch.setattr(lease, "this_driver", lambda: "host-a:101")
    assert lease.claim(client, seen_by_both, "toy_pair-tiny") > 0
    monkeypatch.setattr(lease, "this_driver", lambda: "host-b:202")
    with pytest.raises(lease.SweepBusy, match="at the same time: pid 101 on host host-a since"):
        lease.claim(client, seen_by_both, "toy_pair-tiny")
    client.set_tag(run_id, keys.TAG_DRIVER_SINCE, "1796453650.000")  # the winner's term began (lease.hold)
    assert lease.claim(client, client.get_run(run_id), "toy_pair-tiny") > 0  # a later driver's term follows it


def test_a_held_lease_is_renewed_and_a_live_driver_is_not_a_ghost(tmp_path, monkeypatch):
    import time

    from trainables import tracking
    from trainables.spec import keys
    from trainables.tracking import lease

    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.2)
    monkeypatch.setenv(lease.TIMEOUT_ENV, "1")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment = tracking.ensure_experiment(uri, "toy_pair-tiny")
    run_id = tracking.start_sweep_run(uri, experiment, sweep="toy_pair", profile="tiny", sweep_kind="grid", trials=2,
                                      digest="d")
    client = mlflow.MlflowClient(uri)
    with lease.heartbeats():
        lease.hold(uri, experiment, run_id, "d", "toy_pair-tiny")
        first = float(client.get_run(run_id).data.tags[keys.TAG_HEARTBEAT])
        time.sleep(1.5)  # longer than the timeout: only the heartbeat keeps it alive
        assert float(client.get_run(run_id).data.tags[keys.TAG_HEARTBEAT]) > first
        assert lease.end_ghosts(uri, experiment) == [] and client.get_run(run_id).info.status == "RUNNING"
    time.sleep(1.5)  # released without closing (a driver frozen, or its host gone): silent past the timeout
    client.set_tag(run_id, keys.TAG_DRIVER, "elsewhere:1")
    assert len(lease.end_ghosts(uri, experiment)) == 1 and client.get_run(run_id).info.status == "KILLED"


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` on a free port of this machine, its backend a sqlite file in tmp; yields its http:// URI."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
                               "--artifacts-destination", str(tmp_path / "artifacts")],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            assert server.poll() is None, "mlflow server exited"
            time.sleep(0.5)
    try:
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_the_lease_lives_in_an_http_store_a_second_driver_exits_2_and_a_ghost_is_closed(tmp_path, fake_ray, capsys,
                                                                                         mlflow_server):
    import socket

    from trainables.spec import keys

    command = argv(tmp_path)
    command[command.index("--tracking-uri") + 1] = mlflow_server
    client, parent, children = sweep_parent(tmp_path, driver="other-host:4242", uri=mlflow_server)  # alive
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "running in another driver: pid 4242 on host other-host since" in err and "--resume" not in err
    assert fake_ray.given == [] and client.get_run(parent).info.status == "RUNNING"

    client.set_tag(parent, keys.TAG_DRIVER, f"{socket.gethostname()}:{dead_pid()}")  # that driver died
    assert main(command) == 0
    assert "left RUNNING" in capsys.readouterr().out and len(fake_ray.given) == 2
    for run_id in [parent, *children]:
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and keys.TAG_ENDED_BY in run.data.tags


CREATE_STORE = """
import os, sys, time
from pathlib import Path
from trainables import tracking
barrier = Path(sys.argv[2])
(barrier / str(os.getpid())).touch()
while len(list(barrier.iterdir())) < 2:  # both past their imports: create at the same moment
    time.sleep(0.005)
print(tracking.ensure_experiment(sys.argv[1], "toy_pair-tiny"))
"""


def test_two_processes_creating_a_new_tracking_store_at_once_both_succeed(tmp_path):
    import subprocess
    import sys

    uri, barrier = f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "ready"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    processes = [subprocess.Popen([sys.executable, "-c", CREATE_STORE, uri, str(barrier)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert outputs[0][0] == outputs[1][0]  # one experiment


# ---------------------------------------------------------------- the report of an unfinished sweep

def test_the_report_names_unfinished_failed_and_never_started_trials_against_the_grid(tmp_path):
    from analysis.completeness import completeness_lines
    from trainables.spec import keys

    none, soft = sorted(toy_pair(), key=lambda t: t.attention)
    client, parent, (child,) = sweep_parent(tmp_path, driver=str(dead_pid()))  # the driver was SIGKILLed
    assert client.get_run(child).info.run_name == none.run_name
    experiment = client.get_experiment_by_name("toy_pair-tiny").experiment_id
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert completeness_lines(uri, experiment, "toy_pair", "tiny") == [
        "trials: 0 of 2 finished, 1 unfinished (driver gone), 1 never started",
        f"  unfinished (driver gone): {none.run_name}", f"  never started: {soft.run_name}"]
    assert completeness_lines(uri, experiment, "toy_pair", "tiny", never_started_named=0)[1:] == [
        f"  unfinished (driver gone): {none.run_name}", "  ... and 1 more never started (a run with --only covers "
        "part of the grid; `python -m sweep.run toy_pair --profile tiny --dry-run` lists it)"]
    failed = client.create_run(experiment, run_name=soft.run_name, tags={keys.TAG_PARENT: parent}).info.run_id
    client.set_terminated(failed, "FAILED")
    assert completeness_lines(uri, experiment, "toy_pair", "tiny")[0] == (
        "trials: 0 of 2 finished, 1 unfinished (driver gone), 1 failed")


def test_a_tracking_store_that_stops_answering_is_said_on_the_driver_console_once_and_when_back(tmp_path, monkeypatch,
                                                                                                 capsys):
    from trainables import tracking
    from trainables.tracking import lease

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment = tracking.ensure_experiment(uri, "toy_pair-tiny")
    run_id = tracking.start_sweep_run(uri, experiment, sweep="toy_pair", profile="tiny", sweep_kind="grid", trials=2)
    beats = lease._Heartbeats()

    class Down:
        def set_tag(self, *args):
            raise ConnectionError("connection refused")

    monkeypatch.setattr(lease, "_client", lambda uri: Down())
    for _ in range(3):
        beats.renew(run_id, uri)
    monkeypatch.undo()
    beats.renew(run_id, uri)
    err = capsys.readouterr().err
    assert err.count(f"warning: MLflow at {uri} not answering since") == 1 and "trials keep training" in err
    assert f"MLflow at {uri} answers again after" in err
