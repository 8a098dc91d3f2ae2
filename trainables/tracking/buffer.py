"""A trial's writes to MLflow survive a tracking store that stops answering: they are kept, in order, and sent
when it answers again, while the trial keeps training.

Every write of a trial run (trainables.tracking.artifacts, runs.trial_run, runs.record_attempt) goes through
`writes`. A write the store does not answer (`is_outage`: a refused or dropped connection, a timeout, an HTTP 5xx,
MLflow's "Max retries exceeded") starts buffering: it and every later write are kept in memory (artifact files
copied to a spool folder, since their callers delete them) and a thread retries the oldest every RETRY_S seconds.
Writes go out strictly in order, and a new write never overtakes a kept one, so the run's history (metric steps,
values and the timestamps of when they were logged) is the one an uninterrupted run has. The trial waits for the
flush before it ends its run (`end_run`), so it reports its end only once everything is logged. Any other error (a
bad request, a full disk) raises at once, as before.

The wait is bounded: when the store has not answered for $ARS_TRACKING_OUTAGE_S seconds (default 600), counted
from the first write it did not answer, the trial fails with TrackingOutage (one line: the store and how long it
was down). The buffer holds at most MAX_PENDING writes; a trial that has more to write waits for the flush, within
the same bound. The trial's log gets one line when buffering starts and one when the buffer is flushed.

MLflow's own retries come first: every attempt (the first write and each retry of the flush) goes through MLflow's
HTTP client, which itself retries a refused connection or a 408/429/5xx answer MLFLOW_HTTP_REQUEST_MAX_RETRIES times
(MLflow's default 7) with exponential backoff (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR 2 s, doubling, capped at 120 s,
plus MLFLOW_HTTP_REQUEST_BACKOFF_JITTER), each request waiting up to MLFLOW_HTTP_REQUEST_TIMEOUT (120 s) for an
answer. With MLflow's defaults one write into a refused port blocks the trial for about 4 minutes (measured: 247 s)
before this buffer sees the outage. The sweep's trial workers therefore get TRIAL_MLFLOW_ENV (2 retries, 30 s per
request: a write into a stopped server gives up after ~4 s, and the trial trains on) unless the driver's
environment sets those variables, which are then passed on as they are. The bound is exceeded by at most one
attempt's length; a flush starts at most RETRY_S plus one attempt after the store answers again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .store import mlflow_client

# mlflow is imported inside the functions that use it (see store.py).

OUTAGE_ENV = "ARS_TRACKING_OUTAGE_S"
DEFAULT_OUTAGE_S = 600.0
RETRY_S = 5.0
MAX_PENDING = 10_000
# The error codes of a server's HTTP 5xx answer (MLflow's rest_utils.get_error_code): since MLflow 3.18 a 5xx with a
# JSON body arrives as a RestException carrying only the body's code, not the status. Only a RestException's code
# counts: an MlflowException raised here (a full disk under sqlite) defaults to INTERNAL_ERROR too.
OUTAGE_ERROR_CODES = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "DEADLINE_EXCEEDED"})
# A 5xx page that is not JSON (a proxy's) arrives as an MlflowException whose message alone names the status
# (rest_utils' wording).
_PAGE_STATUS = re.compile(r"failed with error code (5\d\d) != ")
TRIAL_MLFLOW_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


class TrackingOutage(RuntimeError):
    """The tracking store did not answer for longer than $ARS_TRACKING_OUTAGE_S; str() is the one line to show."""


def outage_limit_s(environ=None) -> float:
    """Seconds, from $ARS_TRACKING_OUTAGE_S (default 600); a value that is not a positive number is a usage error."""
    text = (os.environ if environ is None else environ).get(OUTAGE_ENV, "")
    if not text:
        return DEFAULT_OUTAGE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"${OUTAGE_ENV} must be a number of seconds > 0 (how long a trial buffers its MLflow "
                         f"writes while the store does not answer). Received: {OUTAGE_ENV}={text!r}")
    return seconds


def is_outage(error: BaseException) -> bool:
    """Whether the store did not answer (so the write may succeed later), looking through the causes MLflow wraps:
    a refused, reset or timed-out connection, an HTTP 5xx (its status, or the error code MLflow gives one), retries
    exhausted."""
    import requests
    from mlflow.exceptions import MlflowException, RestException

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, TimeoutError, requests.ConnectionError, requests.Timeout,
                              requests.exceptions.RetryError)):
            return True
        status = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(status, int) and 500 <= status < 600:
            return True
        if isinstance(error, RestException) and error.error_code in OUTAGE_ERROR_CODES:
            return True
        if isinstance(error, MlflowException) and _PAGE_STATUS.search(str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


@dataclass
class _Write:
    """One write: `send` now; `later` what a buffered copy sends (files it needs copied into `spool`)."""

    send: Callable[[], Any]
    later: Callable[[Path], Callable[[], Any]] | None = None
    spool: Path | None = None

    def kept(self) -> "_Write":
        if self.later is None:
            return self
        spool = Path(tempfile.mkdtemp(prefix="ars-outage-"))
        return _Write(self.later(spool), spool=spool)

    def done(self) -> None:
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)


class Writes:
    """The writes of the active MLflow run in this process, buffered through an outage (module docstring).
    Called from the trial's thread; one flush thread retries while the store does not answer."""

    def __init__(self, *, client_for: Callable[[str], Any] = mlflow_client, clock: Callable[[], float] = time.monotonic,
                 retry_s: float = RETRY_S, max_pending: int = MAX_PENDING, limit_s: float | None = None) -> None:
        self.client_for, self.clock, self.retry_s, self.max_pending = client_for, clock, retry_s, max_pending
        self.limit_s = limit_s
        self._pending: deque[_Write] = deque()
        self._changed = threading.Condition()
        self._down_since: float | None = None  # clock() when the first unanswered write was sent
        self._uri = ""
        self._failure: BaseException | None = None
        self._flushed = 0
        self._generation = 0  # a flush thread of an earlier outage stops when it changes

    # ---------------------------------------------------------------- the writes

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)  # when it was logged, not when it was sent
        batch = [Metric(key, float(value), now, step or 0) for key, value in metrics.items()]
        self._batch(metrics=batch)

    def log_metric(self, key: str, value: float) -> None:
        self.log_metrics({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self._batch(params=[Param(key, str(value)) for key, value in params.items()])

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._batch(tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def log_text(self, text: str, artifact_file: str) -> None:
        self._run_write(lambda client, run_id: client.log_text(run_id, text, artifact_file))

    def log_artifact(self, local_path: str, artifact_path: str | None = None) -> None:
        self._file_write(local_path, shutil.copy2,
                         lambda client, run_id, path: client.log_artifact(run_id, str(path), artifact_path))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self._file_write(local_dir, shutil.copytree,
                         lambda client, run_id, path: client.log_artifacts(run_id, str(path), artifact_path))

    def log_input(self, dataset, context: str, retry: Callable[[Callable[[], Any]], Any] = lambda send: send()) -> None:
        """retry: how to send it (artifacts' retry of a data set insert that lost a race)."""
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        entity = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])
        self._run_write(lambda client, run_id: retry(lambda: client.log_inputs(run_id, datasets=[entity])))

    def end_run(self, status: str) -> None:
        """End the active run once every earlier write is in the store (waiting for the flush, within the bound)."""
        import mlflow

        run_id, client = self._target()
        self.drain()
        self._write(_Write(lambda: mlflow.end_run(status),  # ends it here, then in the store
                           later=lambda spool: lambda: client.set_terminated(run_id, status)))
        self.drain()

    def abandon_run(self, status: str) -> None:
        """The store is gone (TrackingOutage): end the active run here, one unbuffered try to end it in the store
        (the driver closes it otherwise)."""
        import mlflow

        with contextlib.suppress(Exception):  # MLflow ends the run locally before it sends
            mlflow.end_run(status)

    def when_answering(self, call: Callable[[], Any], uri: str | None = None) -> Any:
        """call() (a read, or the start of the run) retried every RETRY_S while the store (uri, default MLflow's
        tracking URI) does not answer: the trial waits at its start, within the same bound, instead of failing."""
        import mlflow

        started, said = self.clock(), False
        while True:
            try:
                return call()
            except Exception as error:
                if not is_outage(error):
                    raise
                self._uri, down = uri or mlflow.get_tracking_uri(), self.clock() - started
                if down > self._limit():
                    raise TrackingOutage(self._outage_line(down, "")) from None
                if not said:
                    print(f"MLflow at {self._uri} not answering ({type(error).__name__}): waiting for it, for at most "
                          f"{self._limit():g} s ({OUTAGE_ENV})", file=sys.stderr, flush=True)
                    said = True
            time.sleep(self.retry_s)

    # ---------------------------------------------------------------- buffering

    def drain(self) -> None:
        """Wait until every kept write is in the store; TrackingOutage past the bound."""
        with self._changed:
            while self._pending and self._failure is None:
                self._check_bound()
                self._changed.wait(self.retry_s)
            self._raise_failure()

    def _target(self) -> tuple[str, Any]:
        import mlflow

        run = mlflow.active_run()
        if run is None:
            raise RuntimeError("no active MLflow run to write to")
        self._uri = mlflow.get_tracking_uri()
        return run.info.run_id, self.client_for(self._uri)

    def _batch(self, **entities) -> None:
        self._run_write(lambda client, run_id: client.log_batch(run_id, **entities))

    def _run_write(self, send: Callable[[Any, str], Any]) -> None:
        run_id, client = self._target()
        self._write(_Write(lambda: send(client, run_id)))

    def _file_write(self, local: str, copy: Callable, send: Callable[[Any, str, Path], Any]) -> None:
        run_id, client = self._target()

        def later(spool: Path) -> Callable[[], Any]:
            kept = spool / Path(local).name
            copy(local, kept)
            return lambda: send(client, run_id, kept)

        self._write(_Write(lambda: send(client, run_id, Path(local)), later=later))

    def _write(self, write: _Write) -> None:
        with self._changed:
            self._raise_failure()
            if self._pending:  # never overtake a kept write
                while len(self._pending) >= self.max_pending and self._failure is None:
                    self._check_bound()
                    self._changed.wait(self.retry_s)
                self._raise_failure()
                self._check_bound()
                self._pending.append(write.kept())
                return
        started = self.clock()
        try:
            write.send()
        except Exception as error:
            if not is_outage(error):
                raise
            self._start_buffering(write.kept(), started, error)

    def _start_buffering(self, write: _Write, started: float, error: BaseException) -> None:
        with self._changed:
            self._pending.append(write)
            self._down_since, self._flushed = started, 0
            self._generation += 1
            generation = self._generation
        print(f"MLflow at {self._uri} not answering ({type(error).__name__}): keeping this trial's writes in order "
              f"and retrying every {self.retry_s:g} s, for at most {self._limit():g} s ({OUTAGE_ENV}); training "
              f"goes on", file=sys.stderr, flush=True)
        threading.Thread(target=self._flush, args=(generation,), name="mlflow-outage-flush", daemon=True).start()

    def _flush(self, generation: int) -> None:
        """Send the kept writes oldest first; an outage waits and retries, anything else fails the trial."""
        while True:
            with self._changed:
                if generation != self._generation:
                    return
                if not self._pending:
                    self._say_flushed()
                    return
                head = self._pending[0]
            try:
                head.send()
            except Exception as error:  # noqa: BLE001 - handed to the trial's thread, raised at its next write
                with self._changed:
                    if generation != self._generation:
                        return
                    if not is_outage(error):
                        self._fail(error)
                        return
                    if self._over_bound():
                        self._fail(self._outage())
                        return
                time.sleep(self.retry_s)
                continue
            head.done()
            with self._changed:
                if generation != self._generation:
                    return
                self._pending.popleft()
                self._flushed += 1
                self._changed.notify_all()

    def _say_flushed(self) -> None:
        down = self.clock() - self._down_since
        print(f"MLflow at {self._uri} answers again: flushed {self._flushed} kept write(s) in order, {down:.0f} s "
              f"after it stopped answering", file=sys.stderr, flush=True)
        self._down_since = None
        self._changed.notify_all()

    # ---------------------------------------------------------------- the bound

    def _limit(self) -> float:
        return outage_limit_s() if self.limit_s is None else self.limit_s

    def _over_bound(self) -> bool:
        return self._down_since is not None and self.clock() - self._down_since > self._limit()

    def _outage(self) -> TrackingOutage:
        return TrackingOutage(self._outage_line(self.clock() - self._down_since,
                                                f", {len(self._pending)} of its writes were not logged"))

    def _outage_line(self, down: float, lost: str) -> str:
        return (f"MLflow at {self._uri} has not answered for {down:.0f} s (more than {OUTAGE_ENV}="
                f"{self._limit():g}); the trial fails{lost}")

    def _check_bound(self) -> None:
        if self._over_bound():
            self._fail(self._outage())
            self._raise_failure()

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._changed.notify_all()

    def _raise_failure(self) -> None:
        """Raise a flush's failure once; the kept writes are dropped and the next write starts afresh."""
        if self._failure is None:
            return
        error, self._failure = self._failure, None
        for write in self._pending:
            write.done()
        self._pending.clear()
        self._down_since = None
        self._generation += 1
        raise error


writes = Writes()
