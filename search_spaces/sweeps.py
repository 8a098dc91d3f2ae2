"""Named sweeps, declared as data: each states only what differs from the profile's values.

An axis is a list of partial configs (dicts), or a function of the partial config built so far that returns
such a list (for axes that depend on earlier choices, e.g. the placements valid for a backbone). The grid is
the product of the axes, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from trainables.spec.tasks import get_task
from trainables.spec.models import list_placements
from trainables.spec.registry import Registry
from trainables.spec.evaluation import PRESETS

Partial = dict[str, Any]
Axis = Union[list[Partial], Callable[[Partial], list[Partial]]]
# A value may be a function of the trial's other values (applied after the profile), e.g. doubling its steps.


@dataclass(frozen=True)
class Sweep:
    name: str
    description: str
    axes: tuple[Axis, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    evaluate_from: str | None = None  # re-evaluate the models trained by this sweep instead of training
    search_space: Callable[[], dict[str, Any]] | None = None  # Optuna search instead of a grid


SWEEPS: Registry[Sweep] = Registry("sweep")


def register_sweep(sweep: Sweep, *, replace: bool = False) -> Sweep:
    """Add a sweep; a name that is already taken (a built-in one included) raises unless replace=True."""
    return SWEEPS.register(sweep.name, sweep, replace=replace)


def get_sweep(name: str) -> Sweep:
    return SWEEPS.lookup(name)


def axis(key: str, values: list[Any]) -> list[Partial]:
    return [{key: value} for value in values]


TASKS = axis("task", ["skin_lesion", "diabetic_retinopathy", "pneumothorax"])
BACKBONES = axis("backbone", ["resnet50", "inception_resnet_v2"])
PAPER_VARIANTS = [
    {"attention": "none", "placement": "head"},
    {"attention": "soft_faithful", "placement": "head"},
]


def every_placement(partial: Partial) -> list[Partial]:
    """The baseline plus both soft-attention variants at every placement valid for the backbone."""
    variants = [{"attention": "none", "placement": "head"}]
    for attention in ("soft_faithful", "soft_corrected"):
        variants += [{"attention": attention, "placement": p} for p in list_placements(partial["backbone"])]
    return variants


# sqrt(2) steps from 0.0003125 to 0.64, then the whole box (an unbounded attack must reach 100 % success).
DENSE_EPSILONS = tuple(round(0.0003125 * 2 ** (k / 2), 8) for k in range(23)) + (1.0,)


PIXEL_LEVELS = 255


def in_255_units(value: float) -> float:
    """An epsilon of the paper's ladder read in [0, 255] units, in our [0, 1] space (10 digits: see format_epsilon)."""
    return float(f"{value / PIXEL_LEVELS:.10g}")


def ladder_in_255_units(trial: Partial) -> tuple[float, ...]:
    return tuple(in_255_units(e) for e in (trial["epsilons"] or get_task(trial["task"]).epsilons))


def reference_in_255_units(trial: Partial) -> float:
    return in_255_units(trial["reference_epsilon"] or get_task(trial["task"]).reference_epsilon)


def optuna_space() -> dict[str, Any]:
    """The Optuna search space (ResNet-50 placements; fix other values with --set)."""
    from ray import tune

    return {
        "attention": tune.choice(["none", "soft_faithful", "soft_corrected"]),
        "placement": tune.choice(["head", "conv3", "conv4", "conv5"]),
        "heads": tune.choice([4, 8, 16, 32]),
        "dropout": tune.uniform(0.0, 0.7),
        "learning_rate": tune.loguniform(1e-4, 3e-2),
        "adam_epsilon": tune.loguniform(1e-7, 1.0),
        "batch_size": tune.choice([16, 32, 64]),
    }


register_sweep(Sweep(
    name="paper_grid",
    description="the paper: 3 tasks x {ResNet-50, InceptionResNetV2} x {no attention, soft attention at the head}",
    axes=(TASKS, BACKBONES, PAPER_VARIANTS),
))

register_sweep(Sweep(
    name="paper_grid_255",
    description="paper_grid with the paper's epsilons read in [0, 255] units: every epsilon / 255 in [0, 1] space",
    axes=(TASKS, BACKBONES, PAPER_VARIANTS),
    values={"epsilons": ladder_in_255_units, "reference_epsilon": reference_in_255_units},
))

register_sweep(Sweep(
    name="placement_grid",
    description="attention at every placement, faithful and corrected soft attention, plus the baseline, per task",
    axes=(TASKS, BACKBONES, every_placement),
))

def stronger_pgd(trial: dict) -> dict:
    """The trial's PGD with twice its preset's steps and 3 restarts (its other attacks as they were)."""
    steps = PRESETS.lookup(trial["attack_preset"]).settings(trial["attack"]).budget("pgd").steps
    pgd = {**trial["attack"].get("pgd", {}), "steps": 2 * steps, "restarts": 3}
    return {**trial["attack"], "pgd": pgd}


register_sweep(Sweep(
    name="epsilon_grid",
    description="re-evaluates paper_grid's trained models on a dense ladder up to eps=1 with 2x steps and 3 restarts",
    axes=(TASKS, BACKBONES, PAPER_VARIANTS),
    values={"epsilons": DENSE_EPSILONS, "attack": stronger_pgd},
    evaluate_from="paper_grid",
))

SMOOTHING_SIGMAS = axis("noise_sigma", [0.12, 0.25, 0.5])

# issue #34: is it the attention or the parameters, and how does it compare with adversarial training?
ABLATION_ATTENTIONS = axis("attention", ["none", "soft_faithful", "se", "cbam", "self_attention", "param_control"])
ADV_TRAINING = axis("adv_training", ["none", "pgd"])

register_sweep(Sweep(
    name="attention_ablation",
    description="task x backbone x attention {none, soft_faithful, se, cbam, self_attention, param_control (soft "
                "attention's parameters without its gate)} at the head x adv_training {none, pgd at the reference "
                "epsilon}: the control claims and the clean-robust trade-off (analysis.ablation)",
    axes=(TASKS, BACKBONES, ABLATION_ATTENTIONS, ADV_TRAINING),
    values={"placement": "head"},
))

register_sweep(Sweep(
    name="smoothing_grid",
    description="randomized smoothing: per task x backbone x {no attention, soft attention at the head} x noise "
                "sigma in {0.12, 0.25, 0.5}, trained with that noise and certified (a lower bound beside the attacks)",
    axes=(TASKS, BACKBONES, PAPER_VARIANTS, SMOOTHING_SIGMAS),
    values={"certify": True},
))

register_sweep(Sweep(
    name="optuna_robust",
    description="Optuna multi-objective search (clean accuracy, robust objective on the validation split) over "
                "attention, heads, recipe",
    values={"task": "skin_lesion", "backbone": "resnet50", "objective_split": "val"},
    search_space=optuna_space,
))
