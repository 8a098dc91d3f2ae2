"""Random draws keyed by (seed, point, corruption, severity), vectorised over a batch without a per-image loop.

A counter-based generator (SplitMix64's finaliser over point key + counter): the k-th number of a point's stream is
a pure function of its key and k, so a point gets the same corrupted image in any batch, at any batch size, resumed
or not, and no draw here touches numpy's, Keras' or TensorFlow's global streams (the trial's other numbers cannot
move).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0 ** -53


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 (wrapping arithmetic): a bijection that scatters nearby inputs."""
    with np.errstate(over="ignore"):
        z = np.asarray(values, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def chain(key: np.ndarray, value) -> np.ndarray:
    with np.errstate(over="ignore"):
        return mix(np.asarray(key, np.uint64) + _GAMMA + np.asarray(value, np.uint64) * np.uint64(0x100000001B3))


@dataclass(frozen=True)
class PointDraws:
    """The random streams of a batch of points: `keys` (N,) uint64, one per point; `stream` separates the draws of
    one corruption (noise field, positions, colours)."""

    keys: np.ndarray

    @classmethod
    def for_points(cls, seed: int, point_ids: Sequence[int], code: int, severity: int) -> "PointDraws":
        ids = np.asarray(point_ids, dtype=np.int64).reshape(-1)
        if (ids < 0).any():
            raise ValueError("point ids must be >= 0")
        key = chain(chain(chain(np.full(len(ids), int(seed), np.uint64), code), severity), ids.astype(np.uint64))
        return cls(key)

    def __len__(self) -> int:
        return len(self.keys)

    def bits(self, stream: int, shape: Sequence[int]) -> np.ndarray:
        """(N, *shape) uint64: element k of each point's stream."""
        size = int(np.prod(shape, dtype=np.int64))
        base = chain(self.keys, stream)
        with np.errstate(over="ignore"):
            counters = (np.arange(1, size + 1, dtype=np.uint64) * _GAMMA)[None, :]
            return mix(base[:, None] + counters).reshape(len(self.keys), *shape)

    def uniform(self, stream: int, shape: Sequence[int] = (), low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """(N, *shape) float64 in [low, high)."""
        unit = (self.bits(stream, shape) >> np.uint64(11)).astype(np.float64) * _TO_UNIT
        return low + (high - low) * unit

    def normal(self, stream: int, shape: Sequence[int] = ()) -> np.ndarray:
        """(N, *shape) float64 standard normal (Box-Muller on two uniforms)."""
        both = self.uniform(stream, (2, *shape))
        radius = np.sqrt(-2.0 * np.log1p(-both[:, 0]))  # 1 - u in (0, 1]
        return radius * np.cos(2.0 * np.pi * both[:, 1])

    def integers(self, stream: int, high: int, shape: Sequence[int] = ()) -> np.ndarray:
        """(N, *shape) int64 in [0, high)."""
        return np.minimum((self.uniform(stream, shape) * high).astype(np.int64), high - 1)
