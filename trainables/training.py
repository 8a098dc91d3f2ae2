"""The paper's training recipe, resumable epoch by epoch.

Adam(learning_rate, epsilon) on categorical cross-entropy of the logits, class weights, and early stopping on
val_loss (patience, min_delta) that restores the best weights at the end. The early-stopping state lives in
`TrainingState` so that a trial restarted from a checkpoint continues exactly where it stopped.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .config import TrialConfig

MONITOR = "val_loss"
STATE_FILE = "state.json"
MODEL_FILE = "model.keras"
BEST_WEIGHTS_FILE = "best.weights.h5"


@dataclass
class TrainingState:
    epoch: int = 0  # epochs completed
    best_value: float = math.inf
    best_epoch: int = -1
    wait: int = 0
    stopped_early: bool = False

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


def save_checkpoint(directory: Path, model, state: TrainingState) -> None:
    """Model with optimizer state, the best weights so far, and the early-stopping state."""
    model.save(directory / MODEL_FILE)
    (directory / STATE_FILE).write_text(json.dumps(asdict(state)))


def load_checkpoint(directory: Path):
    from .models import load_model

    model = load_model(directory / MODEL_FILE)
    state = TrainingState(**json.loads((directory / STATE_FILE).read_text()))
    return model, state


EpochHook = Callable[[int, dict, object, TrainingState], None]


def train(model, train_data, val_data, config: TrialConfig, *, class_weight: dict[int, float] | None,
          state: TrainingState, best_weights_path: Path, on_epoch_end: EpochHook) -> TrainingState:
    """Fit one epoch at a time until max epochs or early stopping; then restore the best weights.

    `on_epoch_end(epoch, logs, model, state)` runs after each epoch (reporting and checkpointing).
    """
    while state.epoch < config.epochs and not state.stopped_early:
        history = model.fit(train_data, validation_data=val_data, epochs=state.epoch + 1,
                            initial_epoch=state.epoch, class_weight=class_weight, shuffle=False, verbose=0)
        logs = {key: values[-1] for key, values in history.history.items()}
        if state.update(logs[MONITOR], config.min_delta, config.patience):
            model.save_weights(best_weights_path)
        on_epoch_end(state.epoch, epoch_metrics(logs), model, state)
    if best_weights_path.exists():
        model.load_weights(best_weights_path)
    return state


def epoch_metrics(logs: dict[str, float]) -> dict[str, float]:
    return {
        "train_loss": float(logs["loss"]),
        "train_accuracy": float(logs["accuracy"]),
        "val_loss": float(logs["val_loss"]),
        "val_accuracy": float(logs["val_accuracy"]),
    }
