"""False alarms and detection of the robustness checks, before (each check's old fixed threshold on its value) and
after (exact tests at CheckConfig.level, escalation, `learned`), on a panel of honest and masked models. Prints a
table; no timing. CPU-feasible: a few minutes on 2 cores.

    python benchmarks/check_calibration.py [--quick]

Honest: linear models on 6x6x3 images (2 and 4 classes, 64 / 200 / 600 points, the first two seeds whose labels are
not mostly one class) and small trained CNNs (12 px, 3 classes, three seeds), each at a smoke budget (PGD 10 x
eps/4, APGD-CE 10, Square 50) and a stronger one (the paper's PGD 40 x eps/30, APGD-CE 50, Square 300). Masked
(each kind on 2 linear models and 2 CNNs, strong budget): quantised logits (straight-through rounding), a
zero-gradient input layer, saturated logits (x 1e4: the softmax saturates, cross-entropy gradients vanish), input
noise (random at inference), a straight-through step (inputs rounded to 1/16 on the forward pass, identity
gradient). The old rule is recomputed from each check's value,
which keeps its meaning (the statistic before escalation).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' small models

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from test_robustness import (  # noqa: E402
    CNN_SIZE,
    StraightThroughQuantiser,
    ZeroGradientQuantiser,
    colour_data,
    linear_problem,
)

from trainables.robustness import evaluate_robustness  # noqa: E402
from trainables.robustness.evaluate.checks import majority_rate  # noqa: E402
from trainables.spec.evaluation import STATISTICAL_CHECKS, CheckConfig  # noqa: E402

LADDER = (0.01, 0.03, 0.1)
ATTACKS = ("pgd", "apgd_ce", "square")
BUDGETS = {"smoke": {"pgd": {"steps": 10, "rel_stepsize": 0.25}, "apgd_ce": {"steps": 10}, "square": {"queries": 50}},
           "strong": {"pgd": {"steps": 40, "rel_stepsize": 1 / 30}, "apgd_ce": {"steps": 50},
                      "square": {"queries": 300}}}
CONFIG = CheckConfig()
OLD_TOLERANCE = {"attack_monotone": CONFIG.monotone_tolerance, "converged": CONFIG.converged_delta,
                 "pgd_not_weaker_than_fgsm": CONFIG.fgsm_tolerance, "blackbox_not_stronger": CONFIG.blackbox_tolerance,
                 "unbounded_reaches_zero": CONFIG.unbounded_tolerance,
                 "gradients_usable": 0.1}  # the old tolerance (read on today's 128-point sample; it had 32)


class StraightThroughStep(keras.layers.Layer):
    """Inputs rounded to 1/16 on the forward pass, the identity's gradient on the backward pass."""

    def call(self, x):
        return x + tf.stop_gradient(tf.round(x * 16.0) / 16.0 - x)


class InputNoise(keras.layers.Layer):
    """Gaussian noise on the input at every forward pass (a randomized 'defence')."""

    def call(self, x):
        return tf.clip_by_value(x + tf.random.normal(tf.shape(x), stddev=0.05), 0.0, 1.0)


def masked(model, shape, kind: str):
    inputs = keras.Input(shape)
    if kind == "quantised_logits":
        return keras.Model(inputs, StraightThroughQuantiser()(keras.layers.Rescaling(20.0)(model(inputs))))
    if kind == "saturated_logits":
        return keras.Model(inputs, keras.layers.Rescaling(1e4)(model(inputs)))
    layer = {"zero_gradient_input": ZeroGradientQuantiser, "input_noise": InputNoise,
             "straight_through_step": StraightThroughStep}[kind]()
    return keras.Model(inputs, model(layer(inputs)))


MASKED_KINDS = ("quantised_logits", "zero_gradient_input", "saturated_logits", "input_noise", "straight_through_step")


def balanced_linear(classes: int, points: int, count: int) -> list:
    """The first `count` seeded linear problems whose majority rate is at most 1.5 / K. A random bias can make nearly
    every label one class; a model no better than the majority is not an honest model (`learned` fails it, rightly)."""
    problems = []
    for seed in range(10 * classes, 10 * classes + 100):
        model, images, labels, _ = linear_problem(classes, points, LADDER, seed=seed)
        if majority_rate(labels, classes) <= 1.5 / classes:
            problems.append((model, images, labels))
        if len(problems) == count:
            return problems
    raise RuntimeError(f"fewer than {count} balanced linear problems with K={classes}, n={points}")


def trained_cnn(seed: int, points: int):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = colour_data(600, rng)
    images, labels = colour_data(points, rng)
    inputs = keras.Input((CNN_SIZE, CNN_SIZE, 3))
    hidden = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    hidden = keras.layers.Conv2D(8, 3, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(hidden)))
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    return model, images, labels


