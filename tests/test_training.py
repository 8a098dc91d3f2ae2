"""trainables.training: early-stopping state, and checkpoints that resume training exactly where it stopped."""

import dataclasses
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_spaces import expand  # noqa: E402
from trainables import data, training  # noqa: E402
from trainables.models import build_model  # noqa: E402

CLASSES = 7


def test_state_counts_patience_and_min_delta():
    state = training.TrainingState()
    improved = [state.update(value, min_delta=0.1, patience=2) for value in (1.0, 0.95, 0.85, 0.8, 0.79)]
    # 0.95 and 0.8 are within min_delta of the best (1.0, then 0.85): not improvements
    assert improved == [True, False, True, False, False]
    assert (state.epoch, state.best_epoch, state.best_value, state.wait) == (5, 3, 0.85, 2)
    assert state.stopped_early


@pytest.fixture(scope="module")
def config():
    trial = expand("paper_grid", "tiny")[0]
    # no dropout: its random masks would make two runs of the same training differ
    return dataclasses.replace(trial, attention="soft_faithful", epochs=3, patience=5, dropout=0.0)


@pytest.fixture(scope="module")
def datasets(config):
    """Training batches in a fixed order (no reshuffling), so that two trainings see the same batches."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, config.image_size, config.image_size, 3), dtype=np.uint8)
    y = rng.integers(0, CLASSES, 64)
    train = data.eval_dataset(x[:48], y[:48], num_classes=CLASSES, batch_size=16)
    val = data.eval_dataset(x[48:], y[48:], num_classes=CLASSES, batch_size=16)
    return train, val


def built(config, seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = build_model(config.backbone, config.attention, CLASSES, input_shape=(config.image_size,) * 2 + (3,),
                        placement=config.placement, scale=config.scale, heads=config.heads, dropout=config.dropout)
    training.compile_model(model, config)
    return model


def assert_same_variables(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(scope="module")
def uninterrupted(config, datasets):
    """(model, state, the weights after the last epoch: before the best epoch's are restored)."""
    model, last = built(config), {}
    state = training.train(model, *datasets, config, class_weight=None, state=training.TrainingState(),
                           on_epoch_end=lambda epoch, metrics, model, state: last.update(weights=model.get_weights()))
    return model, state, last["weights"]


@pytest.fixture(scope="module")
def interrupted(config, datasets, tmp_path_factory):
    """The same training stopped after epoch 1, checkpointed; (folder, what the model and state held then)."""
    folder = tmp_path_factory.mktemp("checkpoint")
    saved = {}

    def save(epoch, metrics, model, state):
        training.save_checkpoint(folder, model, state)
        saved.update(weights=model.get_weights(), optimizer=[v.numpy() for v in model.optimizer.variables],
                     state=state.counters(), best=[w.copy() for w in state.best_weights])

    training.train(built(config), *datasets, dataclasses.replace(config, epochs=1), class_weight=None,
                   state=training.TrainingState(), on_epoch_end=save)
    return folder, saved


def test_checkpoint_round_trip_restores_weights_optimizer_and_state(config, interrupted):
    folder, saved = interrupted
    restored = built(config, seed=1)  # different initial weights: everything must come from the checkpoint
    state = training.load_checkpoint(folder, restored)
    assert_same_variables(restored.get_weights(), saved["weights"])
    assert_same_variables(restored.optimizer.variables, saved["optimizer"])
    assert_same_variables(state.best_weights, saved["best"])
    assert state.counters() == saved["state"] and state.epoch == 1
    assert int(restored.optimizer.iterations.numpy()) == 3  # 48 images in batches of 16


def test_resumed_training_continues_exactly_as_uninterrupted(config, datasets, interrupted, uninterrupted):
    resumed, last = built(config, seed=1), {}
    state = training.load_checkpoint(interrupted[0], resumed)
    training.train(resumed, *datasets, config, class_weight=None, state=state,
                   on_epoch_end=lambda epoch, metrics, model, state: last.update(weights=model.get_weights()))
    model, full_state, full_last = uninterrupted
    assert state.counters() == full_state.counters() and state.epoch == config.epochs
    # the weights after the last epoch (the final ones are the best epoch's, possibly epoch 1: from the checkpoint)
    for a, b in zip(last["weights"], full_last):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(resumed.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_training_ends_on_the_best_weights(config, uninterrupted):
    model, state, _ = uninterrupted
    assert 1 <= state.best_epoch <= config.epochs and math.isfinite(state.best_value)
    assert_same_variables(model.get_weights(), state.best_weights)


def test_checkpoint_of_another_model_is_refused(config, interrupted):
    other = built(dataclasses.replace(config, attention="none"))
    with pytest.raises(ValueError, match="different model or config"):
        training.load_checkpoint(interrupted[0], other)
