"""Randomized-smoothing certification: this package vs ART vs a bare loop of forward passes, at two sample counts.

  (a)  trainables.robustness.certify: noisy draws streamed in batches, noise keyed per draw and made inside the
       compiled forward pass, votes counted per point
  (b)  ART TensorFlowV2RandomizedSmoothing.certify on the same model, points, n0, n, sigma, alpha and batch size
       (it builds all n noisy copies of a point at once, with numpy noise, and predicts them batch by batch)
  (c)  a bare loop of compiled forward passes over the same number of rows, in batches of the same size, on one
       fixed batch: no noise, no counting (the hardware limit for this model)
Each (variant, n) runs in its own process; the rate is noisy samples (forward rows) per wall second, end to end
(tracing included); peak private memory (RssAnon, trainables.runtime.memory) is taken from after the model is built.
The model is ResNet-50, mini (default) or full size, with random weights (speed and memory do not depend on them,
seeded so every process holds the same model) on synthetic images.

Usage: python benchmarks/certify.py [--points 16] [--image-size 48] [--scale mini] [--batch-size 64] [--n0 100]
       [--ns 1000,10000] [--variants a,b,c]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgd_throughput as shared  # noqa: E402  (the benchmarks' shared model, data and process runner)

VARIANTS = ("a", "b", "c")
DESCRIPTIONS = {
    "a": "(a) trainables.robustness.certify",
    "b": "(b) ART TensorFlowV2RandomizedSmoothing.certify",
    "c": "(c) bare compiled forward loop",
}
SIGMA, ALPHA = 0.25, 0.001


def bare_forward_loop(model, images: np.ndarray, rows: int, batch_size: int) -> None:
    import tensorflow as tf

    from trainables.robustness.attacks.compiled import compile_forward

    forward = compile_forward(model, images.shape[1:])
    batch = tf.constant(np.resize(images, (batch_size, *images.shape[1:])))
    for start in range(0, rows, batch_size):
        np.argmax(forward(batch[: min(batch_size, rows - start)]).numpy(), axis=1)


def run_variant(args) -> dict:
    import keras

    from trainables.runtime.memory import peak_private_mb, reset_peak_private

    from trainables.models import build_model

    keras.utils.set_random_seed(args.seed)  # the same random weights in every variant's process
    model = build_model("resnet50", "none", shared.NUM_CLASSES, scale=args.scale,
                        input_shape=(args.image_size, args.image_size, 3))
    images, labels = shared.synthetic_images(args.points, args.image_size, seed=args.seed)
    rows = args.points * (args.n0 + args.n)
    reset_peak_private()
    start, cpu_start = time.perf_counter(), time.process_time()
    record: dict = {}
    if args.variant == "a":
        from trainables.robustness import certify

        result = certify(model, images, labels, sigma=SIGMA, n0=args.n0, n=args.n, alpha=ALPHA,
                         batch_size=args.batch_size, seed=args.seed)
        record = {"prediction": result.prediction.tolist(), "radius": np.nan_to_num(result.radius).tolist()}
    elif args.variant == "b":
        from art.estimators.certification.randomized_smoothing import TensorFlowV2RandomizedSmoothing

        smoothed = TensorFlowV2RandomizedSmoothing(model=model, nb_classes=shared.NUM_CLASSES,
                                                   input_shape=images.shape[1:], sample_size=args.n0, scale=SIGMA,
                                                   alpha=ALPHA)
        np.random.seed(args.seed)
        prediction, radius = smoothed.certify(images, n=args.n, batch_size=args.batch_size)
        record = {"prediction": prediction.tolist(), "radius": radius.tolist()}
    else:
        bare_forward_loop(model, images, rows, args.batch_size)
    wall = time.perf_counter() - start
    return {**record, "rows": rows, "wall_seconds": wall, "cpu_seconds": time.process_time() - cpu_start,
            "rate": rows / wall, "peak_private_mb": peak_private_mb()}


def report(args, machine: str, records: dict) -> str:
    lines = [f"machine: {machine}",
             f"model: {args.scale} ResNet-50 at {args.image_size} px, {shared.NUM_CLASSES} classes, random weights; "
             f"{args.points} points; n0 = {args.n0}, sigma = {SIGMA}, alpha = {ALPHA}; batch {args.batch_size}",
             "", "| variant | n | noisy samples | wall s | CPU s | samples/s | vs (c) | peak private MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (variant, n), record in records.items():
        bare = records.get(("c", n))
        ratio = f"{record['rate'] / bare['rate']:.2f}" if bare else "-"
        lines.append(f"| {DESCRIPTIONS[variant]} | {n:,} | {record['rows']:,} | {record['wall_seconds']:.1f} | "
                     f"{record['cpu_seconds']:.1f} | {record['rate']:,.0f} | {ratio} | "
                     f"{record['peak_private_mb']:.0f} |")
    ns = sorted({n for _, n in records})
    lines.append("")
    for n in ns:
        a, b, c = (records.get((variant, n)) for variant in VARIANTS)
        if a and c:
            lines.append(f"n = {n:,}: (a) / (c) rate {a['rate'] / c['rate']:.2f} (target >= 0.9: "
                         f"{'met' if a['rate'] >= 0.9 * c['rate'] else 'NOT met'})")
        if a and b:
            agree = np.mean(np.array(a["prediction"]) == np.array(b["prediction"]))
            lines.append(f"n = {n:,}: (a) / (b) rate {a['rate'] / b['rate']:.2f} (target >= 1: "
                         f"{'met' if a['rate'] >= b['rate'] else 'NOT met'}); predictions agree on {agree:.2f} of "
                         f"points; largest radius gap {np.max(np.abs(np.subtract(a['radius'], b['radius']))):.3f}")
    for variant in ("a", "b"):
        if (variant, ns[0]) in records and (variant, ns[-1]) in records and len(ns) > 1:
            low, high = records[(variant, ns[0])], records[(variant, ns[-1])]
            growth = high["peak_private_mb"] / low["peak_private_mb"] - 1
            target = " (target <= +5 %: " + ("met)" if growth <= 0.05 else "NOT met)") if variant == "a" else ""
            lines.append(f"{DESCRIPTIONS[variant]}: peak private memory at n = {ns[-1]:,} vs {ns[0]:,}: "
                         f"{100 * growth:+.1f} %{target}")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--scale", default="mini", choices=("mini", "full"), help="ResNet-50 size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--ns", default="1000,10000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    started = time.perf_counter()
    machine = shared.machine_description()
    records = {}
    with tempfile.TemporaryDirectory(prefix="certify-bench-") as directory:
        for n in (int(value) for value in args.ns.split(",")):
            for variant in args.variants.split(","):
                arguments = shared.as_arguments(args, ("points", "image_size", "scale", "batch_size", "n0", "seed"))
                records[(variant, n)] = shared.run_variant_process(__file__, variant, Path(directory),
                                                                   [*arguments, "--n", str(n)])
                print(f"{variant} n={n}: {records[(variant, n)]['wall_seconds']:.1f} s", file=sys.stderr)
    print(report(args, machine, records))
    print(f"\n(total benchmark wall time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
