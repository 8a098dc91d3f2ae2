"""Randomized smoothing in trials: noise-trained models, certification settings checked before launch, the sweep,
the dry-run count, and a trial that certifies and logs its certificates."""

import math

import mlflow
import numpy as np
import pytest

from search_spaces import expand
from sweep.cost import trial_cost
from trainables.spec import TrialConfig
from trainables.data import training_dataset


def _first_epoch_images(dataset) -> np.ndarray:
    return np.concatenate([images.numpy() for images, _ in dataset])


def test_training_noise_is_gaussian_at_sigma_seeded_and_fresh_each_epoch():
    images = np.full((64, 8, 8, 3), 128, np.uint8)
    labels = np.zeros(64, np.int64)
    common = dict(num_classes=2, batch_size=16, seed=5)
    clean = _first_epoch_images(training_dataset(images, labels, **common))
    noisy = training_dataset(images, labels, noise_sigma=0.25, **common)
    first, second = _first_epoch_images(noisy), _first_epoch_images(noisy)
    noise = first - clean
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.25) < 0.01  # 12,288 draws: std error ~0.002
    assert noise.min() < -0.5 and first.max() > 1.0  # not clipped to [0, 1] (Cohen et al.)
    assert not np.allclose(first, second)  # a fresh draw each epoch
    again = _first_epoch_images(training_dataset(images, labels, noise_sigma=0.25, **common))
    np.testing.assert_array_equal(first, again)  # the same seed, the same noise


@pytest.mark.parametrize(("values", "message"), [
    ({"certify": True}, "set noise_sigma > 0"),
    ({"certify": True, "noise_sigma": 0.25, "certify_n": 5, "certify_alpha": 0.01}, "the minimum is n = 7"),
    ({"noise_sigma": -0.1}, "noise_sigma must be a finite number >= 0"),
    ({"certify_alpha": 1.0}, "certify_alpha must be a finite number in (0, 1)"),
    ({"certify_n0": 0}, "certify_n0 must be an integer >= 1"),
    ({"certify": True, "noise_sigma": 0.25, "attack.apgd_ce_eot.predict_n": 10},
     "attack.apgd_ce_eot.predict_n = 10 draws can never confirm a break at predict_alpha = 0.001"),
])
def test_bad_certification_settings_exit_2_before_launch(values, message, capsys):
    from sweep.run import main

    argv = ["paper_grid", "--profile", "tiny", "--dry-run"]
    for key, value in values.items():
        argv += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_smoothing_grid_trains_with_noise_and_certifies_every_model():
    trials = expand("smoothing_grid", "smoke")
    assert len(trials) == 3 * 2 * 2 * 3 and len({t.run_name for t in trials}) == len(trials)
    assert {t.noise_sigma for t in trials} == {0.12, 0.25, 0.5} and all(t.certify for t in trials)
    assert {(t.attention, t.placement) for t in trials} == {("none", "head"), ("soft_faithful", "head")}
    paper = expand("smoothing_grid", "paper")[0]
    assert (paper.certify_n0, paper.certify_n, paper.certify_alpha) == (100, 100_000, 0.001)  # Cohen et al.'s


def test_dry_run_counts_the_certification_forward_passes_and_the_eot_attacks():
    trial = expand("smoothing_grid", "tiny")[0]
    without = trial_cost(trial.replace(certify=False))
    points, epsilons = min(trial.certify_points, 48), len(trial.epsilons)
    # tiny: APGD 3 steps x 4 EoT draws, PREDICT 50 on the best and on the last iterate; one margin run (1 target)
    assert trial_cost(trial).queries - without.queries == points * (
        trial.certify_n0 + trial.certify_n + 50 + 2 * epsilons * 2 * 50)
    assert trial_cost(trial).gradient_evaluations - without.gradient_evaluations == 2 * points * epsilons * 4 * 4


def test_the_eot_budgets_are_part_of_a_certifying_trials_identity_and_params():
    from trainables.tracking.identity import trial_digest

    trial = expand("smoothing_grid", "tiny")[0]
    stronger = trial.replace(attack={"apgd_ce_eot": {"draws": 8}})
    assert trial_digest(stronger) != trial_digest(trial)
    assert stronger.as_params()["attack.apgd_ce_eot.draws"] == "8"
    assert trial.as_params()["attack.apgd_ce_eot.draws"] == "4"
    plain = expand("paper_grid", "tiny")[0]  # not certifying: the EoT budgets neither count nor are logged
    assert trial_digest(plain.replace(attack={"apgd_ce_eot": {"draws": 8}})) == trial_digest(plain)
    assert not any(key.startswith("attack.apgd_ce_eot") for key in plain.as_params())


def test_a_ladder_epsilon_no_certificate_reaches_is_one_warning_line():
    from sweep.validate import certification_warnings

    lines = certification_warnings([t for t in expand("smoothing_grid", "smoke") if t.noise_sigma == 0.12])
    assert lines and all(line.startswith("warning: ") and "largest certifiable L-inf epsilon" in line for line in lines)
    assert certification_warnings(expand("paper_grid", "smoke")) == []


@pytest.mark.slow  # one whole trial through execute()
def test_a_certifying_trial_logs_its_certificates(tmp_path):
    from trainables import tracking
    from trainables.spec import keys
    from trainables.trial import execute

    trial = expand("smoothing_grid", "tiny", overrides=dict(max_train=32, max_test=16, max_eval=16, epochs=1,
                                                            explain_samples=2, batch_size=16, eval_batch_size=16))[1]
    assert trial.noise_sigma == 0.25
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment_id = tracking.ensure_experiment(uri, trial.experiment_name)
    execute(trial, tracking_uri=uri, experiment_id=experiment_id, trial_id="t0", report=lambda *a, **k: None)
    (run,) = mlflow.MlflowClient(uri).search_runs([experiment_id])
    metrics = run.data.metrics
    certified = [metrics[keys.CERTIFIED_ACC_AT_EPS + f"{eps:.10g}"] for eps in (0.0, *trial.epsilons)]
    assert all(b <= a for a, b in zip(certified, certified[1:]))  # a certificate at eps covers every smaller one
    assert 0 <= metrics[keys.ABSTAIN_RATE] <= 1 and metrics[keys.CERTIFIED_POINTS] == trial.certify_points
    assert run.data.params["noise_sigma"] == "0.25" and run.data.params["certify"] == "True"
    path = mlflow.MlflowClient(uri).download_artifacts(run.info.run_id, keys.CERTIFIED_ARTIFACT, str(tmp_path))
    with np.load(path) as arrays:
        radius, prediction, label = arrays["radius"], arrays["prediction"], arrays["label"]
        assert np.all(np.isnan(radius) == (prediction < 0))
        assert np.nanmax(radius, initial=0) <= 0.25 * 2.33 + 1e-9  # at most sigma * Phi^-1(alpha^(1/n)), n=50
    assert math.isclose(metrics[keys.CERTIFIED_ACC_AT_EPS + "0"], float(np.mean(prediction == label)))
    smoothed = [metrics[keys.SMOOTHED_ACC_AT_EPS + f"{eps:.10g}"] for eps in (0.0, *trial.epsilons)]
    assert all(b <= a for a, b in zip(smoothed, smoothed[1:]))  # nested balls
    assert metrics[keys.CHECK + "bracket"] == 1.0 and "bracket" not in run.data.tags[keys.TAG_CHECKS_FAILED]
    with np.load(path) as arrays:
        assert arrays["smoothed_robust"].shape == (trial.certify_points, len(trial.epsilons) + 1)
        assert np.allclose(arrays["smoothed_robust"].mean(axis=0), smoothed)
