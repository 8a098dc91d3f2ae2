"""Validation of what callers pass to the evaluation, and the small defaults derived from it.

Epsilon ladders are rejected, not repaired, when they are unsorted or contain duplicates: a ladder is a
deliberate, ordered list (usually a task's paper ladder) and a silently re-ordered one would hide a typo.
0.0 may be given as the first value; it is added when absent, because epsilon 0 is the clean accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ...spec.rules import positive_int


def validate_epsilons(epsilons: Sequence[float]) -> tuple[float, ...]:
    """Strictly increasing values in [0, 1] -> tuple with 0.0 first."""
    try:
        values = [float(eps) for eps in epsilons]
    except (TypeError, ValueError):
        raise ValueError(f"epsilons must be a sequence of numbers in [0, 1]; received {epsilons!r}") from None
    for eps in values:
        if not math.isfinite(eps) or not 0.0 <= eps <= 1.0:
            raise ValueError(f"every epsilon must be in [0, 1] (pixel space of [0, 1] images); received {eps!r}")
    for before, after in zip(values, values[1:]):
        if after <= before:
            kind = "duplicated" if after == before else "unsorted"
            raise ValueError(
                f"epsilons must be strictly increasing (no duplicates); received {kind} values {values!r}"
            )
    if not values or values[0] != 0.0:
        values.insert(0, 0.0)
    return tuple(values)


def validate_images(images):
    """float32 NHWC images in [0, 1], at least one; returned as given, without copying.

    A numpy array, or a lazy image source that converts only the rows it is indexed with (an object with `shape`,
    `dtype`, `__len__`, `__getitem__` for slices and index arrays, and `min()` / `max()`, e.g.
    trainables.data.UnitFloatView over a memory-mapped split): the evaluation only ever indexes batches of it, so
    memory follows the batch size, not the number of points.
    """
    lazy = not isinstance(images, np.ndarray) and all(
        hasattr(images, name) for name in ("shape", "dtype", "__getitem__", "__len__", "min", "max"))
    array = images if isinstance(images, np.ndarray) or lazy else np.asarray(images)
    if array.dtype != np.float32:
        raise ValueError(
            f"images must be float32 in [0, 1]; received dtype {array.dtype} "
            "(convert uint8 images with trainables.data.to_unit_float)"
        )
    shape = tuple(array.shape)
    if len(shape) != 4 or shape[0] == 0:
        raise ValueError(f"images must be a non-empty NHWC batch (N, H, W, C); received shape {shape}")
    low, high = float(array.min()), float(array.max())
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0.0 or high > 1.0:
        raise ValueError(f"images must lie in [0, 1]; received values in [{low}, {high}]")
    return array


def validate_labels(labels, num_images: int, num_classes: int) -> np.ndarray:
    """Integer class indices (N,) in [0, num_classes) -> int64 array."""
    array = np.asarray(labels)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices; received dtype {array.dtype}")
    if array.shape != (num_images,):
        raise ValueError(f"labels must have shape ({num_images},) to match the images; received {array.shape}")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes - 1}] (the model returns {num_classes} logits); "
            f"received values in [{low}, {high}]"
        )
    return array.astype(np.int64, copy=False)


def resolve_seed(seed) -> int:
    """None -> a fresh random seed (returned so the run can be repeated); otherwise a non-negative int."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return positive_int("seed", seed, minimum=0)


def select_sample_indices(labels: np.ndarray, count: int = 16) -> np.ndarray:
    """A fixed, class-balanced sample: classes taken in turn, lowest indices first (no randomness)."""
    count = positive_int("count", count, minimum=0)
    labels = np.asarray(labels)
    per_class = [list(np.flatnonzero(labels == label)) for label in np.unique(labels)]
    chosen: list[int] = []
    while len(chosen) < min(count, len(labels)):
        for indices in per_class:
            if indices and len(chosen) < count:
                chosen.append(int(indices.pop(0)))
    return np.asarray(sorted(chosen), dtype=np.int64)


def validate_sample_indices(sample_indices, num_images: int) -> np.ndarray:
    array = np.asarray(sample_indices)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer) or array.ndim != 1:
        raise ValueError(f"sample_indices must be a 1-D sequence of integers; received {sample_indices!r}")
    if array.min() < 0 or array.max() >= num_images or len(np.unique(array)) != len(array):
        raise ValueError(
            f"sample_indices must be distinct indices in [0, {num_images - 1}]; received {array.tolist()!r}"
        )
    return array.astype(np.int64)


def default_batch_size(image_shape: tuple[int, ...], *, gpu: bool) -> int:
    """A power of two sized to the image: ~256 ResNet-50 images of 224 px on a GPU, 32 images of 64 px on a CPU.

    CPU throughput stops improving beyond a few dozen images while memory keeps growing; a GPU wants large
    batches. Callers with other hardware pass batch_size explicitly.
    """
    pixels = int(image_shape[0]) * int(image_shape[1])
    if gpu:
        target, low, high = 256 * 224 * 224 / pixels, 32, 1024
    else:
        target, low, high = 32 * 64 * 64 / pixels, 8, 64
    size = 2 ** int(math.floor(math.log2(max(target, 1.0))))
    return int(min(max(size, low), high))


def output_width(forward, images: np.ndarray) -> int:
    outputs = forward(tf.convert_to_tensor(images[:1]))
    if outputs.shape.rank != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            f"the model must return one logit per class, shape (N, K) with K >= 2; received output shape "
            f"{tuple(outputs.shape)} (binary tasks use 2 logits)"
        )
    return int(outputs.shape[-1])
