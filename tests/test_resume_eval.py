"""Resumable evaluation (trainables/robustness/evaluate/progress.py): a killed-and-resumed evaluation gives the same
per-point outcomes and metrics as an uninterrupted one; corrupt or foreign checkpoints are never mixed in."""

import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_robustness import LINEAR_EPSILONS, linear_problem  # noqa: E402

from trainables.spec import TrialConfig  # noqa: E402
from trainables.spec.attacks import WORST_CASE_ATTACKS  # noqa: E402
from trainables.robustness.evaluate import units as attack_units  # noqa: E402
from trainables.robustness import certify, evaluate_robustness  # noqa: E402
from trainables.robustness.smoothing.certify import unit_points  # noqa: E402
from trainables.spec.evaluation import CheckConfig  # noqa: E402
from trainables.robustness.evaluate.progress import FILE_NAME, PREVIOUS_SUFFIX, EvaluationProgress  # noqa: E402

BUDGETS = {"pgd": {"steps": 10}, "apgd_ce": {"steps": 8}, "apgd_margin": {"steps": 8, "targets": 2},
           "square": {"queries": 40}, "fmn": {"steps": 8}}


EXPECTED_ATTACK = {2: "pgd/ladder", 5: "apgd_ce", 40: ""}


class Killed(Exception):
    pass


@pytest.fixture(scope="module", autouse=True)
def small_ladder_units():
    with pytest.MonkeyPatch.context() as patch:  # 32 points: 4 PGD units, so a kill can land inside PGD's ladder
        patch.setattr(attack_units, "LADDER_UNIT_BATCHES", 2)
        yield


@pytest.fixture(scope="module")
def problem():
    model, images, labels, _ = linear_problem(3, 40, LINEAR_EPSILONS, seed=3)
    return model, images[:32], labels[:32]


def evaluate(problem, progress):
    model, images, labels = problem
    return evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=WORST_CASE_ATTACKS, seed=5,
                               radius_attack="fmn", ensemble_points=24, batch_size=4, sample_indices=(),
                               run_checks=False, budgets=BUDGETS, progress=progress)


def store(folder, digest="trial-a", after_unit=None):
    ticks = itertools.count()
    return EvaluationProgress(folder, digest, interval_s=1.0, clock=lambda: float(next(ticks)), after_unit=after_unit)


def outcomes(result):
    cost = {name: (c["gradient_evaluations"], c["queries"]) for name, c in result.cost.items()}
    return result.points(), result.accuracy, result.accuracy_by_attack, cost


def assert_same(first, second):
    points, *metrics = first
    assert points.keys() == second[0].keys()
    for name in points:
        np.testing.assert_array_equal(points[name], second[0][name], err_msg=name)
    assert metrics == list(second[1:])


def kill_after(count):
    ran = itertools.count(1)

    def hook(key, was_run):
        if was_run and next(ran) == count:
            raise Killed(key)
    return hook


@pytest.fixture(scope="module")
def uninterrupted(problem, tmp_path_factory):
    progress = store(tmp_path_factory.mktemp("whole"))
    return outcomes(evaluate(problem, progress)), progress.units_run


def test_a_store_run_matches_the_plain_evaluation(problem, uninterrupted):
    assert_same(outcomes(evaluate(problem, None)), uninterrupted[0])


@pytest.mark.parametrize("kill_at", [2, 5, 40, -2])  # in PGD's ladder, first ensemble unit, mid-ensemble, FMN
def test_killed_and_resumed_gives_identical_outcomes(problem, uninterrupted, tmp_path, kill_at):
    expected, total_units = uninterrupted
    kill_at = kill_at % total_units
    with pytest.raises(Killed) as killed:
        evaluate(problem, store(tmp_path, after_unit=kill_after(kill_at)))
    assert killed.value.args[0].startswith(EXPECTED_ATTACK.get(kill_at, "fmn/radius"))
    resumed = store(tmp_path)
    assert len(resumed.units) == kill_at - 1  # saved after every unit here; the kill came before unit k's save
    assert_same(outcomes(evaluate(problem, resumed)), expected)
    assert resumed.units_run == total_units - kill_at + 1, killed.value  # one unit redone


def test_a_corrupt_checkpoint_is_discarded_and_the_previous_good_one_used(problem, tmp_path):
    with pytest.raises(Killed):
        evaluate(problem, store(tmp_path, after_unit=kill_after(5)))
    path = tmp_path / FILE_NAME
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.warns(RuntimeWarning, match="discarded: checksum mismatch"):
        resumed = store(tmp_path)
    assert len(resumed.units) == 3  # the .prev file: one unit older than the 4 saved
    flipped = bytearray(blob)
    flipped[-10] ^= 0xFF
    path.write_bytes(bytes(flipped))
    (tmp_path / (FILE_NAME + PREVIOUS_SUFFIX)).unlink()
    with pytest.warns(RuntimeWarning, match="discarded"):
        assert store(tmp_path).units == {}


