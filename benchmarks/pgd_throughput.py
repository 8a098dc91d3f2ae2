"""PGD throughput: the nested evaluation vs plain Foolbox vs a bare compiled gradient loop, in one run.

All variants attack the same trained model and the same test images with L-inf PGD over the paper's skin-lesion
ladder (0.00125, 0.0025, 0.005, 0.01), steps 40, rel_stepsize 0.01/0.3, random start:
  (a)  trainables.robustness.evaluate_robustness (nested epsilons, compiled model); its time and gradient count
       cover the clean pass and the attack; the sanity checks' own cost is reported on a separate line
  (b)  plain Foolbox: attack(fmodel, x, y, epsilons=[...]) on every point at every epsilon, fmodel over the
       Keras model as usual (eager), one call per batch of the same batch size
  (b') the same Foolbox call on the compiled model: separates the gain of nesting from the gain of compiling
  (c)  a bare compiled PGD step (forward + input gradient + sign step in one tf.function), traced before the
       clock starts, on every point at every epsilon: the hardware limit
  (s)  steady state: the package's PGD batches (Foolbox LinfPGD + compiled step loop) and (c), both traced first,
       alternated three times in one process (best of 3), so load drift on a shared machine cancels
  (m)  (a) on N and on 10N images with few steps: peak RSS must be bounded by the batch size, not N
Each variant runs in its own subprocess; peak RSS is the process's high-water mark during the variant (reset
through /proc/self/clear_refs before it starts where the kernel allows, else the whole process's peak).

Usage: python benchmarks/pgd_throughput.py [--num-images 32] [--image-size 64] [--batch-size 8] [--steps 40]
       [--model auto|mini_resnet50|small_cnn] [--train-images 1000] [--epochs 3] [--memory-factor 10]
       [--variants a,b_eager,b_compiled,c_bare,steady,memory_1x,memory_10x]
The model is trainables.models.build_model("resnet50", "none", 7, scale="mini") when available ("auto"),
trained for a few epochs on synthetic 7-class images so that the ladder is not all zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SKIN_LADDER = (0.00125, 0.0025, 0.005, 0.01)
NUM_CLASSES = 7
VARIANTS = ("a", "b_eager", "b_compiled", "c_bare", "steady", "memory_1x", "memory_10x")
DESCRIPTIONS = {
    "a": "(a) nested evaluation (this package)",
    "b_eager": "(b) plain Foolbox, all eps x all points",
    "b_compiled": "(b') plain Foolbox on the compiled model",
    "c_bare": "(c) bare compiled PGD loop",
    "memory_1x": "(m) nested evaluation, N images",
    "memory_10x": "(m) nested evaluation, 10N images",
}


# ------------------------------------------------------------------ data and model


def synthetic_images(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k = a tinted bright square in cell k of a 3x3 grid, on a noisy grey background. float32 [0, 1]."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, count)
    images = 0.35 + 0.08 * rng.standard_normal((count, size, size, 3))
    cell = size // 3
    tint = np.array([1.0, 0.6, 0.3])
    for index, label in enumerate(labels):
        row, column = divmod(int(label), 3)
        images[index, row * cell : (row + 1) * cell, column * cell : (column + 1) * cell] += 0.3 * tint
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels.astype(np.int64)


def small_cnn(image_size: int):
    import keras

    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="backbone_features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))


def resolve_model_name(name: str) -> str:
    if name != "auto":
        return name
    # find_spec keeps TensorFlow out of the parent process
    return "mini_resnet50" if importlib.util.find_spec("trainables.models") else "small_cnn"


def build(name: str, image_size: int):
    if name == "mini_resnet50":
        from trainables.models import build_model

        return build_model("resnet50", "none", NUM_CLASSES, scale="mini", input_shape=(image_size, image_size, 3))
    return small_cnn(image_size)


# ------------------------------------------------------------------ measurement helpers


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores visible, {device or 'no GPU'}; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}; load average at start {load:.1f}"
    )


# ------------------------------------------------------------------ subprocess work


def prepare(args, workdir: Path) -> dict:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()  # the same trained model on every run of the benchmark
    model = build(args.model, args.image_size)
    x_train, y_train = synthetic_images(args.train_images, args.image_size, seed=args.seed + 1)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
    x_test, y_test = synthetic_images(args.num_images, args.image_size, seed=args.seed + 2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    model.save_weights(workdir / "model.weights.h5")
    return {
        "train_seconds": time.perf_counter() - start,
        "clean_accuracy": float(accuracy),
        "params": int(model.count_params()),
        "machine": machine_description(),
    }


def measure_tracing(model, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(wall, CPU) seconds to trace and first-run the evaluation's compiled functions, as (a) does inside."""
    import tensorflow as tf

    from trainables.robustness.attacks.compiled import CompiledModel

    start, cpu_start = time.perf_counter(), time.process_time()
    compiled = CompiledModel.build(model, images.shape[1:])
    compiled.forward(tf.constant(images[:1]))
    x, y, radii = tf.constant(images[:1]), tf.constant(labels[:1]), tf.constant([[[[0.01]]]])
    compiled.pgd(x, x, y, radii, radii, tf.constant(1))  # traces loss_and_gradient inside it
    compiled.loss_and_gradient(x, y)  # traced separately for the gradient check
    return time.perf_counter() - start, time.process_time() - cpu_start


