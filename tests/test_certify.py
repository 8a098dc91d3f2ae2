"""Randomized smoothing: the closed form on a linear model, ART, streaming and seeding, bad input."""

import math

import numpy as np
import pytest
from scipy import stats

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from trainables.robustness import CertificationResult, certified_accuracy, certify, predict_smoothed  # noqa: E402
from trainables.spec.smoothing import ladder_warning, max_certified_radius, minimum_samples, validate_smoothing  # noqa: E402
from trainables.robustness.smoothing.certify import clopper_pearson_lower  # noqa: E402

SHAPE = (2, 2, 3)
DIMENSION = int(np.prod(SHAPE))
SIGMA = 0.25


def linear_binary_model(w: np.ndarray, b: float, shape=SHAPE):
    """logits [0, w.x + b] on images of `shape`: class 1 exactly where w.x + b > 0 (the smoothed g too: symmetric
    noise keeps the sign). Shared by the smoothing tests."""
    inputs = keras.Input(shape)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([np.stack([np.zeros_like(w), w], axis=1).astype("float32"),
                       np.array([0.0, b], dtype="float32")])
    return model


def linear_problem(num_points: int, seed: int):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, DIMENSION)
    b = -float(w.sum()) / 2  # the boundary passes through the centre of the cube
    images = rng.random((num_points, *SHAPE)).astype(np.float32)
    score = images.reshape(num_points, -1).astype(np.float64) @ w + b
    return linear_binary_model(w, b), images, (score > 0).astype(np.int64), np.abs(score) / np.linalg.norm(w)


def points_at_distances(w: np.ndarray, distances) -> np.ndarray:
    """Points on the positive side of the boundary through the cube's centre, at these exact L2 distances."""
    unit = w / np.linalg.norm(w)
    return np.stack([0.5 + d * unit for d in distances]).reshape(-1, *SHAPE).astype(np.float32)


# ---------------------------------------------------------------- the closed form on a linear model


def test_linear_radii_never_exceed_the_distance_to_the_boundary_beyond_alpha():
    num_points, alpha, n = 300, 0.01, 400
    model, images, labels, exact = linear_problem(num_points, seed=0)
    result = certify(model, images, labels, sigma=SIGMA, n0=20, n=n, alpha=alpha, batch_size=1024, seed=1)
    # smoothing a linear classifier keeps its decision: certifying the other class is a violation at any radius
    violations = np.sum((result.prediction == 1 - labels) | (result.correct & (result.radius > exact)))
    allowed = stats.binom.ppf(1 - 1e-4, num_points, alpha)  # each point fails with probability <= alpha
    assert violations <= allowed
    # the check can fail: the plug-in estimate pA = k / n instead of its lower bound overshoots about half the time
    k = result.estimation_counts[np.arange(num_points), labels]
    plug_in = SIGMA * stats.norm.ppf(np.clip(k / n, 0.5, 1 - 1e-12))
    assert np.sum(plug_in > exact) > 10 * allowed
    assert np.all(result.radius[result.correct] <= max_certified_radius(SIGMA, n, alpha) + 1e-12)
    assert 0.5 < result.correct.mean() < 1.0  # some points lie too close to the boundary to certify


def test_linear_radii_are_close_to_the_distance_at_large_n():
    """Tolerance: the Clopper-Pearson margin (z_{1-alpha} standard errors) plus 4 standard errors of the count,
    carried to the radius by the delta method: sigma * (z + 4) * sqrt(p (1 - p) / n) / phi(Phi^-1(p))."""
    n, alpha = 20_000, 0.001
    w = np.random.default_rng(3).uniform(-1, 1, DIMENSION)
    distances = np.array([0.05, 0.1, 0.2, 0.3, 0.4])
    images = points_at_distances(w, distances)
    result = certify(linear_binary_model(w, -float(w.sum()) / 2), images, np.ones(len(distances), np.int64),
                     sigma=SIGMA, n0=50, n=n, alpha=alpha, batch_size=4096, seed=4)
    p = stats.norm.cdf(distances / SIGMA)
    tolerance = SIGMA * (stats.norm.ppf(1 - alpha) + 4) * np.sqrt(p * (1 - p) / n) / stats.norm.pdf(distances / SIGMA)
    assert np.all(result.correct)
    assert np.all(result.radius <= distances)
    assert np.all(result.radius >= distances - tolerance), (result.radius, distances - tolerance)


