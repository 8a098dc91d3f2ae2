"""A trial's MLflow writes through an outage of the tracking store (issue 26, item 5): kept in order, flushed when
it answers, nothing lost, other errors at once, a bounded wait. The store is a real sqlite one behind a client that
refuses while the test says the store is down."""

from __future__ import annotations

import errno
import http.server
import json
import threading
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from search_spaces import expand
from sweep import launcher
from sweep.run import load_sweeps_file, main
from trainables import tracking
from trainables.tracking import artifacts, buffer
from trainables.spec import keys

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))
EPOCHS = range(1, 7)


class Store:
    """A client of the real store that raises `error` for every call while `down` is set, or for the next
    `refuse` calls."""

    def __init__(self, uri: str, error: Exception | None = None) -> None:
        self.client, self.down, self.refuse, self.calls = mlflow.MlflowClient(uri), threading.Event(), 0, 0
        self.error = error or ConnectionError("[Errno 111] Connection refused")

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(*args, **kwargs):
            self.calls += 1
            if self.down.is_set() or self.refuse > 0:
                self.refuse -= 1
                raise self.error
            return method(*args, **kwargs)

        return call


@pytest.fixture
def uri(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)  # runs go to the store's Default experiment
    return uri


def writer(monkeypatch, store: Store, **settings) -> buffer.Writes:
    writes = buffer.Writes(client_for=lambda uri: store, retry_s=settings.pop("retry_s", 0.01), **settings)
    monkeypatch.setattr(buffer, "writes", writes)
    return writes


def epoch_metrics(epoch: int) -> dict[str, float]:
    return {keys.TRAIN_LOSS: 1.0 / epoch, keys.TRAIN_ACCURACY: 0.5 + epoch / 100, keys.VAL_LOSS: 2.0 / epoch,
            keys.VAL_ACCURACY: 0.4 + epoch / 50}


def log_like_a_trial(tmp_path: Path, during_epoch=lambda epoch: None) -> str:
    """What a trial writes, in its order, with `during_epoch(epoch)` before each epoch's metrics; the run's id."""
    with mlflow.start_run() as run:
        tracking.record_attempt("node-1")
        artifacts.log_skipped_images({"skipped": ["a.png"], "skipped_problems": ["a.png: truncated"]})
        for epoch in EPOCHS:
            during_epoch(epoch)
            artifacts.log_epoch(epoch_metrics(epoch), epoch)
        model = tmp_path / "model.keras"
        model.write_bytes(b"weights")
        buffer.writes.log_artifact(str(model), "model")
        model.unlink()  # as a trial's temporary folder goes away
        artifacts.log_timings({"time/train": 12.5})
        buffer.writes.set_tag(keys.TAG_STATUS, keys.STATUS_FINISHED)
        buffer.writes.end_run("FINISHED")
    return run.info.run_id


def history(uri: str, run_id: str) -> dict:
    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    metrics = {key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)] for key in run.data.metrics}
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    files = {f.path: f.file_size for f in client.list_artifacts(run_id, "model")}
    return {"status": run.info.status, "metrics": metrics, "tags": tags, "files": files}


def test_writes_through_an_outage_are_flushed_in_order_and_the_history_is_an_uninterrupted_runs(
        tmp_path, uri, monkeypatch, capsys):
    writes = writer(monkeypatch, Store(uri))
    uninterrupted = history(uri, log_like_a_trial(tmp_path))
    assert "MLflow at" not in capsys.readouterr().err

    store = Store(uri)
    writes = writer(monkeypatch, store)

    def outage(epoch):
        if epoch == 2:
            store.down.set()  # epochs 2-4 are written while the store does not answer
        if epoch == 5:
            store.down.clear()
            writes.drain()

    interrupted = history(uri, log_like_a_trial(tmp_path, outage))
    assert interrupted == uninterrupted
    assert [step for step, _ in interrupted["metrics"][keys.TRAIN_LOSS]] == list(EPOCHS)  # each epoch once, in order
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith(f"MLflow at {uri} not answering (ConnectionError): keeping this trial's writes in order")
    assert err[1].startswith(f"MLflow at {uri} answers again: flushed 3 kept write(s) in order")