def bare_pgd_step(model, image_shape):
    """One compiled L-inf PGD step (forward, input gradient, sign step, projection): no framework around it."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *image_shape), tf.float32)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec((None,), tf.int64), tf.TensorSpec((), tf.float32)])
    def pgd_step(x, x0, y, eps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, model(x, training=False)))
        x = x + (0.01 / 0.3) * eps * tf.sign(tape.gradient(loss, x))
        return tf.clip_by_value(x0 + tf.clip_by_value(x - x0, -eps, eps), 0.0, 1.0)

    return pgd_step


def bare_pgd(pgd_step, images, labels, ids, epsilon: float, steps: int, batch_size: int) -> None:
    import tensorflow as tf

    for offset in range(0, len(ids), batch_size):
        x0 = tf.constant(images[ids[offset : offset + batch_size]])
        y = tf.constant(labels[ids[offset : offset + batch_size]])
        x = x0
        for _ in range(steps):
            x = pgd_step(x, x0, y, tf.constant(epsilon))
        x.numpy()


def steady_state(args, model, images: np.ndarray, labels: np.ndarray) -> dict:
    """The package's PGD batches vs the bare step, both traced first, alternated in one process (best of 3)."""
    from trainables.robustness.attacks.compiled import CompiledModel
    from trainables.robustness.attacks.pgd import PGDRunner

    runner = PGDRunner(CompiledModel.build(model, images.shape[1:]), args.seed, args.batch_size, 0.01 / 0.3, True)
    pgd_step = bare_pgd_step(model, images.shape[1:])
    ids, epsilon = np.arange(len(images)), SKIN_LADDER[-1]

    def package(chosen: np.ndarray) -> None:
        for offset in range(0, len(chosen), args.batch_size):
            batch = chosen[offset : offset + args.batch_size]
            radii, restarts = np.full(len(batch), epsilon), np.zeros(len(batch), int)
            runner.pgd_batch(images, labels, batch, radii, restarts, steps=args.steps)

    def bare(chosen: np.ndarray) -> None:
        bare_pgd(pgd_step, images, labels, chosen, epsilon, args.steps, args.batch_size)

    timings: dict[str, list[tuple[float, float]]] = {"package": [], "bare": []}
    package(ids[:1])  # trace both before any clock starts
    bare(ids[:1])
    for _ in range(3):
        for name, run in (("package", package), ("bare", bare)):
            start, cpu_start = time.perf_counter(), time.process_time()
            run(ids)
            timings[name].append((time.perf_counter() - start, time.process_time() - cpu_start))
    best = {name: (min(t[0] for t in runs), min(t[1] for t in runs)) for name, runs in timings.items()}
    return {"steady_best": best, "gradients": args.steps * len(images)}


