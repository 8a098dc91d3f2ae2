"""The worst-case evaluation vs stock ART AutoAttack-style evaluation, same model, points, attacks and budgets.

  (a)  trainables.robustness.evaluate_robustness(attacks=pgd, apgd_ce, apgd_margin, square): nested epsilons, each
       attack only on the points every earlier attack left robust, early exit inside APGD and Square
  (b)  stock libraries at every epsilon on every point: Foolbox LinfPGD, ART AutoProjectedGradientDescent
       (cross-entropy; then targeted DLR once per target class, the classes ranked by clean logit as AutoAttack's
       APGD-T does), ART SquareAttack; a point is robust at an epsilon when every attack failed on it there
  (m)  (a) on N and on 4N points: peak RSS must be set by the batch size, not the number of points
Work is counted per point: gradient evaluations (one per point per input gradient) and model queries (forward-only
passes per point). The model and images are those of benchmarks/pgd_throughput.py (synthetic 7-class images,
trained a few epochs: a mini ResNet-50 at 64 px whose PGD accuracy falls along the ladder as the paper's models'
do); the ladder is the paper's skin-lesion ladder. Each variant runs in its own subprocess.

Usage: python benchmarks/robust_eval.py [--num-images 32] [--image-size 64] [--model mini_resnet50] [--steps 40]
       [--apgd-steps 100] [--margin-targets 3] [--square-queries 500] [--epochs 3] [--variants a,b,memory_1x,memory_4x]
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
import pgd_throughput as shared  # noqa: E402  (the benchmarks' shared model and data)

LADDER = shared.SKIN_LADDER
VARIANTS = ("a", "b", "memory_1x", "memory_4x")
DESCRIPTIONS = {
    "a": "(a) worst case, nested, early exit (this package)",
    "b": "(b) stock Foolbox PGD + ART APGD/Square, every eps x every point",
    "memory_1x": "(m) (a) on N points",
    "memory_4x": "(m) (a) on 4N points",
}
MEMORY_FACTOR = 4


class WorkCounter:
    """Per-point gradient evaluations and queries of every ART estimator: APGD builds its own estimator around the
    model (with its loss), so the counting wraps the estimator class's methods, not one instance."""

    def __init__(self) -> None:
        self.gradient_evaluations = 0
        self.queries = 0

    def install(self) -> None:
        from art.estimators.classification import TensorFlowV2Classifier

        counter = self
        loss_gradient, class_gradient, predict = (TensorFlowV2Classifier.loss_gradient,
                                                  TensorFlowV2Classifier.class_gradient, TensorFlowV2Classifier.predict)

        def counted_loss_gradient(self, x, y, **kwargs):
            counter.gradient_evaluations += len(x)
            return loss_gradient(self, x, y, **kwargs)

        def counted_class_gradient(self, x, label=None, **kwargs):
            counter.gradient_evaluations += len(x)
            return class_gradient(self, x, label, **kwargs)

        def counted_predict(self, x, batch_size=128, **kwargs):
            counter.queries += len(x)
            return predict(self, x, batch_size=batch_size, **kwargs)

        TensorFlowV2Classifier.loss_gradient = counted_loss_gradient
        TensorFlowV2Classifier.class_gradient = counted_class_gradient
        TensorFlowV2Classifier.predict = counted_predict


