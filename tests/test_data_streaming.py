"""Trials stream from prepared, memory-mapped files: the same batches as from arrays in memory, for the same seed."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from test_data_sources import write_chestxray14, write_ham10000

from trainables.data import (
    SplitImages,
    UnitFloatView,
    class_weights,
    eval_dataset,
    load_task,
    open_task,
    to_unit_float,
    training_dataset,
)

SIZE = 32


def batches(dataset, epochs: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(images.numpy(), labels.numpy()) for _ in range(epochs) for images, labels in dataset]


@pytest.mark.parametrize("task, writer, fraction", [("pneumothorax", write_chestxray14, None),
                                                     ("skin_lesion", write_ham10000, 0.3)])
def test_streaming_from_the_prepared_file_gives_the_in_memory_batches(tmp_path, task, writer, fraction):
    writer(tmp_path / "data")
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "data", cache_dir=tmp_path / "cache", seed=2)
    streamed, in_memory = open_task(task, "original", **kwargs), load_task(task, "original", **kwargs)
    assert isinstance(streamed.x_train, SplitImages) and isinstance(streamed.x_train.images, np.memmap)
    assert isinstance(in_memory.x_train, np.ndarray) and in_memory.info["cache"] == "hit"
    assert streamed.x_train.shape == in_memory.x_train.shape and streamed.x_train.shape[-1] == 3
    np.testing.assert_array_equal(streamed.y_train, in_memory.y_train)
    assert class_weights(streamed.y_train, streamed.num_classes) == class_weights(in_memory.y_train,
                                                                                   in_memory.num_classes)
    common = dict(num_classes=streamed.num_classes, batch_size=8, seed=5, epoch_fraction=fraction)
    from_file = batches(training_dataset(streamed.x_train, streamed.y_train, **common), epochs=3)
    from_memory = batches(training_dataset(in_memory.x_train, in_memory.y_train, **common), epochs=3)
    assert len(from_file) == len(from_memory) > 3
    for (x_file, y_file), (x_memory, y_memory) in zip(from_file, from_memory):
        assert x_file.dtype == np.float32 and x_file.max() <= 1.0
        np.testing.assert_array_equal(x_file, x_memory)
        np.testing.assert_array_equal(y_file, y_memory)
    epoch_one = np.concatenate([x for x, _ in from_file[: len(from_file) // 3]])
    epoch_two = np.concatenate([x for x, _ in from_file[len(from_file) // 3: 2 * len(from_file) // 3]])
    assert not np.array_equal(epoch_one, epoch_two)  # reshuffled (and, for skin, a fresh subset) every epoch
    if fraction:
        assert len(epoch_one) == round(fraction * len(streamed.y_train))
    evaluation = dict(num_classes=streamed.num_classes, batch_size=5)
    for (x_file, _), (x_memory, _) in zip(batches(eval_dataset(streamed.x_val, streamed.y_val, **evaluation)),
                                          batches(eval_dataset(in_memory.x_val, in_memory.y_val, **evaluation))):
        np.testing.assert_array_equal(x_file, x_memory)


def test_unit_float_view_converts_only_the_rows_asked_for(tmp_path):
    write_chestxray14(tmp_path / "cxr")
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "cxr", cache_dir=tmp_path / "cache")
    view = UnitFloatView(open_task("pneumothorax", "original", **kwargs).x_test)
    reference = to_unit_float(load_task("pneumothorax", "original", **kwargs).x_test)
    assert len(view) == len(reference) and view.shape == reference.shape and view.dtype == np.float32
    mask = np.arange(len(reference)) % 3 == 0
    for index in (3, slice(2, 7), np.array([5, 0, 5, 1]), np.arange(0), mask):
        np.testing.assert_array_equal(view[index], reference[index])
    with pytest.raises(IndexError, match="boolean mask"):
        view[mask[:-1]]
    assert (view.min(), view.max()) == (reference.min(), reference.max())
    np.testing.assert_array_equal(np.asarray(view), reference)  # the whole-array fallback (with a warning)


def test_stand_in_data_streams_through_the_same_pipeline():
    opened = open_task("skin_lesion", "synthetic", image_size=32, max_train=40, max_test=10)
    assert opened.info["cache"] == "off" and isinstance(opened.x_train, SplitImages)
    in_memory = opened.in_memory()
    common = dict(num_classes=7, batch_size=16, seed=0, epoch_fraction=0.5)
    for (x_view, _), (x_array, _) in zip(batches(training_dataset(opened.x_train, opened.y_train, **common), 2),
                                         batches(training_dataset(in_memory.x_train, in_memory.y_train, **common), 2)):
        np.testing.assert_array_equal(x_view, x_array)
