"""AutoAttack's `version='rand'` against the smoothed classifier g: APGD-CE and APGD on the margin loss, each step's
loss and gradient an expectation over `draws` Gaussian noise draws (eot.py) at the context's `noise_sigma`.

APGD retires a point when the noisy copies' majority vote leaves its label by `vote_margin` (in vote shares), and
that input is only a candidate: a point counts broken for g only when Cohen et al.'s PREDICT, re-run on the candidate
with its own `predict_n` fresh draws (a noise stream seeded per attack and epsilon, independent of the attack's),
returns a class other than the label at level `predict_alpha`; an abstention is not a break. Why not the vote: the
share of 20 draws has a standard error up to 0.11, so near g's decision boundary it names the wrong class about half
the time; counting those as breaks would lower the empirical bound below g's true robust accuracy (it would stop
being an upper bound) and would fail the bracket check (bracket.py) on certified points by noise alone. PREDICT
names a class g does not predict with probability at most predict_alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config_rules import Rule
from .apgd_attacks import STREAMS, APGDBudget, apgd_runs, compiled_apgd, margin_runs
from .attack_spec import WORST_CASE, AttackContext, AttackSpec
from .certify import predict_smoothed
from .eot import EOT_DRAWS, compile_eot_loss_gradient
from .losses import margin_loss_for

RAND_ATTACKS = ("apgd_ce_eot", "apgd_margin_eot")
"""AutoAttack's `rand` version: the attack set run against the smoothed classifier of a certified trial."""


@dataclass(frozen=True)
class EoTBudget(APGDBudget):
    """steps: APGD iterations; draws: noise draws per loss gradient (AutoAttack rand: 20); vote_margin: how far below
    another class's vote share the label's must fall before APGD hands the input to PREDICT; predict_n and
    predict_alpha: PREDICT's draws and level deciding whether g is broken there."""

    draws: int = EOT_DRAWS
    vote_margin: float = 0.2
    predict_n: int = 1000
    predict_alpha: float = 0.001

    RULES: ClassVar = {**APGDBudget.RULES, "draws": Rule("int", low=1), "vote_margin": Rule("float", low=0, high=1),
                       "predict_n": Rule("int", low=1), "predict_alpha": Rule("float", low=0, high=1, low_open=True,
                                                                              high_open=True)}


@dataclass(frozen=True)
class EoTTargetsBudget(EoTBudget):
    """targets: target classes of the targeted DLR run on K >= 4 classes (capped at K - 1)."""

    targets: int = 9

    RULES: ClassVar = {**EoTBudget.RULES, "targets": Rule("int", low=1)}


def validate_predict_budget(name: str, budget: EoTBudget) -> None:
    """PREDICT can name a class only when n agreeing draws reach its level: 2 * 0.5^n <= alpha; else ValueError."""
    needed = math.ceil(math.log2(2.0 / budget.predict_alpha))
    if budget.predict_n < needed:
        raise ValueError(f"attack.{name}.predict_n = {budget.predict_n} draws can never confirm a break at "
                         f"predict_alpha = {budget.predict_alpha:g} (the attack could break nothing); the minimum is "
                         f"{needed}")


def decisive_votes(loss_gradient, margin: float):
    """The EoT loss gradient with the label's vote share raised by `margin`: APGD, which retires a point when the
    scores' argmax leaves the label, keeps climbing until the vote is decisive."""
    import tensorflow as tf

    def scored(x, labels, targets):
        loss, gradient, shares = loss_gradient(x, labels, targets)
        return loss, gradient, shares + margin * tf.one_hot(labels, tf.shape(shares)[-1])

    return scored


def predict_seed(seed: int, name: str, epsilon: float) -> int:
    """PREDICT's noise seed for one attack at one epsilon: a stream of its own, independent of the attack's draws."""
    state = np.random.SeedSequence([seed, STREAMS[name], int(round(epsilon * 1e9))]).generate_state(1, np.uint64)
    return int(state[0] >> 1)


def eot_runs(context: AttackContext, name: str, loss: str, budget: EoTBudget, point_ids: np.ndarray, epsilon: float,
             runs: int):
    """APGD on the EoT gradient; its candidates confirmed by PREDICT (module docstring)."""
    sigma = float(context.noise_sigma)
    key = ("eot", loss, sigma, budget.draws, budget.vote_margin)
    attack = compiled_apgd(context, key, lambda: decisive_votes(compile_eot_loss_gradient(
        context.model, context.image_shape, loss, sigma=sigma, draws=budget.draws, seed=context.seed),
        budget.vote_margin), budget.steps)

    def confirm(ids: np.ndarray, adversarial: np.ndarray):
        counter = context.counter(name)
        counter.queries += len(ids) * budget.predict_n
        smoothed = predict_smoothed(context.model, adversarial, sigma=sigma, n=budget.predict_n,
                                    alpha=budget.predict_alpha, batch_size=context.batch_size,
                                    seed=predict_seed(context.seed, name, epsilon), point_ids=ids)
        prediction = smoothed.prediction
        return (prediction >= 0) & (prediction != context.labels[ids]), prediction

    return apgd_runs(context, name, loss, point_ids, epsilon, runs, budget.steps, attack=attack, confirm=confirm)


def _ce_stage(context: AttackContext, budget: EoTBudget, point_ids: np.ndarray, epsilon: float):
    return eot_runs(context, "apgd_ce_eot", "cross_entropy", budget, point_ids, epsilon, 1)


def _margin_stage(context: AttackContext, budget: EoTTargetsBudget, point_ids: np.ndarray, epsilon: float):
    return eot_runs(context, "apgd_margin_eot", margin_loss_for(context.num_classes), budget, point_ids, epsilon,
                    margin_runs(budget, context.num_classes))


def _cost(runs: int, budget: EoTBudget) -> tuple[int, int]:
    """Per run: (steps + 1) EoT gradients of `draws` draws each, and PREDICT's draws on its candidate."""
    return runs * (budget.steps + 1) * budget.draws, runs * budget.predict_n


APGD_CE_EOT = AttackSpec(
    "apgd_ce_eot", WORST_CASE, EoTBudget, lambda budget, classes: _cost(1, budget),
    "Auto-PGD on cross-entropy with expectation over the smoothing noise (AutoAttack rand), breaks confirmed by "
    "PREDICT: attacks the smoothed classifier", stage=_ce_stage)
APGD_MARGIN_EOT = AttackSpec(
    "apgd_margin_eot", WORST_CASE, EoTTargetsBudget,
    lambda budget, classes: _cost(margin_runs(budget, classes), budget),
    "Auto-PGD on the margin loss for K with expectation over the smoothing noise (AutoAttack rand), breaks confirmed "
    "by PREDICT: attacks the smoothed classifier", stage=_margin_stage)