def run_variant(args, workdir: Path) -> dict:
    import tensorflow as tf

    from trainables.runtime.timing import peak_rss_mb, reset_peak_rss

    model = build(args.model, args.image_size)
    model.load_weights(workdir / "model.weights.h5")
    count = args.num_images * (args.memory_factor if args.variant == "memory_10x" else 1)
    images, labels = synthetic_images(count, args.image_size, seed=args.seed + 2)
    model(images[:1], training=False)  # build the model outside the measured window
    reset = reset_peak_rss()
    ladder = list(SKIN_LADDER)
    attack = dict(steps=args.steps, rel_stepsize=0.01 / 0.3, random_start=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    record: dict = {"variant": args.variant, "points": count, "peak_reset": reset}

    if args.variant == "steady":
        record.update(accuracy=None, clean=None, **steady_state(args, model, images, labels))
        record.update(attack_seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start)
    elif args.variant in ("a", "memory_1x", "memory_10x"):
        from trainables.robustness import evaluate_robustness

        if args.variant.startswith("memory"):
            attack["steps"] = args.memory_steps
        else:
            record.update(trace_seconds_cpu=measure_tracing(model, images, labels))
            start, cpu_start = time.perf_counter(), time.process_time()
        result = evaluate_robustness(
            model, images, labels, ladder, seed=args.seed, batch_size=args.batch_size,
            run_checks=args.variant == "a", sample_indices=(), **attack,
        )  # fmt: skip
        record.update(
            accuracy=[result.accuracy[eps] for eps in ladder],
            clean=result.accuracy[0.0],
            gradients=result.gradient_evaluations,
            attack_seconds=result.seconds,
            cpu_seconds=result.cpu_seconds,
            check_seconds=result.check_seconds,
            check_gradients=result.check_gradient_evaluations,
            failed_checks={name: result.checks[name].detail for name in result.failed_checks()},
        )
    elif args.variant in ("b_eager", "b_compiled"):
        import foolbox as fb

        from trainables.robustness.attacks.compiled import compile_forward, default_device

        tf.random.set_seed(args.seed)
        forward = model if args.variant == "b_eager" else compile_forward(model, images.shape[1:])
        fmodel = fb.TensorFlowModel(forward, bounds=(0.0, 1.0), device=default_device())
        pgd = fb.attacks.LinfPGD(**attack)
        robust = np.zeros((len(ladder), count), dtype=bool)
        clean = 0
        for offset in range(0, count, args.batch_size):
            x = tf.constant(images[offset : offset + args.batch_size])
            y = tf.constant(labels[offset : offset + args.batch_size])
            clean += int(np.sum(np.argmax(fmodel(x).numpy(), axis=1) == y.numpy()))
            _, _, success = pgd(fmodel, x, y, epsilons=ladder)
            robust[:, offset : offset + len(y)] = ~success.numpy()
        record.update(
            accuracy=robust.mean(axis=1).tolist(),
            clean=clean / count,
            gradients=args.steps * count * len(ladder),
            attack_seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - cpu_start,
        )
    elif args.variant == "c_bare":
        pgd_step = bare_pgd_step(model, images.shape[1:])

        def attack_all(epsilon: float) -> None:
            bare_pgd(pgd_step, images, labels, np.arange(count), epsilon, args.steps, args.batch_size)

        # the hardware limit: traced before the clock starts, then every point at every epsilon like (b)
        pgd_step(tf.constant(images[:1]), tf.constant(images[:1]), tf.constant(labels[:1]), tf.constant(0.01))
        start, cpu_start = time.perf_counter(), time.process_time()
        for epsilon in SKIN_LADDER:
            attack_all(epsilon)
        record.update(
            accuracy=None,
            clean=None,
            gradients=args.steps * count * len(SKIN_LADDER),
            attack_seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - cpu_start,
        )
    record["wall_seconds"] = time.perf_counter() - start
    record["peak_rss_mb"] = peak_rss_mb()
    return record


# ------------------------------------------------------------------ orchestration and report


def spawn(args, workdir: Path, variant: str) -> dict:
    return run_variant_process(__file__, variant, workdir, forwarded(args))


def run_variant_process(script: str, variant: str, workdir: Path, arguments: list[str]) -> dict:
    """Run `script --variant V --workdir W ARGS` in a fresh process; its last JSON line is the variant's record.
    (Shared by the benchmarks: each variant gets its own process, so its peak RSS and traces are its own.)"""
    command = [sys.executable, script, "--variant", variant, "--workdir", str(workdir), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"variant {variant} failed:\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1])


def as_arguments(args, names) -> list[str]:
    return [item for name in names for item in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def forwarded(args) -> list[str]:
    names = ("num_images", "image_size", "batch_size", "steps", "model", "train_images", "epochs", "seed")
    return as_arguments(args, names + ("memory_factor", "memory_steps"))


def rates(record: dict) -> tuple[float, float]:
    """Gradient evaluations per wall second and per CPU second (the latter is robust to other load)."""
    return record["gradients"] / record["attack_seconds"], record["gradients"] / record["cpu_seconds"]


def report(args, prepared: dict, records: dict[str, dict]) -> str:
    bare_wall, bare_cpu = rates(records["c_bare"])
    rows = [
        "| variant | points | gradient evals | wall s | CPU s | gradients/s (wall) | vs (c) wall | vs (c) CPU "
        "| peak RSS MB | accuracy at " + " / ".join(f"{eps:g}" for eps in SKIN_LADDER) + " |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for variant, record in records.items():
        if variant == "steady":
            continue
        wall, cpu = rates(record)
        accuracy = " / ".join(f"{a:.3f}" for a in record["accuracy"]) if record["accuracy"] else "-"
        # memory rows run 1-2 steps: their rates measure start-up costs, not throughput
        relative = ("-", "-") if variant.startswith("memory") else (f"{wall / bare_wall:.2f}", f"{cpu / bare_cpu:.2f}")
        rows.append(
            f"| {DESCRIPTIONS[variant]} | {record['points']} | {record['gradients']} | "
            f"{record['attack_seconds']:.1f} | {record['cpu_seconds']:.1f} | {wall:.1f} | {relative[0]} | "
            f"{relative[1]} | {record['peak_rss_mb']:.0f} | {accuracy} |"
        )
    summary = [
        "",
        f"Machine: {prepared['machine']}.",
        f"Model: {args.model} ({prepared['params']:,} parameters) at {args.image_size} px, trained {args.epochs} "
        f"epochs on {args.train_images} synthetic 7-class images ({prepared['train_seconds']:.0f} s); clean accuracy "
        f"on the {args.num_images} test images {prepared['clean_accuracy']:.3f}. PGD: {args.steps} steps, "
        f"rel_stepsize 0.01/0.3, random start, batch {args.batch_size}; memory rows use {args.memory_steps} steps. "
        "Times are the attack's (clean pass included, process start and model loading excluded); CPU s is the "
        "process's CPU time over the same span (all threads), less sensitive than wall time to other jobs "
        "on a shared machine (though not immune: contention also costs CPU).",
        "",
    ]
    a = records.get("a")
    if a:
        a_wall, a_cpu = rates(a)
        trace_wall, trace_cpu = a["trace_seconds_cpu"]
        if a["attack_seconds"] > trace_wall and a["cpu_seconds"] > trace_cpu:
            untraced_wall = a["gradients"] / (a["attack_seconds"] - trace_wall) / bare_wall
            untraced_cpu = a["gradients"] / (a["cpu_seconds"] - trace_cpu) / bare_cpu
            untraced = f"{untraced_wall:.2f} by wall time, {untraced_cpu:.2f} by CPU time"
        else:
            untraced = "n/a (the run is shorter than tracing)"
        summary.append(
            f"- (a) gradient rate / (c) bare loop (target >= 0.9): end to end {a_wall / bare_wall:.2f} by wall time, "
            f"{a_cpu / bare_cpu:.2f} by CPU time; without (a)'s one-time tracing ({trace_wall:.1f} s wall, "
            f"{trace_cpu:.1f} s CPU, measured separately; (c) is traced before its clock starts) {untraced}"
        )
        summary.append(
            f"- checks after (a): {a['check_seconds']:.1f} s, {a['check_gradients']} gradient evaluations; "
            f"failed: {'; '.join(f'{name} ({detail})' for name, detail in a['failed_checks'].items()) or 'none'}"
        )
    for variant in ("b_eager", "b_compiled"):
        if a and variant in records:
            b = records[variant]
            never_above = all(x <= y + 1e-12 for x, y in zip(a["accuracy"], b["accuracy"]))
            summary.append(
                f"- {DESCRIPTIONS[variant]}: time / (a) time {b['attack_seconds'] / a['attack_seconds']:.2f}x wall, "
                f"{b['cpu_seconds'] / a['cpu_seconds']:.2f}x CPU; "
                f"(a) accuracies never above its: {'yes' if never_above else 'NO'}"
            )
    if "steady" in records:
        (package_wall, package_cpu), (bare_wall_s, bare_cpu_s) = (
            records["steady"]["steady_best"]["package"],
            records["steady"]["steady_best"]["bare"],
        )
        summary.append(
            f"- steady state, alternated in one process (best of 3, {records['steady']['gradients']} gradients each): "
            f"package rate / bare rate {bare_wall_s / package_wall:.2f} by wall time, {bare_cpu_s / package_cpu:.2f} "
            "by CPU time (target >= 0.9)"
        )
    if "memory_1x" in records and "memory_10x" in records:
        ratio = records["memory_10x"]["peak_rss_mb"] / records["memory_1x"]["peak_rss_mb"]
        summary.append(f"- peak RSS with {args.memory_factor}x the images: {ratio:.3f}x (target <= 1.10)")
    return "\n".join(rows + summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--model", choices=("auto", "mini_resnet50", "small_cnn"), default="auto")
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--memory-factor", type=int, default=10)
    parser.add_argument("--memory-steps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset; c_bare is always run")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variant:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        workdir = Path(args.workdir)
        record = prepare(args, workdir) if args.variant == "prepare" else run_variant(args, workdir)
        print(json.dumps(record))
        return
    args.model = resolve_model_name(args.model)
    with tempfile.TemporaryDirectory(prefix="pgd-throughput-") as directory:
        workdir = Path(directory)
        started = time.perf_counter()
        prepared = spawn(args, workdir, "prepare")
        print(f"trained {args.model}: clean accuracy {prepared['clean_accuracy']:.3f}", file=sys.stderr)
        records = {}
        for variant in dict.fromkeys(args.variants.split(",") + ["c_bare"]):
            records[variant] = spawn(args, workdir, variant)
            print(f"{variant}: {records[variant]['wall_seconds']:.1f} s", file=sys.stderr)
    print(report(args, prepared, records))
    print(f"\n(total benchmark wall time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
