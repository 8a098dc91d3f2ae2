"""What a trial costs, from its config alone (no data read): for `--dry-run`, to size a cluster before paying for it.

images per epoch: the training split (for real data the release's size, TaskSpec.published_splits, capped by
  max_train; stand-ins: the generated size) times the per-epoch fraction (skin lesion 0.1). Training runs at most
  `epochs` epochs (early stopping usually ends it sooner). A task whose release size is unknown is costed only
  with both max_train and max_test set; otherwise its cost is a ValueError (exit 2, before launch).
training passes at most: forward-backward passes over training images, training images x (1 + adv_steps) with
  adv_training=pgd (each step of the attack is one more), x (2 + adv_steps) with trades (the clean and the
  adversarial image both train); = training images without adversarial training.
attack gradient evaluations and queries at most: each attack object's cost model (trainables.spec.attacks.ATTACKS:
  (gradients, queries) per point and epsilon, per point for the radius attack) times the points it may attack, as if
  no point ever broke (nested balls and early exit make real runs cheaper): the first attack on every attacked point
  at every epsilon > 0, the later ones on the `ensemble_points` points, the radius attack once per ensemble point.
  Plus the sanity checks: on GRADIENT_SAMPLE points two gradients (gradients_usable), and at the middle and largest
  epsilon the worst case with 2x steps and queries and one more PGD restart (converged) and one FGSM step; the worst
  case again on the check sample at the two unbounded epsilons; and each explanation sample attacked by PGD at every
  epsilon. Plus, at most, the escalations of the budget checks (each re-attacks at most the check sample, attack_monotone and
  blackbox_not_stronger at most CheckConfig.escalation_points points, with the worst case at the cap, escalation_factor x steps and queries): attack_monotone over the ladder,
  blackbox_not_stronger over the ladder (gradient attacks only), converged and pgd_not_weaker_than_fgsm at the
  middle and largest epsilon, unbounded_reaches_zero at the unbounded epsilons. Most trials escalate nothing.
corruptions: every corruption point once clean and once per corruption x severity (forward passes, counted apart as
  corruption_forwards).
certification (certify=true): every certified point's n0 selection and n estimation draws (forward passes), then the
  smoothed classifier attacked there by RAND_ATTACKS at every epsilon > 0 (each EoT gradient counts its draws; each
  candidate's PREDICT its draws as queries), plus the clean PREDICT of the first of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainables.spec import TrialConfig
from trainables.spec.attacks import ATTACKS, RAND_ATTACKS
from trainables.spec.corruptions import SEVERITIES
from trainables.spec.evaluation import CheckConfig, stronger_budgets
from trainables.spec.tasks import epoch_size, get_task

CHECK_SAMPLE = CheckConfig().sample_size
GRADIENT_SAMPLE = CheckConfig().gradient_sample_size
ESCALATION_FACTOR = CheckConfig().escalation_factor
ESCALATION_POINTS = CheckConfig().escalation_points
CHECK_EPSILONS = 2  # the middle and the largest epsilon
UNBOUNDED_EPSILONS = len(CheckConfig().unbounded_epsilons)


@dataclass(frozen=True)
class TrialCost:
    images_per_epoch: int
    training_images: int  # at most: images_per_epoch x epochs (0 for a re-evaluation)
    attacked_points: int
    gradient_evaluations: int  # at most
    queries: int = 0  # at most
    corruption_forwards: int = 0  # forward passes of the corruption evaluation (clean + corruptions x severities)
    escalation_gradients: int = 0  # at most, included in gradient_evaluations: the budget checks' escalations
    training_passes: int = 0  # forward-backward passes over training images, at most (adversarial training: more)


def trial_cost(trial: TrialConfig) -> TrialCost:
    train, _, test = get_task(trial.task).split_sizes(trial.source, trial.max_train, trial.max_test)
    per_epoch = epoch_size(train, trial.epoch_fraction)
    training = 0 if trial.source_run_id else per_epoch * trial.epochs
    points = test if trial.max_eval is None else min(test, trial.max_eval)
    epsilons = len([eps for eps in trial.epsilons if eps > 0])
    settings = trial.attack_settings
    classes = get_task(trial.task).num_classes
    pgd = settings.budget("pgd")
    ensemble = points if settings.ensemble_points is None else min(points, settings.ensemble_points)
    sample = min(CHECK_SAMPLE, points)
    first, *later = settings.attacks
    gradients, queries = attack_cost(first, settings, classes, points * epsilons + sample * UNBOUNDED_EPSILONS)
    for name in later:
        more = attack_cost(name, settings, classes, (ensemble * epsilons + sample * UNBOUNDED_EPSILONS))
        gradients, queries = gradients + more[0], queries + more[1]
    if settings.radius_attack:
        more = attack_cost(settings.radius_attack, settings, classes, ensemble)
        gradients, queries = gradients + more[0], queries + more[1]
    check_epsilons = min(CHECK_EPSILONS, epsilons)
    checks = 2 * min(GRADIENT_SAMPLE, points) + sample * check_epsilons  # gradients_usable, FGSM
    stronger = settings.replace(budgets=stronger_budgets(settings, settings.attacks))
    for name in settings.attacks:  # converged: the worst case, stronger, on the sample at two epsilons
        more = attack_cost(name, stronger, classes, sample * check_epsilons)
        gradients, queries = gradients + more[0], queries + more[1]
    samples = min(trial.explain_samples, points) * epsilons * pgd.steps
    escalation = escalation_cost(settings, classes, points, ensemble, min(trial.explain_samples, points), epsilons,
                                 check_epsilons)
    gradients, queries = gradients + escalation[0], queries + escalation[1]
    if trial.certify:
        certified = min(trial.certify_points, points)
        queries += certified * (trial.certify_n0 + trial.certify_n + settings.budget(RAND_ATTACKS[0]).predict_n)
        for name in RAND_ATTACKS:
            more = attack_cost(name, settings, classes, certified * epsilons)
            gradients, queries = gradients + more[0], queries + more[1]
    return TrialCost(per_epoch, training, points, gradients + checks + samples, queries,
                     corruption_forwards=corruption_cost(trial, points), escalation_gradients=escalation[0],
                     training_passes=training * TRAINING_PASSES[trial.adv_training](trial.adv_steps))


def corruption_cost(trial: TrialConfig, points: int) -> int:
    """Forward passes of the corruption evaluation: its points, clean and under every corruption x severity."""
    names = trial.corruption_names
    if not names:
        return 0
    count = points if trial.corruption_points is None else min(points, trial.corruption_points)
    return count * (1 + len(names) * len(SEVERITIES))


def escalation_cost(settings, classes: int, points: int, ensemble: int, explain: int, epsilons: int,
                    check_epsilons: int) -> tuple[int, int]:
    """(gradients, queries) at most of every budget check escalating once: its points at the cap, its epsilons."""
    cap = settings.replace(budgets=stronger_budgets(settings, settings.attacks, ESCALATION_FACTOR))
    sample = min(CHECK_SAMPLE, points)
    gradient_attacks = [name for name in settings.attacks if not ATTACKS[name].gradient_free]
    checks = [(settings.attacks, min(explain, ESCALATION_POINTS) * epsilons),  # attack_monotone
              (gradient_attacks, min(ensemble, ESCALATION_POINTS) * epsilons),  # blackbox_not_stronger
              (settings.attacks, 2 * sample * check_epsilons),  # converged, pgd_not_weaker_than_fgsm
              (settings.attacks, sample * UNBOUNDED_EPSILONS)]  # unbounded_reaches_zero
    gradients = queries = 0
    for attacks, units in checks:
        for name in attacks:
            more = attack_cost(name, cap, classes, units)
            gradients, queries = gradients + more[0], queries + more[1]
    return gradients, queries


TRAINING_PASSES = {"none": lambda steps: 1, "pgd": lambda steps: 1 + steps, "trades": lambda steps: 2 + steps}


def attack_cost(name: str, settings, classes: int, units: int) -> tuple[int, int]:
    """(gradients, queries) of `units` (point x epsilon, or point for a radius attack) of one attack, at most."""
    gradients, queries = ATTACKS[name].cost(settings.budget(name), classes)
    return units * gradients, units * queries


def describe_cost(cost: TrialCost) -> str:
    adversarial = (f" train_passes<={cost.training_passes:,}"
                   if cost.training_passes > cost.training_images else "")  # adversarial training only
    return (f"images/epoch={cost.images_per_epoch} attack_grads<={cost.gradient_evaluations:,} "
            f"(check escalation<={cost.escalation_gradients:,}) attack_queries<={cost.queries:,}{adversarial}"
            + (f" corruption_forwards={cost.corruption_forwards:,}" if cost.corruption_forwards else ""))


def describe_total(costs: list[TrialCost]) -> str:
    passes, images = sum(c.training_passes for c in costs), sum(c.training_images for c in costs)
    adversarial = f" in {passes:,} forward-backward passes (adversarial training's attack steps)" if passes > images else ""
    return (f"sweep total at most: {images:,} training images{adversarial} "
            f"(images/epoch x epochs; early stopping ends sooner), "
            f"{sum(c.gradient_evaluations for c in costs):,} attack gradient evaluations and "
            f"{sum(c.queries for c in costs):,} queries on {sum(c.attacked_points for c in costs):,} attacked points"
            + (f", {sum(c.corruption_forwards for c in costs):,} corruption forward passes"
               if any(c.corruption_forwards for c in costs) else ""))
