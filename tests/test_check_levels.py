"""The checks as tests with a stated level: exact numbers, the level held in simulation, escalation of budget checks
(a weak budget is escalated away, masking is not), `learned`, and escalation inside the resumable units."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_robustness import LINEAR_EPSILONS, LINEAR_SHAPE, ZeroGradientQuantiser, linear_problem  # noqa: E402

from trainables.robustness import evaluate_robustness  # noqa: E402
from trainables.robustness.evaluate.checks import CHECKS, CheckContext, run_checks  # noqa: E402
from trainables.robustness.evaluate.ensemble import WorstCase  # noqa: E402
from trainables.robustness.evaluate.progress import EvaluationProgress  # noqa: E402
from trainables.robustness.evaluate.significance import bonferroni, discordant, exceeds  # noqa: E402
from trainables.spec.evaluation import STATISTICAL_CHECKS, CheckConfig  # noqa: E402

LEVEL = CheckConfig().level


# ---------------------------------------------------------------- the exact tests


def test_exact_tests_give_the_binomial_numbers():
    assert exceeds(1, 64, 0.002) == pytest.approx(1 - 0.998 ** 64)  # 0.12: one point of 64 never fires
    assert exceeds(2, 64, 0.002) == pytest.approx(1 - 0.998 ** 64 - 64 * 0.002 * 0.998 ** 63)  # 0.0071: nor two
    assert exceeds(2, 64, 0.002) > LEVEL > exceeds(3, 64, 0.002)  # three do (0.00030)
    assert exceeds(20, 1000, 0.002) < 1e-9  # 20 of 1,000 against a mean of 2
    assert exceeds(0, 10, 0.5) == 1.0 and exceeds(3, 0, 0.5) == 1.0 and exceeds(1, 5, 0.0) == 0.0
    assert discordant(10, 0) == pytest.approx(0.5 ** 10)  # McNemar: 10 discordant points, all one way
    assert discordant(5, 5) == pytest.approx(0.623, abs=1e-3)
    assert bonferroni([0.01, 0.2]) == pytest.approx(0.02) and bonferroni([0.6, 0.7]) == 1.0


@pytest.mark.parametrize("points", [16, 32, 64, 200, 1000])
@pytest.mark.parametrize("rate", sorted({CheckConfig().blackbox_tolerance, CheckConfig().max_bad_gradient_fraction,
                                         CheckConfig().converged_delta, CheckConfig().unbounded_tolerance,
                                         CheckConfig().monotone_tolerance}))
def test_binomial_rule_holds_its_level_at_any_number_of_points(points, rate):
    # the worst case of the null: every point counts with probability exactly the tolerance
    counts = np.random.default_rng([points, int(rate * 1000)]).binomial(points, rate, 40_000)
    p_values = {count: exceeds(int(count), points, rate) for count in np.unique(counts)}
    false_alarms = np.mean([p_values[count] < LEVEL for count in counts])
    assert false_alarms <= LEVEL + 3 * np.sqrt(LEVEL * (1 - LEVEL) / len(counts))  # + Monte Carlo error


@pytest.mark.parametrize("discordant_points", [4, 12, 40])
def test_mcnemar_rule_holds_its_level(discordant_points):
    first = np.random.default_rng(discordant_points).binomial(discordant_points, 0.5, 40_000)
    p_values = {count: discordant(int(count), discordant_points - int(count)) for count in np.unique(first)}
    assert np.mean([p_values[count] < LEVEL for count in first]) <= LEVEL + 3 * np.sqrt(LEVEL / len(first))


def test_the_trial_level_false_alarm_rate_is_at_most_five_percent():
    assert STATISTICAL_CHECKS * LEVEL <= 0.05  # union bound over the tests of a trial
    tested = [name for name in CHECKS if name not in {"within_ball", "eps0_equals_clean", "logits_not_probabilities",
                                                       "deterministic", "learned"}]
    assert len(tested) == STATISTICAL_CHECKS


# ---------------------------------------------------------------- hand-made contexts


def context(labels, robust_mask, **overrides):
    values = dict(epsilons=(0.0, 0.01), accuracy={0.0: float(robust_mask[:, 0].mean()), 0.01: 0.0},
                  robust_mask=robust_mask, labels=labels, num_classes=int(labels.max()) + 1, ball_violation=0.0,
                  points_attacked=len(labels), probability_row_fraction=0.0, config=CheckConfig())
    values.update(overrides)
    return CheckContext(**values)


def worst_with_square_breaks(points: int, by_square: int) -> WorstCase:
    mask = np.ones((points, 2), bool)
    mask[:by_square, 1] = False
    broken_by = np.where(np.arange(points) < by_square, 1, -1)
    return WorstCase(("pgd", "square"), np.arange(points), {"pgd": np.ones((points, 2), bool), "square": mask},
                     broken_by, np.full(points, -1))


@pytest.mark.parametrize(("points", "by_square", "fires"), [(64, 1, False), (64, 2, False), (64, 3, True),
                                                            (1000, 20, True), (1000, 5, False)])
def test_blackbox_not_stronger_is_a_test_on_its_counts(points, by_square, fires):
    labels = np.zeros(points, np.int64)
    checked = run_checks(context(labels, np.ones((points, 2), bool),
                                 worst_case=worst_with_square_breaks(points, by_square)),
                         include_costly=False)["blackbox_not_stronger"]
    assert checked.passed != fires
    assert checked.value == by_square / points  # the old statistic, kept (AutoAttack fired at any value > 0.002)
    assert checked.p_value == pytest.approx(exceeds(by_square, points, 0.002))
    if fires:  # without the costly checks nothing escalates, and the line says so
        assert "not escalated" in checked.reason and checked.escalated_points == 0


@pytest.mark.parametrize(("correct", "points", "majority_points", "passes"),
                         [(51, 200, 149, False),  # clean 0.255 on a binary task, majority 0.745 (the smoke trial)
                          (72, 100, 70, False),  # 0.72 against 0.70: not significantly above (p 0.38)
                          (85, 100, 70, True),  # p 0.00034
                          (180, 200, 100, True)])
def test_learned_needs_clean_accuracy_significantly_above_the_majority_rate(correct, points, majority_points, passes):
    labels = np.where(np.arange(points) < majority_points, 0, 1)
    mask = np.zeros((points, 2), bool)
    mask[:correct, 0] = True
    checked = run_checks(context(labels, mask), include_costly=False)["learned"]
    assert checked.passed == passes
    assert checked.p_value == pytest.approx(exceeds(correct, points, majority_points / points))
    if not passes and correct <= majority_points:
        assert checked.reason == f"did not learn: clean {correct / points:.3f} <= majority {majority_points / points:.3f}"
    elif not passes:  # above the majority rate, but not significantly
        assert checked.reason.startswith(f"did not learn: clean 0.720 not significantly above majority 0.700 (p 0.")


# ---------------------------------------------------------------- escalation on linear models


@pytest.fixture(scope="module")
def linear():
    return linear_problem(2, 96, LINEAR_EPSILONS, seed=0)


def evaluate(model, images, labels, budgets, attacks=("pgd", "square"), **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=attacks, seed=0,
                                   budgets=budgets, batch_size=64, **options)


def test_a_weak_budget_is_escalated_away_and_masking_is_not(linear):
    model, images, labels, exact = linear
    weak = {"pgd": {"steps": 2, "rel_stepsize": 0.25}, "square": {"queries": 200}}
    honest = evaluate(model, images, labels, weak)
    blackbox = honest.checks["blackbox_not_stronger"]
    by_square = round(blackbox.value * len(labels))
    assert by_square >= 10 and exceeds(by_square, len(labels), 0.002) < LEVEL  # square finds what 2 PGD steps miss
    assert blackbox.passed, blackbox.detail  # ... and PGD at the cap (8 steps, 4 restarts) finds it too
    assert 0 < blackbox.escalated_points <= 32 and blackbox.escalation_gradients > 0
    assert honest.failed_checks() == []
    assert honest.check_gradient_evaluations >= blackbox.escalation_gradients
    assert not np.any(exact & ~honest.worst_case_mask)  # sound: no exactly robust point is broken

    inputs = keras.Input(LINEAR_SHAPE)
    masked = evaluate(keras.Model(inputs, model(ZeroGradientQuantiser()(inputs))), images, labels,
                      {"pgd": {"steps": 3, "rel_stepsize": 0.5}, "square": {"queries": 200}})
    caught = masked.checks["blackbox_not_stronger"]
    assert not caught.passed and caught.reason.startswith("gradients look masked"), caught.detail
    assert caught.escalated_points > 0  # escalated, and still firing
    assert {"gradients_usable", "blackbox_not_stronger"} <= set(masked.failed_checks())


def test_an_attack_that_does_not_converge_within_the_cap_says_which_budget_to_raise():
    # one PGD step of 0.12 eps from the clean point: each doubling of steps breaks many more points of a linear
    # model (exact accuracy 0.07 at eps 0.08), and so does the cap (4 steps: 0.48 eps of travel)
    ladder = (0.02, 0.08)
    model, images, labels, exact = linear_problem(2, 96, ladder, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = evaluate_robustness(model, images, labels, ladder, attacks=("pgd",), seed=0, batch_size=64,
                                     budgets={"pgd": {"steps": 1, "rel_stepsize": 0.12, "random_start": False}},
                                     check_config=CheckConfig(sample_size=96))
    converged = result.checks["converged"]
    assert not converged.passed and converged.escalated_points > 0, converged.detail
    assert converged.value > 0.1 and converged.p_value < 1e-6  # 2x -> cap: another drop of about 0.23
    assert converged.reason == "the attack did not converge within the cap; raise attack.pgd.steps"
    assert "converged: the attack did not converge" in result.failure_line()
    fgsm = result.checks["pgd_not_weaker_than_fgsm"]  # one FGSM step of eps beats 0.48 eps of PGD travel
    assert not fgsm.passed and fgsm.reason.startswith("the attack did not converge within the cap")
    assert result.accuracy[0.08] > exact[:, -1].mean() + 0.5  # the numbers it would report are far off


def test_escalation_is_part_of_the_resumable_check_units(linear):
    model, images, labels, _ = linear
    weak = {"pgd": {"steps": 2, "rel_stepsize": 0.25}, "square": {"queries": 200}}
    progress = EvaluationProgress(None, "d")
    first = evaluate(model, images, labels, weak, progress=progress)
    assert "check/blackbox_not_stronger" in progress.units
    replayed = evaluate(model, images, labels, weak, progress=progress)
    assert {name: check.to_dict() for name, check in replayed.checks.items()} == {
        name: check.to_dict() for name, check in first.checks.items()}
    assert first.checks["blackbox_not_stronger"].escalated_points > 0
    assert replayed.check_gradient_evaluations == first.check_gradient_evaluations