def test_abstains_on_the_boundary_and_attains_the_cap_when_every_draw_agrees():
    n, alpha = 1000, 0.001
    w = np.random.default_rng(5).uniform(-1, 1, DIMENSION)
    model = linear_binary_model(w, -float(w.sum()) / 2)
    on_boundary = points_at_distances(w, [0.0] * 8)
    result = certify(model, on_boundary, np.ones(8, np.int64), sigma=SIGMA, n0=50, n=n, alpha=alpha,
                     batch_size=512, seed=6)
    assert np.all(result.prediction == -1) and np.all(np.isnan(result.radius)) and not result.correct.any()
    assert result.abstain_rate == 1.0
    far, sigma = points_at_distances(w, [0.45]), 0.05  # 9 sigma from the boundary: pA = 1 - 1e-19
    capped = certify(model, far, np.ones(1, np.int64), sigma=sigma, n0=10, n=n, alpha=alpha, batch_size=512, seed=7)
    assert capped.estimation_counts[0, 1] == n
    assert capped.radius[0] == pytest.approx(sigma * stats.norm.ppf(alpha ** (1 / n)), rel=1e-9)
    assert capped.radius[0] == pytest.approx(max_certified_radius(sigma, n, alpha), rel=1e-9)
    assert capped.radius[0] < 0.45 / 3  # the cap, not the distance, limits it


# ---------------------------------------------------------------- seeding and streaming


def test_results_do_not_depend_on_batch_size_or_point_order():
    model, images, labels, _ = linear_problem(12, seed=8)
    settings = dict(sigma=SIGMA, n0=30, n=70, alpha=0.01, seed=9)
    reference = certify(model, images, labels, batch_size=64, **settings)
    for batch_size in (1, 7, 5000):
        other = certify(model, images, labels, batch_size=batch_size, **settings)
        np.testing.assert_array_equal(other.estimation_counts, reference.estimation_counts)
        np.testing.assert_array_equal(other.selection_counts, reference.selection_counts)
    order = np.random.default_rng(10).permutation(12)
    permuted = certify(model, images[order], labels[order], batch_size=16, point_ids=order, **settings)
    np.testing.assert_array_equal(permuted.estimation_counts, reference.estimation_counts[order])
    np.testing.assert_array_equal(permuted.radius, reference.radius[order])
    # the comparison can fail: another seed, or the selection stream reused, gives other counts
    reseeded = certify(model, images, labels, batch_size=64, **{**settings, "seed": 10})
    assert not np.array_equal(reseeded.estimation_counts, reference.estimation_counts)
    same_length = certify(model, images, labels, batch_size=64, **{**settings, "n": 30})
    assert not np.array_equal(same_length.estimation_counts, same_length.selection_counts)


class RecordingImages:
    """A lazy image source that records the rows each read asks for and refuses to be converted whole."""

    def __init__(self, images: np.ndarray) -> None:
        self.images, self.reads = images, []
        self.shape, self.dtype = images.shape, images.dtype

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        rows = self.images[index]
        self.reads.append(len(rows))
        return rows

    def min(self):
        return self.images.min()

    def max(self):
        return self.images.max()

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the whole source was converted")


class RecordingModel:
    """The linear model behind a py_function that records the batch size of every compiled forward pass."""

    def __init__(self, model) -> None:
        self.model, self.batch_sizes = model, []

    def _record(self, size):
        self.batch_sizes.append(int(size))
        return size

    def __call__(self, x, training=False):
        size = tf.py_function(self._record, [tf.shape(x)[0]], tf.int32)
        with tf.control_dependencies([size]):
            return self.model(x, training=training)


