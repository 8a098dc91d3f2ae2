"""Array-like views of one split that read rows only when indexed, so a split is never held whole in memory.

SplitImages: the split's rows of a prepared image array (a memory map, or an in-memory array for stand-in data),
handed out as uint8 RGB; gray images are stored once and get their 3 channels per batch.
UnitFloatView: the same rows as float32 in [0, 1], converted per indexed batch (slices included), for code that
takes float images and indexes them batch by batch (trainables.robustness).
Both support len(), .shape, .dtype, .ndim and indexing by an int, a slice or an integer index array.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

SCAN_ROWS = 256  # rows per chunk when a view is scanned whole (min / max)


class SplitImages:
    """Rows `rows` of `images` ((N, H, W) gray or (N, H, W, 3) RGB, uint8), as uint8 RGB (len(rows), H, W, 3)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, images: np.ndarray, rows: np.ndarray) -> None:
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise ValueError(f"expected uint8 images (N, H, W) or (N, H, W, 3); received {images.dtype} {images.shape}")
        self.images = images
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), images.shape[1], images.shape[2], 3)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return SplitImages(self.images, self.rows[index])
        if isinstance(index, (int, np.integer)):
            return self.take(np.asarray([index]))[0]
        return self.take(np.asarray(index))

    def take(self, positions: np.ndarray) -> np.ndarray:
        """uint8 RGB (len(positions), H, W, 3) of the view's positions, in that order (a boolean mask: its rows)."""
        positions = np.asarray(positions)
        if positions.dtype == bool:
            if positions.shape != (len(self),):
                raise IndexError(f"a boolean mask of {len(self)} images must have shape ({len(self)},); received "
                                 f"{positions.shape}")
            positions = np.flatnonzero(positions)
        rows = self.rows[positions.astype(np.int64)]
        order = np.argsort(rows, kind="stable")  # read the file front to back, hand out in the asked order
        batch = np.empty((len(rows), *self.images.shape[1:]), np.uint8)
        batch[order] = self.images[rows[order]]
        return np.repeat(batch[..., np.newaxis], 3, axis=-1) if batch.ndim == 3 else batch

    def __array__(self, dtype=None, copy=None):
        """The whole view in memory: for small splits and tests (load_task); trials index batches instead."""
        whole = self.take(np.arange(len(self)))
        return whole if dtype is None else whole.astype(dtype)

    def extremes(self) -> tuple[int, int]:
        """(min, max) pixel value, scanned in chunks (gray and RGB give the same extremes)."""
        low, high = 255, 0
        for start in range(0, len(self), SCAN_ROWS):
            rows = np.sort(self.rows[start:start + SCAN_ROWS])
            chunk = self.images[rows]
            low, high = min(low, int(chunk.min())), max(high, int(chunk.max()))
        return low, high


class UnitFloatView:
    """SplitImages as float32 in [0, 1] (x / 255), converted per indexed batch; slicing stays lazy."""

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, images: SplitImages) -> None:
        self.images = images
        self.shape = images.shape

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        """float32 [0, 1] of the rows an int, a slice or an index array picks (a slice is read too: callers treat
        images[a:b] as a batch); to narrow the view lazily, slice the SplitImages before wrapping it."""
        picked = self.images[index]
        return _unit(np.asarray(picked) if isinstance(picked, SplitImages) else picked)

    def subset(self, positions) -> "UnitFloatView":
        """The rows at `positions`, still lazy."""
        return UnitFloatView(SplitImages(self.images.images, self.images.rows[np.asarray(positions, dtype=np.int64)]))

    def min(self) -> np.float32:
        return np.float32(self.images.extremes()[0] / 255.0)

    def max(self) -> np.float32:
        return np.float32(self.images.extremes()[1] / 255.0)

    def __array__(self, dtype=None, copy=None):
        """The whole view as float32: only for callers that cannot index batches (it costs 4 bytes per pixel)."""
        log.warning("converting %d images (%.0f MB of float32) to one array; index batches instead",
                    len(self), np.prod(self.shape, dtype=np.float64) * 4 / 1e6)
        whole = _unit(np.asarray(self.images))
        return whole if dtype is None else whole.astype(dtype)


def _unit(x_uint8: np.ndarray) -> np.ndarray:
    unit = x_uint8.astype(np.float32)
    unit /= 255.0
    return unit
