"""The trial's whole configuration: one frozen object that is also what MLflow logs as params."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

ATTACK_TARGETS = ("logits", "probabilities")


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs. Profiles and sweeps only change these values."""

    # what to train
    task: str = "skin_lesion"
    source: str = "synthetic"
    data_root: str | None = None
    image_size: int | None = None  # None: the backbone's native size
    max_train: int | None = None
    max_test: int | None = None
    backbone: str = "resnet50"
    scale: str = "full"
    attention: str = "none"
    placement: str = "head"
    heads: int = 16
    dropout: float = 0.5
    weights: str | None = "imagenet"

    # the paper's training recipe
    epochs: int = 300
    batch_size: int = 32
    learning_rate: float = 0.01
    adam_epsilon: float = 0.1
    patience: int = 40
    min_delta: float = 0.001
    epoch_fraction: float | None = None  # None: the task's default (skin lesion 0.1)
    class_weighting: bool = True

    # the attack
    epsilons: tuple[float, ...] = ()  # empty: the task's paper ladder
    reference_epsilon: float | None = None  # None: the task's reference epsilon
    pgd_steps: int = 40
    rel_stepsize: float = 0.01 / 0.3
    random_start: bool = True
    restarts: int = 1
    attack_on: str = "logits"
    eval_batch_size: int = 64
    max_eval: int | None = None  # attack at most this many test points (None: all)
    explain_samples: int = 16

    # bookkeeping
    seed: int = 0
    sweep: str = "adhoc"
    profile: str = "paper"
    source_run_id: str | None = None  # set: evaluate the model of that MLflow run, no training

    # resources per trial (Ray)
    cpus_per_trial: int = 1
    gpus_per_trial: int = 0
    memory_gb: float = 2.0

    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilons", tuple(float(e) for e in self.epsilons))
        if self.attention == "none":
            object.__setattr__(self, "placement", "head")  # the baseline has no attention block to place
        if self.attack_on not in ATTACK_TARGETS:
            raise ValueError(f"attack_on={self.attack_on!r} is not allowed; expected one of: {', '.join(ATTACK_TARGETS)}")
        for name in ("epochs", "batch_size", "pgd_steps", "restarts", "eval_batch_size", "heads", "cpus_per_trial"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; received {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {self.dropout!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrialConfig":
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; allowed keys: {', '.join(cls.field_names())}")
        return cls(**values)

    @classmethod
    def from_tune(cls, tune_config: dict[str, Any]) -> "TrialConfig":
        """Ray Tune passes {"trial": {...}} plus, for searches, the sampled keys at the top level."""
        merged = dict(tune_config.get("trial", {}))
        merged.update({k: v for k, v in tune_config.items() if k != "trial"})
        return cls.from_dict(merged)

    def replace(self, **changes: Any) -> "TrialConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def run_name(self) -> str:
        return f"{self.task}-{self.backbone}-{self.attention}-{self.placement}-s{self.seed}"

    @property
    def experiment_name(self) -> str:
        return experiment_name(self.sweep, self.profile)

    def as_params(self) -> dict[str, str]:
        """Flat string params for MLflow (tuples as comma lists, None as 'None')."""
        params = {}
        for key, value in self.to_dict().items():
            if isinstance(value, (tuple, list)):
                value = ",".join(format_epsilon(v) if isinstance(v, float) else str(v) for v in value)
            elif isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            params[key] = str(value)
        return params


def experiment_name(sweep: str, profile: str) -> str:
    return f"{sweep}-{profile}"


def format_epsilon(eps: float) -> str:
    """Stable text for an epsilon: 0.00125 -> '0.00125', 0.32 -> '0.32', 0 -> '0'."""
    text = f"{eps:.6f}".rstrip("0").rstrip(".")
    return text or "0"


_SAFE = re.compile(r"[^A-Za-z0-9_.\- /]")


def metric_safe(text: str) -> str:
    return _SAFE.sub("_", text)
