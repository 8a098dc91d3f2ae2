"""Synthetic stand-ins: deterministic by seed, the stated class balance, any size, and learnable by a tiny CNN."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainables.data import class_weights, load_task, to_unit_float, training_dataset
from trainables.spec.tasks import get_task, list_tasks
from trainables.data.splits import allocate_counts

STATED_BALANCE = {  # fraction per class, as the module docstring states
    "skin_lesion": (0.04, 0.05, 0.09, 0.03, 0.09, 0.67, 0.03),
    "diabetic_retinopathy": (0.7, 0.3),
    "pneumothorax": (0.78, 0.22),
}


@pytest.mark.parametrize("task", list_tasks())
def test_synthetic_is_deterministic_by_seed(task):
    first = load_task(task, image_size=32, seed=7, max_train=40, max_test=20)
    again = load_task(task, image_size=32, seed=7, max_train=40, max_test=20)
    other = load_task(task, image_size=32, seed=8, max_train=40, max_test=20)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first.split(split)[0], again.split(split)[0])
        np.testing.assert_array_equal(first.split(split)[1], again.split(split)[1])
    assert not np.array_equal(first.x_train, other.x_train)
    assert first.info["cache"] == "off" and first.info["skipped"] == []


@pytest.mark.parametrize("task", list_tasks())
def test_synthetic_class_balance_and_default_sizes(task):
    task_data = load_task(task, image_size=24)
    stated = np.array(STATED_BALANCE[task])
    assert get_task(task).standin.priors == STATED_BALANCE[task]
    for split, size in (("train", 600), ("val", 100), ("test", 200)):
        x, y = task_data.split(split)
        assert x.shape == (size, 24, 24, 3) and x.dtype == np.uint8 and y.dtype == np.int64
        counts = np.bincount(y, minlength=len(stated))
        np.testing.assert_array_equal(counts, allocate_counts(size, stated, at_least_one=True))
        assert np.abs(counts / size - stated).max() <= 1 / size + 1e-9
        assert counts.min() >= 1
    assert len(set(task_data.y_train[:50].tolist())) > 1  # shuffled, not sorted by class


def test_synthetic_caps_set_split_sizes_and_any_size_works():
    task_data = load_task("pneumothorax", image_size=37, max_train=30, max_test=9)
    assert [len(task_data.split(s)[1]) for s in ("train", "val", "test")] == [30, 5, 9]
    x = task_data.x_train
    assert x.shape[1:] == (37, 37, 3) and np.array_equal(x[..., 0], x[..., 2])  # grayscale task: gray RGB
    skin = load_task("skin_lesion", image_size=24, max_train=7, max_test=7)
    assert sorted(skin.y_train.tolist()) == list(range(7))  # every class present even in tiny sets
    assert skin.x_train.std() > 5  # not blank


def test_tiny_cnn_learns_synthetic_skin_lesions_above_the_majority_rate():
    import keras

    keras.utils.set_random_seed(0)
    task_data = load_task("skin_lesion", image_size=32, seed=0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Rescaling(2.0, offset=-1.0),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(task_data.num_classes),
    ])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.CategoricalCrossentropy(from_logits=True))
    train = training_dataset(task_data.x_train, task_data.y_train, num_classes=7, batch_size=32, seed=0)
    model.fit(train, epochs=5, verbose=0, shuffle=False,
              class_weight=class_weights(task_data.y_train, task_data.num_classes))
    predicted = np.argmax(model.predict(to_unit_float(task_data.x_test), verbose=0), axis=1)
    accuracy = np.mean(predicted == task_data.y_test)
    majority = np.bincount(task_data.y_test).max() / len(task_data.y_test)
    balanced = np.mean([np.mean(predicted[task_data.y_test == c] == c) for c in range(7)])
    assert balanced > 0.5 and accuracy > majority, (accuracy, majority, balanced)
