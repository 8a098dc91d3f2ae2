"""Clinical metrics under attack per trial and epsilon, from the per-point frame (analysis.points), and their means
over seeds. The metrics themselves are trainables.robustness.evaluate.clinical's, the ones each trial logs to MLflow."""

from __future__ import annotations

import pandas as pd

from trainables.spec.tasks import get_task
from trainables.robustness.evaluate.clinical import COLLAPSE_FRACTION, clinical_metrics

from .load import with_recipe
from .paired import MODEL

PREDICTION_COLUMNS = {"worst_case": "prediction", "pgd": "pgd_prediction"}
CLINICAL_DEFINITION = ("sensitivity = recall of the positive class (binary tasks: class 1, disease present), "
                       "specificity = recall of class 0, balanced accuracy = mean recall over the classes, on the "
                       "adversarial predictions at each epsilon (the label while robust, else the class of the input "
                       f"that broke the point); collapsed = over {COLLAPSE_FRACTION:.0%} of points predicted as "
                       "one class")


def clinical_table(points: pd.DataFrame) -> pd.DataFrame:
    """One row per trial x attack x epsilon: MODEL, seed, attack, epsilon, n_points, accuracy, sensitivity,
    specificity, balanced_acc, majority_fraction, collapsed, recall/<k>."""
    rows = []
    for key, group in with_recipe(points).groupby(["run_id", "epsilon"], sort=True):
        first = group.iloc[0]
        classes = get_task(first["task"]).num_classes
        for attack, column in PREDICTION_COLUMNS.items():
            predictions = group[column].to_numpy()
            rows.append({**{name: first[name] for name in MODEL}, "seed": int(first["seed"]), "attack": attack,
                         "epsilon": float(key[1]), "n_points": len(group),
                         "accuracy": float((predictions == group["label"].to_numpy()).mean()),
                         **clinical_metrics(group["label"].to_numpy(), predictions, classes)})
    return pd.DataFrame(rows)


def clinical_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds per model x attack x epsilon; `collapsed_seeds` counts the seeds that collapsed."""
    if table.empty:
        return table
    metrics = [c for c in table.columns if c in ("accuracy", "sensitivity", "specificity", "balanced_acc",
                                                  "majority_fraction") or c.startswith("recall/")]
    grouped = table.groupby([*MODEL, "attack", "epsilon"], sort=True)
    summary = grouped[metrics].mean()
    summary["n_seeds"] = grouped["seed"].nunique()
    summary["collapsed_seeds"] = grouped["collapsed"].sum().astype(int)
    return summary.reset_index()
