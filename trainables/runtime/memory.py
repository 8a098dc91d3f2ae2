"""A trial's peak private memory: the anonymous resident memory of its process (heap, tensors, Python objects).

Why RssAnon (from /proc/self/status) and not RSS: pages of a memory-mapped prepared file that a trial has read
count in its RSS (RssFile) but belong to the page cache, which the kernel drops under pressure and shares with
every process reading the same file; RssAnon is what the trial itself holds and what must fit its Ray memory
request. The kernel keeps no high-water mark of RssAnon alone (VmHWM is of the whole RSS), so a daemon thread
samples it every SAMPLE_S (one thread per process); a spike shorter than that between two samples can be missed,
so the figure is a lower bound on the true peak by at most the memory of a short-lived allocation.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

SAMPLE_S = 0.02
_STATUS = Path("/proc/self/status")


def private_mb() -> float | None:
    """RssAnon of this process in MB; None where /proc is missing."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


class _Sampler:
    """One daemon thread per process (workers run trial after trial): the largest private_mb() since reset()."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.peak = private_mb() or 0.0
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="peak-private-memory", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            self.sample()

    def sample(self) -> float:
        with self._lock:
            self.peak = max(self.peak, private_mb() or 0.0)
            return self.peak

    def reset(self) -> None:
        with self._lock:
            self.peak = private_mb() or 0.0


_sampler: _Sampler | None = None
_sampler_lock = threading.Lock()


def _get_sampler() -> _Sampler:
    global _sampler
    with _sampler_lock:
        if _sampler is None:
            _sampler = _Sampler(SAMPLE_S)
        return _sampler


def reset_peak_private() -> None:
    """Restart the peak from the current private memory (and start sampling, on first use)."""
    _get_sampler().reset()


def peak_private_mb() -> float:
    """The largest private memory sampled since the last reset_peak_private(), in MB (0.0 without /proc)."""
    return _get_sampler().sample()
