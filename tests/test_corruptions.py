"""Natural corruptions (trainables.corruptions, facts in trainables.spec.corruptions): identity at parameter 0,
outputs in [0, 1], the same corrupted batch at any batch size, the noise at its stated strength, accuracy that falls
with severity on a fixed toy model, resumable units, the `corruptions` setting and its cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sweep.cost import trial_cost
from trainables.corruptions import corrupt, evaluate_corruptions
from trainables.corruptions.draws import PointDraws
from trainables.robustness.evaluate.progress import EvaluationProgress
from trainables.spec import TrialConfig
from trainables.spec.corruptions import (
    COMMON,
    CORRUPTIONS,
    MODALITY_OF_TASK,
    SEVERITIES,
    get_corruption,
    list_corruptions,
    resolve_corruptions,
)
from trainables.spec.lazy import resolve
from trainables.spec.tasks import list_tasks

NAMES = list_corruptions()
NOISE_AND_BLUR = [name for name in NAMES if get_corruption(name).family in ("noise", "blur")]


def images(n=6, size=32, channels=3, seed=0):
    """Smooth random images with texture (values across the whole range, some at 0 and 1)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.random((n, 1, 1, channels)) * 3 * x[None, ..., None]
                                           + rng.random((n, 1, 1, channels)) * 2 * y[None, ..., None]))
    out = np.clip(base + 0.1 * rng.standard_normal((n, size, size, channels)), 0, 1).astype(np.float32)
    out[0, :4, :4] = 0.0
    out[0, -4:, -4:] = 1.0
    return out


def gray(task_images):
    return np.repeat(task_images[..., :1], 3, axis=-1)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_zero_and_severity_zero_are_the_identity(name):
    x = images()
    function = resolve(get_corruption(name).function)
    draws = PointDraws.for_points(0, range(len(x)), get_corruption(name).code, 3)
    np.testing.assert_allclose(function(x, draws, 0.0), x, atol=2e-6)
    np.testing.assert_array_equal(corrupt(x, name, 0, seed=0, point_ids=range(len(x))), x)
    assert not np.allclose(corrupt(x, name, 5, seed=0, point_ids=range(len(x))), x, atol=1e-3)  # and it does act


@pytest.mark.parametrize("name", NAMES)
def test_outputs_stay_in_the_unit_interval_with_the_input_shape(name):
    for x in (images(), np.zeros((2, 24, 24, 3), np.float32), np.ones((2, 24, 24, 3), np.float32),
              images(3, size=33)):
        for severity in SEVERITIES:
            out = corrupt(x, name, severity, seed=1, point_ids=range(len(x)))
            assert out.shape == x.shape and out.dtype == np.float32
            assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_corrupted_batch_at_any_batch_size(name):
    x = images(10)
    whole = corrupt(x, name, 4, seed=7, point_ids=range(10))
    pieces = np.concatenate([corrupt(x[a:b], name, 4, seed=7, point_ids=range(a, b))
                             for a, b in ((0, 1), (1, 4), (4, 10))])
    np.testing.assert_array_equal(whole, pieces)
    reordered = corrupt(x[::-1], name, 4, seed=7, point_ids=range(9, -1, -1))
    np.testing.assert_array_equal(whole, reordered[::-1])


