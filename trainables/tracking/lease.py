"""One live driver per sweep digest per tracking store, and no run left RUNNING by a driver that is gone.

The lease lives in the tracking store, on the sweep's parent run, so it works for sqlite and for an http:// store
whatever machine the drivers run on: tags `driver` (host:pid), `driver_since` and `driver_heartbeat` (seconds since
the epoch), the heartbeat renewed every HEARTBEAT_S by a thread of the driver while it holds the run.

A RUNNING parent run's driver is gone when its heartbeat is older than ARS_LEASE_TIMEOUT_S (default 30 s; clocks
of the drivers' machines must agree to well within it), or when it ran on this host and its pid is dead (found at
once), or when it has no lease and started more than that long ago (a driver of a version without leases), or
when its driver released it (heartbeat `released`, written as the driver ends). Gone drivers' parent runs and their
RUNNING trial runs are closed KILLED with tag `ended_by`: `end_ghosts`, called first by every invocation.
`refuse_if_live` stops a second driver before it starts anything; `hold` takes the lease on the parent run a driver
opened (a new one, or with --resume the newest of its digest, reopened). The store decides between drivers that
take the same run at once (two --resume started together): each writes the param `lease.after_<previous holder's
driver_since>`, params are write-once (the store refuses a second value), and the one whose value is not there
gives way (SweepBusy: exit 2). Between drivers that opened two new parent runs of one digest at once, the later
lease gives way. The heartbeat also notices a tracking store that stops answering and says so on the driver's
console (within HEARTBEAT_S plus the MLflow client's own retries).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from typing import Iterator

from mlflow.entities import RunTag

from ..spec import keys
from .reader import search_all
from .store import mlflow_client

TIMEOUT_ENV = "ARS_LEASE_TIMEOUT_S"
HEARTBEAT_S = 5.0
RELEASED = "released"  # the heartbeat of a lease its driver gave up as it ended
CLAIM = "lease.after_"  # + the previous holder's driver_since ("none" for a new run): a write-once param


class SweepBusy(ValueError):
    """Another live driver runs this sweep on this tracking store; str() is the one line to show."""


def timeout_s() -> float:
    return float(os.environ.get(TIMEOUT_ENV) or 30)


def this_driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _client(tracking_uri: str):
    return mlflow_client(tracking_uri)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def gone_because(run, now: float | None = None) -> str | None:
    """Why the driver of this RUNNING parent run is gone, or None if it may be alive."""
    now, tags = time.time() if now is None else now, run.data.tags
    driver, heartbeat = tags.get(keys.TAG_DRIVER), tags.get(keys.TAG_HEARTBEAT)
    if not driver or not heartbeat:
        started = run.info.start_time / 1000
        return f"no driver lease, started {now - started:.0f} s ago" if now - started > timeout_s() else None
    if heartbeat == RELEASED:
        return f"driver {driver} ended"
    host, _, pid = driver.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return f"driver {driver} is dead"
    silent = now - float(heartbeat)
    return f"driver {driver} silent for {silent:.0f} s" if silent > timeout_s() else None


def _running_parents(client, experiment_id: str, digest: str | None = None) -> list:
    wanted = f"tags.{keys.TAG_KIND} = '{keys.SWEEP_KIND}' and attributes.status = 'RUNNING'"
    if digest:
        wanted += f" and tags.{keys.TAG_SWEEP_DIGEST} = '{digest}'"
    return search_all(client, experiment_id, wanted)


def end_ghosts(tracking_uri: str, experiment_id: str) -> list[str]:
    """Close (KILLED, tag ended_by) every parent run of the experiment whose driver is gone, and its RUNNING trial
    runs; returns one line per parent run closed."""
    client, closed = _client(tracking_uri), []
    for parent in _running_parents(client, experiment_id):
        why = gone_because(parent)
        if why is None:
            continue
        ended_by = f"{this_driver()}: {why}"
        children = search_all(client, experiment_id, (
            f"tags.`{keys.TAG_PARENT}` = '{parent.info.run_id}' and attributes.status = 'RUNNING'"))
        for run in [*children, parent]:
            client.set_tag(run.info.run_id, keys.TAG_ENDED_BY, ended_by)
            client.set_terminated(run.info.run_id, "KILLED")
        closed.append(f"closed the run of {parent.info.run_name} left RUNNING ({why}) and {len(children)} of its "
                      f"trial runs: KILLED, tag {keys.TAG_ENDED_BY}")
    return closed


def describe(run) -> str:
    tags = run.data.tags
    return describe_driver(tags.get(keys.TAG_DRIVER, "?:?"), tags.get(keys.TAG_DRIVER_SINCE, "0"), run.info.run_id)


def describe_driver(driver: str, since: str, run_id: str) -> str:
    host, _, pid = driver.rpartition(":")
    return (f"pid {pid} on host {host} since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(since)))} "
            f"(run {run_id})")


def live_drivers(tracking_uri: str, experiment_id: str, digest: str) -> list:
    """The RUNNING parent runs of this digest whose driver may be alive, oldest lease first."""
    runs = [run for run in _running_parents(_client(tracking_uri), experiment_id, digest)
            if gone_because(run) is None]
    return sorted(runs, key=lambda run: (float(run.data.tags.get(keys.TAG_DRIVER_SINCE, 0)), run.info.run_id))


def refuse_if_live(tracking_uri: str, experiment_id: str, digest: str, sweep: str) -> None:
    """SweepBusy when a live driver runs this sweep digest on this store."""
    live = [run for run in live_drivers(tracking_uri, experiment_id, digest)
            if run.data.tags.get(keys.TAG_DRIVER) != this_driver()]
    if live:
        raise SweepBusy(f"sweep {sweep} with these settings is running in another driver: {describe(live[0])}; "
                        f"wait for it to end, or stop it (Ctrl-C or SIGTERM to that pid)")


class _Heartbeats:
    """The parent runs this process holds, and the thread that renews their heartbeats."""

    def __init__(self) -> None:
        self.runs: dict[str, str] = {}  # run id -> tracking URI
        self.down_since: dict[str, float] = {}  # tracking URI -> when it stopped answering
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            for run_id, uri in list(self.runs.items()):
                self.renew(run_id, uri)

    def renew(self, run_id: str, uri: str) -> None:
        """One heartbeat; a store that stops answering is said on the console once, and again when it is back."""
        try:
            _client(uri).set_tag(run_id, keys.TAG_HEARTBEAT, f"{time.time():.3f}")
        except Exception as error:  # noqa: BLE001 - an outage: the next beat tries again
            if uri not in self.down_since:
                self.down_since[uri] = time.time()
                since = time.strftime("%H:%M:%S", time.localtime(self.down_since[uri]))
                print(f"warning: MLflow at {uri} not answering since {since} ({type(error).__name__}); "
                      "trials keep training and retry", file=sys.stderr, flush=True)
            return
        if uri in self.down_since:
            print(f"MLflow at {uri} answers again after {time.time() - self.down_since.pop(uri):.0f} s",
                  file=sys.stderr, flush=True)


_held = _Heartbeats()


def hold(tracking_uri: str, experiment_id: str, run_id: str, digest: str, sweep: str) -> None:
    """Take the lease on the parent run this driver opened (or reopened with --resume) and renew it until
    `heartbeats` ends. SweepBusy when another live driver holds this run or took it at the same moment (the run is
    left to it), or holds an older lease on another parent run of this digest (this run is closed KILLED)."""
    client = _client(tracking_uri)
    run = client.get_run(run_id)
    holder = run.data.tags.get(keys.TAG_DRIVER)
    if holder and holder != this_driver() and gone_because(run) is None:  # reopened while another driver holds it
        raise SweepBusy(f"sweep {sweep} with these settings is running in another driver: {describe(run)}; "
                        "wait for it to end, or stop it (Ctrl-C or SIGTERM to that pid)")
    now = claim(client, run, sweep)
    client.log_batch(run_id, tags=[  # in one write: a driver reading the run sees the old holder's or this one's
        RunTag(keys.TAG_DRIVER, this_driver()), RunTag(keys.TAG_DRIVER_SINCE, f"{now:.3f}"),
        RunTag(keys.TAG_HEARTBEAT, f"{now:.3f}")])
    if keys.TAG_ENDED_BY in run.data.tags:  # a --resume reopened a run closed as a ghost's
        client.delete_tag(run_id, keys.TAG_ENDED_BY)
    live = live_drivers(tracking_uri, experiment_id, digest) if digest else []
    if live and live[0].info.run_id != run_id:
        client.set_tag(run_id, keys.TAG_ENDED_BY, f"{this_driver()}: another driver held the sweep")
        client.set_terminated(run_id, "KILLED")
        raise SweepBusy(f"sweep {sweep} with these settings started in another driver at the same time: "
                        f"{describe(live[0])}; this one stops")
    _held.runs[run_id] = tracking_uri
    if _held.thread is None:
        _held.stop.clear()
        _held.thread = threading.Thread(target=_held.beat, name="sweep-lease-heartbeat", daemon=True)
        _held.thread.start()


def claim(client, run, sweep: str) -> float:
    """This driver's term on the run, decided by the store: the write-once param named after the previous holder's
    term; returns when the term began. SweepBusy when another driver's value is there (it took the run first)."""
    now = time.time()
    key = CLAIM + run.data.tags.get(keys.TAG_DRIVER_SINCE, "none")
    mine = f"{this_driver()}@{now:.3f}"
    try:
        client.log_param(run.info.run_id, key, mine)
        return now
    except Exception:  # noqa: BLE001 - MLflow refuses a second value; anything else: the param is not there
        held = client.get_run(run.info.run_id).data.params.get(key)
        if held is None:
            raise
        if held == mine:  # the first attempt wrote it (a client retry saw its own write)
            return now
    driver, _, since = held.rpartition("@")
    raise SweepBusy(f"sweep {sweep} with these settings started in another driver at the same time: "
                    f"{describe_driver(driver, since, run.info.run_id)}; this one stops")


def release(tracking_uri: str, run_id: str) -> None:
    """Give the lease up as the driver ends, so that a --resume need not wait for its heartbeat to age."""
    with contextlib.suppress(Exception):  # a store that is down: the heartbeat ages instead
        _client(tracking_uri).set_tag(run_id, keys.TAG_HEARTBEAT, RELEASED)


@contextlib.contextmanager
def heartbeats() -> Iterator[None]:
    """The leases taken within (hold) are renewed until it ends."""
    try:
        yield
    finally:
        _held.stop.set()
        if _held.thread is not None:
            _held.thread.join(timeout=HEARTBEAT_S + 5)
        for run_id, uri in _held.runs.items():
            release(uri, run_id)
        _held.thread, _held.runs, _held.down_since = None, {}, {}
