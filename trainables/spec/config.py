"""The trial's whole configuration: one frozen object that is also what MLflow logs as params, and the one place
that fills in and validates a trial.

Its fields come in groups by concern (data, model, training, attack, smoothing, run, corruption), each field declared with its
default and its Rule. `TrialConfig(...)` checks what a value alone decides (types, ranges, the closed sets of
spec.enums); `resolved()` fills what the task and backbone decide (epsilon ladder, reference epsilon, per-epoch
fraction, image size) and checks every name against its registry (task, source, backbone, attention, placement,
attacks, epoch callbacks). Every way a trial is built (sweep expansion, Ray Tune's config, `execute`) goes through
`resolved()`. Everything here is a spec: no data is read, no model built, no library beyond numpy imported.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .attacks import RAND_ATTACKS, validate_attacks, validate_predict_budget
from .corruptions import ALL, resolve_corruptions
from .enums import AdvTraining, AttackTarget, Enhancement, ObjectiveSplit, Scale, Source
from .evaluation import PRESETS, AttackSettings
from .keys import experiment_name, format_epsilon
from .lazy import resolve_callback
from .models import default_input_shape, get_backbone, list_attentions, list_backbones, list_placements
from .registry import closed_value
from .rules import Rule, check_values
from .smoothing import validate_smoothing
from .tasks import MIN_IMAGE_SIZE, get_task, list_tasks


def setting(default: Any, rule: Rule) -> Any:
    """A field with its default (a dict default is copied per instance) and the Rule its values must follow."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"rule": rule})
    return field(default=default, metadata={"rule": rule})


@dataclass(frozen=True)
class DataFields:
    """What to train on."""

    CONCERN: ClassVar[str] = "data"

    task: str = setting("skin_lesion", Rule("str"))
    source: str = setting(Source.SYNTHETIC.value, Rule("str"))
    data_root: str | None = setting(None, Rule("str", nullable=True))
    image_size: int | None = setting(None, Rule("int", low=MIN_IMAGE_SIZE, nullable=True))  # None: the backbone's
    max_train: int | None = setting(None, Rule("int", low=1, nullable=True))
    max_test: int | None = setting(None, Rule("int", low=1, nullable=True))
    # where the chest X-ray enhancement runs, i.e. the threat model: "data" (the paper: in the data, so the attacker
    # perturbs the enhanced image) or "model" (a layer inside the model: the attacker perturbs the radiograph)
    enhancement: str = setting(Enhancement.DATA.value, Rule("str"))

    def check_concern(self) -> None:
        object.__setattr__(self, "source", closed_value(Source, "source", self.source))
        object.__setattr__(self, "enhancement", closed_value(Enhancement, "enhancement", self.enhancement))


@dataclass(frozen=True)
class ModelFields:
    """The network: backbone, scale and the attention block."""

    CONCERN: ClassVar[str] = "model"

    backbone: str = setting("resnet50", Rule("str"))
    scale: str = setting(Scale.FULL.value, Rule("str"))
    attention: str = setting("none", Rule("str"))
    placement: str = setting("head", Rule("str"))
    heads: int = setting(16, Rule("int", low=1))
    dropout: float = setting(0.5, Rule("float", low=0, high=1, high_open=True))
    weights: str | None = setting("imagenet", Rule("str", nullable=True))

    def check_concern(self) -> None:
        object.__setattr__(self, "scale", closed_value(Scale, "scale", self.scale))
        if self.attention == "none":
            object.__setattr__(self, "placement", "head")  # the baseline has no attention block to place


@dataclass(frozen=True)
class TrainingFields:
    """The paper's training recipe."""

    CONCERN: ClassVar[str] = "training"

    epochs: int = setting(300, Rule("int", low=1))
    batch_size: int = setting(32, Rule("int", low=1))
    learning_rate: float = setting(0.01, Rule("float", low=0, low_open=True))
    adam_epsilon: float = setting(0.1, Rule("float", low=0, low_open=True))
    patience: int = setting(40, Rule("int", low=1))
    min_delta: float = setting(0.001, Rule("float", low=0))
    # None: the task's default (skin lesion 0.1)
    epoch_fraction: float | None = setting(None, Rule("float", low=0, high=1, low_open=True, nullable=True))
    class_weighting: bool = setting(True, Rule("bool"))
    # adversarial training, the attack inside the compiled train step (trainables.adversarial_training): "none" (the
    # paper), "pgd" (Madry et al. 2018) or "trades" (Zhang et al. 2019, needs trades_beta), L-inf in [0, 1] space
    adv_training: str = setting(AdvTraining.NONE.value, Rule("str"))
    # None: the trial's reference epsilon (the robust objective's)
    adv_eps: float | None = setting(None, Rule("float", low=0, high=1, low_open=True, nullable=True))
    adv_steps: int = setting(7, Rule("int", low=1))
    # None: 2.5 * adv_eps / adv_steps (Madry et al.'s rule of thumb)
    adv_step_size: float | None = setting(None, Rule("float", low=0, low_open=True, nullable=True))
    trades_beta: float | None = setting(None, Rule("float", low=0, low_open=True, nullable=True))

    def check_concern(self) -> None:
        object.__setattr__(self, "adv_training", closed_value(AdvTraining, "adv_training", self.adv_training))
        if self.adv_training == AdvTraining.TRADES.value and self.trades_beta is None:
            raise ValueError("adv_training='trades' needs trades_beta, the weight of its KL term (Zhang et al. use 6); "
                             "set e.g. trades_beta=6")


