"""The attack registry and the worst case over an ensemble, on nested epsilon balls (AutoAttack's rule).

Worst-case attacks run in the registry's order (pgd, apgd_ce, apgd_margin, apgd_dlr, square), whatever order the
caller names them in. The first named attack runs on every point over the whole ladder, by itself, so its accuracy
is that attack's own (with pgd first: the paper's number). The worst case runs on the ensemble points: at each
epsilon, in increasing order, each later attack attacks only the points that every earlier attack left robust at
that epsilon and that were robust at the epsilon before (a point broken at a smaller epsilon stays broken: its
adversarial input lies inside every larger ball). A point is robust at epsilon e only if every attack failed on it.
The accuracy "after" an attack is the worst case over it and the attacks before it, as AutoAttack reports it.

`fmn` is a radius attack: it estimates each point's smallest adversarial epsilon (Foolbox LInfFMNAttack) and never
enters the worst case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..registry import Registry
from .apgd import APGD, AttackCounter, ranked_targets, target_count
from .attack import MAIN_STREAM, PGDRunner, nested_pgd, start_noise
from .losses import LOSSES, compile_loss_gradient, margin_loss_for
from .settings import AttackSettings
from .square import Square

WORST_CASE = "worst_case"
RADIUS = "radius"


@dataclass
class AttackContext:
    """What an attack may use: the points, the compiled model, the settings and a cost counter per attack."""

    model: object
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    clean_logits: np.ndarray  # (N, K)
    num_classes: int
    settings: AttackSettings
    seed: int
    batch_size: int
    device: str
    forward: Callable  # compiled logits
    pgd_runner: PGDRunner
    counters: dict[str, AttackCounter] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    max_ball_violation: float = 0.0
    points_checked: int = 0
    compiled_apgd: dict[str, APGD] = field(default_factory=dict)  # per loss, compiled once per evaluation

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def counter(self, name: str) -> AttackCounter:
        return self.counters.setdefault(name, AttackCounter())

    def record_ball(self, point_ids: np.ndarray, adversarial: np.ndarray, epsilon: float) -> None:
        if len(point_ids) == 0:
            return
        distance = np.abs(adversarial - self.images[point_ids]).reshape(len(point_ids), -1).max(axis=1)
        excess = max(float(np.max(distance - epsilon)), -float(np.min(adversarial)), float(np.max(adversarial)) - 1)
        self.max_ball_violation = max(self.max_ball_violation, excess)
        self.points_checked += len(point_ids)


# A worst-case stage: (context, point ids, epsilon) -> (broken (M,), predictions of the breaking inputs (M,))
Stage = Callable[[AttackContext, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Attack:
    name: str
    role: str  # WORST_CASE or RADIUS
    gradient_free: bool
    min_classes: int
    description: str
    stage: Stage | None = None  # worst-case attacks
    estimate: Callable[[AttackContext, np.ndarray], np.ndarray] | None = None  # radius attacks: (M,) radii


ATTACKS: Registry[Attack] = Registry("attack")


def register_attack(attack: Attack, *, replace: bool = False) -> Attack:
    return ATTACKS.register(attack.name, attack, replace=replace)


def list_attacks(role: str | None = None) -> list[str]:
    return [name for name, attack in ATTACKS.items() if role is None or attack.role == role]


def validate_attacks(names: Sequence[str], num_classes: int | None = None, *,
                     radius_attack: str | None = None) -> tuple[str, ...]:
    """Worst-case attack names in the registry's order; ValueError naming the valid ones otherwise."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ValueError(f"attacks must name at least one attack; choose from {', '.join(list_attacks(WORST_CASE))}")
    worst_case = list_attacks(WORST_CASE)
    for name in names:
        attack = ATTACKS.get(name)
        if attack is None:
            raise ValueError(f"unknown attack {name!r}; worst-case attacks: {', '.join(worst_case)}; "
                             f"radius attacks (radius_attack=): {', '.join(list_attacks(RADIUS))}")
        if attack.role != WORST_CASE:
            raise ValueError(f"{name!r} estimates radii and cannot enter the worst case; pass it as "
                             f"radius_attack={name!r}; worst-case attacks: {', '.join(worst_case)}")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks must not repeat a name; received {list(names)}")
    if radius_attack is not None:
        attack = ATTACKS.get(radius_attack)
        if attack is None or attack.role != RADIUS:
            raise ValueError(f"radius_attack must be one of {', '.join(list_attacks(RADIUS))} or None; "
                             f"received {radius_attack!r}")
    if num_classes is not None:
        for name in [*names, *([radius_attack] if radius_attack else [])]:
            needed = ATTACKS[name].min_classes
            if num_classes < needed:
                raise ValueError(f"attack {name!r} needs at least {needed} classes; this task has {num_classes}")
    return tuple(name for name in worst_case if name in names)


