"""Whether Ray Tune can restore an experiment folder. `Tuner.can_restore` only checks that tuner.pkl exists, and Ray
writes its state files in place: a disk that filled while it wrote them leaves them truncated or empty. Restoring
such a folder, Ray logs "Failed to restore the run state", goes on with a half-restored run (a trial recreated
without its settings) and fails at every --resume. The files checked are the ones `Tuner.restore` reads: tuner.pkl
and the newest of each kind of experiment, searcher and callback state (JSON or pickle)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

STATE_FILES = ("tuner.pkl", "experiment_state-*.json", "basic-variant-state-*.json", "search_gen_state-*.json",
               "searcher-state-*.pkl", "callback-states-*.pkl")


def damage(folder: str | Path) -> str | None:
    """'<file>: <why>' for the first of Ray's state files in a local experiment folder that cannot be read back;
    None when all can (or the folder has none)."""
    for pattern in STATE_FILES:
        found = sorted(Path(folder).glob(pattern))  # names carry the session's start time: Ray reads the newest
        why = found and unreadable(found[-1].read_bytes())
        if why:
            return f"{found[-1].name}: {why}"
    return None


def unreadable(payload: bytes) -> str | None:
    """Why these bytes are neither a whole pickle nor a whole JSON document; None if they load."""
    if not payload:
        return "empty"
    if payload[:1] == b"\x80":  # a pickle (protocol 2 and above), whatever the file's suffix says
        try:
            pickle.loads(payload)  # Ray's own file, written by this sweep's driver: what Tuner.restore loads next
        except Exception as error:  # noqa: BLE001 - any failure to load is damage (truncated: UnpicklingError)
            return f"cannot be unpickled ({type(error).__name__}: {error})"
        return None
    try:
        json.loads(payload)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        return f"not a whole JSON document ({error})"
    return None
