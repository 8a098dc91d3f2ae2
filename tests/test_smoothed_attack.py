"""The empirical side of randomized smoothing: EoT attacks on the smoothed classifier g of a linear model (whose
L-inf distance to the boundary is known), and the bracket checks on honest and faked certificates."""

import math

from functools import partial

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import test_certify as certify_tests  # noqa: E402

from trainables.robustness import (  # noqa: E402
    CertificationResult, SmoothedAttackResult, attack_smoothed, evaluate_smoothed, run_smoothing_checks)
from trainables.spec.attacks import ATTACKS, RAND_ATTACKS  # noqa: E402
from trainables.spec.evaluation import PRESETS  # noqa: E402

SHAPE = (4, 4, 3)
DIMENSION = int(np.prod(SHAPE))
SIGMA = 0.25
LADDER = (0.1, 0.25)  # the attack test: the ball reaches past the boundary of most points at 0.25
CERTIFIED_LADDER = (0.02, 0.05)  # within the radii sigma = 0.25 certifies at n = 1000


linear_binary_model = partial(certify_tests.linear_binary_model, shape=SHAPE)


def linear_problem(scores):
    """Points near the cube's centre with these scores w.x + b; returns the model, the points, their labels and
    their exact L-inf distances |score| / ||w||_1 to the boundary (the box is not reached within the ladder)."""
    w = np.random.default_rng(0).uniform(-1, 1, DIMENSION)
    b = -float(w.sum()) / 2
    scores = np.asarray(scores, dtype=np.float64)
    images = (0.5 + scores[:, None] * w[None, :] / np.dot(w, w)).reshape(-1, *SHAPE).astype(np.float32)
    exact = images.reshape(len(scores), -1).astype(np.float64) @ w + b
    return linear_binary_model(w, b), images, (exact > 0).astype(np.int64), np.abs(exact) / np.abs(w).sum(), w


def tiny_settings():
    return PRESETS["smoke"].settings({"apgd_ce_eot": {"steps": 10, "draws": 20, "predict_n": 200},
                                      "apgd_margin_eot": {"steps": 10, "draws": 20, "predict_n": 200}},
                                     batch_size=8)


def test_the_rand_attacks_are_registered_worst_case_attacks_with_budgets_per_preset():
    assert set(RAND_ATTACKS) <= set(ATTACKS)
    smoke, standard = PRESETS["smoke"].settings(), PRESETS["standard"].settings()
    assert smoke.budget("apgd_ce_eot").steps == 10 and standard.budget("apgd_ce_eot").steps == 100
    assert standard.budget("apgd_ce_eot").draws == 20  # AutoAttack rand's EoT iterations
    gradients, queries = ATTACKS["apgd_ce_eot"].cost(smoke.budget("apgd_ce_eot"), 2)
    assert (gradients, queries) == (11 * 20, 2 * 200)  # PREDICT on the best and the last iterate
    with pytest.raises(ValueError, match="predict_alpha"):
        smoke.replace(budgets={"apgd_ce_eot": {"predict_alpha": 1.0}})


def test_eot_attacks_break_g_exactly_where_its_boundary_lies_within_the_ball():
    """g of a linear model is the model itself: a point can be broken at eps only if its L-inf distance is <= eps,
    and every point whose boundary lies well inside the ball (the reachable score change exceeds its score by
    2 sigma ||w||_2, where PREDICT is sure) is broken."""
    scores = np.array([0.3, 0.8, 1.2, 2.0, 3.0, 4.0, 6.0, -0.5, -1.5, -5.0])
    model, images, labels, distance, w = linear_problem(scores)
    result = attack_smoothed(model, images, labels, LADDER, sigma=SIGMA, settings=tiny_settings(), seed=3)
    assert result.epsilons == (0.0, *LADDER)
    np.testing.assert_array_equal(result.clean_prediction, labels)  # PREDICT: sure of every point at n = 200
    for k, eps in enumerate(result.epsilons[1:], start=1):
        broken = ~result.robust[:, k]
        assert not np.any(broken & (distance > eps)), (eps, distance[broken])
        sure = eps * np.abs(w).sum() - np.abs(scores) >= 2 * SIGMA * np.linalg.norm(w)
        assert np.all(broken[sure]), (eps, distance[sure], broken[sure])
    assert sure.sum() >= 5  # the comparison above tested something
    assert np.all(result.broken_prediction[~result.robust[:, -1]] == 1 - labels[~result.robust[:, -1]])
    assert np.all(result.robust[:, 1:] <= result.robust[:, :-1])  # nested


def test_honest_certificates_lie_under_the_attacks_on_the_same_g():
    scores = np.array([0.3, 1.0, 2.0, 3.0, 5.0, 8.0, -0.5, -4.0])
    model, images, labels, _, _ = linear_problem(scores)
    evaluation = evaluate_smoothed(model, images, labels, CERTIFIED_LADDER, sigma=SIGMA, n0=20, n=1000, alpha=0.001,
                                   settings=tiny_settings(), batch_size=256, seed=1)
    assert evaluation.failed_checks() == [], evaluation.checks
    certified = evaluation.certification.correct[:, None] & (
        evaluation.certification.radius[:, None] >= np.array((0.0, *CERTIFIED_LADDER)) * math.sqrt(DIMENSION))
    assert certified[:, 2].any() and not evaluation.attack.robust[:, 2].all()  # both sides say something
    assert np.all(certified.mean(axis=0) <= evaluation.attack.robust.mean(axis=0))


def _certification(prediction, radius, labels, alpha=0.001):
    prediction, radius = np.asarray(prediction), np.asarray(radius, dtype=float)
    zeros = np.zeros((len(prediction), 2), dtype=np.int64)
    return CertificationResult(prediction=prediction, radius=radius, correct=(prediction == labels) & (prediction >= 0),
                               p_lower=np.full(len(prediction), 0.9), selection_counts=zeros,
                               estimation_counts=zeros, sigma=SIGMA, n0=10, n=100, alpha=alpha, seed=0)


def _attack(clean_prediction, robust):
    robust = np.asarray(robust, dtype=bool)
    broken_by = np.where(robust[:, 0] & ~robust[:, -1], 0, -1)
    return SmoothedAttackResult(epsilons=(0.0, 0.01, 0.1), attacks=RAND_ATTACKS,
                                clean_prediction=np.asarray(clean_prediction), robust=robust, broken_by=broken_by,
                                broken_prediction=np.where(broken_by >= 0, 1, -1), sigma=SIGMA, predict_n=100,
                                predict_alpha=0.001)


LABELS = np.array([0, 0, 0, 1])
# point 0 robust everywhere, point 1 broken at 0.1, point 2 broken at 0.01, point 3: PREDICT abstains at the clean point
ROBUST = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]]
ROOT = math.sqrt(DIMENSION)


def test_the_bracket_fails_on_a_certificate_faked_on_a_point_the_attack_breaks():
    faked = _certification([0, 0, 0, 1], [0.2 * ROOT, 0.2 * ROOT, 0.0, 0.0], LABELS)  # point 1 "certified" at 0.1
    checks = run_smoothing_checks(faked, _attack([0, 0, 0, -1], ROBUST), LABELS, SHAPE)
    assert not checks["bracket"].passed and checks["bracket"].value == 1
    assert "point 1 at eps 0.1" in checks["bracket"].detail


def test_the_bracket_fails_when_g_names_another_class_at_a_certified_clean_point():
    certified = _certification([0, 0, 0, 1], [0.05 * ROOT] * 4, LABELS)
    checks = run_smoothing_checks(certified, _attack([0, 0, 1, -1], [[1, 1, 1], [1, 1, 0], [0, 0, 0], [0, 0, 0]]),
                                  LABELS, SHAPE)
    assert not checks["bracket"].passed and checks["bracket"].value == 2  # point 2 at eps 0 and 0.01


def test_the_bracket_passes_on_honest_certificates_and_counts_abstentions_apart():
    # each point certified only below the epsilon where the attack broke it; point 3 certified, PREDICT abstains
    honest = _certification([0, 0, 0, 1], [0.5 * ROOT, 0.05 * ROOT, 0.001 * ROOT, 1.0], LABELS)
    checks = run_smoothing_checks(honest, _attack([0, 0, 0, -1], ROBUST), LABELS, SHAPE)
    assert checks["bracket"].passed and checks["bracket"].value == 0
    assert set(checks) == {"bracket"}  # certified_within_empirical is gone: it could fail only where bracket did
    strict = run_smoothing_checks(honest, _attack([0, 0, 0, 0], ROBUST), LABELS, SHAPE)
    assert not strict["bracket"].passed  # the same point with PREDICT naming class 0 is a contradiction
