"""The one entry point: a batch of points corrupted by one named corruption at one severity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..spec.corruptions import get_corruption
from ..spec.lazy import resolve
from .draws import PointDraws


def corrupt(images: np.ndarray, name: str, severity: int, *, seed: int, point_ids: Sequence[int],
            grayscale: bool = False) -> np.ndarray:
    """images (N, H, W, C) float32 in [0, 1] -> the same shape, corrupted; severity 0 returns a copy.

    point_ids (N,): each image's identity (its index among the evaluation points), which with the seed, the
    corruption and the severity keys its draws. grayscale: the channels are one gray image repeated (chest X-ray):
    the corruption runs on one channel and the result is repeated, so noise stays gray.
    """
    spec = get_corruption(name)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C). Received: shape={images.shape}")
    if len(point_ids) != len(images):
        raise ValueError(f"one point id per image: {len(point_ids)} ids for {len(images)} images")
    if severity == 0:
        return images.copy()
    work = images[..., :1] if grayscale else images
    function = resolve(spec.function, "corruption function", "function")
    out = function(work, PointDraws.for_points(seed, point_ids, spec.code, severity), spec.parameter(severity))
    out = np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
    return np.repeat(out, images.shape[-1], axis=-1) if grayscale else out
