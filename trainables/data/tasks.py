"""The paper's three tasks as a registry of frozen TaskSpec records."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry
from .errors import DataError

SKIN_EPSILONS = (0.00125, 0.0025, 0.005, 0.01)
WIDE_EPSILONS = (0.00125, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: its classes, its image modality and the paper's attack ladder.

    Class index i is `class_names[i]`. `grayscale` tasks are read as one channel and handed out as RGB
    (the channel repeated); `xray_enhancement` tasks go through `enhance_xray` before resizing.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    grayscale: bool
    epsilons: tuple[float, ...]
    reference_epsilon: float
    epoch_fraction: float | None
    xray_enhancement: bool = False
    description: str = ""


TASKS: Registry[TaskSpec] = Registry("task", error=DataError)


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    if len(spec.class_names) != spec.num_classes:
        raise ValueError(f"task {spec.name!r}: {len(spec.class_names)} class names for {spec.num_classes} classes")
    return TASKS.register(spec.name, spec, replace=replace)


register_task(TaskSpec(
    name="skin_lesion", num_classes=7,
    # HAM10000 dx codes in MedMNIST's (alphabetical) index order
    class_names=("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"),
    grayscale=False, epsilons=SKIN_EPSILONS, reference_epsilon=0.0025, epoch_fraction=0.1,
    description="HAM10000 dermoscopy, 7 diagnostic categories",
))
register_task(TaskSpec(
    name="diabetic_retinopathy", num_classes=2, class_names=("negative", "positive"),
    grayscale=False, epsilons=WIDE_EPSILONS, reference_epsilon=0.01, epoch_fraction=None,
    description="fundus photographs; grades 0-1 negative, 2-4 (moderate or worse) positive",
))
register_task(TaskSpec(
    name="pneumothorax", num_classes=2, class_names=("negative", "positive"),
    grayscale=True, epsilons=WIDE_EPSILONS, reference_epsilon=0.01, epoch_fraction=None, xray_enhancement=True,
    description="chest X-rays; 'Pneumothorax' among the findings positive, everything else negative",
))


def list_tasks() -> list[str]:
    return list(TASKS)


def get_task(name: str) -> TaskSpec:
    return TASKS.lookup(name)
