"""Per-point outcomes: each finished trial's `robustness/points.npz` as one tidy frame, and the pairs it allows.

The frame has one row per trial x worst-case point x epsilon (epsilon 0.0 = clean):

    run_id, run_name, task, backbone, scale, attention, placement, seed, enhancement, adv_training,
    point (index in the evaluated test split),
    label, clean_prediction, epsilon,
    robust        correct at epsilon under every attack of the trial (the worst case)
    prediction    the adversarial prediction at epsilon (robustness.evaluate.clinical.adversarial_predictions)
    pgd_robust    correct at epsilon under the paper's PGD alone (the first attack), same point
    pgd_prediction   its adversarial prediction under that PGD
    radius        the smallest adversarial epsilon found for the point (inf: never broken; 0: wrong clean)
    trusted       every sanity check of the trial passed (only trusted trials enter comparisons and verdicts)

Only points of the worst case's set (`in_ensemble`) are kept, so every row has both numbers. Pairs are formed by the
same task, backbone, scale, seed, enhancement, training recipe (adv_training: an adversarially trained model is
never paired with a standard one) and point index (`pairs`). `frame.attrs["missing"]`: one line per finished
trial whose points could not be read (e.g. a run from before per-point outcomes were logged); `frame.attrs["untrusted"]`:
one line per trial whose checks failed, naming them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from trainables.spec.tasks import get_task
from trainables.robustness.evaluate.clinical import adversarial_predictions
from trainables.spec import keys
from trainables.tracking.reader import download_artifact

from .load import finished, trials, with_recipe

PAIR_KEYS = ("task", "backbone", "scale", "seed", "enhancement", "adv_training", "point", "epsilon")
TRIAL_KEYS = ("run_id", "run_name", "task", "backbone", "scale", "attention", "placement", "seed", "enhancement",
              "adv_training")
POINT_COLUMNS = (*TRIAL_KEYS, "point", "label", "clean_prediction", "epsilon", "robust", "prediction", "pgd_robust",
                 "pgd_prediction", "radius", "trusted")


def points_rows(arrays: dict[str, np.ndarray], num_classes: int) -> pd.DataFrame:
    """One trial's points.npz arrays -> its rows (without the trial keys)."""
    keep = np.asarray(arrays["in_ensemble"], dtype=bool)
    epsilons = np.asarray(arrays["epsilons"], dtype=float)
    attacks = [str(a) for a in np.asarray(arrays["attacks"])]
    labels, clean = np.asarray(arrays["label"])[keep], np.asarray(arrays["clean_prediction"])[keep]
    robust = np.asarray(arrays["robust"], dtype=bool)[keep]
    predicted = adversarial_predictions(robust, labels, clean, np.asarray(arrays["broken_prediction"])[keep],
                                        num_classes)
    pgd = np.asarray(arrays[f"robust/{attacks[0]}"], dtype=bool)[keep]
    pgd_predicted = adversarial_predictions(pgd, labels, clean,
                                            np.asarray(arrays[f"broken_prediction/{attacks[0]}"])[keep], num_classes)
    count, width = robust.shape
    return pd.DataFrame({
        "point": np.repeat(np.asarray(arrays["point"])[keep], width), "label": np.repeat(labels, width),
        "clean_prediction": np.repeat(clean, width), "epsilon": np.tile(epsilons, count),
        "robust": robust.ravel(), "prediction": predicted.ravel(), "pgd_robust": pgd.ravel(),
        "pgd_prediction": pgd_predicted.ravel(),
        "radius": np.repeat(np.asarray(arrays["radius"], dtype=float)[keep], width),
    })


def download_points(run_id: str, tracking_uri: str, folder: Path) -> dict[str, np.ndarray]:
    path = download_artifact(tracking_uri, run_id, keys.POINTS_ARTIFACT, folder)
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def load_points(frame: pd.DataFrame, *, reader=None) -> pd.DataFrame:
    """The per-point frame of a sweep's finished trials (see the module docstring).

    reader(run_id) -> points.npz arrays; default: download from the frame's tracking URI."""
    runs = trials(finished(frame))
    runs = with_recipe(runs)
    parts, missing = [], []
    untrusted = [f"{run['run_name']}: checks failed on {', '.join(run['failed_checks'])}"
                 for run in runs.to_dict("records") if run["failed_checks"]]
    with tempfile.TemporaryDirectory() as cache:
        if reader is None:
            uri = frame.attrs["tracking_uri"]
            reader = lambda run_id: download_points(run_id, uri, Path(cache) / run_id)  # noqa: E731
        for run in runs.to_dict("records"):
            try:
                arrays = reader(run["run_id"])
                rows = points_rows(arrays, get_task(run["task"]).num_classes)
            except Exception as error:  # mlflow raises several types for a missing artifact; old files lack keys
                missing.append(f"{run['run_name']}: no usable {keys.POINTS_ARTIFACT} ({type(error).__name__})")
                continue
            parts.append(rows.assign(**{key: run[key] for key in TRIAL_KEYS}, trusted=not run["failed_checks"]))
    points = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(POINT_COLUMNS))
    points = points[list(POINT_COLUMNS)]
    points.attrs.update(missing=missing, untrusted=untrusted, experiment=frame.attrs.get("experiment"))
    return points


def pairs(points: pd.DataFrame) -> pd.DataFrame:
    """Each attention variant's points beside its baseline's (attention "none", same PAIR_KEYS): columns
    PAIR_KEYS, attention, placement, robust, base_robust,
    pgd_robust, base_pgd_robust, radius, base_radius."""
    base = points[points["attention"] == "none"]
    variant = points[points["attention"] != "none"]
    columns = ["robust", "pgd_robust", "radius"]
    merged = variant[[*PAIR_KEYS, "attention", "placement", *columns]].merge(
        base[[*PAIR_KEYS, *columns]].rename(columns={c: f"base_{c}" for c in columns}), on=list(PAIR_KEYS))
    return merged.sort_values([*PAIR_KEYS[:6], "attention", "placement", "epsilon", "point"],
                              kind="stable").reset_index(drop=True)
