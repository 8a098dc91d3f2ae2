"""The Optuna study's Pareto front (clean accuracy vs robust objective): printed and logged to MLflow."""

from __future__ import annotations

import json


def pareto_rows(study) -> list[dict]:
    rows = []
    for trial in sorted(study.best_trials, key=lambda t: -t.values[1]):
        rows.append({"number": trial.number, "clean_acc": trial.values[0], "robust_objective": trial.values[1],
                     **trial.params})
    return rows


def pareto_table(study) -> str:
    rows = pareto_rows(study)
    if not rows:
        return "  (no completed trials)"
    keys = [k for k in rows[0] if k not in ("number", "clean_acc", "robust_objective")]
    lines = [f"  {'#':>4s} {'clean':>6s} {'robust':>7s}  " + "  ".join(keys)]
    for row in rows:
        params = "  ".join(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k]) for k in keys)
        lines.append(f"  {row['number']:4d} {row['clean_acc']:6.3f} {row['robust_objective']:7.3f}  {params}")
    return "\n".join(lines)


def log_pareto_front(study, tracking_uri: str, experiment: str) -> str:
    """A summary run 'optuna-pareto-front' holding the front as JSON and as a figure; returns its run id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    from trainables import tracking

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    rows = pareto_rows(study)
    completed = [t for t in study.trials if t.values is not None]
    with mlflow.start_run(run_name="optuna-pareto-front") as run:
        mlflow.set_tags({tracking.TAG_KIND: tracking.SUMMARY_KIND, "study": study.study_name})
        mlflow.log_metrics({"study_trials": len(study.trials), "pareto_size": len(rows)})
        mlflow.log_text(json.dumps(rows, indent=2, default=str), "pareto_front.json")
        figure, axes = plt.subplots(figsize=(5, 4))
        axes.scatter([t.values[0] for t in completed], [t.values[1] for t in completed], color="lightgray", label="trials")
        axes.plot([r["clean_acc"] for r in rows], [r["robust_objective"] for r in rows], "o-", color="C3", label="Pareto front")
        axes.set(xlabel="clean accuracy", ylabel="robust objective")
        axes.legend()
        mlflow.log_figure(figure, "pareto_front.png")
        plt.close(figure)
        return run.info.run_id
