import math

import pytest

from trainables.robustness.evaluate.objectives import accuracy_at, objectives, robust_auc


def test_auc_of_flat_curve_is_its_level():
    assert robust_auc({0.0: 0.9, 0.001: 0.4, 0.002: 0.4, 0.004: 0.4}) == pytest.approx(0.4)


def test_auc_is_trapezoid_on_log_epsilon():
    # doubling ladder: equal log steps, so the normalised trapezoid is the mean of the segment midpoints
    curve = {0.0: 1.0, 0.01: 0.8, 0.02: 0.4, 0.04: 0.0}
    assert robust_auc(curve) == pytest.approx(((0.8 + 0.4) / 2 + (0.4 + 0.0) / 2) / 2)


def test_auc_weights_unequal_log_steps():
    curve = {0.0: 1.0, 0.001: 1.0, 0.002: 0.0, 0.016: 0.0}
    # segment 1 spans log(2), segment 2 spans log(8): area = log2 * 0.5, range = log 16
    assert robust_auc(curve) == pytest.approx(math.log(2) * 0.5 / math.log(16))


def test_accuracy_at_interpolates_on_log_epsilon_and_clamps():
    curve = {0.0: 0.9, 0.01: 0.6, 0.04: 0.2}
    assert accuracy_at(curve, 0.02) == pytest.approx(0.4)  # halfway on log scale
    assert accuracy_at(curve, 0.001) == 0.6
    assert accuracy_at(curve, 0.5) == 0.2


def test_objectives_combine_reference_and_auc():
    curve = {0.0: 0.9, 0.0025: 0.5, 0.005: 0.3}
    values = objectives(curve, reference_epsilon=0.0025)
    assert values["clean_acc"] == 0.9
    assert values["robust_acc_ref"] == 0.5
    assert values["robust_objective"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.4)


def test_curve_without_positive_epsilon_is_rejected():
    with pytest.raises(ValueError, match="no positive epsilon"):
        robust_auc({0.0: 1.0})