def panel(quick: bool):
    """(group, name, model, images, labels, budget) of every honest and masked model."""
    linear_sizes = (64, 200) if quick else (64, 200, 600)
    entries = []
    linear_bases = []
    for classes in (2, 4):
        for points in linear_sizes:
            for model, images, labels in balanced_linear(classes, points, 2):
                linear_bases.append((model, images, labels))
                for budget in BUDGETS:
                    entries.append(("honest", f"linear K={classes} n={len(labels)} {budget}", model, images, labels,
                                    budget))
    cnns = [trained_cnn(seed, 64 if seed % 2 else 128) for seed in range(2 if quick else 3)]
    for seed, (model, images, labels) in enumerate(cnns):
        for budget in BUDGETS:
            entries.append(("honest", f"cnn seed {seed} n={len(labels)} {budget}", model, images, labels, budget))
    for kind in MASKED_KINDS:
        for index, (model, images, labels) in enumerate([linear_bases[1], linear_bases[-1], *cnns[:2]]):
            shape = images.shape[1:]
            entries.append((kind, f"{kind} #{index}", masked(model, shape, kind), images, labels, "strong"))
    return entries


def old_rule_fails(name: str, check, epsilons, labels, num_classes) -> bool:
    """The check's decision before this change: its value against a fixed threshold (no test, no escalation)."""
    if name == "learned":
        return False  # did not exist
    if name == "largest_eps_vs_chance":
        chance = max(1 / num_classes, majority_rate(labels, num_classes))
        return epsilons[-1] >= CONFIG.large_epsilon and check.value > chance + CONFIG.chance_margin
    if name in OLD_TOLERANCE:
        return check.value > OLD_TOLERANCE[name]
    return not check.passed  # the deterministic checks did not change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller panel (for a first look)")
    args = parser.parse_args()
    start = time.perf_counter()
    outcomes = []  # (group, {check: (old fails, new fails)}, escalated points, escalation gradients)
    for group, name, model, images, labels, budget in panel(args.quick):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = evaluate_robustness(model, images, labels, LADDER, attacks=ATTACKS, seed=0,
                                         budgets=BUDGETS[budget], batch_size=64)
        classes = int(np.asarray(model(images[:1])).shape[1])
        decisions = {check_name: (old_rule_fails(check_name, check, result.epsilons, labels, classes),
                                  not check.passed) for check_name, check in result.checks.items()}
        escalated = sum(check.escalated_points for check in result.checks.values())
        gradients = sum(check.escalation_gradients for check in result.checks.values())
        outcomes.append((group, decisions, escalated, gradients))
        print(f"  {group:22s} {name:32s} old: {','.join(c for c, (o, _) in decisions.items() if o) or '-':40s} "
              f"new: {result.failure_line()[:150] or '-'}", flush=True)
    checks = list(outcomes[0][1])
    honest = [o for o in outcomes if o[0] == "honest"]
    print(f"\n{len(honest)} honest models, {len(outcomes) - len(honest)} masked ({len(MASKED_KINDS)} kinds); level "
          f"{CONFIG.level:g} per test, {STATISTICAL_CHECKS} tests; {time.perf_counter() - start:.0f} s")
    print("\n| check | false alarms before | after | "
          + " | ".join(f"{kind} before / after" for kind in MASKED_KINDS) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(MASKED_KINDS))

    def rate(rows, check, which):
        return sum(row[1][check][which] for row in rows) / len(rows)

    for check in checks:
        cells = [f"{rate(honest, check, 0):.2f}", f"{rate(honest, check, 1):.2f}"]
        for kind in MASKED_KINDS:
            rows = [o for o in outcomes if o[0] == kind]
            cells.append(f"{rate(rows, check, 0):.2f} / {rate(rows, check, 1):.2f}")
        print(f"| {check} | " + " | ".join(cells) + " |")

    def trial_rate(rows, which):
        return sum(any(decision[which] for decision in row[1].values()) for row in rows) / len(rows)

    cells = [f"**{trial_rate(honest, 0):.2f}**", f"**{trial_rate(honest, 1):.2f}**"]
    cells += [f"**{trial_rate([o for o in outcomes if o[0] == kind], 0):.2f} / "
              f"{trial_rate([o for o in outcomes if o[0] == kind], 1):.2f}**" for kind in MASKED_KINDS]
    print("| **any check (the trial)** | " + " | ".join(cells) + " |")
    escalated = [o for o in honest if o[2]]
    print(f"\nhonest models that escalated: {len(escalated)} of {len(honest)} (points {sum(o[2] for o in honest)}, "
          f"extra gradients {sum(o[3] for o in honest):,}); Monte Carlo SE of a 5 % rate on {len(honest)} models: "
          f"{np.sqrt(0.05 * 0.95 / len(honest)):.3f}")


if __name__ == "__main__":
    main()
