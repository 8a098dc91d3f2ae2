"""The tasks as a registry of frozen TaskSpec records: everything about a data set that is known without reading it.

A data set is one source file plus one registration. The source file holds the loader of its published layout,
`load(request: SourceRequest) -> Catalog`, and a renderer of its stand-in, `render(label, size, rng) -> uint8 image`
(the paper's three tasks keep their loaders in trainables/data/sources/ham10000.py, kaggle_dr.py, chestxray14.py and
their stand-ins together in synthetic.py). The registration is a `register_task(TaskSpec(...))` naming them by
"module:function" (imported when first used, spec.lazy) with the facts the rest of the code needs before any file
is read: classes, modality, the attack ladder, the published split sizes (`--dry-run`'s cost model) and the
stand-in's class priors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .enums import SOURCE_NAMES, Source
from .registry import Registry

SKIN_EPSILONS = (0.00125, 0.0025, 0.005, 0.01)
WIDE_EPSILONS = (0.00125, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
MIN_IMAGE_SIZE = 24  # px: the smallest image any source renders or resizes to
STANDIN_SPLIT_SIZES = {"train": 600, "val": 100, "test": 200}  # the stand-ins' default (train / val / test)


@dataclass(frozen=True)
class Loader:
    """A file source of a task: its loader ("module:function", (SourceRequest) -> Catalog) and the environment
    variable naming its data folder."""

    function: str
    root_env: str


@dataclass(frozen=True)
class StandIn:
    """The task's procedural stand-in: its renderer ("module:function", (label, size, rng) -> uint8 (size, size)
    gray or (size, size, 3) RGB), the class priors of its labels and a code separating its random streams."""

    render: str
    priors: tuple[float, ...]
    code: int


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: its classes, its image modality, the paper's attack ladder and where its images come from.

    Class index i is `class_names[i]`. `grayscale` tasks are read as one channel and handed out as RGB
    (the channel repeated); `xray_enhancement` tasks go through `enhance_xray` before resizing.
    `loaders`: file source name -> Loader; `standin`: the synthetic source (None: the task has none);
    `published_splits`: file source name -> (train, val, test) of the release, what `--dry-run` costs a trial by.
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
    loaders: Mapping[str, Loader] = field(default_factory=dict)
    standin: StandIn | None = None
    published_splits: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources this task can be read from, in the closed set's order."""
        return tuple(name for name in SOURCE_NAMES
                     if name in self.loaders or (name == Source.SYNTHETIC.value and self.standin is not None))

    def root_env(self, source: str) -> str | None:
        """The environment variable naming the data folder of a file source; None for the stand-ins."""
        loader = self.loaders.get(source)
        return loader.root_env if loader else None

    def split_sizes(self, source: str, max_train: int | None = None,
                    max_test: int | None = None) -> tuple[int, int, int]:
        """(train, val, test) a trial of this task reads at most: the stand-ins' generated sizes, else the release's
        published sizes capped by max_train and max_test (val: at most ceil(max_test / 2)). ValueError when neither
        the release's sizes nor both caps are known."""
        if source == Source.SYNTHETIC.value:
            sizes = standin_split_sizes(max_train, max_test)
            return sizes["train"], sizes["val"], sizes["test"]
        published = self.published_splits.get(source)
        if published is None:
            if max_train is None or max_test is None:
                raise ValueError(f"the cost of task {self.name!r} on source {source!r} is unknown: its TaskSpec gives "
                                 f"no published_splits[{source!r}] = (train, val, test); add them to its registration "
                                 f"or cap the splits with --set max_train=N --set max_test=M")
            published = (max_train, -(-max_test // 2), max_test)
        train, val, test = published
        if max_train is not None:
            train = min(train, max_train)
        if max_test is not None:
            val, test = min(val, -(-max_test // 2)), min(test, max_test)
        return train, val, test


def standin_split_sizes(max_train: int | None, max_test: int | None) -> dict[str, int]:
    """The stand-ins' split sizes: max_train and max_test set train and test, and val becomes ceil(max_test / 2)."""
    sizes = dict(STANDIN_SPLIT_SIZES)
    if max_train is not None:
        sizes["train"] = max_train
    if max_test is not None:
        sizes["test"], sizes["val"] = max_test, -(-max_test // 2)
    return sizes


def epoch_size(n: int, epoch_fraction: float | None) -> int:
    """Samples per epoch: all n, or round(fraction * n) (at least 1) for the skin task's per-epoch subset."""
    if epoch_fraction is None:
        return n
    return max(1, int(round(epoch_fraction * n)))


TASKS: Registry[TaskSpec] = Registry("task")


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    if len(spec.class_names) != spec.num_classes:
        raise ValueError(f"task {spec.name!r}: {len(spec.class_names)} class names for {spec.num_classes} classes")
    file_sources = [name for name in SOURCE_NAMES if name != Source.SYNTHETIC.value]
    unknown = sorted((set(spec.loaders) | set(spec.published_splits)) - set(file_sources))
    if unknown:
        raise ValueError(f"task {spec.name!r}: {unknown[0]!r} is not a file source; expected one of: "
                         f"{', '.join(file_sources)} (the stand-in is the TaskSpec's standin)")
    if spec.standin is not None and len(spec.standin.priors) != spec.num_classes:
        raise ValueError(f"task {spec.name!r}: {len(spec.standin.priors)} stand-in priors for {spec.num_classes} "
                         f"classes")
    return TASKS.register(spec.name, spec, replace=replace)


def list_tasks() -> list[str]:
    return list(TASKS)


def get_task(name: str) -> TaskSpec:
    return TASKS.lookup(name)


_SOURCES = "trainables.data.sources"
_MEDMNIST = Loader(f"{_SOURCES}.medmnist:load_medmnist", "ARS_MEDMNIST_DIR")

register_task(TaskSpec(
    name="skin_lesion", num_classes=7,
    # HAM10000 dx codes in MedMNIST's (alphabetical) index order
    class_names=("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"),
    grayscale=False, epsilons=SKIN_EPSILONS, reference_epsilon=0.0025, epoch_fraction=0.1,
    description="HAM10000 dermoscopy, 7 diagnostic categories",
    loaders={"original": Loader(f"{_SOURCES}.ham10000:load_ham10000", "ARS_HAM10000_DIR"), "medmnist": _MEDMNIST},
    standin=StandIn(f"{_SOURCES}.synthetic:render_skin", priors=(0.04, 0.05, 0.09, 0.03, 0.09, 0.67, 0.03), code=101),
    # HAM10000, 10,015 images, 70/10/20; seeded grouped splits are within a few records of these
    published_splits={"original": (7010, 1002, 2003), "medmnist": (7007, 1003, 2005)},
))
register_task(TaskSpec(
    name="diabetic_retinopathy", num_classes=2, class_names=("negative", "positive"),
    grayscale=False, epsilons=WIDE_EPSILONS, reference_epsilon=0.01, epoch_fraction=None,
    description="fundus photographs; grades 0-1 negative, 2-4 (moderate or worse) positive",
    loaders={"original": Loader(f"{_SOURCES}.kaggle_dr:load_kaggle_dr", "ARS_KAGGLE_DR_DIR"), "medmnist": _MEDMNIST},
    standin=StandIn(f"{_SOURCES}.synthetic:render_fundus", priors=(0.7, 0.3), code=202),
    # Kaggle DR 2015 train, 35,126 images, 70/10/20
    published_splits={"original": (24588, 3513, 7025), "medmnist": (1080, 120, 400)},
))
register_task(TaskSpec(
    name="pneumothorax", num_classes=2, class_names=("negative", "positive"),
    grayscale=True, epsilons=WIDE_EPSILONS, reference_epsilon=0.01, epoch_fraction=None, xray_enhancement=True,
    description="chest X-rays; 'Pneumothorax' among the findings positive, everything else negative",
    loaders={"original": Loader(f"{_SOURCES}.chestxray14:load_chestxray14", "ARS_CHESTXRAY14_DIR"),
             "medmnist": _MEDMNIST},
    standin=StandIn(f"{_SOURCES}.synthetic:render_chest", priors=(0.78, 0.22), code=303),
    # ChestX-ray14: the official test list, val 12.5 % of the rest
    published_splits={"original": (75708, 10816, 25596), "medmnist": (78468, 11219, 22433)},
))