@dataclass(frozen=True)
class AttackFields:
    """The evaluation: an attack preset (spec.evaluation.PRESETS) and overrides of it, e.g.
    {"square": {"queries": 500}, "attacks": ["pgd", "square"], "radius_attack": None}, on the ladder's epsilons."""

    CONCERN: ClassVar[str] = "attack"

    epsilons: tuple[float, ...] = setting((), Rule("floats", low=0, high=1, low_open=True))  # (): the task's ladder
    # None: the task's reference epsilon
    reference_epsilon: float | None = setting(None, Rule("float", low=0, high=1, low_open=True, nullable=True))
    attack_preset: str = setting("standard", Rule("str"))
    attack: dict[str, Any] = setting({}, Rule("dict"))
    attack_on: str = setting(AttackTarget.LOGITS.value, Rule("str"))
    eval_batch_size: int = setting(64, Rule("int", low=1))
    max_eval: int | None = setting(None, Rule("int", low=1, nullable=True))  # attack at most this many test points
    # the worst case on this many seeded points (None: all evaluated)
    ensemble_points: int | None = setting(None, Rule("int", low=1, nullable=True))
    explain_samples: int = setting(16, Rule("int", low=0))
    # the evaluation saves its finished units at most this often (robustness.evaluate.progress)
    eval_checkpoint_s: float = setting(300.0, Rule("float", low=0, low_open=True))
    # where the objectives reported to Ray Tune / Optuna come from: "test", or "val" for a search, so that choosing
    # configurations never looks at the test split (the test numbers are logged as always, beside val/<objective>)
    objective_split: str = setting(ObjectiveSplit.TEST.value, Rule("str"))

    def check_concern(self) -> None:
        object.__setattr__(self, "attack_on", closed_value(AttackTarget, "attack_on", self.attack_on))
        object.__setattr__(self, "objective_split",
                           closed_value(ObjectiveSplit, "objective_split", self.objective_split))
        if any(later <= earlier for earlier, later in zip(self.epsilons, self.epsilons[1:])):
            raise ValueError(f"epsilons must be increasing, each once (the evaluation nests their balls). "
                             f"Received: epsilons={list(self.epsilons)}")


@dataclass(frozen=True)
class SmoothingFields:
    """Randomized smoothing (Cohen et al. 2019): training adds N(0, noise_sigma^2) to every training image in [0, 1]
    space (0: the paper's training); certify=True certifies the smoothed classifier at that sigma on certify_points
    seeded test points with certify_n0 selection and certify_n estimation draws at level certify_alpha."""

    CONCERN: ClassVar[str] = "smoothing"

    noise_sigma: float = setting(0.0, Rule("float", low=0))
    certify: bool = setting(False, Rule("bool"))
    certify_points: int = setting(500, Rule("int", low=1))
    certify_n0: int = setting(100, Rule("int", low=1))
    certify_n: int = setting(100_000, Rule("int", low=1))
    certify_alpha: float = setting(0.001, Rule("float", low=0, high=1, low_open=True, high_open=True))

    def check_concern(self) -> None:
        pass


@dataclass(frozen=True)
class RunFields:
    """Bookkeeping, the resources a trial asks Ray for, and the trainable's extension points."""

    CONCERN: ClassVar[str] = "run"

    seed: int = setting(0, Rule("int", low=0))
    sweep: str = setting("adhoc", Rule("str"))
    profile: str = setting("paper", Rule("str"))
    source_run_id: str | None = setting(None, Rule("str", nullable=True))  # set: evaluate that run's model, no training
    cpus_per_trial: int = setting(1, Rule("int", low=1))
    gpus_per_trial: int = setting(0, Rule("int", low=0))
    memory_gb: float = setting(2.0, Rule("float", low=0, low_open=True))
    # "module:function" or "/path/file.py:function" -> keyword arguments; each function is called as
    # function(event, **arguments) after every epoch (see trainables.training.EpochEvent)
    epoch_callbacks: dict[str, dict[str, Any]] = setting({}, Rule("dict"))
    # the same, called after every unit of the resumable evaluation (see trainables.evaluation_progress.UnitEvent)
    eval_callbacks: dict[str, dict[str, Any]] = setting({}, Rule("dict"))

    def check_concern(self) -> None:
        pass


