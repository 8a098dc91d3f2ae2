"""Where a trial's time goes (reported with its results; the sweep-overhead benchmark reads it)."""

from __future__ import annotations

import contextlib
import resource
import time
from collections import defaultdict
from typing import Iterator


class PhaseTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def as_metrics(self) -> dict[str, float]:
        """time/<phase> in seconds (phases may nest: time/train includes time/checkpoint), and peak RSS."""
        metrics = {f"time/{name}": seconds for name, seconds in self.seconds.items()}
        metrics["peak_rss_mb"] = peak_rss_mb()
        return metrics


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