def test_a_run_started_before_the_outage_ends_after_it_once_every_write_is_in(tmp_path, uri, monkeypatch, capsys):
    load_sweeps_file(Path(SWEEPS_FILE))
    trial = expand("toy_pair", "tiny")[0]
    experiment = tracking.ensure_experiment(uri, trial.experiment_name)
    store = Store(uri)
    writer(monkeypatch, store)
    with tracking.trial_run(trial, uri, experiment, trial_id="t1") as run:
        store.down.set()
        for epoch in EPOCHS:
            artifacts.log_epoch(epoch_metrics(epoch), epoch)
        threading.Timer(0.3, store.down.clear).start()  # the store answers again while the run ends
    client = mlflow.MlflowClient(uri)
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED" and ended.data.tags[keys.TAG_STATUS] == keys.STATUS_FINISHED
    assert logged_steps(uri, run.info.run_id) == list(EPOCHS)
    assert mlflow.active_run() is None
    assert "flushed 7 kept write(s)" in capsys.readouterr().err  # 6 epochs and the status tag


@pytest.mark.parametrize("error", [
    MlflowException("INVALID_PARAMETER_VALUE: metric value must be a number"),
    OSError(errno.ENOSPC, "No space left on device"),
    MlflowException("(sqlite3.OperationalError) database or disk is full"),
])
def test_a_write_that_fails_for_another_reason_raises_at_once(tmp_path, uri, monkeypatch, error):
    store = Store(uri, error)
    writer(monkeypatch, store)
    with mlflow.start_run():
        store.refuse = 1
        with pytest.raises(type(error)) as raised:
            artifacts.log_epoch(epoch_metrics(1), 1)
        assert raised.value is error and store.calls == 1  # not retried
        artifacts.log_epoch(epoch_metrics(2), 2)  # nothing was kept: the next write goes straight out
        run_id = mlflow.active_run().info.run_id
    assert logged_steps(uri, run_id) == [2]


def logged_steps(uri: str, run_id: str) -> list[int]:
    return [m.step for m in mlflow.MlflowClient(uri).get_metric_history(run_id, keys.TRAIN_LOSS)]


def test_the_wait_is_bounded_by_ars_tracking_outage_s(tmp_path, uri, monkeypatch):
    now = [1000.0]
    store = Store(uri)
    writes = writer(monkeypatch, store, clock=lambda: now[0], limit_s=60)
    with mlflow.start_run() as run:
        store.down.set()
        for epoch in (1, 2, 3):
            artifacts.log_epoch(epoch_metrics(epoch), epoch)
        now[0] += 59
        artifacts.log_epoch(epoch_metrics(4), 4)  # within the bound: kept
        now[0] += 2
        with pytest.raises(buffer.TrackingOutage) as raised:
            artifacts.log_epoch(epoch_metrics(5), 5)
        assert str(raised.value) == (f"MLflow at {uri} has not answered for 61 s (more than ARS_TRACKING_OUTAGE_S=60); "
                                     f"the trial fails, 4 of its writes were not logged")
        artifacts.log_epoch(epoch_metrics(6), 6)  # a new outage, counted from this write
        now[0] += 60.5
        with pytest.raises(buffer.TrackingOutage, match="has not answered for 60 s .* 1 of its writes"):
            writes.drain()  # the end of a trial waits for the flush within the same bound
        writes.abandon_run("FAILED")
        assert mlflow.active_run() is None
    store.down.clear()
    assert logged_steps(uri, run.info.run_id) == []


def test_a_full_buffer_makes_the_trial_wait_for_room_within_the_bound(uri, monkeypatch):
    store = Store(uri)
    writes = writer(monkeypatch, store, max_pending=2)
    with mlflow.start_run() as run:
        store.down.set()
        artifacts.log_epoch(epoch_metrics(1), 1)
        artifacts.log_epoch(epoch_metrics(2), 2)
        threading.Timer(0.3, store.down.clear).start()
        artifacts.log_epoch(epoch_metrics(3), 3)  # waits until the flush makes room
        assert store.down.is_set() is False
        writes.drain()
    assert logged_steps(uri, run.info.run_id) == [1, 2, 3]


def test_the_start_of_a_trial_waits_for_the_store_instead_of_failing(uri, monkeypatch, capsys):
    store = Store(uri)
    writes = writer(monkeypatch, store)
    store.refuse = 3
    assert writes.when_answering(lambda: store.search_experiments()[0].name) == "Default"
    assert store.calls == 4 and "not answering (ConnectionError): waiting for it" in capsys.readouterr().err
    store.error, store.refuse = MlflowException("RESOURCE_DOES_NOT_EXIST"), 1
    with pytest.raises(MlflowException):
        writes.when_answering(lambda: store.get_run("nope"))


class Answering(http.server.BaseHTTPRequestHandler):
    """An MLflow server (or the proxy in front of it) that answers every request with the status in its path's first
    part and, in its second, the body: an MLflow JSON error with that code, or `html` for a proxy's page."""

    def do_POST(self):
        status, code = self.path.strip("/").split("/")[:2]
        body = (b"<html><body>gateway error</body></html>" if code == "html"
                else json.dumps({"error_code": code, "message": "bad"}).encode())
        self.send_response(int(status))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, code, outage", [
    (503, "TEMPORARILY_UNAVAILABLE", True), (500, "INTERNAL_ERROR", True), (502, "html", True), (504, "html", True),
    (400, "INVALID_PARAMETER_VALUE", False), (404, "RESOURCE_DOES_NOT_EXIST", False), (404, "html", False)])
def test_what_mlflows_client_raises_is_told_apart(monkeypatch, status, code, outage):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = http.server.HTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception) as raised:
            mlflow.MlflowClient(f"http://127.0.0.1:{server.server_address[1]}/{status}/{code}").set_tag("r", "k", "v")
    finally:
        server.shutdown()
        server.server_close()
    assert buffer.is_outage(raised.value) is outage


def test_a_refused_connection_is_an_outage(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = http.server.HTTPServer(("127.0.0.1", 0), Answering)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    with pytest.raises(MlflowException) as raised:
        mlflow.MlflowClient(f"http://127.0.0.1:{port}").set_tag("r", "k", "v")
    assert buffer.is_outage(raised.value)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_bad_ars_tracking_outage_s_is_one_line_and_exit_2_before_launch(tmp_path, monkeypatch, capsys, value):
    def must_not_start(address):
        raise AssertionError("Ray would start: the input passed validation")

    monkeypatch.setattr(launcher, "connect_ray", must_not_start)
    monkeypatch.setenv(buffer.OUTAGE_ENV, value)
    code = main(["toy_pair", "--profile", "tiny", "--sweeps-file", SWEEPS_FILE, "--tracking-uri",
                 f"sqlite:///{tmp_path}/mlflow.db", "--storage", str(tmp_path / "ray")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err == (f"error: $ARS_TRACKING_OUTAGE_S must be a number of seconds > 0 (how long a trial buffers its "
                   f"MLflow writes while the store does not answer). Received: ARS_TRACKING_OUTAGE_S={value!r}")


def test_the_outage_bound_and_mlflows_retries_reach_the_trial_workers(monkeypatch):
    for name in (buffer.OUTAGE_ENV, *buffer.TRIAL_MLFLOW_ENV):
        monkeypatch.delenv(name, raising=False)
    assert {name: launcher.trial_worker_env()[name] for name in buffer.TRIAL_MLFLOW_ENV} == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    assert buffer.OUTAGE_ENV not in launcher.trial_worker_env()  # the worker's default is the driver's: 600
    monkeypatch.setenv(buffer.OUTAGE_ENV, "90")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")  # the user's choice wins
    env = launcher.trial_worker_env()
    assert env[buffer.OUTAGE_ENV] == "90" and env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert buffer.outage_limit_s({}) == 600 and buffer.outage_limit_s(env) == 90
