"""A data set is one source file plus one registration: a toy data set written here (its loader of a published-style
layout and its stand-in renderer in one module, its facts in one TaskSpec) is checked, costed, drawn and read by the
same code as the paper's three, and a task whose release size is unknown is one line and exit 2 at --dry-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sweep.cost import trial_cost
from trainables.data import open_task
from trainables.spec import TrialConfig
from trainables.spec.tasks import TASKS, Loader, StandIn, TaskSpec, register_task

ROOT = Path(__file__).resolve().parents[1]

# the source file: the whole of the data set's code (a CSV of image,finding beside a folder of PNGs; a stand-in
# with a bright spot on the positive images)
SOURCE_FILE = '''
import numpy as np

from trainables.data.catalog import Catalog, class_indices, file_fingerprint, read_files
from trainables.data.sources.files import read_table


def load(request):
    table = read_table(request.root / "findings.csv", ("image", "finding"), "the toy findings (image, finding)")
    images = table["image"].to_numpy()

    def read(indices):
        return read_files(lambda index: request.root / "images" / images[index], indices, size=request.image_size,
                          grayscale=request.task.grayscale, xray_enhancement=request.task.xray_enhancement)

    return Catalog(ids=images, labels=class_indices(table["finding"], request.task.class_names,
                                                     source=request.root / "findings.csv", column="finding"),
                   read=read, fingerprint=file_fingerprint(request.root / "findings.csv"), info={"dataset": "toy"})


def render(label, size, rng):
    image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
    if label == 1:
        image[size // 4: size // 2, size // 4: size // 2] = 250
    return image
'''


def toy_task(source_file: Path, published: dict | None = None) -> TaskSpec:
    """The one registration."""
    return TaskSpec(name="toy_spots", num_classes=2, class_names=("clear", "spot"), grayscale=False,
                    epsilons=(0.01, 0.02), reference_epsilon=0.01, epoch_fraction=None,
                    loaders={"original": Loader(f"{source_file}:load", "ARS_TOY_SPOTS_DIR")},
                    standin=StandIn(f"{source_file}:render", priors=(0.75, 0.25), code=909),
                    published_splits=published if published is not None else {"original": (40, 6, 12)})


def write_release(root: Path, count: int = 40) -> Path:
    (root / "images").mkdir(parents=True)
    rows = ["image,finding"]
    for index in range(count):
        label = index % 4 == 0
        image = np.full((40, 40, 3), 30, np.uint8)
        if label:
            image[10:20, 10:20] = 240
        cv2.imwrite(str(root / "images" / f"im{index}.png"), image)
        rows.append(f"im{index}.png,{'spot' if label else 'clear'}")
    (root / "findings.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def toy(tmp_path):
    source_file = tmp_path / "toy_spots.py"
    source_file.write_text(SOURCE_FILE)
    register_task(toy_task(source_file))
    yield source_file
    TASKS._items.pop("toy_spots")


def test_a_toy_data_set_is_checked_costed_drawn_and_read_like_the_paper_s(toy, tmp_path):
    trial = TrialConfig(task="toy_spots", scale="mini", weights=None, attack_preset="tiny", max_train=24,
                        max_test=8).resolved()
    assert (trial.epsilons, trial.reference_epsilon, trial.image_size) == ((0.01, 0.02), 0.01, 48)
    assert trial_cost(trial).images_per_epoch == 24  # the stand-in's generated size
    original = trial.replace(source="original", max_train=None, max_test=None)
    assert trial_cost(original).images_per_epoch == 40  # the release's published size, from the TaskSpec
    unsized = toy_task(toy, published={})
    assert unsized.split_sizes("original", 30, 9) == (30, 5, 9)  # both caps known: so is the cost
    with pytest.raises(ValueError, match="the cost of task 'toy_spots' on source 'original' is unknown"):
        unsized.split_sizes("original", 30, None)

    drawn = open_task("toy_spots", "synthetic", image_size=32, seed=1, max_train=24, max_test=8)
    assert drawn.x_train.shape == (24, 32, 32, 3) and np.bincount(drawn.y_train).tolist() == [18, 6]
    images = drawn.x_train[np.arange(24)]
    spots = images[drawn.y_train == 1][:, 8:16, 8:16].mean()
    assert spots > images[drawn.y_train == 0][:, 8:16, 8:16].mean() + 100  # the renderer drew them

    release = write_release(tmp_path / "release")
    read = open_task("toy_spots", "original", image_size=32, seed=0, data_root=release,
                     cache_dir=tmp_path / "cache")
    total = len(read.y_train) + len(read.y_val) + len(read.y_test)
    assert total == 40 and int(np.concatenate([read.y_train, read.y_val, read.y_test]).sum()) == 10
    with pytest.raises(ValueError, match="task 'toy_spots' cannot be read from source 'medmnist'; its sources: "
                                         "synthetic, original"):
        trial.replace(source="medmnist").resolved()


def dry_run(tmp_path: Path, source_file: Path, published: dict, *extra: str) -> subprocess.CompletedProcess:
    """`--dry-run` of a sweep over the toy task, declared (with the task's registration) in a --sweeps-file."""
    sweeps = tmp_path / "toy_sweeps.py"
    sweeps.write_text(
        "from search_spaces.sweeps import Sweep, axis, register_sweep\n"
        "from trainables.spec.tasks import Loader, StandIn, TaskSpec, register_task\n"
        f"register_task(TaskSpec(name='toy_spots', num_classes=2, class_names=('clear', 'spot'), grayscale=False,\n"
        f"    epsilons=(0.01, 0.02), reference_epsilon=0.01, epoch_fraction=None,\n"
        f"    loaders={{'original': Loader('{source_file}:load', 'ARS_TOY_SPOTS_DIR')}},\n"
        f"    standin=StandIn('{source_file}:render', priors=(0.75, 0.25), code=909),\n"
        f"    published_splits={published!r}))\n"
        "register_sweep(Sweep('toy_grid', 'the toy task', axes=(axis('task', ['toy_spots']),)))\n")
    return subprocess.run([sys.executable, "-m", "sweep.run", "--sweeps-file", str(sweeps), "toy_grid", "--profile",
                           "tiny", "--dry-run", *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_a_sweeps_file_runs_a_toy_data_set_s_dry_run_and_an_unknown_cost_is_one_line(tmp_path):
    source_file = tmp_path / "toy_spots.py"
    source_file.write_text(SOURCE_FILE)
    known = dry_run(tmp_path, source_file, {"original": (40, 6, 12)}, "--set", "source=original", "--json")
    assert known.returncode == 0, known.stderr
    trial = json.loads(known.stdout.splitlines()[0])
    assert (trial["task"], trial["source"], trial["epsilons"]) == ("toy_spots", "original", [0.01, 0.02])

    unknown = dry_run(tmp_path, source_file, {}, "--set", "source=original", "--set", "max_train=null")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().splitlines() == [
        "error: the cost of task 'toy_spots' on source 'original' is unknown: its TaskSpec gives no "
        "published_splits['original'] = (train, val, test); add them to its registration or cap the splits with "
        "--set max_train=N --set max_test=M"]
