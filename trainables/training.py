"""The paper's training recipe, resumable epoch by epoch.

Adam(learning_rate, epsilon) on categorical cross-entropy of the logits, class weights, and early stopping on
val_loss (patience, min_delta) that restores the best weights at the end. The early-stopping state and the best
weights live in `TrainingState` so that a trial restarted from a checkpoint continues exactly where it stopped.
With adv_training "pgd" or "trades" each epoch trains on adversarial examples instead (trainables.adversarial_training:
the attack compiled inside the train step), under the same checkpoints and early stopping.

Epoch callbacks are the trainable's extension point (failure injection in the tests uses it): a trial's
`epoch_callbacks` maps "module:function" (or "/path/to/file.py:function") to keyword arguments, and after every
epoch's report and checkpoint the trainable calls function(EpochEvent, **arguments). An exception raised there fails
the trial like any other (Ray then restarts it from the checkpoint just written).

A checkpoint is one npz of plain arrays (the model's weights, the optimizer's variables, the best weights; read
without pickle) plus the state as JSON, restored into a model built from the same config. Keras' own formats
(.keras, .weights.h5) took ~0.45 s per save for a 170k-parameter mini model on 2 CPUs, the npz ~0.06 s: at smoke
scale that was 7 % of a trial, once per epoch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

from .adversarial_training import AdversarialRecipe, AdversarialTrainer
from .spec import keys
from .spec.config import TrialConfig
from .spec.lazy import resolve_callback

MONITOR = "val_loss"
STATE_FILE = "state.json"
ARRAYS_FILE = "checkpoint.npz"


@dataclass
class TrainingState:
    epoch: int = 0  # epochs completed
    best_value: float = math.inf
    best_epoch: int = -1
    wait: int = 0
    stopped_early: bool = False
    best_weights: list | None = None  # model.get_weights() at best_epoch (arrays: in memory and in the npz)

    def counters(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "best_weights"}

    def update(self, value: float, min_delta: float, patience: int) -> bool:
        """Record one epoch's monitored value; True when it is the new best."""
        self.epoch += 1
        if value < self.best_value - min_delta:
            self.best_value, self.best_epoch, self.wait = value, self.epoch, 0
            return True
        self.wait += 1
        self.stopped_early = self.wait >= patience
        return False


def compile_model(model, config: TrialConfig) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    # Built here, eagerly. Built lazily inside the traced train step, every optimizer variable gets a tf.cond
    # initializer (two branch functions each): 8 smoke epochs of a mini ResNet-50 took ~30 s instead of ~19 s, and
    # those functions live as long as the train-step graph (see trainables.isolation).
    model.optimizer.build(model.trainable_variables)


def save_checkpoint(directory: Path, model, state: TrainingState) -> None:
    """Weights, optimizer variables, best weights (one npz) and the early-stopping counters (JSON)."""
    import numpy as np

    arrays = {f"weight_{i}": v.numpy() for i, v in enumerate(model.weights)}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)}
    arrays |= {f"best_{i}": w for i, w in enumerate(state.best_weights or [])}
    np.savez(directory / ARRAYS_FILE, **arrays)
    (directory / STATE_FILE).write_text(json.dumps(state.counters()))


def has_checkpoint(directory: Path) -> bool:
    return (directory / STATE_FILE).exists()


def load_checkpoint(directory: Path, model) -> TrainingState:
    """Restore a checkpoint into `model`, built and compiled from the config of the trial that saved it."""
    import numpy as np

    with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
        for prefix, variables in (("weight", model.weights), ("optimizer", model.optimizer.variables)):
            saved = sum(name.startswith(f"{prefix}_") for name in arrays.files)
            if saved != len(variables):
                raise ValueError(f"checkpoint in {directory} has {saved} {prefix} arrays, the model {len(variables)}: "
                                 "it was saved by a different model or config")
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"{prefix}_{i}"])  # a shape mismatch raises here
        best = sorted((name for name in arrays.files if name.startswith("best_")), key=lambda n: int(n[5:]))
        best_weights = [arrays[name] for name in best] or None
    return TrainingState(**json.loads((directory / STATE_FILE).read_text()), best_weights=best_weights)


@dataclass(frozen=True)
class EpochEvent:
    """What an epoch callback sees: the trial, the epoch just completed (1-based), its metrics, the process and
    whether this attempt started from a checkpoint (a restarted trial)."""

    config: TrialConfig
    epoch: int
    metrics: dict[str, float]
    pid: int
    restored: bool


def run_epoch_callbacks(event: EpochEvent) -> None:
    for spec, arguments in event.config.epoch_callbacks.items():
        resolve_callback(spec)(event, **arguments)


EpochHook = Callable[[int, dict, object, TrainingState], None]


def train(model, train_data, val_data, config: TrialConfig, *, class_weight: dict[int, float] | None,
          state: TrainingState, on_epoch_end: EpochHook) -> TrainingState:
    """Fit one epoch at a time until max epochs or early stopping; then restore the best weights.

    `on_epoch_end(epoch, logs, model, state)` runs after each epoch (reporting and checkpointing). With
    adv_training other than "none" each epoch runs trainables.adversarial_training's compiled step instead of fit.
    """
    recipe = AdversarialRecipe.of(config)
    trainer = None if recipe is None else AdversarialTrainer(model, recipe, class_weight)
    while state.epoch < config.epochs and not state.stopped_early:
        if trainer is None:
            history = model.fit(train_data, validation_data=val_data, epochs=state.epoch + 1,
                                initial_epoch=state.epoch, class_weight=class_weight, shuffle=False, verbose=0)
            logs = {key: values[-1] for key, values in history.history.items()}
        else:
            logs = trainer.fit_epoch(train_data, val_data)
        if state.update(logs[MONITOR], config.min_delta, config.patience):
            state.best_weights = model.get_weights()
        on_epoch_end(state.epoch, epoch_metrics(logs), model, state)
    if state.best_weights is not None:
        model.set_weights(state.best_weights)
    return state


def epoch_metrics(logs: dict[str, float]) -> dict[str, float]:
    return {
        keys.TRAIN_LOSS: float(logs["loss"]),
        keys.TRAIN_ACCURACY: float(logs["accuracy"]),
        keys.VAL_LOSS: float(logs["val_loss"]),
        keys.VAL_ACCURACY: float(logs["val_accuracy"]),
    }
