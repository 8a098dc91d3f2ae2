"""Sweep overhead: wall time of a grid through Ray Tune + MLflow vs the trials' own compute time.

    python benchmarks/sweep_overhead.py [--profile smoke|tiny] [--sweep paper_grid] [--reuse-workers] [--skip-paper-step]

Runs the grid with `python -m sweep.run` in a temporary folder, reads every trial's phase timings and peak RSS from
MLflow (time/<phase>, peak_rss_mb, logged by the trial itself), and prints:
- wall time vs the baseline, (sum of the trials' own compute) / concurrency, and the overhead per trial (target:
  < 10 % of trial time); a trial's own compute is its data, model, training, PGD and explanation time without the
  checkpoints and MLflow calls timed inside them;
- where the overhead goes: Ray start (timed separately), per-epoch checkpoints and MLflow logging (timed by the
  trial), worker start and imports (time/startup, timed by the trial from its process's start), and the rest
  (driver start, scheduling, the idle tail of the last trials);
- peak memory per trial, and the peak RSS of one paper-profile ResNet-50 training step at 224 px (batch 8), to
  compare with each profile's declared `memory_gb` (the Ray `memory` resource).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIAL_PHASES = ("data", "train", "model", "evaluate", "explain", "mlflow")  # top level: they do not nest
ADDED_PHASES = ("checkpoint", "mlflow_epochs", "mlflow")  # Tune and MLflow work timed inside those phases


def time_ray_start() -> float:
    code = "import time, ray; t = time.perf_counter(); ray.init(num_cpus=2, include_dashboard=False); print(time.perf_counter() - t); ray.shutdown()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def paper_step_peak_rss_mb() -> float:
    code = """
import os, resource
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np
from search_spaces import expand
from trainables.models import build_model
from trainables.training import compile_model
trial = expand("paper_grid", "paper")[0]
model = build_model("resnet50", "soft_faithful", 7, weights=None)
compile_model(model, trial)
x = np.random.default_rng(0).random((8, 224, 224, 3), dtype=np.float32)
y = np.eye(7, dtype=np.float32)[np.arange(8) % 7]
model.train_on_batch(x, y)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--sweep", default="paper_grid")
    parser.add_argument("--reuse-workers", action="store_true", help="pass --reuse-workers to the sweep")
    parser.add_argument("--skip-paper-step", action="store_true", help="skip the 224 px ResNet-50 memory measurement")
    args = parser.parse_args()

    import mlflow

    from search_spaces import expand, get_profile

    trials = expand(args.sweep, args.profile)
    concurrency = max(1, min(len(trials), (os.cpu_count() or 1) // trials[0].cpus_per_trial))
    ray_start = time_ray_start()
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        start = time.perf_counter()
        command = [sys.executable, "-m", "sweep.run", args.sweep, "--profile", args.profile, "--tracking-uri", uri,
                   "--storage", f"{folder}/ray", *(["--reuse-workers"] if args.reuse_workers else [])]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder)
        wall = time.perf_counter() - start
        client = mlflow.MlflowClient(uri)
        experiment = client.get_experiment_by_name(f"{args.sweep}-{args.profile}")
        runs = [r.data.metrics for r in client.search_runs([experiment.experiment_id])]

    # a trial's own compute: its phases without what Ray Tune and MLflow add inside them
    own = [sum(m.get(f"time/{p}", 0.0) for p in TRIAL_PHASES) - sum(m.get(f"time/{p}", 0.0) for p in ADDED_PHASES)
           for m in runs]
    baseline = sum(own) / concurrency
    overhead_per_trial = (wall - baseline) * concurrency / len(runs)
    mean_own = statistics.mean(own)
    ray_start_share = ray_start * concurrency / len(runs)
    checkpoint = statistics.mean(m.get("time/checkpoint", 0.0) for m in runs)
    mlflow_logging = statistics.mean(m.get("time/mlflow", 0.0) + m.get("time/mlflow_epochs", 0.0) for m in runs)
    startup = statistics.mean(m.get("time/startup", 0.0) for m in runs)
    rest = overhead_per_trial - ray_start_share - checkpoint - mlflow_logging - startup
    peak = [m["peak_rss_mb"] for m in runs]

    def row(name: str, seconds: float, share: bool = True) -> str:
        return f"| {name} | {seconds:.1f} | {f'{100 * seconds / mean_own:.1f} %' if share else ''} |"

    workers = "reused" if args.reuse_workers else "fresh"
    print(f"## Sweep overhead: {args.sweep} --profile {args.profile}, {len(runs)} trials, concurrency {concurrency}, "
          f"{workers} workers\n")
    print("| quantity | seconds | share of mean trial compute |")
    print("| --- | ---: | ---: |")
    print(row("wall time of the sweep", wall, share=False))
    print(row("baseline: sum of the trials' own compute / concurrency", baseline, share=False))
    print(row("mean trial compute (data, model, training, PGD, explanations)", mean_own))
    print(row("**overhead per trial** (target < 10 %)", overhead_per_trial))
    print(row("- Ray start (once, spread over the trials)", ray_start_share))
    print(row("- per-epoch checkpoints (save, report, copy to storage)", checkpoint))
    print(row("- MLflow logging (per epoch and final: metrics, maps, model)", mlflow_logging))
    print(row("- worker start and imports (or, reused, the gap since its last trial)", startup))
    print(row("- rest: driver start, scheduling, the idle tail of the last trials", rest))
    print()
    declared = get_profile(args.profile).values.get("memory_gb")
    print(f"peak RSS per trial: max {max(peak):.0f} MB, mean {statistics.mean(peak):.0f} MB (profile declares {declared} GB)")
    if not args.skip_paper_step:
        print(f"peak RSS of one paper-profile ResNet-50+SA training step at 224 px, batch 8: {paper_step_peak_rss_mb():.0f} MB "
              f"(paper profile declares {get_profile('paper').values['memory_gb']} GB per trial)")


if __name__ == "__main__":
    main()
