"""SIGTERM and SIGHUP end a sweep's driver like Ctrl-C (Tune stops its trials, the parent run is closed KILLED, the
`--resume` command is printed), and the exit status says which signal it was: 128 + its number (SIGTERM 143,
SIGHUP 129; Ctrl-C 130).

Without this, a scheduler's SIGTERM (`timeout`, Slurm, a preempted head) reached the failure handler Ray installs in
the driver at `ray.init`: a C++ stack dump, exit 134, no `ray.shutdown`, and workers left running. So the handlers
are installed when the driver starts and again right after Ray is started or joined (`take_back`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

AS_INTERRUPT = (signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []
_active = False


def _interrupt(signum: int, frame) -> None:
    """Forward as SIGINT: whoever handles Ctrl-C now (Tune while it runs trials, else Python's KeyboardInterrupt)
    handles this signal too."""
    _received.append(signum)
    signal.raise_signal(signal.SIGINT)


def _install() -> None:
    for signum in AS_INTERRUPT:
        signal.signal(signum, _interrupt)


def take_back() -> None:
    """Reinstall the handlers after `ray.init` replaced them (no effect outside `as_interrupts`)."""
    if _active:
        _install()


def exit_status(default: int = 130) -> int:
    """128 + the number of the first SIGTERM/SIGHUP received, else `default` (Ctrl-C)."""
    return 128 + _received[0] if _received else default


def received_name() -> str:
    return signal.Signals(_received[0]).name if _received else "SIGINT"


@contextlib.contextmanager
def as_interrupts() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP raise KeyboardInterrupt (or stop Tune) like Ctrl-C. The previous handlers come
    back after (an embedding program, a test runner)."""
    global _active
    if threading.current_thread() is not threading.main_thread():  # Python sets handlers from the main thread only
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in AS_INTERRUPT}
    _received.clear()
    _active = True
    _install()
    try:
        yield
    finally:
        _active = False
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
