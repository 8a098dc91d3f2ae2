"""Task registry, class weights and the tf.data pipelines (per-epoch subsets, shuffling, evaluation order)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainables.data import DataError, class_weights, eval_dataset, training_dataset
from trainables.spec.enums import SOURCE_NAMES
from trainables.spec.tasks import epoch_size, get_task, list_tasks


def test_task_registry_matches_the_paper():
    assert list_tasks() == ["skin_lesion", "diabetic_retinopathy", "pneumothorax"]
    assert SOURCE_NAMES == ("synthetic", "original", "medmnist")
    skin, dr, chest = (get_task(name) for name in list_tasks())
    assert skin.class_names == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc") and skin.num_classes == 7
    assert skin.epsilons == (0.00125, 0.0025, 0.005, 0.01) and skin.reference_epsilon == 0.0025
    assert skin.epoch_fraction == 0.1 and not skin.grayscale
    ladder = (0.00125, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
    for spec in (dr, chest):
        assert spec.num_classes == 2 and spec.epsilons == ladder and spec.reference_epsilon == 0.01
        assert spec.epoch_fraction is None
    assert chest.grayscale and chest.xray_enhancement and not dr.xray_enhancement
    with pytest.raises(ValueError, match="unknown task 'chest'; expected one of: skin_lesion"):
        get_task("chest")


def test_class_weights_are_inverse_frequency_balanced():
    assert class_weights(np.array([0, 0, 0, 1, 1, 2]), 3) == pytest.approx({0: 6 / 9, 1: 1.0, 2: 2.0})
    # absent class: weight 0, k counts present classes, so the mean weight per sample stays 1
    weights = class_weights(np.array([0, 0, 0, 2]), 3)
    assert weights == pytest.approx({0: 4 / 6, 1: 0.0, 2: 2.0})
    assert sum(weights[label] for label in [0, 0, 0, 2]) == pytest.approx(4)
    with pytest.raises(DataError, match=r"labels must lie in \[0, 1\]; received values from 0 to 2"):
        class_weights(np.array([0, 2]), 2)
    with pytest.raises(DataError, match="non-empty 1-D integer"):
        class_weights(np.array([], dtype=np.int64), 2)


def indexed_images(n: int) -> np.ndarray:
    """Images whose first two pixels spell their own index, so a batch tells which samples it holds."""
    x = np.zeros((n, 4, 4, 3), np.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    return x


def epochs_of(dataset, count: int) -> list[list[int]]:
    epochs = []
    for _ in range(count):
        indices = []
        for images, _labels in dataset:
            pixels = np.rint(images.numpy()[:, 0, 0, :2] * 255).astype(int)
            indices.extend((pixels[:, 0] + 256 * pixels[:, 1]).tolist())
        epochs.append(indices)
    return epochs


def test_epoch_fraction_gives_a_fresh_deterministic_subset_each_epoch():
    n = 300
    x, y = indexed_images(n), np.arange(n) % 7
    dataset = training_dataset(x, y, num_classes=7, batch_size=8, seed=5, epoch_fraction=0.1)
    epochs = epochs_of(dataset, 4)
    assert [len(epoch) for epoch in epochs] == [epoch_size(n, 0.1)] * 4 == [30] * 4
    assert all(len(set(epoch)) == 30 for epoch in epochs)  # without replacement within an epoch
    assert len({frozenset(epoch) for epoch in epochs}) == 4  # a new subset every epoch
    again = epochs_of(training_dataset(x, y, num_classes=7, batch_size=8, seed=5, epoch_fraction=0.1), 4)
    assert again == epochs
    other = epochs_of(training_dataset(x, y, num_classes=7, batch_size=8, seed=6, epoch_fraction=0.1), 1)
    assert set(other[0]) != set(epochs[0])


def test_training_dataset_reshuffles_full_epochs_and_keeps_labels_with_images():
    n = 50
    x, y = indexed_images(n), np.arange(n) % 3
    dataset = training_dataset(x, y, num_classes=3, batch_size=16, seed=0)
    epochs = epochs_of(dataset, 2)
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(n)) and epochs[0] != epochs[1]
    for images, labels in dataset.take(2):
        assert images.dtype.name == "float32" and labels.dtype.name == "float32"
        assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
        pixels = np.rint(images.numpy()[:, 0, 0, :2] * 255).astype(int)
        np.testing.assert_array_equal(labels.numpy(), np.eye(3)[y[pixels[:, 0] + 256 * pixels[:, 1]]])


def test_eval_dataset_keeps_order():
    x, y = indexed_images(21), np.arange(21) % 2
    assert epochs_of(eval_dataset(x, y, num_classes=2, batch_size=4), 1)[0] == list(range(21))
    with pytest.raises(DataError, match="expected uint8 images"):
        eval_dataset(x.astype(np.float32), y, num_classes=2, batch_size=4)
    with pytest.raises(DataError, match=r"labels must lie in \[0, 1\]"):
        eval_dataset(x, y + 1, num_classes=2, batch_size=4)


def test_keras_fit_runs_one_subset_per_epoch():
    import keras

    n, batch_size = 200, 8
    x, y = indexed_images(n), np.arange(n) % 2
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    batches = []

    class CountBatches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.append(0)

        def on_train_batch_end(self, batch, logs=None):
            batches[-1] += 1

    dataset = training_dataset(x, y, num_classes=2, batch_size=batch_size, seed=0, epoch_fraction=0.1)
    model.fit(dataset, epochs=3, verbose=0, callbacks=[CountBatches()], class_weight=class_weights(y, 2),
              shuffle=False)  # the dataset shuffles itself
    assert batches == [3, 3, 3]  # 20 samples per epoch in batches of 8


def test_data_root_environment_variables():
    assert get_task("skin_lesion").root_env("original") == "ARS_HAM10000_DIR"
    assert get_task("diabetic_retinopathy").root_env("original") == "ARS_KAGGLE_DR_DIR"
    assert get_task("pneumothorax").root_env("original") == "ARS_CHESTXRAY14_DIR"
    assert {get_task(task).root_env("medmnist") for task in list_tasks()} == {"ARS_MEDMNIST_DIR"}
    assert get_task("pneumothorax").root_env("synthetic") is None
