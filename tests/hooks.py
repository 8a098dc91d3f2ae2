"""Epoch callbacks the fault tests register (TrialConfig.epoch_callbacks, by file path): the trainable's extension
point, so that no test hook lives in the product."""

import os
import signal
import time
from pathlib import Path

HOOKS_FILE = str(Path(__file__).resolve())


def callback(name: str) -> str:
    return f"{HOOKS_FILE}:{name}"


def fail_once_at_epoch(event, *, epoch: int) -> None:
    """Die after `epoch` in the trial's first attempt (not after a restart from its checkpoint)."""
    if event.epoch == epoch and not event.restored:
        raise RuntimeError(f"injected failure at epoch {epoch} (tests/hooks.py)")


def announce_epochs(event, *, path: str) -> None:
    """Write "<pid> <epoch>" to path after each epoch, so a test can SIGKILL the worker mid-training; then wait a
    second, so that the kill lands before the next epoch is logged (a tiny epoch takes ~0.4 s, the test polls every
    0.2 s: without the wait the next epoch was sometimes logged, then repeated after the restart). Written whole
    and renamed into place: a test polling the file never reads it empty or half written."""
    partial = Path(f"{path}.{os.getpid()}.partial")
    partial.write_text(f"{os.getpid()} {event.epoch}")
    os.replace(partial, path)
    time.sleep(1.0)


def kill_at_units(event, *, kills: list, folder: str) -> None:
    """An evaluation callback: SIGKILL this worker after the `count`-th unit whose key starts with `prefix` that ran
    in this process, once per [prefix, count] of `kills` (a marker file in `folder` remembers the kills done). The
    unit was not saved yet, so the restarted trial redoes it and replays the units before it."""
    if not event.ran:
        return
    ran = _units_ran.setdefault(os.getpid(), {})
    for index, (prefix, count) in enumerate(kills):
        if event.key.startswith(prefix):
            ran[prefix] = ran.get(prefix, 0) + 1
            marker = Path(folder) / f"killed-{index}"
            if ran[prefix] >= count and not marker.exists():
                marker.write_text(f"{os.getpid()} {event.key}")
                os.kill(os.getpid(), signal.SIGKILL)


_units_ran: dict[int, dict[str, int]] = {}


def timed_epochs(event, *, path: str, seconds: float) -> None:
    """Append "<pid> <epoch> <time.time()>" to path after each epoch, then wait `seconds`: slow epochs, so that a
    fault lands mid-training, and a record of when each epoch ended."""
    with open(path, "a") as file:
        file.write(f"{os.getpid()} {event.epoch} {time.time():.3f}\n")
    time.sleep(seconds)
