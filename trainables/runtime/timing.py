"""Where a trial's time goes (reported with its results; the sweep-overhead benchmark reads it)."""

from __future__ import annotations

import contextlib
import resource
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from ..spec import keys
from .memory import peak_private_mb, reset_peak_private


class PhaseTimer:
    """Seconds per phase of one trial, its peak RSS and peak private memory (both from when the timer starts:
    workers run many trials)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        reset_peak_rss()
        reset_peak_private()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def as_metrics(self) -> dict[str, float]:
        """time/<phase> in seconds (phases may nest: time/train includes time/checkpoint), peak RSS and peak
        private memory (runtime.memory)."""
        metrics = {keys.TIME + name: seconds for name, seconds in self.seconds.items()}
        metrics[keys.PEAK_RSS_MB] = peak_rss_mb()
        metrics[keys.PEAK_PRIVATE_MB] = peak_private_mb()
        return metrics


def reset_peak_rss() -> bool:
    """Restart the process's peak-RSS count from its current RSS, where the kernel allows (Linux clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset (VmHWM), else since it started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes
