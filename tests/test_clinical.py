"""Clinical metrics under attack against hand counts, and the collapse flag on a planted one-class model."""

from __future__ import annotations

import numpy as np
import pytest

from trainables.robustness.evaluate import clinical
from trainables.spec import keys

# 10 binary points; columns: clean, eps1, eps2 (nested)
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
CLEAN_PREDICTIONS = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
ROBUST = np.array([
    [1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0],  # positives: 3 correct clean, 2 at eps1, 1 at eps2
    [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0],  # negatives: 5, 4, 3
], dtype=bool)
BROKEN = np.array([-1, 0, 0, -1, -1, -1, -1, 1, 1, -1])


def test_sensitivity_and_specificity_equal_a_hand_count():
    by_eps = clinical.clinical_by_epsilon(ROBUST, LABELS, CLEAN_PREDICTIONS, BROKEN, (0.0, 0.01, 0.02), 2)
    assert by_eps[0.0]["sensitivity"] == pytest.approx(3 / 4) and by_eps[0.0]["specificity"] == pytest.approx(5 / 6)
    assert by_eps[0.01]["sensitivity"] == pytest.approx(2 / 4) and by_eps[0.01]["specificity"] == pytest.approx(4 / 6)
    assert by_eps[0.02]["sensitivity"] == pytest.approx(1 / 4) and by_eps[0.02]["specificity"] == pytest.approx(3 / 6)
    assert by_eps[0.02]["balanced_acc"] == pytest.approx((1 / 4 + 3 / 6) / 2)
    # at eps2: 3 positives and 3 negatives are predicted 0, 1 positive and 3 negatives 1
    assert by_eps[0.02]["majority_fraction"] == pytest.approx(6 / 10) and by_eps[0.02]["collapsed"] == 0.0


def test_the_adversarial_prediction_is_the_label_the_clean_mistake_or_the_breaking_class():
    predicted = clinical.adversarial_predictions(ROBUST, LABELS, CLEAN_PREDICTIONS, BROKEN, 2)
    assert predicted[:, 0].tolist() == CLEAN_PREDICTIONS.tolist()
    assert predicted[1].tolist() == [1, 1, 0] and predicted[3].tolist() == [0, 0, 0] and predicted[9].tolist() == [1] * 3


def test_a_model_that_calls_everyone_healthy_is_flagged_as_collapsed():
    labels = np.array([0] * 80 + [1] * 20)
    predictions = np.zeros(100, dtype=np.int64)
    metrics = clinical.clinical_metrics(labels, predictions, 2)
    assert metrics["collapsed"] == 1.0 and metrics["majority_fraction"] == 1.0
    assert metrics["sensitivity"] == 0.0 and metrics["specificity"] == 1.0  # accuracy 0.8 hides it
    predictions[:6] = 1  # 94 % one class: not collapsed
    assert clinical.clinical_metrics(labels, predictions, 2)["collapsed"] == 0.0


def test_seven_classes_give_per_class_recall_and_balanced_accuracy_without_sensitivity():
    labels = np.array([0, 0, 1, 2, 3, 4, 5, 6, 6, 6])
    predictions = np.array([0, 1, 1, 2, 0, 4, 5, 6, 0, 6])
    metrics = clinical.clinical_metrics(labels, predictions, 7)
    recalls = [metrics[f"recall/{k}"] for k in range(7)]
    assert recalls == pytest.approx([0.5, 1, 1, 0, 1, 1, 2 / 3])
    assert metrics["balanced_acc"] == pytest.approx(np.mean(recalls))
    assert "sensitivity" not in metrics


def test_clinical_keys_name_the_class_and_epsilon():
    assert keys.clinical_key("sensitivity", "0.01") == "sensitivity_at_eps/0.01"
    assert keys.clinical_key("recall/3", "0") == "recall_at_eps/3/0"
