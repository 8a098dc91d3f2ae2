"""A model's accuracy under each corruption at each severity, on the same points, in resumable units.

A unit is one batch of points under one corruption at one severity (or the batch clean): its key names it, its
record is the points' correct / wrong (the progress store of trainables.robustness.evaluate.progress). Units are
pure functions of (seed, corruption, severity, point id) and the model, so a resumed evaluation gives the same
numbers as an uninterrupted one, and the same seed gives the same corrupted images to every model (attention and
baseline see the same corruptions: the comparison is paired).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..spec.corruptions import SEVERITIES
from .apply import corrupt

CLEAN = "clean"


@dataclass(frozen=True)
class CorruptionResult:
    """correct (C, S, M): point m classified correctly under corruption c at severity SEVERITIES[s]."""

    names: tuple[str, ...]
    point_ids: np.ndarray  # (M,) indices into the evaluation points
    labels: np.ndarray  # (M,)
    clean_correct: np.ndarray  # (M,) bool
    correct: np.ndarray  # (C, S, M) bool
    severities: tuple[int, ...] = SEVERITIES
    seconds: float = 0.0
    seconds_corrupting: float = field(default=0.0)

    @property
    def accuracy(self) -> dict[tuple[str, int], float]:
        return {(name, severity): float(self.correct[c, s].mean()) for c, name in enumerate(self.names)
                for s, severity in enumerate(self.severities)}

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.mean())

    @property
    def mean_accuracy(self) -> float:
        """Mean over corruptions and severities (ImageNet-C's mean corruption accuracy)."""
        return float(self.correct.mean()) if self.correct.size else float("nan")

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-point outcomes (robustness/corruptions.npz): point, label, clean, correct (C, S, M), names,
        severities."""
        return dict(point=np.asarray(self.point_ids), label=np.asarray(self.labels), clean=self.clean_correct,
                    correct=self.correct, names=np.asarray(self.names), severities=np.asarray(self.severities))


def evaluate_corruptions(predict: Callable[[np.ndarray], np.ndarray], images, labels: np.ndarray,
                         names: Sequence[str], *, seed: int, point_ids: Sequence[int] | None = None,
                         batch_size: int = 64, grayscale: bool = False, progress=None,
                         severities: Sequence[int] = SEVERITIES) -> CorruptionResult:
    """predict: (B, H, W, C) float32 [0, 1] -> (B,) predicted classes. images: indexable by an index array (a
    numpy array or a data.UnitFloatView), float32 [0, 1] batches. point_ids (default 0..M-1): each image's identity
    in the draws. progress: a trainables.robustness.evaluate.progress.EvaluationProgress (None: run whole).
    Each batch is read once and corrupted in turn by every corruption at every severity (memory: a batch)."""
    start = time.perf_counter()
    labels = np.asarray(labels)
    ids = np.arange(len(labels)) if point_ids is None else np.asarray(point_ids, dtype=np.int64)
    clean = np.zeros(len(labels), bool)
    correct = np.zeros((len(names), len(severities), len(labels)), bool)
    corrupting = 0.0
    units_total = len(names) * len(severities) + 1
    for offset in range(0, len(labels), batch_size):
        rows = np.arange(offset, min(offset + batch_size, len(labels)))
        batch, batch_ids = None, ids[rows]
        span = f"{int(batch_ids[0])}-{int(batch_ids[-1])}/{len(rows)}"

        def run(key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
            def compute() -> dict[str, np.ndarray]:
                return {"correct": np.asarray(predict(make())) == labels[rows]}
            return compute()["correct"] if progress is None else progress.run(key, compute)["correct"]

        def read() -> np.ndarray:
            nonlocal batch
            if batch is None:
                batch = np.asarray(images[rows], dtype=np.float32)
            return batch

        clean[rows] = run(f"corrupt/{CLEAN}/{span}", read)
        done = 1
        for c, name in enumerate(names):
            for s, severity in enumerate(severities):
                def corrupted(name=name, severity=severity) -> np.ndarray:
                    nonlocal corrupting
                    began = time.perf_counter()
                    out = corrupt(read(), name, severity, seed=seed, point_ids=batch_ids, grayscale=grayscale)
                    corrupting += time.perf_counter() - began
                    return out

                correct[c, s, rows] = run(f"corrupt/{name}/s{severity}/{span}", corrupted)
                done += 1
                if progress is not None:
                    progress.report(f"corruptions ({name} s{severity})", float("nan"),
                                    offset * units_total + done * len(rows), len(labels) * units_total)
    if progress is not None:
        progress.flush()
    return CorruptionResult(tuple(names), ids, labels, clean, correct, tuple(severities),
                            time.perf_counter() - start, corrupting)
