"""The closed sets of the project: strings become one of these at the boundary (spec.registry.closed_value)."""

from __future__ import annotations

from enum import Enum


class Scale(str, Enum):
    """Model scales: the paper's networks, or CPU-scale copies with the same layer names."""

    FULL = "full"
    MINI = "mini"


class Source(str, Enum):
    """Where a task's images come from."""

    SYNTHETIC = "synthetic"  # procedural stand-ins, no files
    ORIGINAL = "original"  # the published releases
    MEDMNIST = "medmnist"  # MedMNIST+ npz files


class AttackTarget(str, Enum):
    """What the attack's cross-entropy is computed on."""

    LOGITS = "logits"
    PROBABILITIES = "probabilities"  # softmax of the logits: the paper's softmax heads (saturating gradients)


class Enhancement(str, Enum):
    """Where the chest X-ray enhancement runs, i.e. the threat model."""

    DATA = "data"  # the paper: in the data, so the attacker perturbs the enhanced image
    MODEL = "model"  # a layer inside the model: the attacker perturbs the radiograph


class ObjectiveSplit(str, Enum):
    """Where the objectives reported to Ray Tune / Optuna come from."""

    TEST = "test"
    VAL = "val"  # a search: choosing configurations never looks at the test split


class AdvTraining(str, Enum):
    """How training treats its inputs (trainables.adversarial_training)."""

    NONE = "none"  # the paper's training on clean images
    PGD = "pgd"  # Madry et al. 2018: train on L-inf PGD examples
    TRADES = "trades"  # Zhang et al. 2019: clean cross-entropy + trades_beta x KL(clean || PGD-on-KL example)


def values(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


SCALES = values(Scale)
SOURCE_NAMES = values(Source)
