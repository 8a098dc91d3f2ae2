"""An attack is a spec and a kernel: a toy attack defined here (its budget, spec and kernel in this module) runs in the
worst case and in the dry-run cost."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from test_robustness import LINEAR_EPSILONS, linear_problem  # noqa: E402  (pytest puts tests/ on sys.path)

from search_spaces.profiles import get_profile
from sweep.cost import trial_cost
from trainables.spec import TrialConfig, parse_assignments
from trainables.spec.rules import Rule
from trainables.robustness import evaluate_robustness
from trainables.robustness.attacks.context import Kernel, kernel
from trainables.spec.attacks import ATTACKS, WORST_CASE, AttackSpec, Budget, register_attack
from trainables.spec.evaluation import PRESETS


@dataclass(frozen=True)
class FlipBudget(Budget):
    """A toy attack: moves each image by `scale` x epsilon towards 0 or 1, `tries` forward queries per point."""

    tries: int = 3
    scale: float = 1.0

    RULES: ClassVar = {"tries": Rule("int", low=1), "scale": Rule("float", low=0, high=1, low_open=True)}


def flip_stage(context, budget, point_ids, epsilon):
    predictions = np.full(len(point_ids), -1, dtype=np.int64)
    broken = np.zeros(len(point_ids), dtype=bool)
    for sign in (1.0, -1.0)[: budget.tries]:
        adversarial = np.clip(context.images[point_ids] + sign * budget.scale * epsilon, 0, 1).astype(np.float32)
        predicted = np.argmax(context.forward(adversarial).numpy(), axis=1)
        context.counter("flip").queries += len(point_ids)
        hit = ~broken & (predicted != context.labels[point_ids])
        broken |= hit
        predictions[hit] = predicted[hit]
    context.record_ball(point_ids[broken], np.clip(context.images[point_ids[broken]], 0, 1), 0.0)
    return broken, predictions


FLIP_KERNEL = Kernel(stage=flip_stage)
FLIP = AttackSpec("flip", WORST_CASE, FlipBudget, lambda budget, classes: (0, budget.tries), "toy: shift all pixels",
                  f"{__name__}:FLIP_KERNEL", gradient_free=True)


@pytest.fixture
def flip_registered():
    register_attack(FLIP)
    yield FLIP
    ATTACKS._items.pop("flip")


def test_a_toy_attack_runs_in_the_worst_case_and_in_the_dry_run_cost(flip_registered):
    model, images, labels, exact = linear_problem(2, 60, LINEAR_EPSILONS, seed=4)
    result = evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=("pgd", "flip"), seed=0,
                                 budgets={"flip": {"tries": 2}}, run_checks=False)
    assert result.attacks == ("pgd", "flip")
    assert result.cost["flip"]["queries"] > 0
    assert np.all(result.worst_case_mask <= exact[:, :] | ~exact)  # never breaks an exactly robust point
    assert result.accuracy_by_attack["flip"][LINEAR_EPSILONS[-1]] <= result.accuracy_by_attack["pgd"][LINEAR_EPSILONS[-1]]

    trial = TrialConfig(task="pneumothorax", **{**get_profile("tiny").values,
                                                **parse_assignments(["attack.attacks=pgd,flip",
                                                                     "attack.flip.tries=2"])}).resolved()
    assert trial.as_params()["attack.flip.tries"] == "2" and trial.as_params()["attack.flip.scale"] == "1.0"
    without = trial_cost(trial.replace(attack={"attacks": ["pgd"]}))
    with_flip = trial_cost(trial)
    points, epsilons = min(48, with_flip.attacked_points), len(trial.epsilons)
    # the ladder, the unbounded check (2 epsilons) and the converged check (2 epsilons), 2 queries each; at most,
    # the escalations: attack_monotone (the 4 explanation samples over the ladder), converged and FGSM (2 epsilons
    # each), unbounded (2 epsilons); flip's `tries` is no field the cap raises
    escalations = 4 * epsilons + 2 * 32 * 2 + 32 * 2
    assert with_flip.queries - without.queries == (points * epsilons + 32 * 2 + 32 * 2 + escalations) * 2
    assert without.escalation_gradients > 0 and with_flip.escalation_gradients == without.escalation_gradients
    assert with_flip.gradient_evaluations == without.gradient_evaluations


def test_a_bad_budget_value_names_the_attack_and_the_field(flip_registered):
    with pytest.raises(ValueError, match=r"attack\.flip\.scale must be a finite number in \(0, 1\]"):
        parse_assignments(["attack.flip.scale=2"])
    with pytest.raises(ValueError, match=r"attack\.flip has no field 'size'"):
        parse_assignments(["attack.flip.size=2"])


def test_presets_are_the_profiles_budgets():
    standard = PRESETS["standard"].settings()
    assert standard.attacks == ("pgd", "apgd_ce", "apgd_margin", "square") and standard.radius_attack == "fmn"
    assert (standard.budget("square").queries, standard.budget("apgd_margin").targets) == (5000, 9)
    assert PRESETS["paper"].settings().attacks == ("pgd",) and PRESETS["paper"].settings().radius_attack is None
    smoke = PRESETS["smoke"].settings()
    assert (smoke.budget("pgd").steps, smoke.budget("pgd").rel_stepsize, smoke.budget("square").queries) == (10, 0.25, 50)
    for profile, preset in (("paper", "standard"), ("smoke", "smoke"), ("tiny", "tiny"), ("rehearsal", "rehearsal")):
        assert get_profile(profile).values["attack_preset"] == preset


def test_the_same_evaluation_reached_two_ways_is_one_trial():
    from trainables.tracking import trial_digest

    standard = TrialConfig(scale="mini", weights=None).resolved()
    spelled_out = standard.replace(attack={"square": {"queries": 5000}, "pgd": {"steps": 40}})
    changed = standard.replace(attack={"square": {"queries": 500}})
    assert trial_digest(spelled_out) == trial_digest(standard) != trial_digest(changed)


def test_every_attack_s_kernel_fits_its_role_and_a_wrong_one_is_refused(flip_registered):
    for name in ATTACKS:
        found = kernel(name)
        assert (found.stage is not None) == (ATTACKS[name].role == WORST_CASE) != (found.estimate is not None)
    register_attack(AttackSpec("flip_without_stage", WORST_CASE, FlipBudget, lambda budget, classes: (0, 1), "toy",
                               f"{__name__}:EMPTY_KERNEL"))
    try:
        with pytest.raises(ValueError, match="must be a Kernel with a stage"):
            kernel("flip_without_stage")
    finally:
        ATTACKS._items.pop("flip_without_stage")


EMPTY_KERNEL = Kernel()