def test_forward_passes_and_reads_never_exceed_the_batch():
    model, images, labels, _ = linear_problem(9, seed=11)
    recording, source = RecordingModel(model), RecordingImages(images)
    batch_size, n0, n = 16, 10, 45
    result = certify(recording, source, labels, sigma=SIGMA, n0=n0, n=n, alpha=0.01, batch_size=batch_size, seed=12)
    assert max(recording.batch_sizes) == batch_size and max(source.reads) <= batch_size
    counted = recording.batch_sizes[1:]  # the first call measures the output width
    assert sum(counted) == len(images) * (n0 + n)
    assert result.estimation_counts.sum() == len(images) * n and result.selection_counts.sum() == len(images) * n0
    np.testing.assert_array_equal(
        result.estimation_counts,
        certify(model, images, labels, sigma=SIGMA, n0=n0, n=n, alpha=0.01, batch_size=batch_size,
                seed=12).estimation_counts)


# ---------------------------------------------------------------- PREDICT, certified accuracy, bounds


def test_predict_abstains_near_the_boundary_and_follows_the_side_elsewhere():
    w = np.random.default_rng(13).uniform(-1, 1, DIMENSION)
    model = linear_binary_model(w, -float(w.sum()) / 2)
    images = np.concatenate([points_at_distances(w, [0.0] * 6), points_at_distances(w, [0.3] * 6),
                             points_at_distances(-w, [0.3] * 6)])
    result = predict_smoothed(model, images, sigma=SIGMA, n=500, alpha=0.001, batch_size=1024, seed=14)
    assert np.all(result.prediction[:6] == -1)
    assert np.all(result.prediction[6:12] == 1) and np.all(result.prediction[12:] == 0)
    assert np.all(result.p_value[6:] <= 0.001) and np.all(result.counts.sum(axis=1) == 500)


def test_certified_accuracy_counts_points_at_or_above_each_radius():
    radius = np.array([0.1, 0.5, np.nan, 0.3, 0.2])
    prediction = np.array([1, 0, -1, 1, 1])
    labels = np.array([1, 0, 0, 1, 0])
    result = CertificationResult(prediction=prediction, radius=radius, correct=prediction == labels,
                                 p_lower=np.zeros(5), selection_counts=np.zeros((5, 2)),
                                 estimation_counts=np.zeros((5, 2)), sigma=SIGMA, n0=1, n=10, alpha=0.01, seed=0)
    root = math.sqrt(DIMENSION)
    accuracy = certified_accuracy(result, labels, l2_radii=(0.0, 0.1, 0.3, 0.6),
                                  linf_epsilons=(0.05 / root, 0.3 / root), image_shape=SHAPE)
    assert accuracy.l2 == {0.0: 0.6, 0.1: 0.6, 0.3: 0.4, 0.6: 0.0}  # the wrong point 4 never counts
    assert list(accuracy.linf.values()) == pytest.approx([0.6, 0.4])
    with pytest.raises(ValueError, match="image_shape"):
        certified_accuracy(result, labels, linf_epsilons=(0.01,))


def test_clopper_pearson_bound_holds_its_level():
    """Coverage of the one-sided lower bound at p = 0.9, n = 50, alpha = 0.05, over 20,000 simulated counts."""
    counts = np.random.default_rng(15).binomial(50, 0.9, 20_000)
    miss = np.mean(clopper_pearson_lower(counts, 50, 0.05) > 0.9)
    assert miss <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 20_000)
    assert np.mean(counts / 50 > 0.9) > 0.3  # the plug-in estimate misses far more often


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("changes, message", [
    ({"sigma": -0.1}, "sigma must be a finite number >= 0"),
    ({"sigma": float("nan")}, "sigma must be a finite number >= 0"),
    ({"n0": 0}, "n0 .selection samples. must be an integer >= 1"),
    ({"n": 0}, "n .estimation samples. must be an integer >= 1"),
    ({"alpha": 0.0}, r"alpha must be in \(0, 1\)"),
    ({"alpha": 1.0}, r"alpha must be in \(0, 1\)"),
    ({"n": 9}, "the minimum is n = 10"),
])
def test_bad_smoothing_settings_raise_one_line(changes, message):
    settings = {"sigma": SIGMA, "n0": 100, "n": 1000, "alpha": 0.001, **changes}
    with pytest.raises(ValueError, match=message) as error:
        validate_smoothing(**settings)
    assert "\n" not in str(error.value)