def ensemble_rows(num_points: int, size: int | None, seed: int, single_attack: bool) -> np.ndarray:
    """The points the worst case rests on: all, or a fixed seeded subset of `size` (sorted)."""
    if single_attack or size is None or size >= num_points:
        return np.arange(num_points)
    return np.sort(np.random.default_rng([seed, 2]).choice(num_points, size, replace=False))


# --- the attacks -----------------------------------------------------------------------------------------------

def _counted_pgd(context: AttackContext, epsilons: Sequence[float], clean_correct: np.ndarray,
                 point_ids: np.ndarray | None = None, sample_indices: np.ndarray | None = None):
    """nested_pgd with its work added to the pgd counter."""
    runner, settings = context.pgd_runner, context.settings
    before = runner.gradient_evaluations, runner.queries
    outcome = nested_pgd(runner, context.images, context.labels, epsilons, clean_correct, steps=settings.steps,
                         restarts=settings.restarts, point_ids=point_ids, stream=MAIN_STREAM,
                         sample_indices=np.zeros(0, np.int64) if sample_indices is None else sample_indices)
    counter = context.counter("pgd")
    counter.gradient_evaluations += runner.gradient_evaluations - before[0]
    counter.queries += runner.queries - before[1]
    return outcome


def _pgd_stage(context: AttackContext, point_ids: np.ndarray, epsilon: float):
    outcome = _counted_pgd(context, [0.0, epsilon], np.ones(len(point_ids), bool), point_ids)
    return ~outcome.robust_mask[:, 1], outcome.broken_predictions


def _apgd_runs(context: AttackContext, name: str, loss: str, point_ids: np.ndarray, epsilon: float, runs: int):
    """`runs` APGD runs (one per target class for a targeted loss), each on the points the earlier ones left."""
    if loss not in context.compiled_apgd:
        gradient = compile_loss_gradient(context.model, context.image_shape, loss)
        context.compiled_apgd[loss] = APGD(gradient, context.image_shape, steps=context.settings.apgd_steps,
                                           batch_size=context.batch_size, device=context.device)
    attack = context.compiled_apgd[loss]
    broken = np.zeros(len(point_ids), dtype=bool)
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    stream = 2 + list(ATTACKS).index(name)
    for rank in range(1, runs + 1):
        rows = np.flatnonzero(~broken)
        if len(rows) == 0:
            break
        ids = point_ids[rows]
        targets = ranked_targets(context.clean_logits[ids], context.labels[ids], rank)
        starts = np.concatenate([start_noise(context.seed, stream, rank, epsilon, [point], context.image_shape)
                                 for point in ids])
        hit, adversarial, predicted = attack.attack(context.images[ids], context.labels[ids], targets, epsilon,
                                                    starts, counter=context.counter(name))
        context.record_ball(ids[hit], adversarial[hit], epsilon)
        broken[rows[hit]], predictions[rows[hit]] = True, predicted[hit]
    return broken, predictions


def _apgd_ce_stage(context: AttackContext, point_ids: np.ndarray, epsilon: float):
    return _apgd_runs(context, "apgd_ce", "cross_entropy", point_ids, epsilon, 1)


def _apgd_margin_stage(context: AttackContext, point_ids: np.ndarray, epsilon: float):
    loss = margin_loss_for(context.num_classes)
    runs = target_count(context.num_classes, context.settings.margin_targets) if LOSSES[loss].targeted else 1
    return _apgd_runs(context, "apgd_margin", loss, point_ids, epsilon, runs)


def _apgd_dlr_stage(context: AttackContext, point_ids: np.ndarray, epsilon: float):
    return _apgd_runs(context, "apgd_dlr", "dlr", point_ids, epsilon, 1)


def _square_stage(context: AttackContext, point_ids: np.ndarray, epsilon: float):
    attack = Square(context.forward, queries=context.settings.square_queries, batch_size=context.batch_size,
                    counter=context.counter("square"), device=context.device, seed=context.seed)
    broken, adversarial, predictions = attack.attack(context.images[point_ids], context.labels[point_ids],
                                                     point_ids, epsilon)
    context.record_ball(point_ids[broken], adversarial[broken], epsilon)
    return broken, predictions


def _fmn_estimate(context: AttackContext, point_ids: np.ndarray) -> np.ndarray:
    """Foolbox LInfFMNAttack's minimal adversarial L-inf distance per point (inf where it found none)."""
    import foolbox as fb
    import tensorflow as tf

    attack = fb.attacks.LInfFMNAttack(steps=context.settings.radius_steps)
    counter = context.counter("fmn")
    radii = np.full(len(point_ids), np.inf)
    for offset in range(0, len(point_ids), context.batch_size):
        rows = np.arange(offset, min(offset + context.batch_size, len(point_ids)))
        x = context.images[point_ids[rows]]
        with tf.device(context.device):
            _, clipped, success = attack(context.pgd_runner.fmodel, tf.constant(x),
                                         tf.constant(context.labels[point_ids[rows]], tf.int64), epsilons=None)
        distance = np.abs(clipped.numpy() - x).reshape(len(rows), -1).max(axis=1)
        radii[rows] = np.where(success.numpy(), distance, np.inf)
        counter.gradient_evaluations += context.settings.radius_steps * len(rows)
    return radii