def test_gray_images_stay_gray_and_seeds_points_severities_draw_apart():
    x = gray(images())
    for name in NAMES:
        out = corrupt(x, name, 3, seed=0, point_ids=range(len(x)), grayscale=True)
        np.testing.assert_array_equal(out[..., 0], out[..., 2])
    flat = np.full((2, 32, 32, 3), 0.5, np.float32)
    noise = corrupt(flat, "gaussian_noise", 3, seed=0, point_ids=[0, 1]) - 0.5
    other_seed = corrupt(flat, "gaussian_noise", 3, seed=1, point_ids=[0, 1]) - 0.5
    other_severity = corrupt(flat, "gaussian_noise", 4, seed=0, point_ids=[0, 1]) - 0.5
    for a, b in ((noise[0], noise[1]), (noise[0], other_seed[0]), (noise[0], other_severity[0])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.08  # independent streams (n = 3072)


def test_noise_at_its_stated_strength():
    flat = np.full((8, 64, 64, 3), 0.5, np.float32)
    ids = range(8)
    for severity in SEVERITIES:
        sigma = get_corruption("gaussian_noise").parameter(severity)
        assert np.std(corrupt(flat, "gaussian_noise", severity, seed=0, point_ids=ids) - 0.5) == pytest.approx(
            sigma, rel=0.02)
        amount = get_corruption("impulse_noise").parameter(severity)
        out = corrupt(flat, "impulse_noise", severity, seed=0, point_ids=ids)
        assert np.mean(out != 0.5) == pytest.approx(amount, rel=0.05)
        assert np.mean(out == 0.0) == pytest.approx(np.mean(out == 1.0), rel=0.15)
    for level in (0.05, 0.25):  # Poisson: mean x, variance x * p, where the draw is exact and approximated (no clip)
        x = np.full((8, 64, 64, 3), level, np.float32)
        for severity in (1, 5):
            p = get_corruption("shot_noise").parameter(severity)
            out = corrupt(x, "shot_noise", severity, seed=0, point_ids=ids).astype(np.float64)
            assert out.mean() == pytest.approx(level, rel=0.02)
            assert out.var() == pytest.approx(level * p, rel=0.05)


def test_blur_keeps_the_mean_and_removes_fine_detail():
    """On white noise (isotropic, so a line at any angle averages it alike) the spread falls with every severity."""
    x = np.clip(0.5 + 0.15 * np.random.default_rng(0).standard_normal((4, 48, 48, 3)), 0, 1).astype(np.float32)
    for name in ("defocus_blur", "motion_blur"):
        spread = [x.std()] + [corrupt(x, name, s, seed=0, point_ids=range(4)).std() for s in SEVERITIES]
        assert all(later < earlier for earlier, later in zip(spread, spread[1:])), (name, spread)
        assert corrupt(x, name, 5, seed=0, point_ids=range(4)).mean() == pytest.approx(x.mean(), abs=0.005)


def texture_points(n=400, size=32, seed=3):
    """Two classes: smooth (0) and textured (1) at amplitudes spread over a range, so each severity of noise or blur
    moves some points across the toy model's threshold."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    amplitude = rng.uniform(0.04, 0.25, n)[:, None, None, None]
    texture = rng.standard_normal((n, size, size, 1))
    x = 0.5 + np.where(labels[:, None, None, None] == 1, amplitude * texture, 0.0)
    x = x + 0.15 * np.sin(np.linspace(0, np.pi, size))[None, :, None, None]  # a smooth shading both classes share
    return np.clip(np.repeat(x, 3, axis=-1), 0, 1).astype(np.float32), labels


def toy_model(x):
    """Predicts "textured" when the mean absolute difference of neighbouring pixels exceeds a fixed threshold."""
    energy = np.abs(np.diff(x, axis=1)).mean(axis=(1, 2, 3)) + np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))
    return (energy > 0.12).astype(np.int64)


def test_accuracy_non_increasing_in_severity_for_noise_and_blur():
    x, labels = texture_points()
    assert np.mean(toy_model(x) == labels) > 0.9
    result = evaluate_corruptions(toy_model, x, labels, NOISE_AND_BLUR, seed=0, batch_size=128)
    accuracy = result.accuracy
    n = len(labels)
    for name in NOISE_AND_BLUR:
        curve = [result.clean_accuracy] + [accuracy[name, s] for s in SEVERITIES]
        for earlier, later in zip(curve, curve[1:]):
            error = 2 * math.sqrt(max(earlier * (1 - earlier), 0.01) / n)  # two Monte Carlo standard errors
            assert later <= earlier + error, (name, curve)
        assert curve[-1] < curve[0] - 0.1, (name, curve)  # severity 5 really hurts this model
    assert result.mean_accuracy == pytest.approx(np.mean([accuracy[k] for k in accuracy]))


def test_evaluation_is_the_same_at_any_batch_size_and_resumes(tmp_path):
    x, labels = texture_points(60)
    names = ["gaussian_noise", "hair", "jpeg"]
    whole = evaluate_corruptions(toy_model, x, labels, names, seed=2, batch_size=64)
    small = evaluate_corruptions(toy_model, x, labels, names, seed=2, batch_size=7)
    np.testing.assert_array_equal(whole.correct, small.correct)

    class Killed(Exception):
        pass

    def kill_after(count):
        seen = []

        def after_unit(key, ran):
            seen.append(key)
            if ran and len(seen) == count:
                raise Killed

        return after_unit

    progress = EvaluationProgress(tmp_path, "digest", interval_s=1e-9, after_unit=kill_after(20))
    with pytest.raises(Killed):
        evaluate_corruptions(toy_model, x, labels, names, seed=2, batch_size=16, progress=progress)
    resumed = EvaluationProgress(tmp_path, "digest", interval_s=1e-9)
    again = evaluate_corruptions(toy_model, x, labels, names, seed=2, batch_size=16, progress=resumed)
    assert resumed.units_replayed >= 19 and resumed.units_run > 0
    assert resumed.units_replayed + resumed.units_run == 4 * (1 + len(names) * len(SEVERITIES))
    np.testing.assert_array_equal(again.correct, small.correct)
    np.testing.assert_array_equal(again.clean_correct, whole.clean_correct)


def test_every_task_has_its_modality_and_the_table_is_complete():
    assert set(MODALITY_OF_TASK) == set(list_tasks())
    for task in list_tasks():
        modality = resolve_corruptions("modality", task)
        assert len(modality) >= 3 and all(get_corruption(n).modality == MODALITY_OF_TASK[task] for n in modality)
        assert resolve_corruptions("all", task) == (*list_corruptions(COMMON), *modality)
    assert len(list_corruptions(COMMON)) == 9
    assert all(len(spec.parameters) == 5 for spec in CORRUPTIONS.values())
    assert len({spec.code for spec in CORRUPTIONS.values()}) == len(CORRUPTIONS)
    assert resolve_corruptions("none", "skin_lesion") == ()
    assert resolve_corruptions("jpeg, hair,jpeg", "pneumothorax") == ("jpeg", "hair")


def test_the_setting_is_checked_before_launch_and_costed():
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*all, common, modality, none"):
        TrialConfig(corruptions="fog").resolved()
    trial = TrialConfig(task="pneumothorax", source="synthetic", scale="mini", weights=None, max_eval=200,
                        corruption_points=100).resolved()
    assert trial.corruption_names == (*list_corruptions(COMMON), *list_corruptions("chest_xray"))
    assert trial_cost(trial).corruption_forwards == 100 * (1 + 13 * 5)
    assert trial_cost(trial.replace(corruptions="none")).corruption_forwards == 0
    assert trial_cost(trial.replace(corruption_points=None)).corruption_forwards == 200 * (1 + 13 * 5)


@pytest.mark.slow  # two whole (shrunk tiny) trials through execute()
def test_a_trial_logs_corruptions_and_its_other_numbers_do_not_move(tmp_path):
    """The same trial with corruptions=none and with the default: every other metric bit-identical, the corruption
    metrics and per-point outcomes logged."""
    import mlflow

    from search_spaces import expand
    from trainables import tracking
    from trainables.spec import keys
    from trainables.trial import execute

    shrink = dict(max_train=32, max_test=16, max_eval=16, epochs=1, explain_samples=2, batch_size=16,
                  eval_batch_size=8, attack_preset="tiny")
    [config] = [c for c in expand("paper_grid", "tiny", overrides=shrink)
                if c.task == "pneumothorax" and c.backbone == "resnet50" and c.attention == "none"]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    logged = {}
    for selection in ("none", "all"):
        trial = config.replace(corruptions=selection, sweep=f"corruptions_{selection}")
        client.create_experiment(trial.experiment_name, artifact_location=str(tmp_path / selection))
        experiment_id = tracking.ensure_experiment(uri, trial.experiment_name)
        execute(trial, tracking_uri=uri, experiment_id=experiment_id, trial_id="t", report=lambda *a, **k: None)
        [run] = client.search_runs([experiment_id])
        logged[selection] = run
    without, with_ = logged["none"].data.metrics, logged["all"].data.metrics
    stable = {k for k in without if not k.startswith((keys.TIME, keys.EVAL_PROGRESS_METRIC, "peak_"))}
    assert {k: without[k] for k in stable} == {k: with_[k] for k in stable}
    names = config.corruption_names
    assert len(names) == 13 and not any(k.startswith(keys.CORRUPT_ACC) for k in without)
    cells = [with_[keys.corruption_key(n, s)] for n in names for s in SEVERITIES]
    assert with_[keys.MEAN_CORRUPTION_ACC] == pytest.approx(np.mean(cells))
    assert with_[keys.POINTS + keys.CORRUPTION_POINTS] == 16
    path = mlflow.artifacts.download_artifacts(run_id=logged["all"].info.run_id, tracking_uri=uri,
                                               artifact_path=keys.CORRUPTIONS_ARTIFACT, dst_path=str(tmp_path / "dl"))
    with np.load(path) as outcomes:
        assert outcomes["correct"].shape == (13, 5, 16)
        np.testing.assert_allclose(outcomes["correct"].mean(axis=2).ravel(), cells)