def stock_evaluation(args, model, images: np.ndarray, labels: np.ndarray) -> dict:
    """(b): every attack on every point at every epsilon with the stock libraries."""
    import foolbox as fb
    import keras
    import tensorflow as tf
    from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack
    from art.estimators.classification import TensorFlowV2Classifier

    from trainables.robustness.attacks.apgd import ranked_targets
    from trainables.spec.attacks import target_count

    counter = WorkCounter()
    counter.install()
    estimator = TensorFlowV2Classifier(model=model, nb_classes=shared.NUM_CLASSES, input_shape=images.shape[1:],
                                       clip_values=(0.0, 1.0),
                                       loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fmodel = fb.TensorFlowModel(model, bounds=(0.0, 1.0), device="/CPU:0")
    clean_logits = model(images, training=False).numpy()
    robust = np.argmax(clean_logits, axis=1) == labels
    accuracy = {0.0: float(robust.mean())}
    pgd_gradients = 0
    np.random.seed(args.seed)

    def still_correct(adversarial: np.ndarray) -> np.ndarray:
        return np.argmax(model(adversarial, training=False).numpy(), axis=1) == labels

    for eps in LADDER:
        correct = robust.copy()
        pgd = fb.attacks.LinfPGD(steps=args.steps, rel_stepsize=0.01 / 0.3, random_start=True)
        for start in range(0, len(images), args.batch_size):
            ids = slice(start, start + args.batch_size)
            _, _, success = pgd(fmodel, tf.constant(images[ids]), tf.constant(labels[ids]), epsilons=eps)
            correct[ids] &= ~success.numpy()
        pgd_gradients += args.steps * len(images)
        apgd_ce = AutoProjectedGradientDescent(estimator, norm=np.inf, eps=eps, eps_step=2 * eps,
                                               max_iter=args.apgd_steps, nb_random_init=1, batch_size=args.batch_size,
                                               loss_type="cross_entropy", verbose=False)
        correct &= still_correct(apgd_ce.generate(images, labels))
        for rank in range(1, target_count(shared.NUM_CLASSES, args.margin_targets) + 1):
            apgd_t = AutoProjectedGradientDescent(estimator, norm=np.inf, eps=eps, eps_step=2 * eps,
                                                  max_iter=args.apgd_steps, nb_random_init=1, targeted=True,
                                                  batch_size=args.batch_size, loss_type="difference_logits_ratio",
                                                  verbose=False)
            correct &= still_correct(apgd_t.generate(images, ranked_targets(clean_logits, labels, rank)))
        square = SquareAttack(estimator, norm=np.inf, eps=eps, max_iter=args.square_queries, nb_restarts=1,
                              batch_size=args.batch_size, verbose=False)
        correct &= still_correct(square.generate(images, labels))
        accuracy[eps] = float(correct.mean())
    return {"accuracy": accuracy, "gradient_evaluations": counter.gradient_evaluations + pgd_gradients,
            # the clean pass; per epsilon PGD's success test, and one test after APGD-CE, each target and Square
            "queries": counter.queries + len(images) * (1 + len(LADDER) * (3 + target_count(shared.NUM_CLASSES,
                                                                                               args.margin_targets)))}


def run_variant(args, workdir: Path) -> dict:
    from trainables.spec.attacks import WORST_CASE_ATTACKS
    from trainables.robustness import evaluate_robustness
    from trainables.runtime.timing import peak_rss_mb, reset_peak_rss

    model = shared.build(args.model, args.image_size)
    model.load_weights(workdir / "model.weights.h5")
    count = args.num_images * (MEMORY_FACTOR if args.variant == "memory_4x" else 1)
    images, labels = shared.synthetic_images(count, args.image_size, seed=args.seed + 2)
    model(images[:1], training=False)
    reset = reset_peak_rss()
    start, cpu_start = time.perf_counter(), time.process_time()
    steps, apgd_steps, queries = (5, 5, 20) if args.variant.startswith("memory") else (
        args.steps, args.apgd_steps, args.square_queries)
    budgets = {"pgd": {"steps": steps}, "apgd_ce": {"steps": apgd_steps},
               "apgd_margin": {"steps": apgd_steps, "targets": args.margin_targets}, "square": {"queries": queries}}
    if args.variant == "b":
        record = stock_evaluation(args, model, images, labels)
    else:
        result = evaluate_robustness(model, images, labels, LADDER, attacks=WORST_CASE_ATTACKS, seed=args.seed,
                                     run_checks=False, sample_indices=(), budgets=budgets,
                                     batch_size=args.batch_size)
        record = {"accuracy": result.accuracy, "gradient_evaluations": result.gradient_evaluations,
                  "queries": result.queries, "by_attack": result.accuracy_by_attack, "cost": result.cost}
    record.update(wall_seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start,
                  peak_rss_mb=peak_rss_mb(), peak_reset=reset, points=count)
    record["accuracy"] = {repr(float(eps)): acc for eps, acc in record["accuracy"].items()}
    record.pop("by_attack", None)
    return record


def spawn(args, workdir: Path, variant: str) -> dict:
    names = ("num_images", "image_size", "batch_size", "steps", "apgd_steps", "margin_targets", "square_queries",
             "model", "train_images", "epochs", "seed")
    return shared.run_variant_process(__file__, variant, workdir, shared.as_arguments(args, names))


def report(args, prepared: dict, records: dict[str, dict]) -> str:
    lines = [f"machine: {prepared['machine']}",
             f"model: {args.model} at {args.image_size} px, clean accuracy {prepared['clean_accuracy']:.3f}; "
             f"{args.num_images} points; budgets: PGD {args.steps} steps, APGD {args.apgd_steps} iterations, "
             f"{target_count_text(args)} DLR targets, Square {args.square_queries} queries; batch {args.batch_size}",
             "", "| variant | points | gradient evals | queries | wall s | CPU s | peak RSS MB | accuracy per eps |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for variant, record in records.items():
        accuracy = " ".join(f"{float(eps):g}: {acc:.3f}" for eps, acc in record["accuracy"].items())
        lines.append(f"| {DESCRIPTIONS[variant]} | {record['points']} | {record['gradient_evaluations']:,} | "
                     f"{record['queries']:,} | {record['wall_seconds']:.1f} | {record['cpu_seconds']:.1f} | "
                     f"{record['peak_rss_mb']:.0f} | {accuracy} |")
    if "a" in records and "b" in records:
        a, b = records["a"], records["b"]
        work_a, work_b = a["gradient_evaluations"] + a["queries"], b["gradient_evaluations"] + b["queries"]
        gaps = {eps: a["accuracy"][eps] - b["accuracy"][eps] for eps in a["accuracy"]}
        worst_eps = max(gaps, key=gaps.get)
        noise = 2 * np.sqrt(0.25 / args.num_images)
        lines += ["", f"work (gradients + queries): (a) / (b) = {work_a / work_b:.3f} (target <= 0.333): "
                      f"{'met' if work_a <= work_b / 3 else 'NOT met'}",
                  f"gradient evaluations (a) / (b) = {a['gradient_evaluations'] / b['gradient_evaluations']:.3f}; "
                  f"queries (a) / (b) = {a['queries'] / b['queries']:.3f}; wall (a) / (b) = "
                  f"{a['wall_seconds'] / b['wall_seconds']:.3f}",
                  f"largest (a) - (b) accuracy: {gaps[worst_eps]:+.3f} at eps {float(worst_eps):g} (attack noise "
                  f"~ two binomial standard errors at p = 0.5: {noise:.3f}): "
                  f"{'within noise' if gaps[worst_eps] <= noise else 'ABOVE noise'}",
                  "per attack in (a): " + "; ".join(f"{name} {cost['gradient_evaluations']:,} gradients, "
                                                    f"{cost['queries']:,} queries, {cost['seconds']:.1f} s"
                                                    for name, cost in a["cost"].items())]
    if "memory_1x" in records and "memory_4x" in records:
        ratio = records["memory_4x"]["peak_rss_mb"] / records["memory_1x"]["peak_rss_mb"]
        lines.append(f"peak RSS {MEMORY_FACTOR}N / N = {ratio:.3f} (the images themselves add "
                     f"{(MEMORY_FACTOR - 1) * args.num_images * args.image_size ** 2 * 3 * 4 / 2**20:.1f} MB)")
    return "\n".join(lines)


def target_count_text(args) -> str:
    return str(min(args.margin_targets, shared.NUM_CLASSES - 1))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--apgd-steps", type=int, default=100)
    parser.add_argument("--margin-targets", type=int, default=3)
    parser.add_argument("--square-queries", type=int, default=500)
    parser.add_argument("--model", default="mini_resnet50", choices=("small_cnn", "mini_resnet50"))
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variant:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        workdir = Path(args.workdir)
        record = shared.prepare(args, workdir) if args.variant == "prepare" else run_variant(args, workdir)
        print(json.dumps(record))
        return
    with tempfile.TemporaryDirectory(prefix="robust-eval-") as directory:
        workdir = Path(directory)
        started = time.perf_counter()
        prepared = spawn(args, workdir, "prepare")
        print(f"trained {args.model}: clean accuracy {prepared['clean_accuracy']:.3f}", file=sys.stderr)
        records = {}
        for variant in args.variants.split(","):
            records[variant] = spawn(args, workdir, variant)
            print(f"{variant}: {records[variant]['wall_seconds']:.1f} s", file=sys.stderr)
    print(report(args, prepared, records))
    print(f"\n(total benchmark wall time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
