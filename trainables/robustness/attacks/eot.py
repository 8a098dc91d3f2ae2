"""AutoAttack's `version='rand'` against the smoothed classifier g: APGD-CE and APGD on the margin loss, each step's
loss and gradient an expectation over transformation (EoT) of `draws` Gaussian noise draws at the context's
`noise_sigma`.

The gradient attacks see g through the base model f under Gaussian noise: each call averages the loss and its input
gradient over `draws` noisy copies x + e, e ~ N(0, sigma^2 I) in [0, 1] pixel space, not clipped (AutoAttack: 20
draws). The returned scores are the draws' vote shares, so their argmax is the draws' majority vote, an estimate of
g's prediction. The noise comes from a tf.random.Generator seeded once: every call draws fresh noise, the sequence
is reproducible. The function has the signature of losses.compile_loss_gradient and drops into apgd.APGD unchanged.

APGD runs every point for its whole budget (none retired on a vote: a 20-draw vote that looks decisive early is
often g still naming the label, and the attack must keep going) and keeps, per point, its best iterate by the vote
margin (the label's share minus the largest other share; ties keep the later iterate) and its last. Those are only
candidates: a point counts broken for g only when Cohen et al.'s PREDICT, re-run on a candidate with its own
`predict_n` fresh draws (a noise stream seeded per attack, epsilon and candidate, independent of the attack's),
returns a class other than the label at level `predict_alpha`; an abstention is not a break. PREDICT is asked about
the best candidate, and about the last where the best was not confirmed, whenever that candidate's vote came within
`vote_margin` of leaving the label (a vote far from it cannot be a confirmed break at these budgets). Why not the
vote: the share of 20 draws has a standard error up to 0.11, so near g's decision boundary it names the wrong class
about half the time; counting those as breaks would lower the empirical bound below g's true robust accuracy (it
would stop being an upper bound) and would fail the bracket check (smoothing/bracket.py) on certified points by noise
alone. Each PREDICT names a class g does not predict with probability at most predict_alpha (two per point and run:
at most 2 predict_alpha).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ...spec.attacks import EOT_DRAWS, EoTBudget, EoTTargetsBudget, margin_loss_for, margin_runs
from ..smoothing.certify import predict_smoothed
from .apgd import compiled_apgd, targeted_runs
from .context import APGD_STREAMS, AttackContext, Kernel
from .losses import LOSS_FUNCTIONS


def compile_eot_loss_gradient(model, image_shape: Sequence[int], loss: str, *, sigma: float,
                              draws: int = EOT_DRAWS, seed: int = 0):
    """tf.function (x (B, H, W, C), labels (B,), targets (B,)) -> (mean loss (B,), mean d loss_i / d x_i (B, H, W, C),
    vote shares (B, K)). Memory: one batch of noisy copies at a time (the draws run in a graph loop)."""
    function = LOSS_FUNCTIONS.lookup(loss)
    generator = tf.random.Generator.from_seed(seed)
    shape = tuple(int(size) for size in image_shape)
    num_classes = int(model(tf.zeros((1, *shape)), training=False).shape[-1])

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32),
                                  tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.int64)])
    def loss_gradient(x, labels, targets):
        loss_sum = tf.zeros(tf.shape(x)[:1], tf.float32)
        gradient_sum = tf.zeros_like(x)
        votes = tf.zeros((tf.shape(x)[0], num_classes), tf.float32)
        for _ in tf.range(draws):
            noisy = x + sigma * generator.normal(tf.shape(x), dtype=tf.float32)
            with tf.GradientTape() as tape:
                tape.watch(noisy)
                logits = tf.cast(model(noisy, training=False), tf.float32)
                values = function(logits, labels, targets)
                total = tf.reduce_sum(values)
            loss_sum += values
            gradient_sum += tape.gradient(total, noisy, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            votes += tf.one_hot(tf.argmax(logits, axis=-1), num_classes)
        scale = 1.0 / float(draws)
        return loss_sum * scale, gradient_sum * scale, votes * scale

    return loss_gradient


def predict_seed(seed: int, name: str, epsilon: float, candidate: int = 0) -> int:
    """PREDICT's noise seed for one attack at one epsilon (and which candidate: 0 best, 1 last): a stream of its own,
    independent of the attack's draws."""
    key = [seed, APGD_STREAMS[name], int(round(epsilon * 1e9))] + ([candidate] if candidate else [])
    state = np.random.SeedSequence(key).generate_state(1, np.uint64)
    return int(state[0] >> 1)


