"""Resumable evaluation (trainables/robustness/progress_store.py): a killed-and-resumed evaluation gives the same
per-point outcomes and metrics as an uninterrupted one; corrupt or foreign checkpoints are never mixed in."""

import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_robustness import LINEAR_EPSILONS, linear_problem  # noqa: E402

from trainables.config import TrialConfig  # noqa: E402
from trainables.robustness import WORST_CASE_ATTACKS, attack_units, evaluate_robustness  # noqa: E402
from trainables.robustness.progress_store import FILE_NAME, PREVIOUS_SUFFIX, EvaluationProgress  # noqa: E402

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