def test_a_checkpoint_of_another_config_digest_is_refused(problem, tmp_path):
    with pytest.raises(Killed):
        evaluate(problem, store(tmp_path, after_unit=kill_after(2)))
    with pytest.raises(ValueError, match="belongs to config digest trial-a, not trial-b: refused"):
        store(tmp_path, digest="trial-b")


def test_a_non_positive_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="eval_checkpoint_s must be > 0"):
        EvaluationProgress(tmp_path, "d", interval_s=0)


@pytest.mark.parametrize("value", [0, -5, "abc"])
def test_a_trial_with_a_non_positive_eval_checkpoint_interval_is_refused(value):
    with pytest.raises(ValueError, match="eval_checkpoint_s must be a finite number > 0"):
        TrialConfig(eval_checkpoint_s=value)
    assert TrialConfig(eval_checkpoint_s=0.5).eval_checkpoint_s == 0.5


def test_costly_checks_are_units_replayed_with_their_result_and_cost(problem, tmp_path):
    def checked(progress):
        model, images, labels = problem
        return evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=("pgd", "apgd_ce"), seed=5,
                                   ensemble_points=24, batch_size=4, sample_indices=(), budgets=BUDGETS,
                                   check_config=CheckConfig(sample_size=8), progress=progress)

    plain = checked(None)
    first_check = iter(range(1, 1000))

    def kill_at_second_check(key, ran):
        if ran and key.startswith("check/") and next(first_check) == 2:
            raise Killed(key)

    with pytest.raises(Killed):
        checked(store(tmp_path, after_unit=kill_at_second_check))
    resumed = store(tmp_path)
    assert sum(key.startswith("check/") for key in resumed.units) == 1
    result = checked(resumed)
    assert resumed.units_replayed > 0
    assert {n: (c.passed, c.value, c.detail) for n, c in result.checks.items()} == \
        {n: (c.passed, c.value, c.detail) for n, c in plain.checks.items()}
    assert result.check_gradient_evaluations == plain.check_gradient_evaluations > 0


def test_certification_killed_and_resumed_counts_the_same_votes(problem, tmp_path):
    model, images, labels = problem
    arguments = dict(sigma=0.1, n0=8, n=200, alpha=0.01, batch_size=16, seed=2, point_ids=np.arange(10, 22))
    plain = certify(model, images[:12], labels[:12], **arguments)
    assert unit_points(8 + 200, 16) == 4  # 12 points: 3 units of 4 points (64 batches of 16 rows each)
    with pytest.raises(Killed) as killed:
        certify(model, images[:12], labels[:12], progress=store(tmp_path, after_unit=kill_after(2)), **arguments)
    assert killed.value.args[0] == "certify/14-17/4"
    resumed = store(tmp_path)
    result = certify(model, images[:12], labels[:12], progress=resumed, **arguments)
    assert (resumed.units_replayed, resumed.units_run) == (1, 2)
    for field in ("prediction", "radius", "selection_counts", "estimation_counts"):
        np.testing.assert_array_equal(getattr(result, field), getattr(plain, field), err_msg=field)


def test_the_status_line_names_the_attack_epsilon_points_rate_and_time_left(tmp_path):
    ticks = iter([0.0, 0.0, 0.0, 10.0])  # construction, the segment's start and its first report, 10 s later
    progress = EvaluationProgress(tmp_path, "d", clock=lambda: next(ticks))
    progress.report("apgd_ce", 0.00392, 0, 128)
    progress.report("apgd_ce", 0.00392, 40, 128)
    assert progress.line() == "apgd_ce eps 0.00392: 40/128 points, 4 points/s, ~22 s left; 0 units (0 from the checkpoint)"


def test_every_save_is_reported_with_its_checkpoint_and_the_driver_prints_a_line_per_interval(capsys, monkeypatch):
    from sweep import progress as driver_progress
    from trainables import evaluation_progress

    class Trial:
        trial_id, config = "t1", {"trial": {"run_name": "skin-resnet50-none-head-s0"}}

    logged, reported = [], []
    monkeypatch.setattr(evaluation_progress, "log_progress", logged.append)
    ticks = iter([0.0, 0.0, 1.0, 2.0, 2.0])  # three saves: at 0 s (line), 1 s (none: within 2 s), 2 s (line)
    publish = evaluation_progress.ProgressPublisher(TrialConfig(eval_checkpoint_s=2.0), reported.append,
                                                    clock=lambda: next(ticks))
    saved = EvaluationProgress(None, "d")
    saved.report("square", 0.01, 3, 4)
    for _ in range(3):
        publish(saved)
    assert len(logged) == 3 and len(reported) == 3  # MLflow and the checkpoint: every save
    assert all(np.isnan(result["robust_objective"]) for result in reported)  # a searcher expects its objectives
    driver_progress.start(1, "sqlite://", "x")
    for result in reported:
        driver_progress.ProgressCallback().on_trial_result(0, [], Trial(), result)
    assert capsys.readouterr().out.count("square eps 0.01: 3/4 points") == 2