def confirmed_breaks(predict, labels: np.ndarray, candidates: dict[str, np.ndarray], vote_margin: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PREDICT on the best candidate, then on the last where the best was not confirmed (module docstring).
    predict: (rows (R,), inputs (R, H, W, C), candidate 0 | 1) -> g's classes (R,) (-1: abstain); candidates:
    APGD.attack_to_budget's. -> (broken (M,), g's class there (M,), the breaking input (M, H, W, C))."""
    broken = np.zeros(len(labels), dtype=bool)
    predictions = np.full(len(labels), -1, dtype=np.int64)
    adversarial = candidates["best"].copy()
    for index, name in enumerate(("best", "last")):
        rows = np.flatnonzero(~broken & (candidates[f"{name}_margin"] <= vote_margin))
        if len(rows) == 0:
            continue
        prediction = predict(rows, candidates[name][rows], index)
        hit = (prediction >= 0) & (prediction != labels[rows])
        broken[rows[hit]], predictions[rows[hit]] = True, prediction[hit]
        adversarial[rows[hit]] = candidates[name][rows[hit]]
    return broken, predictions, adversarial


def eot_runs(context: AttackContext, name: str, loss: str, budget: EoTBudget, point_ids: np.ndarray, epsilon: float,
             runs: int):
    """`runs` APGD runs on the EoT gradient (one per target class for a targeted loss), each on the points the
    earlier ones left, every point for the whole budget; its candidates confirmed by PREDICT (module docstring)."""
    sigma = float(context.noise_sigma)
    key = ("eot", loss, sigma, budget.draws)
    attack = compiled_apgd(context, key, lambda: compile_eot_loss_gradient(
        context.model, context.image_shape, loss, sigma=sigma, draws=budget.draws, seed=context.seed), budget.steps)

    def run_once(ids, targets, starts):
        candidates = attack.attack_to_budget(context.images[ids], context.labels[ids], targets, epsilon, starts,
                                             counter=context.counter(name))
        context.record_ball(ids, candidates["best"], epsilon)
        context.record_ball(ids, candidates["last"], epsilon)

        def predict(subset, inputs, candidate):
            context.counter(name).queries += len(subset) * budget.predict_n
            return predict_smoothed(context.model, inputs, sigma=sigma, n=budget.predict_n,
                                    alpha=budget.predict_alpha, batch_size=context.batch_size,
                                    seed=predict_seed(context.seed, name, epsilon, candidate),
                                    point_ids=ids[subset]).prediction

        hit, predicted, _ = confirmed_breaks(predict, context.labels[ids], candidates, budget.vote_margin)
        return hit, predicted

    return targeted_runs(context, name, point_ids, epsilon, runs, run_once)


def _ce_stage(context: AttackContext, budget: EoTBudget, point_ids: np.ndarray, epsilon: float):
    return eot_runs(context, "apgd_ce_eot", "cross_entropy", budget, point_ids, epsilon, 1)


def _margin_stage(context: AttackContext, budget: EoTTargetsBudget, point_ids: np.ndarray, epsilon: float):
    return eot_runs(context, "apgd_margin_eot", margin_loss_for(context.num_classes), budget, point_ids, epsilon,
                    margin_runs(budget, context.num_classes))


APGD_CE_EOT = Kernel(stage=_ce_stage)
APGD_MARGIN_EOT = Kernel(stage=_margin_stage)
