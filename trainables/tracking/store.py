"""Where MLflow lives: the tracking URI (checked before launch), the client, the experiment."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from ..runtime.waits import connect_timeout, how_to_wait_longer
from . import store_lock

# mlflow is imported inside the functions that talk to it: importing it costs seconds, and the CLI's bad-input
# path and the analysis of cached frames never need it.

SQLITE = "sqlite:///"

def default_tracking_uri(directory: str | os.PathLike | None = None) -> str:
    """An absolute sqlite URI (Ray trials chdir into session folders, so relative URIs would scatter)."""
    return SQLITE + str(Path(directory or os.getcwd()).resolve() / "mlflow.db")


def check_tracking_uri(uri: str) -> None:
    """Raise ValueError when trials could not log to this URI: a sqlite path that is a folder or not a database, a
    server that does not answer within the bounded wait (trainables.runtime.waits)."""
    if uri.startswith(SQLITE):
        path = Path(uri[len(SQLITE):])
        if not path.is_absolute():
            raise ValueError(f"--tracking-uri must be absolute (trials run in other folders); received {uri!r}, use sqlite:////abs/path/mlflow.db")
        if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
            raise ValueError(f"--tracking-uri {uri!r}: folder {path.parent} does not exist or is not writable")
        check_sqlite_file(path, f"--tracking-uri {uri!r}")
    elif uri.startswith(("http://", "https://")):
        check_server(uri)
    else:
        raise ValueError(f"--tracking-uri must be sqlite:////absolute/path.db or http(s)://host:port; received {uri!r}")


SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, what: str, example: str = "mlflow.db") -> None:
    """A sqlite store's path: absent (it is created), empty, or a sqlite database; not a folder or another file."""
    if path.is_dir():
        raise ValueError(f"{what}: {path} is a folder; expected a sqlite database file (e.g. {path / example})")
    if path.is_file() and path.stat().st_size:
        try:
            with path.open("rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except OSError as error:
            raise ValueError(f"{what}: {path} cannot be read ({error.strerror})") from None
        if header != SQLITE_HEADER:
            raise ValueError(f"{what}: {path} is not a sqlite database; name a new file or an existing store")


def check_server(uri: str) -> None:
    """An MLflow server answers its /health endpoint within the bounded wait."""
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=connect_timeout()).close()
    except urllib.error.HTTPError as error:
        raise ValueError(f"--tracking-uri {uri}: the server there answered HTTP {error.code} to /health; expected an "
                         f"MLflow server (mlflow server --serve-artifacts)") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ValueError(f"--tracking-uri {uri}: no answer from an MLflow server ({how_to_wait_longer()})") from None
        raise ValueError(f"--tracking-uri {uri} is not reachable ({reason}); start it with "
                         f"`mlflow server --serve-artifacts`") from None


def mlflow_client(tracking_uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri)


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The experiment's id, created if new; with sqlite its artifacts live beside the database file, not in the
    current folder (two stores would otherwise share ./mlruns/<id>)."""
    from mlflow.exceptions import MlflowException

    with store_lock.first_use(tracking_uri):  # two drivers creating one store (or experiment) at once
        client = mlflow_client(tracking_uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if tracking_uri.startswith(SQLITE):
            location = (Path(tracking_uri[len(SQLITE):]).parent / "mlartifacts" / name).as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as error:  # an http:// store: another driver created it a moment ago
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return client.get_experiment_by_name(name).experiment_id
