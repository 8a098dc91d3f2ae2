"""The Optuna study's Pareto front (clean accuracy vs robust objective): printed, and logged to MLflow through
trainables.tracking with its figure from analysis.figures."""

from __future__ import annotations

from analysis.figures import study_pareto_front
from trainables import tracking
from trainables.spec import keys

OBJECTIVES = keys.SEARCH_OBJECTIVES  # (clean accuracy, robust objective), the study's two values in this order


def pareto_rows(study) -> list[dict]:
    rows = []
    for trial in sorted(study.best_trials, key=lambda t: -t.values[1]):
        rows.append({"number": trial.number, **dict(zip(OBJECTIVES, trial.values)), **trial.params})
    return rows


def pareto_table(study) -> str:
    rows = pareto_rows(study)
    if not rows:
        return "  (no completed trials)"
    clean, robust = OBJECTIVES
    params = [k for k in rows[0] if k not in ("number", *OBJECTIVES)]
    lines = [f"  {'#':>4s} {'clean':>6s} {'robust':>7s}  " + "  ".join(params)]
    for row in rows:
        values = "  ".join(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k]) for k in params)
        lines.append(f"  {row['number']:4d} {row[clean]:6.3f} {row[robust]:7.3f}  {values}")
    return "\n".join(lines)


def log_pareto_front(study, tracking_uri: str, experiment: str) -> str:
    """A summary run 'optuna-pareto-front' holding the front as JSON and as a figure; returns its run id."""
    rows = pareto_rows(study)
    completed = [t.values for t in study.trials if t.values is not None]
    figure = study_pareto_front(completed, [[row[k] for k in OBJECTIVES] for row in rows])
    return tracking.log_pareto_front(tracking_uri, experiment, study.study_name, rows, figure, len(study.trials))
