"""Sweep overhead: wall time of a grid through Ray Tune + MLflow vs the trials' own compute time.

    python benchmarks/sweep_overhead.py [--profile smoke|tiny] [--sweep paper_grid] [--seeds N] [--fresh-workers]
                                        [--skip-paper-step]

Runs the grid with `python -m sweep.run` in a temporary folder, reads every trial's phase timings and peak RSS from
MLflow (time/<phase>, peak_rss_mb, logged by the trial itself), and prints:
- wall time vs the baseline, (sum of the trials' own compute) / concurrency, and the overhead per trial (target:
  < 10 % of trial time); a trial's own compute is its data, model, training, PGD and explanation time without the
  checkpoints and MLflow calls timed inside them;
- where the overhead goes: per-epoch checkpoints and MLflow logging (timed by the trial), worker start and imports
  (time/startup, timed by the trial from its process's start, or in a reused worker from its previous trial's end),
  and, from the trials' MLflow start and end times replayed on the concurrency's slots, the driver's start (with Ray's
  start, timed separately), the slots' idle time between trials, the idle tail while the last trial runs, and the
  driver's end; and which of these a sweep pays once (driver start and end, each worker's start, the idle tail) and
  which every trial pays (checkpoints, MLflow, the gap between trials; with --fresh-workers also the worker start);
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
from dataclasses import dataclass

from trainables.spec import keys

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


@dataclass(frozen=True)
class TrialSpan:
    """One trial on the wall clock (seconds since the sweep was launched) and its own timings."""

    name: str
    begin: float  # its worker's start (fresh) or its previous trial's end (reused): MLflow run start - data - startup
    end: float  # MLflow run end
    own: float  # data, model, training, PGD, explanations, without the Tune and MLflow work timed inside them
    added: dict[str, float]  # checkpoint, mlflow, startup: overhead the trial itself timed
    peak_rss_mb: float


def trial_span(run, launched_at: float) -> TrialSpan:
    m = run.data.metrics
    own = sum(m.get(keys.TIME + p, 0.0) for p in TRIAL_PHASES) - sum(m.get(keys.TIME + p, 0.0) for p in ADDED_PHASES)
    added = {"checkpoint": m.get(keys.TIME + "checkpoint", 0.0),
             "mlflow": m.get(keys.TIME + "mlflow", 0.0) + m.get(keys.TIME + "mlflow_epochs", 0.0),
             "startup": m.get(keys.TIME + "startup", 0.0)}
    begin = run.info.start_time / 1000 - m.get(keys.TIME + "data", 0.0) - added["startup"] - launched_at
    return TrialSpan(name=run.info.run_name, begin=begin, end=run.info.end_time / 1000 - launched_at, own=own, added=added,
                     peak_rss_mb=m[keys.PEAK_RSS_MB])


def slot_ends(spans: list[TrialSpan], concurrency: int) -> tuple[list[float], float]:
    """Replay the trials on `concurrency` slots in start order (a trial takes the slot that became free first):
    each slot's last end, and the slots' idle time between the first trial's start and their last trial."""
    free_at = [min(s.begin for s in spans)] * concurrency
    between = 0.0
    for span in sorted(spans, key=lambda s: s.begin):
        slot = min(range(concurrency), key=free_at.__getitem__)
        between += max(0.0, span.begin - free_at[slot])
        free_at[slot] = span.end
    return free_at, between


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--sweep", default="paper_grid")
    parser.add_argument("--seeds", type=int, default=1, help="pass --seeds to the sweep (more trials per sweep)")
    parser.add_argument("--fresh-workers", action="store_true", help="pass --fresh-workers to the sweep")
    parser.add_argument("--skip-paper-step", action="store_true", help="skip the 224 px ResNet-50 memory measurement")
    args = parser.parse_args()

    import mlflow

    from search_spaces import expand, get_profile

    trials = expand(args.sweep, args.profile, seeds=args.seeds)
    concurrency = max(1, min(len(trials), (os.cpu_count() or 1) // trials[0].cpus_per_trial))
    ray_start = time_ray_start()
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        command = [sys.executable, "-m", "sweep.run", args.sweep, "--profile", args.profile, "--tracking-uri", uri,
                   "--storage", f"{folder}/ray", "--seeds", str(args.seeds),
                   *(["--fresh-workers"] if args.fresh_workers else [])]
        launched_at, start = time.time(), time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder)
        wall = time.perf_counter() - start
        client = mlflow.MlflowClient(uri)
        experiment = client.get_experiment_by_name(f"{args.sweep}-{args.profile}")
        spans = [trial_span(run, launched_at) for run in client.search_runs([experiment.experiment_id])
                 if keys.TAG_KIND not in run.data.tags]  # the sweep's parent run is not a trial

    n = len(spans)
    baseline = sum(s.own for s in spans) / concurrency
    overhead_per_trial = (wall - baseline) * concurrency / n  # all slot-seconds not spent on the trials' own compute
    mean_own = statistics.mean(s.own for s in spans)
    ends, between = slot_ends(spans, concurrency)
    first_begin, last_end = min(s.begin for s in spans), max(s.end for s in spans)
    # (part, seconds per trial, paid once per sweep rather than by every trial)
    parts = [
        ("- per-epoch checkpoints (save, report, copy to storage)",
         statistics.mean(s.added["checkpoint"] for s in spans), False),
        ("- MLflow logging (per epoch and final: metrics, maps, model)",
         statistics.mean(s.added["mlflow"] for s in spans), False),
        ("- worker start and imports (reused: the gap since its previous trial)",
         statistics.mean(s.added["startup"] for s in spans), not args.fresh_workers),
        ("- rest of a trial's time outside its phases (MLflow run setup, model summary)",
         statistics.mean(s.end - s.begin - s.own - sum(s.added.values()) for s in spans), False),
        (f"- driver start to the first trial (imports, Ray start {ray_start:.1f} s, Tune setup)",
         first_begin * concurrency / n, True),
        ("- scheduling: idle slots between trials", between / n, False),
        ("- idle tail: slots waiting for the last trial", sum(last_end - end for end in ends) / n, True),
        ("- driver end after the last trial (results, shutdown)", (wall - last_end) * concurrency / n, True),
    ]

    def row(name: str, seconds: float, share: bool = True) -> str:
        return f"| {name} | {seconds:.1f} | {f'{100 * seconds / mean_own:.1f} %' if share else ''} |"

    workers = "fresh worker per trial" if args.fresh_workers else "reused workers"
    print(f"## Sweep overhead: {args.sweep} --profile {args.profile}, {n} trials, concurrency {concurrency}, {workers}\n")
    print("| quantity | seconds | share of mean trial compute |")
    print("| --- | ---: | ---: |")
    print(row("wall time of the sweep", wall, share=False))
    print(row("baseline: sum of the trials' own compute / concurrency", baseline, share=False))
    print(row("mean trial compute (data, model, training, PGD, explanations)", mean_own))
    print(row("**overhead per trial** (target < 10 %)", overhead_per_trial))
    for name, seconds, _ in parts:
        print(row(name, seconds))
    print(row("- unaccounted (overhead minus the parts above)", overhead_per_trial - sum(p[1] for p in parts)))
    once = sum(seconds for _, seconds, per_sweep in parts if per_sweep)
    print(row("paid once per sweep (driver start and end, idle tail" + ("" if args.fresh_workers else ", worker starts")
              + f"): {once * n / concurrency:.1f} s of wall time, spread over {n} trials", once))
    print(row("paid by every trial (the rest): the overhead of one more trial", overhead_per_trial - once))
    print("\ntimeline (seconds since launch): begin = worker start or previous trial's end, then startup, own compute, end")
    for span in sorted(spans, key=lambda s: s.begin):
        print(f"  {span.begin:6.1f}  +{span.added['startup']:5.1f}  own {span.own:5.1f}  end {span.end:6.1f}  {span.name}")
    print()
    peak = [s.peak_rss_mb for s in spans]
    declared = get_profile(args.profile).values.get("memory_gb")
    print(f"peak RSS per trial: max {max(peak):.0f} MB, mean {statistics.mean(peak):.0f} MB (profile declares {declared} GB)")
    if not args.skip_paper_step:
        print(f"peak RSS of one paper-profile ResNet-50+SA training step at 224 px, batch 8: {paper_step_peak_rss_mb():.0f} MB "
              f"(paper profile declares {get_profile('paper').values['memory_gb']} GB per trial)")


if __name__ == "__main__":
    main()
