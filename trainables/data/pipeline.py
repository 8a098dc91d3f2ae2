"""Training-time behaviour: class weights and tf.data input pipelines (uint8 in, float32 [0, 1] out, per batch).

Images come as a uint8 array in memory (gathered as one tensor) or as a views.SplitImages over a memory-mapped
prepared entry (each batch's rows read by the map, with prefetch: memory is set by the batch size, not the data
set's). Both give the same batches for the same seed: the order comes from the same shuffled index dataset.
TensorFlow is imported inside the functions, so the rest of the data layer loads without it.
"""

from __future__ import annotations

import numpy as np

from ..spec.tasks import epoch_size
from .errors import DataError
from .views import SplitImages


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse class frequency, normalised as sklearn's 'balanced': w_c = n / (k * n_c).

    n = number of labels, n_c = labels of class c, k = number of classes present; the mean weight over the
    samples is then 1, so the loss scale (and the paper's learning rate) is unchanged. A class absent from
    `labels` gets weight 0.0 (it never occurs, so its weight is never used).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"class_weights expects a non-empty 1-D integer label array; received {labels.dtype} "
                        f"array of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"class_weights: labels must lie in [0, {num_classes - 1}]; received values from "
                        f"{labels.min()} to {labels.max()}")
    counts = np.bincount(labels, minlength=num_classes)
    present = int((counts > 0).sum())
    return {c: (float(labels.size / (present * counts[c])) if counts[c] else 0.0) for c in range(num_classes)}


def _check_arrays(x_uint8: np.ndarray | SplitImages, y: np.ndarray, num_classes: int, batch_size: int) -> None:
    if not isinstance(x_uint8, (np.ndarray, SplitImages)) or x_uint8.dtype != np.uint8 or x_uint8.ndim != 4:
        raise DataError(f"expected uint8 images (N, H, W, C); received {getattr(x_uint8, 'dtype', type(x_uint8))} "
                        f"of shape {getattr(x_uint8, 'shape', None)}")
    y = np.asarray(y)
    if y.shape != (len(x_uint8),):
        raise DataError(f"expected labels of shape ({len(x_uint8)},); received {y.shape}")
    if len(y) == 0:
        raise DataError("expected at least one image; received an empty array")
    if y.min() < 0 or y.max() >= num_classes:
        raise DataError(f"labels must lie in [0, {num_classes - 1}]; received values from {y.min()} to {y.max()}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size must be an integer >= 1; received {batch_size!r}")


def _batches_of_indices(indices, x_uint8: np.ndarray | SplitImages, y: np.ndarray, num_classes: int,
                        batch_size: int):
    """Index dataset -> batches of (float32 [0, 1] images, one-hot float32 labels)."""
    import tensorflow as tf

    one_hot = tf.one_hot(tf.convert_to_tensor(np.asarray(y, dtype=np.int64)), num_classes, dtype=tf.float32)
    if isinstance(x_uint8, SplitImages):
        height, width = x_uint8.shape[1:3]

        def read(batch):
            # (b,) int64 -> (b, H, W, 3) uint8, read from the memory map only now
            images = tf.numpy_function(x_uint8.take, [batch], tf.uint8, stateful=False)
            return tf.ensure_shape(images, (None, height, width, 3))
    else:
        # captured eager tensors travel as function inputs, not graph constants (no 2 GB graph limit)
        in_memory = tf.convert_to_tensor(x_uint8)

        def read(batch):
            return tf.gather(in_memory, batch)

    def gather(batch):
        return tf.cast(read(batch), tf.float32) / 255.0, tf.gather(one_hot, batch)

    return (indices.batch(batch_size)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def training_dataset(x_uint8: np.ndarray | SplitImages, y: np.ndarray, *, num_classes: int, batch_size: int, seed: int,
                     epoch_fraction: float | None = None, noise_sigma: float = 0.0):
    """Shuffled batches of (float32 [0, 1] images, one-hot labels); each iteration of the dataset is one epoch.

    Every iteration reshuffles (deterministically from `seed`). With epoch_fraction (the skin task's 0.1), each
    iteration yields a fresh random subset of epoch_size(n, fraction) samples: Keras `fit` iterates the dataset
    once per epoch, so every epoch sees a new subset. The last batch may be smaller.
    noise_sigma > 0: every image gets N(0, noise_sigma^2) noise in [0, 1] space, not clipped (Cohen et al.'s
    training for randomized smoothing), a fresh draw each epoch from one generator seeded by `seed`.
    """
    import tensorflow as tf

    _check_arrays(x_uint8, y, num_classes, batch_size)
    if epoch_fraction is not None and not 0.0 < epoch_fraction <= 1.0:
        raise DataError(f"epoch_fraction must be None or in (0, 1]; received {epoch_fraction!r}")
    n = len(x_uint8)
    indices = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if epoch_fraction is not None:
        indices = indices.take(epoch_size(n, epoch_fraction))
    batches = _batches_of_indices(indices, x_uint8, y, num_classes, batch_size)
    if noise_sigma < 0:
        raise DataError(f"noise_sigma must be >= 0; received {noise_sigma!r}")
    return with_gaussian_noise(batches, noise_sigma, seed) if noise_sigma else batches


def with_gaussian_noise(batches, sigma: float, seed: int):
    """Batches with N(0, sigma^2) added to the images. The map runs sequentially: the generator's draws then follow
    the batch order, so the same seed gives the same noise (a resumed training draws anew: not bit-identical)."""
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)

    def add(images, labels):
        return images + generator.normal(tf.shape(images), stddev=sigma), labels

    return batches.map(add).prefetch(tf.data.AUTOTUNE)


def eval_dataset(x_uint8: np.ndarray | SplitImages, y: np.ndarray, *, num_classes: int, batch_size: int):
    """Batches of (float32 [0, 1] images, one-hot labels) in the arrays' order, every sample once."""
    import tensorflow as tf

    _check_arrays(x_uint8, y, num_classes, batch_size)
    return _batches_of_indices(tf.data.Dataset.range(len(x_uint8)), x_uint8, y, num_classes, batch_size)
