"""The one reader of MLflow: a sweep's trial runs as a tidy DataFrame, and a run's explanation arrays.

Every MLflow key is read through the names in `trainables.spec.keys`; nothing else in `analysis` touches
MLflow keys. Runs that are not trials (a sweep's parent run, report and Pareto-front runs) carry a `kind` tag and
are left out; whether a sweep is a search (whose trials share run names) is read from each run's `sweep_kind` tag,
so a sweep declared in a --sweeps-file reads the same as a built-in one.

The frame has one row per trial x epsilon (epsilon > 0; clean accuracy is the `clean_acc` column):

    run_id, run_name, trial_id, sweep, profile, task, backbone, scale, attention, placement, seed,
    objective_split  the split of the objectives Ray Tune / Optuna saw: "test", or "val" (a search); the accuracies
                     here are always the test split's
    source           where the images came from: "synthetic" (stand-ins), "original", "medmnist"; "?" not logged
    enhancement      where the chest X-ray enhancement ran, i.e. the threat model: "data" (before the attack: the
                     attacker perturbs the enhanced image) | "model" (a layer inside the model: it perturbs the radiograph)
    adv_training     the training recipe: "none" (standard training; runs from before the option), "pgd", "trades"
    reference_epsilon  the trial's reference epsilon (its robust objective's, and adversarial training's default);
                     runs that did not log it: their task's
    status           "finished" | "failed" | "running" | "incomplete" (finished but without accuracy metrics)
    start_time       pandas Timestamp (UTC)
    epsilon          float (NaN when a failed run logged no epsilons at all)
    accuracy         robust accuracy at epsilon: the worst case over the trial's attacks (NaN when not that far)
    pgd_accuracy     accuracy under the paper's PGD alone at epsilon (on all evaluated points)
    pgd_accuracy_same_points   the same PGD on the worst case's points (its pair for the overstatement)
    clean_acc, robust_acc_ref, robust_auc, robust_objective   the trial's objectives (trainables.objectives)
    median_radius    median smallest adversarial epsilon found (NaN: not logged, or over half never broken)
    pgd_points, worst_case_points   how many test points the PGD and the worst-case numbers rest on
    checks           dict check name -> passed (bool); {} when no check was logged
    failed_checks    tuple of the names of failed checks

`frame.attrs` holds: experiment, experiment_id, tracking_uri, warnings (list of one-line strings, e.g. mixed
profiles), superseded (run ids dropped because a newer run of the same trial exists, e.g. after --fresh).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainables import tracking
from trainables.spec import TrialConfig, experiment_name
from trainables.spec import keys
from trainables.spec.tasks import get_task
from trainables.tracking.reader import download_artifact, search_all

KIND_TAG = keys.TAG_KIND  # parent runs of sweeps and summary runs (report, Pareto front) are not trials
SUMMARY_KIND = keys.SUMMARY_KIND
SAMPLES_ARTIFACT = keys.SAMPLES_ARTIFACT

IDENTITY = ("task", "backbone", "scale", "attention", "placement", "seed")
MODEL_KEYS = ("task", "backbone", "attention", "placement")  # a "model": one line in a figure, seeds pooled
if not set(IDENTITY) <= set(TrialConfig.field_names()):
    raise ImportError(f"analysis.load expects TrialConfig fields {IDENTITY}")

COLUMNS = ("run_id", "run_name", "trial_id", "sweep", "profile", *IDENTITY, "objective_split", "enhancement", "source",
           "adv_training", "reference_epsilon", "status",
           "start_time", "epsilon",
           "accuracy", "pgd_accuracy", "pgd_accuracy_same_points", *keys.OBJECTIVES, "median_radius", "pgd_points",
           "worst_case_points", "worst_case_clean", "checks", "failed_checks")

DEFAULT_ENHANCEMENT = "data"  # runs from before the option: X-ray enhancement ran in the data, before the attack
STANDARD_TRAINING = "none"  # adv_training of runs from before the option: trained on clean images only
def with_recipe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its adv_training column, STANDARD_TRAINING where absent or empty (tables or runs from before
    the option), so grouping by the training recipe never drops a row."""
    recipe = frame.get("adv_training", pd.Series(index=frame.index, dtype=object))
    return frame.assign(adv_training=recipe.astype(object).fillna(STANDARD_TRAINING))


