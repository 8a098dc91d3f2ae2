"""Resumable evaluation: what checkpointing costs and what a kill loses (trainables/robustness/evaluate/progress.py).

One small CNN trained briefly on synthetic 7-class images, the smoke attack preset (the ensemble: PGD, APGD-CE,
APGD margin, Square; FMN radii), the skin-lesion ladder, then randomized-smoothing certification of --certify-points
points (sigma 0.25, n0 20, n --certify-n), in one process (the same compiled model for every row):
  (a) uninterrupted, no store             (b) the same with the store on (saves every --interval seconds + per attack)
  (c) killed after 30 / 60 / 90 % of its units (an exception from the unit hook, as a SIGKILL after that unit
      would leave the files) and resumed from the store's file
(a) and (b) alternate --repeats times (best of each), so load drift on a shared machine cancels. Prints wall time,
units redone after each kill (ran before the kill but not in the file), bytes per checkpoint, and whether every
per-point array and metric of (c) equals (a). Targets: (b) within 3 % of (a); each resume redoes at most one unit
per running attack; (c) identical to (a).
Usage: python benchmarks/resume_eval.py [--points 48] [--image-size 32] [--batch-size 8] [--interval 1.0]
       [--certify-points 8] [--certify-n 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import pgd_throughput as shared  # noqa: E402  (the benchmarks' shared model and data)


class Killed(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=48)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--certify-points", type=int, default=8)
    parser.add_argument("--certify-n", type=int, default=2000)
    args = parser.parse_args()

    from trainables.spec.evaluation import PRESETS
    from trainables.robustness import certify, evaluate_robustness
    from trainables.robustness.evaluate.progress import EvaluationProgress

    images, labels = shared.synthetic_images(512 + args.points, args.image_size, seed=0)
    model = shared.small_cnn(args.image_size)
    model.compile("adam", loss=__import__("keras").losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[:512], labels[:512], epochs=3, batch_size=32, verbose=0)
    images, labels = images[512:], labels[512:]
    settings = PRESETS["smoke"].settings(batch_size=args.batch_size)

    def evaluate(progress):
        start = time.perf_counter()
        result = evaluate_robustness(model, images, labels, shared.SKIN_LADDER, settings=settings, seed=0,
                                     sample_indices=(), run_checks=False, progress=progress)
        certified = certify(model, images[:args.certify_points], labels[:args.certify_points], sigma=0.25, n0=20,
                            n=args.certify_n, alpha=0.001, batch_size=args.batch_size, seed=0, progress=progress)
        return (result, certified), time.perf_counter() - start

    def outcome(results):
        result, certified = results
        cost = {name: (c["gradient_evaluations"], c["queries"]) for name, c in result.cost.items()}
        per_point = {**result.points(), "certified_prediction": certified.prediction,
                     "certified_radius": certified.radius, "estimation_counts": certified.estimation_counts}
        return per_point, (result.accuracy, result.accuracy_by_attack, cost)

    def same(first, second) -> bool:
        return (first[0].keys() == second[0].keys() and first[1] == second[1]
                and all(np.array_equal(first[0][name], second[0][name], equal_nan=first[0][name].dtype.kind == "f")
                        for name in first[0]))

    evaluate(None)  # trace every compiled function before any clock
    plain, stored, sizes, total_units, saving = [], [], [], 0, []
    for _ in range(args.repeats):
        result, seconds = evaluate(None)
        plain.append(seconds)
        reference = outcome(result)
        with tempfile.TemporaryDirectory() as folder:
            progress = EvaluationProgress(folder, "bench", interval_s=args.interval)
            result, seconds = evaluate(progress)
            stored.append(seconds)
            sizes += progress.bytes_written
            saving.append(progress.seconds_saving / seconds)
            total_units = progress.units_run
            assert same(outcome(result), reference), "the store changed the outcomes"
    rows = [("(a) uninterrupted", min(plain), "", ""), ("(b) store on", min(stored), "", "")]
    for fraction in (0.3, 0.6, 0.9):
        kill_at = int(fraction * total_units)
        ran = iter(range(1, total_units + 1))

        def hook(key, was_run):
            if was_run and next(ran) == kill_at:
                raise Killed(key)

        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            try:
                evaluate(EvaluationProgress(folder, "bench", interval_s=args.interval, after_unit=hook))
            except Killed as killed:
                where = killed.args[0]
            resumed = EvaluationProgress(folder, "bench", interval_s=args.interval)
            saved = len(resumed.units)
            result, _ = evaluate(resumed)
            seconds = time.perf_counter() - start
            redone = resumed.units_run - (total_units - kill_at)
            rows.append((f"(c) killed at {fraction:.0%} ({where}), resumed", seconds, f"{redone}",
                         "yes" if same(outcome(result), reference) else "NO"))
            assert saved + resumed.units_run == total_units
    print(f"{len(images)} points, {args.image_size}px, batch {args.batch_size}, smoke preset + FMN, certification of "
          f"{args.certify_points} points (n {args.certify_n}), {total_units} units, interval {args.interval} s, "
          f"best of {args.repeats}")
    print(f"bytes per checkpoint: mean {np.mean(sizes):.0f}, max {max(sizes)} ({len(sizes) // args.repeats} saves "
          f"per evaluation)")
    print("| variant | wall s | units redone | outcomes = (a) |\n|---|---|---|---|")
    for name, seconds, redone, identical in rows:
        print(f"| {name} | {seconds:.2f} | {redone} | {identical} |")
    overhead = min(stored) / min(plain) - 1
    print(f"(b) vs (a): {overhead:+.1%} (target within 3 %); saving took {np.median(saving):.1%} of (b)'s wall time "
          f"(median over repeats)")


if __name__ == "__main__":
    main()