@dataclass(frozen=True)
class CorruptionFields:
    """Natural robustness beside the attacks: accuracy under each corruption of `corruptions` at severities 1-5
    (trainables.spec.corruptions) on corruption_points seeded evaluation points (None: all of them). corruptions:
    "all" (the common ones and the task's modality's), "common", "modality", "none", or a comma list of names."""

    CONCERN: ClassVar[str] = "corruption"

    corruptions: str = setting(ALL, Rule("str"))
    corruption_points: int | None = setting(None, Rule("int", low=1, nullable=True))

    def check_concern(self) -> None:
        pass


CONCERNS = (DataFields, ModelFields, TrainingFields, AttackFields, SmoothingFields, RunFields,
            CorruptionFields)  # in field order


# a dataclass collects its bases' fields from the last base to the first: CONCERNS reversed
@dataclass(frozen=True)
class TrialConfig(CorruptionFields, RunFields, SmoothingFields, AttackFields, TrainingFields, ModelFields,
                  DataFields):
    """Everything one trial needs. Profiles and sweeps only change these values."""

    def __post_init__(self) -> None:
        values = check_values(RULES, {name: getattr(self, name) for name in self.field_names()})
        for name, value in values.items():
            object.__setattr__(self, name, value)
        for concern in CONCERNS:
            concern.check_concern(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def concerns(cls) -> dict[str, tuple[str, ...]]:
        """concern -> its field names: "data" -> ("task", "source", ...), in field order."""
        return {concern.CONCERN: tuple(f.name for f in dataclasses.fields(concern)) for concern in CONCERNS}

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
        return cls.from_dict(merged).resolved()

    def resolved(self) -> "TrialConfig":
        """This trial with what its task and backbone decide filled in, every name checked against its registry.
        Idempotent; raises ValueError naming the bad value and what is allowed."""
        for key, options in (("task", list_tasks()), ("backbone", list_backbones()),
                             ("attention", list_attentions())):
            if getattr(self, key) not in options:
                raise ValueError(f"{self.run_name}: unknown {key} {getattr(self, key)!r}; expected one of: "
                                 f"{', '.join(options)}")
        task = get_task(self.task)
        if self.source not in task.sources:
            raise ValueError(f"{self.run_name}: task {self.task!r} cannot be read from source {self.source!r}; "
                             f"its sources: {', '.join(task.sources)}")
        placements = list_placements(self.backbone, self.scale)
        if self.placement not in placements:
            raise ValueError(f"{self.run_name}: unknown placement {self.placement!r} for {self.backbone}; "
                             f"expected one of: {', '.join(placements)}")
        if self.enhancement == Enhancement.MODEL.value and not task.xray_enhancement:
            raise ValueError(f"{self.run_name}: enhancement='model' moves the chest X-ray enhancement into the model; "
                             f"task {self.task!r} has none (tasks with it: "
                             f"{', '.join(t for t in list_tasks() if get_task(t).xray_enhancement)})")
        changes: dict[str, Any] = {}
        if not self.epsilons:
            changes["epsilons"] = task.epsilons
        if self.reference_epsilon is None:
            changes["reference_epsilon"] = task.reference_epsilon
        if self.epoch_fraction is None and task.epoch_fraction is not None:
            changes["epoch_fraction"] = task.epoch_fraction
        if self.image_size is None:
            changes["image_size"] = default_input_shape(self.backbone, self.scale)[0]
        if self.adv_training != AdvTraining.NONE.value:
            epsilon = self.adv_eps or changes.get("reference_epsilon", self.reference_epsilon)
            changes["adv_eps"] = epsilon
            if self.adv_step_size is None:
                changes["adv_step_size"] = float(f"{2.5 * epsilon / self.adv_steps:.10g}")
        trial = self.replace(**changes) if changes else self
        trial.check_against_task_and_backbone()
        for path in [*trial.epoch_callbacks, *trial.eval_callbacks]:
            resolve_callback(path)
        try:
            resolve_corruptions(trial.corruptions, trial.task)
        except ValueError as error:
            raise ValueError(f"{trial.run_name}: corruptions: {error}") from None
        try:
            settings = trial.attack_settings
            validate_attacks(settings.attacks, task.num_classes, radius_attack=settings.radius_attack)
            if trial.certify:
                if trial.noise_sigma <= 0:
                    raise ValueError("certify=true certifies the smoothed classifier at noise_sigma; set noise_sigma "
                                     "> 0 (e.g. 0.25)")
                validate_smoothing(sigma=trial.noise_sigma, n0=trial.certify_n0, n=trial.certify_n,
                                   alpha=trial.certify_alpha)
                for name in RAND_ATTACKS:
                    validate_predict_budget(name, settings.budget(name))
        except ValueError as error:
            raise ValueError(f"{trial.run_name}: {error}") from None
        return trial

    def check_against_task_and_backbone(self) -> None:
        """What only the resolved trial can judge: the image against the backbone, the reference against the
        ladder (outside it the objective would be clamped to the ladder's end), the weights' form."""
        spec = get_backbone(self.backbone, self.scale)
        if self.image_size < spec.min_size:
            raise ValueError(f"{self.run_name}: image_size must be >= {spec.min_size} for {self.backbone} "
                             f"(scale {self.scale}). Received: image_size={self.image_size}")
        if self.reference_epsilon > self.epsilons[-1]:
            raise ValueError(f"{self.run_name}: reference_epsilon must be > 0 and <= the ladder's largest epsilon "
                             f"{format_epsilon(self.epsilons[-1])}. Received: reference_epsilon={self.reference_epsilon:g}")
        check_weights(self.weights)

    def replace(self, **changes: Any) -> "TrialConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def attack_settings(self) -> AttackSettings:
        """The evaluation: the preset with this trial's overrides."""
        return PRESETS.lookup(self.attack_preset).settings(self.attack, ensemble_points=self.ensemble_points,
                                                            attack_on=self.attack_on, batch_size=self.eval_batch_size)

    @property
    def smoothed_attack_budgets(self) -> dict[str, dict]:
        """The budgets of the EoT attacks on the smoothed classifier (RAND_ATTACKS) when the trial certifies, else {}:
        part of what the trial computes (its identity, its params)."""
        if not self.certify:
            return {}
        settings = self.attack_settings
        return {name: settings.budget(name).to_dict() for name in RAND_ATTACKS}

    @property
    def corruption_names(self) -> tuple[str, ...]:
        """The corruptions this trial measures (trainables.spec.corruptions.resolve_corruptions)."""
        return resolve_corruptions(self.corruptions, self.task)

    @property
    def run_name(self) -> str:
        noise = f"-n{self.noise_sigma:g}" if self.noise_sigma else ""  # a noise-trained model is another model
        adversarial = "" if self.adv_training == AdvTraining.NONE.value else f"-{self.adv_training}"  # so is this
        return f"{self.task}-{self.backbone}-{self.attention}-{self.placement}{noise}{adversarial}-s{self.seed}"

    @property
    def experiment_name(self) -> str:
        return experiment_name(self.sweep, self.profile)

    def as_params(self) -> dict[str, str]:
        """Flat string params for MLflow (tuples as comma lists, None as 'None')."""
        params = {}
        for key, value in self.to_dict().items():
            if key == "attack":  # the overrides, resolved: attack.<attack>.<field> of every attack the trial runs
                params.update(self.attack_settings.params())
                params.update({f"attack.{name}.{field}": str(value)
                               for name, budget in self.smoothed_attack_budgets.items()
                               for field, value in budget.items()})
                continue
            if isinstance(value, (tuple, list)):
                value = ",".join(format_epsilon(v) if isinstance(v, float) else str(v) for v in value)
            elif isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            params[key] = str(value)
        return params


RULES: dict[str, Rule] = {f.name: f.metadata["rule"] for f in dataclasses.fields(TrialConfig)}
"""Each field's Rule (what --set checks a value against before a sweep computes with it)."""

WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".hdf5")  # what trainables.models.build_model loads


def check_weights(weights: str | None) -> None:
    """None, "imagenet" or an existing weights file (whether the backbone has ImageNet weights, and whether the Keras
    cache holds them, is for the worker that builds the model: trainables.models.weights)."""
    if weights is None or weights == "imagenet":
        return
    if not weights.endswith(WEIGHT_FILE_SUFFIXES) or not Path(weights).expanduser().is_file():
        raise ValueError(f"weights must be None, 'imagenet' or the path of an existing "
                         f"{'/'.join(WEIGHT_FILE_SUFFIXES)} file. Received: weights={weights!r}")
