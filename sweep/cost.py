"""What a trial costs, from its config alone (no data read): for `--dry-run`, to size a cluster before paying for it.

images per epoch: the training split (its published size for real data, capped by max_train; stand-ins: the
  generated size) times the per-epoch fraction (skin lesion 0.1). Training runs at most `epochs` epochs (early
  stopping usually ends it sooner).
attack gradient evaluations at most (one = one image's input gradient): every attacked point at every epsilon > 0,
  `steps` per restart, as if no point ever broke (nested balls stop attacking broken points, so real runs cost
  less), plus the sanity checks: on CHECK_SAMPLE points one gradient, and at the middle and largest epsilon a
  stronger PGD (2x steps, one more restart) and one FGSM step; each explanation sample attacked at every epsilon;
  and the ensemble (trainables.robustness.ensemble) on its `ensemble_points` points at every epsilon: each APGD run
  `apgd_steps` + 1 gradients (apgd_margin runs once per target class on K >= 4 classes), the radius attack
  `radius_steps` per point, and again on the check sample at the two unbounded epsilons.
attack queries at most (forward-only passes): Square's `square_queries` per ensemble point and epsilon, likewise.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainables.config import TrialConfig
from trainables.data import get_task
from trainables.data.pipeline import epoch_size
from trainables.data.sources.synthetic import split_sizes
from trainables.robustness.apgd import target_count
from trainables.robustness.losses import LOSSES, margin_loss_for

CHECK_SAMPLE = 32  # trainables.robustness.checks.CheckConfig.sample_size
CHECK_EPSILONS = 2  # the middle and the largest epsilon
UNBOUNDED_EPSILONS = 2  # CheckConfig.unbounded_epsilons

# (train, val, test) of the published releases; seeded grouped splits are within a few records of these
PUBLISHED_SPLIT_SIZES = {
    ("original", "skin_lesion"): (7010, 1002, 2003),  # HAM10000, 10,015 images, 70/10/20
    ("original", "diabetic_retinopathy"): (24588, 3513, 7025),  # Kaggle DR 2015 train, 35,126 images, 70/10/20
    ("original", "pneumothorax"): (75708, 10816, 25596),  # ChestX-ray14: official test list, val 12.5 % of the rest
    ("medmnist", "skin_lesion"): (7007, 1003, 2005),
    ("medmnist", "diabetic_retinopathy"): (1080, 120, 400),
    ("medmnist", "pneumothorax"): (78468, 11219, 22433),
}


@dataclass(frozen=True)
class TrialCost:
    images_per_epoch: int
    training_images: int  # at most: images_per_epoch x epochs (0 for a re-evaluation)
    attacked_points: int
    gradient_evaluations: int  # at most
    queries: int = 0  # at most


def split_sizes_of(trial: TrialConfig) -> tuple[int, int, int]:
    if trial.source == "synthetic":
        sizes = split_sizes(trial.max_train, trial.max_test)
        return sizes["train"], sizes["val"], sizes["test"]
    train, val, test = PUBLISHED_SPLIT_SIZES[(trial.source, trial.task)]
    if trial.max_train is not None:
        train = min(train, trial.max_train)
    if trial.max_test is not None:
        val, test = min(val, -(-trial.max_test // 2)), min(test, trial.max_test)
    return train, val, test


def trial_cost(trial: TrialConfig) -> TrialCost:
    train, _, test = split_sizes_of(trial)
    per_epoch = epoch_size(train, trial.epoch_fraction)
    training = 0 if trial.source_run_id else per_epoch * trial.epochs
    points = test if trial.max_eval is None else min(test, trial.max_eval)
    epsilons = len([eps for eps in trial.epsilons if eps > 0])
    main = points * epsilons * trial.pgd_steps * trial.restarts
    sample = min(CHECK_SAMPLE, points)
    check_epsilons = min(CHECK_EPSILONS, epsilons)
    checks = sample * (1 + check_epsilons * (2 * trial.pgd_steps * (trial.restarts + 1) + 1))
    samples = min(trial.explain_samples, points) * epsilons * trial.pgd_steps
    ensemble = points if trial.ensemble_points is None else min(points, trial.ensemble_points)
    gradients, queries = ensemble_cost(trial)
    radius = ensemble * trial.radius_steps if trial.radius_attack else 0
    ensemble_gradients = (ensemble * epsilons + sample * UNBOUNDED_EPSILONS) * gradients + radius
    ensemble_queries = (ensemble * epsilons + sample * UNBOUNDED_EPSILONS) * queries
    unbounded_pgd = sample * UNBOUNDED_EPSILONS * trial.pgd_steps * trial.restarts
    return TrialCost(per_epoch, training, points, main + checks + samples + ensemble_gradients + unbounded_pgd,
                     ensemble_queries)


def ensemble_cost(trial: TrialConfig) -> tuple[int, int]:
    """(gradients, queries) of the attacks after the first on one point at one epsilon, at most."""
    classes = get_task(trial.task).num_classes
    runs = {"apgd_ce": 1, "apgd_dlr": 1,
            "apgd_margin": target_count(classes, trial.margin_targets) if LOSSES[margin_loss_for(classes)].targeted
            else 1}
    gradients = sum(runs[name] * (trial.apgd_steps + 1) for name in trial.attacks[1:] if name in runs)
    queries = trial.square_queries if "square" in trial.attacks[1:] else 0
    return gradients, queries


def describe_cost(cost: TrialCost) -> str:
    return (f"images/epoch={cost.images_per_epoch} attack_grads<={cost.gradient_evaluations:,} "
            f"attack_queries<={cost.queries:,}")


def describe_total(costs: list[TrialCost]) -> str:
    return (f"sweep total at most: {sum(c.training_images for c in costs):,} training images "
            f"(images/epoch x epochs; early stopping ends sooner), "
            f"{sum(c.gradient_evaluations for c in costs):,} attack gradient evaluations and "
            f"{sum(c.queries for c in costs):,} queries on {sum(c.attacked_points for c in costs):,} attacked points")
