"""The trial's whole configuration: one frozen object that is also what MLflow logs as params, and the one place
that fills in and validates a trial.

`TrialConfig(...)` checks what a value alone decides (types, ranges, the closed sets `Scale`, `Source` and
`AttackTarget`); `resolved()` fills what the task and backbone decide (epsilon ladder, reference epsilon, per-epoch
fraction, image size) and checks every name against its registry (task, backbone, attention, placement, epoch
callbacks). Every way a trial is built (sweep expansion, Ray Tune's config, `execute`) goes through `resolved()`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_rules import RULES, check_values
from .data import get_task, list_sources, list_tasks
from .data.sources import Source
from .epoch_callbacks import resolve_epoch_callback
from .models import default_input_shape, list_attentions, list_backbones, list_placements
from .models.registry import Scale, get_backbone
from .registry import closed_value
from .robustness.attack import AttackTarget
from .robustness.attack_spec import ATTACKS, validate_attacks
from .robustness.certify import validate_smoothing
from .robustness.eot_attacks import RAND_ATTACKS, validate_predict_budget
from .robustness.presets import PRESETS, SELECTION_KEYS


OBJECTIVE_SPLITS = ("test", "val")
ENHANCEMENTS = ("data", "model")


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

    # the evaluation: an attack preset (trainables.robustness.PRESETS) and overrides of it, e.g.
    # {"square": {"queries": 500}, "attacks": ["pgd", "square"], "radius_attack": None}
    epsilons: tuple[float, ...] = ()  # empty: the task's paper ladder
    reference_epsilon: float | None = None  # None: the task's reference epsilon
    attack_preset: str = "standard"
    attack: dict[str, Any] = field(default_factory=dict)
    attack_on: str = AttackTarget.LOGITS.value
    eval_batch_size: int = 64
    max_eval: int | None = None  # attack at most this many test points (None: all)
    ensemble_points: int | None = None  # the worst case on this many seeded points (None: all evaluated)
    # randomized smoothing (Cohen et al. 2019): training adds N(0, noise_sigma^2) to every training image in [0, 1]
    # space (0: the paper's training); certify=True certifies the smoothed classifier at that sigma on certify_points
    # seeded test points with certify_n0 selection and certify_n estimation draws at level certify_alpha
    noise_sigma: float = 0.0
    certify: bool = False
    certify_points: int = 500
    certify_n0: int = 100
    certify_n: int = 100_000
    certify_alpha: float = 0.001
    explain_samples: int = 16
    eval_checkpoint_s: float = 300.0  # the evaluation saves its finished units at most this often (progress_store)
    # where the objectives reported to Ray Tune / Optuna come from: "test", or "val" for a search, so that choosing
    # configurations never looks at the test split (the test numbers are logged as always, beside val/<objective>)
    objective_split: str = "test"
    # where the chest X-ray enhancement runs, i.e. the threat model: "data" (the paper: in the data, so the attacker
    # perturbs the enhanced image) or "model" (a layer inside the model: the attacker perturbs the radiograph)
    enhancement: str = "data"

    # bookkeeping
    seed: int = 0
    sweep: str = "adhoc"
    profile: str = "paper"
    source_run_id: str | None = None  # set: evaluate the model of that MLflow run, no training

    # resources per trial (Ray)
    cpus_per_trial: int = 1
    gpus_per_trial: int = 0
    memory_gb: float = 2.0

    # the trainable's extension point: "module:function" or "/path/file.py:function" -> keyword arguments; each
    # function is called as function(event, **arguments) after every epoch (see trainables.training.EpochEvent)
    epoch_callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the same, called as function(event, **arguments) after every unit of the resumable evaluation
    # (see trainables.evaluation_progress.UnitEvent)
    eval_callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = check_values({name: getattr(self, name) for name in self.field_names()})
        for name, value in values.items():
            object.__setattr__(self, name, value)
        if self.attention == "none":
            object.__setattr__(self, "placement", "head")  # the baseline has no attention block to place
        for name, enum in (("scale", Scale), ("source", Source), ("attack_on", AttackTarget)):
            object.__setattr__(self, name, closed_value(enum, name, getattr(self, name)))
        if any(later <= earlier for earlier, later in zip(self.epsilons, self.epsilons[1:])):
            raise ValueError(f"epsilons must be increasing, each once (the evaluation nests their balls). "
                             f"Received: epsilons={list(self.epsilons)}")
        if self.enhancement not in ENHANCEMENTS:
            raise ValueError(f"enhancement must be one of: {', '.join(ENHANCEMENTS)}. "
                             f"Received: enhancement={self.enhancement!r}")
        if self.objective_split not in OBJECTIVE_SPLITS:
            raise ValueError(f"objective_split must be one of: {', '.join(OBJECTIVE_SPLITS)}. "
                             f"Received: objective_split={self.objective_split!r}")

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
        return cls.from_dict(merged).resolved()

    def resolved(self) -> "TrialConfig":
        """This trial with what its task and backbone decide filled in, every name checked against its registry.
        Idempotent; raises ValueError naming the bad value and what is allowed."""

        for key, options in (("task", list_tasks()), ("source", list_sources()), ("backbone", list_backbones()),
                             ("attention", list_attentions())):
            if getattr(self, key) not in options:
                raise ValueError(f"{self.run_name}: unknown {key} {getattr(self, key)!r}; expected one of: "
                                 f"{', '.join(options)}")
        placements = list_placements(self.backbone, self.scale)
        if self.placement not in placements:
            raise ValueError(f"{self.run_name}: unknown placement {self.placement!r} for {self.backbone}; "
                             f"expected one of: {', '.join(placements)}")
        task = get_task(self.task)
        if self.enhancement == "model" and not task.xray_enhancement:
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
        trial = self.replace(**changes) if changes else self
        trial.check_against_task_and_backbone()
        for spec in [*trial.epoch_callbacks, *trial.eval_callbacks]:
            resolve_epoch_callback(spec)
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
    def attack_settings(self):
        """The evaluation as trainables.robustness.AttackSettings: the preset with this trial's overrides."""
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
    def run_name(self) -> str:
        noise = f"-n{self.noise_sigma:g}" if self.noise_sigma else ""  # a noise-trained model is another model
        return f"{self.task}-{self.backbone}-{self.attention}-{self.placement}{noise}-s{self.seed}"

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


WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".hdf5")  # what trainables.models.build_model loads


def check_weights(weights: str | None) -> None:
    """None, "imagenet" or an existing weights file (whether the backbone has ImageNet weights, and whether the Keras
    cache holds them, is for the worker that builds the model: trainables.models.weights)."""
    if weights is None or weights == "imagenet":
        return
    if not weights.endswith(WEIGHT_FILE_SUFFIXES) or not Path(weights).expanduser().is_file():
        raise ValueError(f"weights must be None, 'imagenet' or the path of an existing "
                         f"{'/'.join(WEIGHT_FILE_SUFFIXES)} file. Received: weights={weights!r}")


def parse_assignments(pairs) -> dict[str, Any]:
    """`key=value` strings (values parsed as JSON where possible) into a dict of TrialConfig values.
    `attack.<attack>.<field>=V`, `attack.attacks=a,b` and `attack.radius_attack=V` set one override of the preset."""
    nullable = {f.name for f in dataclasses.fields(TrialConfig) if "None" in str(f.type)} | {"attack.radius_attack"}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or (key not in TrialConfig.field_names() and not key.startswith("attack.")):
            raise ValueError(f"--set expects key=value with key one of: {', '.join(TrialConfig.field_names())}, "
                             f"or attack.<attack>.<field>; received {pair!r}")
        try:  # "none" is also a name (attention=none): it means None only where a field can be None
            value = None if text in ("None", "none") and key in nullable else json.loads(text)
        except json.JSONDecodeError:
            value = text
        if key.startswith("attack."):
            set_attack_override(values.setdefault("attack", {}), key, value)
        elif key == "attack":  # a JSON object of overrides, merged with the dotted ones
            values["attack"] = {**values.get("attack", {}), **RULES[key].check(key, value)}
        else:  # before a sweep computes with it (seed + offset)
            values[key] = RULES[key].check(key, value)
    return values


def set_attack_override(overrides: dict[str, Any], key: str, value: Any) -> None:
    """One `attack.` assignment into the overrides, its attack, field and value checked by the attack's budget."""
    path = key.split(".")[1:]
    if len(path) == 1 and path[0] in SELECTION_KEYS:
        overrides[path[0]] = value
        return
    if len(path) != 2:
        raise ValueError(f"--set takes attack.<attack>.<field>=V, attack.attacks=a,b or attack.radius_attack=V; "
                         f"received {key!r}")
    name, field_name = path
    ATTACKS.lookup(name).budget.build(name, {field_name: value})
    overrides.setdefault(name, {})[field_name] = value


def experiment_name(sweep: str, profile: str) -> str:
    return f"{sweep}-{profile}"


def format_epsilon(eps: float) -> str:
    """Stable text for an epsilon, 10 significant digits so that float(text) gives it back (a ladder in [0, 255]
    units divided by 255 needs them): 0.00125 -> '0.00125', 0.32 -> '0.32', 0 -> '0', 0.32 / 255 -> '0.001254901961'.
    """
    return f"{float(eps):.10g}"