def test_minimum_samples_is_the_smallest_certifying_n():
    for alpha in (0.5, 0.1, 0.05, 0.01, 0.001, 1e-6):
        n = minimum_samples(alpha)
        assert alpha ** (1 / n) > 0.5 and (n == 1 or alpha ** (1 / (n - 1)) <= 0.5)
        assert max_certified_radius(1.0, n, alpha) > 0 and (n == 1 or max_certified_radius(1.0, n - 1, alpha) == 0)
    assert minimum_samples(0.001) == 10


def test_ladder_warning_names_the_largest_certifiable_epsilon():
    shape = (224, 224, 3)
    largest = SIGMA * stats.norm.ppf(0.001 ** (1 / 100_000)) / math.sqrt(224 * 224 * 3)
    assert ladder_warning((0.00125, 0.002), sigma=SIGMA, n=100_000, alpha=0.001, image_shape=shape) is None
    line = ladder_warning((0.00125, 0.0025, 0.005), sigma=SIGMA, n=100_000, alpha=0.001, image_shape=shape)
    assert "[0.0025, 0.005]" in line and f"{largest:.3g}" in line and "\n" not in line
    assert 0.002 < largest < 0.0025


# ---------------------------------------------------------------- ART's randomized smoothing on a small Keras model


def small_keras_model(num_classes: int = 3):
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))
    rng = np.random.default_rng(16)
    model.set_weights([rng.normal(0, scale, weight.shape).astype("float32")
                       for weight, scale in zip(model.get_weights(), (0.6, 0.5, 1.0, 0.5))])
    return model


def test_matches_art_randomized_smoothing_certify_and_predict():
    """ART 1.20 certifies with the same rule (statsmodels' two-sided beta interval at 2 alpha = our one-sided bound)
    on its own noise; our radius must lie within the radii of counts 5 standard errors (of a difference of two
    counts) either side of ours, and predictions may differ only on points within that band of abstaining."""
    pytest.importorskip("art")
    from art.estimators.certification.randomized_smoothing import TensorFlowV2RandomizedSmoothing

    model, num_points, n0, n, alpha = small_keras_model(), 24, 64, 1000, 0.001
    images = np.random.default_rng(17).random((num_points, 6, 6, 3)).astype(np.float32)
    labels = np.argmax(model(images).numpy(), axis=1)
    assert len(np.unique(labels)) >= 2
    smoothed = TensorFlowV2RandomizedSmoothing(model=model, nb_classes=3, input_shape=(6, 6, 3), sample_size=n0,
                                               scale=SIGMA, alpha=alpha)
    np.random.seed(18)
    art_prediction, art_radius = smoothed.certify(images, n=n, batch_size=256)
    ours = certify(model, images, labels, sigma=SIGMA, n0=n0, n=n, alpha=alpha, batch_size=256, seed=19)

    k = ours.estimation_counts[np.arange(num_points), np.maximum(ours.prediction, 0)].astype(float)
    spread = 5 * np.sqrt(2 * n * (k / n) * (1 - k / n)) + 2
    low, high = (clopper_pearson_lower(np.clip(np.round(k + side * spread), 0, n), n, alpha) for side in (-1, 1))
    both = (ours.prediction >= 0) & (art_prediction >= 0)
    near_threshold = (low <= 0.5) & (high > 0.5)
    assert np.all((ours.prediction == art_prediction) | near_threshold)
    assert np.mean(ours.prediction == art_prediction) >= 0.75 and both.sum() >= num_points // 2
    radius_low, radius_high = (SIGMA * stats.norm.ppf(np.clip(p, 0.5, None)) for p in (low, high))
    assert np.all((art_radius[both] >= radius_low[both] - 1e-9) & (art_radius[both] <= radius_high[both] + 1e-9))

    art_predict = smoothed.predict(images, batch_size=256)  # one-hot, all zeros on abstain
    art_classes = np.where(art_predict.sum(axis=1) > 0, np.argmax(art_predict, axis=1), -1)
    our_classes = predict_smoothed(model, images, sigma=SIGMA, n=n0, alpha=alpha, batch_size=256, seed=20).prediction
    assert np.mean(our_classes == art_classes) >= 0.75