register_attack(Attack("pgd", WORST_CASE, False, 2, "Foolbox LinfPGD, the paper's attack", stage=_pgd_stage))
register_attack(Attack("apgd_ce", WORST_CASE, False, 2, "Auto-PGD on cross-entropy", stage=_apgd_ce_stage))
register_attack(Attack("apgd_margin", WORST_CASE, False, 2,
                       "Auto-PGD on the margin loss that exists for K: logit margin (K=2), DLR (K=3), "
                       "targeted DLR over margin_targets classes (K>=4)", stage=_apgd_margin_stage))
register_attack(Attack("apgd_dlr", WORST_CASE, False, 3, "Auto-PGD on untargeted DLR (K >= 3)",
                       stage=_apgd_dlr_stage))
register_attack(Attack("square", WORST_CASE, True, 2, "Square Attack, gradient-free, margin loss",
                       stage=_square_stage))
register_attack(Attack("fmn", RADIUS, False, 2, "Foolbox LInfFMNAttack: per-point minimal L-inf radius",
                       estimate=_fmn_estimate))


def standalone(context: AttackContext, name: str, epsilons: Sequence[float], clean_correct: np.ndarray,
               sample_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One attack alone on every point over the nested ladder -> (mask (N, E), breaking predictions (N,))."""
    start = time.perf_counter()
    if name == "pgd":
        outcome = _counted_pgd(context, epsilons, clean_correct, sample_indices=sample_indices)
        mask, predictions = outcome.robust_mask, outcome.broken_predictions
    else:
        mask = np.zeros((len(clean_correct), len(epsilons)), dtype=bool)
        mask[:, 0] = clean_correct
        predictions = np.full(len(clean_correct), -1, dtype=np.int64)
        for k in range(1, len(epsilons)):
            rows = np.flatnonzero(mask[:, k - 1])
            broken, hit = ATTACKS[name].stage(context, rows, float(epsilons[k]))
            predictions[rows[broken]] = hit[broken]
            mask[rows[~broken], k] = True
    context.seconds[name] = context.seconds.get(name, 0.0) + time.perf_counter() - start
    return mask, predictions


# --- the worst case ----------------------------------------------------------------------------------------------

@dataclass
class WorstCase:
    """Per ensemble point (rows of `point_ids`): masks after each attack and who broke it where.

    after[name]: (M, E) bool, robust under this attack and every attack before it; broken_by: (M,) index into
    attacks, -1 where never broken at eps > 0; broken_predictions: (M,) class of the breaking input (-1: never).
    """

    attacks: tuple[str, ...]
    point_ids: np.ndarray
    after: dict[str, np.ndarray]
    broken_by: np.ndarray
    broken_predictions: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.after[self.attacks[-1]]


def worst_case(context: AttackContext, attacks: tuple[str, ...], epsilons: Sequence[float], point_ids: np.ndarray,
               clean_correct: np.ndarray, first_mask: np.ndarray, first_predictions: np.ndarray) -> WorstCase:
    """attacks[0] already ran alone on every point (first_mask (N, E), first_predictions (N,)); the others attack
    the survivors, epsilon by epsilon. clean_correct: (N,)."""
    count = len(point_ids)
    after = {name: np.zeros((count, len(epsilons)), dtype=bool) for name in attacks}
    for name in attacks:
        after[name][:, 0] = clean_correct[point_ids]
    broken_by = np.full(count, -1, dtype=np.int64)
    predictions = np.full(count, -1, dtype=np.int64)
    for k in range(1, len(epsilons)):
        alive = after[attacks[-1]][:, k - 1].copy()
        for index, name in enumerate(attacks):
            start = time.perf_counter()
            rows = np.flatnonzero(alive)
            if index == 0:
                broken = ~first_mask[point_ids[rows], k]
                hit_predictions = first_predictions[point_ids[rows]]
            else:
                broken, hit_predictions = ATTACKS[name].stage(context, point_ids[rows], float(epsilons[k]))
            broken_by[rows[broken]] = index
            predictions[rows[broken]] = hit_predictions[broken]
            alive[rows[broken]] = False
            after[name][:, k] = alive
            if index > 0:
                context.seconds[name] = context.seconds.get(name, 0.0) + time.perf_counter() - start
    return WorstCase(attacks, point_ids, after, broken_by, predictions)