UNKNOWN = "?"  # identity of a run that logged no params and has no trial-style name
MLFLOW_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed", "RUNNING": "running",
                 "SCHEDULED": "running"}


class AnalysisInputError(ValueError):
    """Input the analysis cannot use (unknown experiment, empty experiment): the CLI prints it and exits 2."""


def load_sweep(sweep: str, profile: str = "paper", *, tracking_uri: str | None = None) -> pd.DataFrame:
    """The trials of experiment "<sweep>-<profile>" (see the module docstring for the columns)."""
    return load_experiment(experiment_name(sweep, profile), tracking_uri=tracking_uri, sweep=sweep, profile=profile)


def load_experiment(name: str, *, tracking_uri: str | None = None, sweep: str | None = None,
                    profile: str | None = None) -> pd.DataFrame:
    uri = tracking_uri or tracking.default_tracking_uri()
    check_store_exists(uri)
    client = tracking.mlflow_client(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage != "active":
        existing = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        listed = ", ".join(existing) if existing else "none"
        raise AnalysisInputError(f"no MLflow experiment {name!r} at {uri}; experiments there: {listed}")
    runs = [run for run in search_all(client, experiment.experiment_id, order_by=None) if KIND_TAG not in run.data.tags]
    if not runs:
        command = f"python -m sweep.run {sweep} --profile {profile}" if sweep and profile else "python -m sweep.run"
        raise AnalysisInputError(f"MLflow experiment {name!r} at {uri} has no trial runs; run the sweep first "
                                 f"({command} --tracking-uri {uri})")
    kept, superseded = newest_per_trial(runs)
    rows = [row for run in kept for row in run_rows(run)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values(["task", "backbone", "attention", "placement", "seed", "epsilon"],
                              na_position="last", kind="stable").reset_index(drop=True)
    frame.attrs.update(experiment=name, experiment_id=experiment.experiment_id, tracking_uri=uri,
                       superseded=superseded,
                       warnings=consistency_warnings(kept, name, sweep, profile) + recipe_warnings(frame))
    return frame


def check_store_exists(uri: str) -> None:
    """Reading must not create an empty sqlite store where the user mistyped a path, nor wait unbounded for a server."""
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            raise AnalysisInputError(f"no MLflow database at {path} (tracking URI {uri}); pass --tracking-uri "
                                     f"sqlite:////abs/path/mlflow.db as given to sweep.run")
    elif uri.startswith(("http://", "https://")):  # MLflow's client would retry an absent server for minutes
        try:
            tracking.check_server(uri)
        except ValueError as error:
            raise AnalysisInputError(str(error)) from None


def is_search_run(run) -> bool:
    """Search trials (Optuna) are distinct trials even where their configs' names agree: each is kept."""
    return run.data.tags.get(keys.TAG_SWEEP_KIND) == "search"


def newest_per_trial(runs: list) -> tuple[list, list[str]]:
    """One run per trial: per run name the newest finished one, else the newest one of any status; every run of
    a search is its own trial."""
    def rank(run) -> tuple:
        return (run_status(run) == "finished", run.info.start_time or 0)

    chosen: dict[str, Any] = {}
    for run in runs:
        key = run.info.run_id if is_search_run(run) else run.info.run_name
        if key not in chosen or rank(run) > rank(chosen[key]):
            chosen[key] = run
    kept_ids = {run.info.run_id for run in chosen.values()}
    return list(chosen.values()), sorted(run.info.run_id for run in runs if run.info.run_id not in kept_ids)


def accuracy_metrics(metrics: dict[str, float], attack: str | None = None) -> dict[float, float]:
    """epsilon -> accuracy: the worst case (acc_at_eps/<eps>), or after one attack (acc_at_eps/<attack>/<eps>)."""
    prefix = keys.ACC_AT_EPS + (f"{attack}/" if attack else "")
    return {float(key[len(prefix):]): value for key, value in metrics.items()
            if key.startswith(prefix) and "/" not in key[len(prefix):]}


def run_status(run) -> str:
    status = run.data.tags.get(keys.TAG_STATUS) or MLFLOW_STATUS.get(run.info.status, "failed")
    if status == keys.STATUS_FINISHED and not accuracy_metrics(run.data.metrics):
        return "incomplete"
    return status


def check_outcomes(run) -> tuple[dict[str, bool], tuple[str, ...]]:
    metrics = run.data.metrics
    checks = {key[len(keys.CHECK):]: bool(value >= 0.5) for key, value in metrics.items()
              if key.startswith(keys.CHECK)}
    from_tag = [n for n in run.data.tags.get(keys.TAG_CHECKS_FAILED, "").split(",") if n]
    failed = sorted({name for name, passed in checks.items() if not passed} | set(from_tag))
    return checks, tuple(failed)


def parse_epsilons(text: str | None) -> list[float]:
    try:
        return [float(e) for e in (text or "").split(",") if e.strip()]
    except ValueError:
        return []


def identity_from_name(run_name: str) -> dict[str, Any]:
    """Fallback for runs without params: "<task>-<backbone>-<attention>-<placement>-s<seed>"."""
    parts = (run_name or "").split("-")
    if len(parts) == 5 and parts[4].startswith("s") and parts[4][1:].isdigit():
        return dict(zip(("task", "backbone", "attention", "placement"), parts[:4]), seed=int(parts[4][1:]))
    return {}


def run_rows(run) -> list[dict[str, Any]]:
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    fallback = identity_from_name(run.info.run_name)
    identity = {key: params.get(key, fallback.get(key, UNKNOWN)) for key in IDENTITY}
    try:
        identity["seed"] = int(identity["seed"])
    except (TypeError, ValueError):
        identity["seed"] = -1
    checks, failed = check_outcomes(run)
    base = {
        "run_id": run.info.run_id, "run_name": run.info.run_name, "trial_id": tags.get(keys.TAG_TRIAL_ID),
        "sweep": params.get("sweep", tags.get("sweep")), "profile": params.get("profile", tags.get("profile")),
        **identity, "objective_split": params.get("objective_split", "test"),
        "enhancement": params.get("enhancement", DEFAULT_ENHANCEMENT), "source": params.get("source", UNKNOWN),
        "adv_training": params.get("adv_training", STANDARD_TRAINING),
        "reference_epsilon": reference_epsilon(params.get("reference_epsilon"), identity["task"]),
        "status": run_status(run),
        "start_time": pd.Timestamp(run.info.start_time or 0, unit="ms", tz="UTC"),
        **{name: float(metrics.get(name, math.nan)) for name in keys.OBJECTIVES},
        "checks": checks, "failed_checks": failed,
    }
    accuracy = {eps: acc for eps, acc in accuracy_metrics(metrics).items() if eps > 0}
    paper = accuracy_metrics(metrics, keys.PAPER_ATTACK_NAME)
    if not paper and params.get("attack.attacks", keys.PAPER_ATTACK_NAME) == keys.PAPER_ATTACK_NAME:
        paper = accuracy  # runs from before the ensemble: their one attack was the paper's PGD
    paper_same_points = accuracy_metrics(metrics, f"{keys.PAPER_ATTACK_NAME}/{keys.WORST_CASE_POINTS}") or paper
    base.update({
        "median_radius": float(metrics.get(keys.MEDIAN_RADIUS, math.nan)),
        "pgd_points": float(metrics.get(keys.POINTS + keys.PAPER_ATTACK_NAME, math.nan)),
        "worst_case_points": float(metrics.get(keys.POINTS + keys.WORST_CASE_POINTS, math.nan)),
        # the clean accuracy of the worst case's own points (acc_at_eps/0): where its curve starts
        "worst_case_clean": float(metrics.get(keys.ACC_AT_EPS + "0", metrics.get(keys.CLEAN_ACC, math.nan))),
    })
    epsilons = sorted(set(accuracy) | set(parse_epsilons(params.get("epsilons")))) or [math.nan]
    return [{**base, "epsilon": eps, "accuracy": float(accuracy.get(eps, math.nan)),
             "pgd_accuracy": float(paper.get(eps, math.nan)),
             "pgd_accuracy_same_points": float(paper_same_points.get(eps, math.nan))} for eps in epsilons]


def reference_epsilon(logged: str | None, task: str) -> float:
    """The logged reference epsilon, else the task's (runs from before it was logged resolved), NaN if neither."""
    try:
        return float(logged)
    except (TypeError, ValueError):
        pass
    try:
        return float(get_task(task).reference_epsilon)
    except ValueError:  # an unknown task name
        return math.nan


def recipe_warnings(frame: pd.DataFrame) -> list[str]:
    """Standard and adversarially trained trials in one experiment: what keeps them apart and what does not yet."""
    recipes = sorted(set(frame["adv_training"].dropna()))
    if len(recipes) < 2:
        return []
    return [f"training recipes {', '.join(recipes)} in one experiment: paired comparisons, claims and the ablation "
            f"keep them apart, but the accuracy tables and curves still pool them per attention (their n counts both)"]


def consistency_warnings(runs: list, name: str, sweep: str | None, profile: str | None) -> list[str]:
    """Runs whose params disagree with the experiment they sit in (an experiment is one sweep x profile)."""
    warnings = []
    for key, expected in (("profile", profile), ("sweep", sweep)):
        values: dict[str, list[str]] = {}
        for run in runs:
            value = run.data.params.get(key, run.data.tags.get(key))
            if value is not None:
                values.setdefault(value, []).append(run.info.run_name)
        odd = {v: names for v, names in values.items() if v != expected} if expected else {}
        if len(values) > 1 or odd:
            majority = max(values, key=lambda v: len(values[v]))
            parts = [f"{v} ({len(n)} run(s): {', '.join(sorted(n)[:4])}{', ...' if len(n) > 4 else ''})"
                     for v, n in sorted(values.items()) if v != (expected or majority)]
            warnings.append(f"mixed {key}s in experiment {name!r}: expected {expected or majority}, "
                            f"but {'; '.join(parts)}")
    return warnings


def trials(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per trial (the per-epsilon columns dropped)."""
    return frame.drop_duplicates("run_id").drop(columns=["epsilon", "accuracy", "pgd_accuracy",
                                                                "pgd_accuracy_same_points"]).reset_index(drop=True)


def finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "finished"]


def load_explanations(run_id: str, *, tracking_uri: str,
                      destination: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The arrays of `explanations/samples.npz` of one run (see trainables.explain), downloaded once.

    Raises AnalysisInputError when the run has no such artifact (e.g. it failed before explaining).
    """
    target = Path(destination) if destination else None
    cached = target / SAMPLES_ARTIFACT if target else None
    if cached is None or not cached.is_file():
        if target:
            target.mkdir(parents=True, exist_ok=True)
        try:
            path = download_artifact(tracking_uri, run_id, SAMPLES_ARTIFACT, target)
        except Exception as error:  # mlflow raises several types (OSError, MlflowException) for a missing file
            raise AnalysisInputError(f"run {run_id} has no {SAMPLES_ARTIFACT} ({type(error).__name__})") from None
        cached = Path(path)
    with np.load(cached, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


SMOOTHING_COLUMNS = ("run_id", *MODEL_KEYS, "noise_sigma", "seed", "measure", "x", "value",
                     "points")  # points: the trial's certified points (NaN if it did not log them)
SMOOTHING_MEASURES = {  # measure -> (metric prefix, what x is)
    "certified": (keys.CERTIFIED_ACC_AT_EPS, "epsilon"),  # the certified lower bound of the smoothed classifier g
    "smoothed": (keys.SMOOTHED_ACC_AT_EPS, "epsilon"),  # g under the EoT attacks: its empirical upper bound
    "base": (keys.ACC_AT_EPS, "epsilon"),  # the base model f's worst case over the trial's attacks
    "certified_l2": (keys.CERTIFIED_ACC_AT_L2, "L2 radius"),  # g's certified accuracy at L2 radii
}


def load_smoothing(frame: pd.DataFrame) -> pd.DataFrame:
    """The certified trials of a loaded frame (those that logged certified_acc_at_eps/0), one row per finished trial
    x measure x x (SMOOTHING_MEASURES); empty, with SMOOTHING_COLUMNS, when no trial certified."""
    kept = set(finished(frame)["run_id"])
    client = tracking.mlflow_client(frame.attrs["tracking_uri"])
    rows = []
    for run in search_all(client, frame.attrs["experiment_id"], order_by=None):
        metrics = run.data.metrics
        if run.info.run_id not in kept or keys.CERTIFIED_ACC_AT_EPS + "0" not in metrics:
            continue
        identity = frame[frame["run_id"] == run.info.run_id].iloc[0]
        base = {"run_id": run.info.run_id, **{key: identity[key] for key in MODEL_KEYS},
                "noise_sigma": float(run.data.params.get("noise_sigma", math.nan)), "seed": int(identity["seed"]),
                "points": float(metrics.get(keys.CERTIFIED_POINTS, math.nan))}
        for measure, (prefix, _) in SMOOTHING_MEASURES.items():
            rows += [{**base, "measure": measure, "x": float(key[len(prefix):]), "value": float(value)}
                     for key, value in metrics.items()
                     if key.startswith(prefix) and "/" not in key[len(prefix):]]
    return pd.DataFrame(rows, columns=list(SMOOTHING_COLUMNS))


CORRUPTION_COLUMNS = ("run_id", *MODEL_KEYS, "seed", "corruption", "severity", "accuracy", "clean_accuracy", "points",
                      "adv_training")


def load_corruptions(frame: pd.DataFrame) -> pd.DataFrame:
    """The natural-corruption accuracies of a loaded frame's finished trials (those that logged
    mean_corruption_acc): one row per trial x corruption x severity (1-5), with the clean accuracy of the same points
    (corruption_clean_acc) and their number (points); empty, with CORRUPTION_COLUMNS, when no trial measured corruptions."""
    kept = set(finished(frame)["run_id"])
    client = tracking.mlflow_client(frame.attrs["tracking_uri"])
    rows = []
    for run in search_all(client, frame.attrs["experiment_id"], order_by=None):
        metrics = run.data.metrics
        if run.info.run_id not in kept or keys.MEAN_CORRUPTION_ACC not in metrics:
            continue
        identity = frame[frame["run_id"] == run.info.run_id].iloc[0]
        base = {"run_id": run.info.run_id, **{key: identity[key] for key in MODEL_KEYS}, "seed": int(identity["seed"]),
                "adv_training": identity["adv_training"],
                "clean_accuracy": float(metrics.get(keys.CORRUPTION_CLEAN_ACC, math.nan)),
                "points": float(metrics.get(keys.POINTS + keys.CORRUPTION_POINTS, math.nan))}
        for key, value in metrics.items():
            if key.startswith(keys.CORRUPT_ACC):
                name, _, severity = key[len(keys.CORRUPT_ACC):].rpartition("/")
                rows.append({**base, "corruption": name, "severity": int(severity), "accuracy": float(value)})
    return pd.DataFrame(rows, columns=list(CORRUPTION_COLUMNS))
