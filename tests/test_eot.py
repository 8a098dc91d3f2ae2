"""EoT loss gradients for the smoothed classifier: the plain gradient at sigma 0, the Gaussian expectation on a linear
model, APGD running on them unchanged, and the attack on g running to its budget (a toy g whose label probability
falls steadily along the attack is broken)."""

from functools import partial

import numpy as np
import pytest
from scipy import stats

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import test_certify as certify_tests  # noqa: E402

from trainables.robustness.attacks.apgd import APGD  # noqa: E402
from trainables.robustness.attacks.eot import compile_eot_loss_gradient, confirmed_breaks  # noqa: E402
from trainables.robustness.attacks.losses import compile_loss_gradient  # noqa: E402
from trainables.robustness.smoothing.certify import predict_smoothed  # noqa: E402

SHAPE = (4, 4, 3)


def small_cnn(num_classes: int = 3):
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(x)))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.7, weight.shape).astype("float32") for weight in model.get_weights()])
    return model


linear_binary_model = partial(certify_tests.linear_binary_model, shape=SHAPE)


@pytest.mark.parametrize("loss", ["cross_entropy", "margin"])
def test_without_noise_the_eot_gradient_is_the_plain_gradient(loss):
    model = small_cnn()
    rng = np.random.default_rng(1)
    x = tf.constant(rng.random((5, *SHAPE)), tf.float32)
    labels, targets = tf.constant(rng.integers(0, 3, 5), tf.int64), tf.zeros(5, tf.int64)
    plain = compile_loss_gradient(model, SHAPE, loss)(x, labels, targets)
    eot = compile_eot_loss_gradient(model, SHAPE, loss, sigma=0.0, draws=20, seed=2)(x, labels, targets)
    np.testing.assert_allclose(eot[0], plain[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eot[1], plain[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(np.argmax(eot[2], axis=1), np.argmax(plain[2], axis=1))
    noisy = compile_eot_loss_gradient(model, SHAPE, loss, sigma=0.3, draws=20, seed=2)(x, labels, targets)
    assert not np.allclose(noisy[1], plain[1], rtol=1e-2)  # the comparison can fail


def test_eot_gradient_of_a_linear_model_is_the_gaussian_expectation():
    """logits [0, z], z = w.x + b, label 0: cross-entropy softplus(z), gradient sigmoid(z) w. Under noise
    z ~ N(z0, (sigma ||w||)^2): expected gradient E[sigmoid(z)] w, loss E[softplus(z)], vote share of class 1
    Phi(z0 / (sigma ||w||)); the expectations by Gauss-Hermite quadrature, the tolerances 5 standard errors over
    rows x draws = 8,000 samples."""
    w = np.random.default_rng(3).uniform(-1, 1, int(np.prod(SHAPE)))
    sigma, z0, rows, draws = 0.5, 2.0, 400, 20
    spread = sigma * np.linalg.norm(w)
    b = z0 - 0.5 * w.sum()
    x = tf.fill((rows, *SHAPE), 0.5)
    gradient_of = compile_eot_loss_gradient(linear_binary_model(w, b), SHAPE, "cross_entropy", sigma=sigma,
                                            draws=draws, seed=4)
    loss, gradient, votes = (value.numpy() for value in gradient_of(x, tf.zeros(rows, tf.int64),
                                                                     tf.zeros(rows, tf.int64)))
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    z = z0 + spread * nodes
    expected_scale = float(weights @ (1 / (1 + np.exp(-z))))
    expected_loss = float(weights @ np.logaddexp(0, z))
    flat = gradient.reshape(rows, -1).astype(np.float64)
    cosine = flat @ w / (np.linalg.norm(flat, axis=1) * np.linalg.norm(w))
    assert np.all(cosine > 1 - 1e-5)
    scale = flat @ w / (w @ w)
    samples = rows * draws
    assert abs(scale.mean() - expected_scale) < 5 * 0.5 / np.sqrt(samples)
    assert abs(1 / (1 + np.exp(-z0)) - expected_scale) > 0.05  # the plain gradient's scale lies far outside
    assert abs(loss.mean() - expected_loss) < 5 * np.sqrt(weights @ (np.logaddexp(0, z) - expected_loss) ** 2
                                                          / samples)
    share = stats.norm.cdf(z0 / spread)
    assert abs(votes[:, 1].mean() - share) < 5 * np.sqrt(share * (1 - share) / samples)
    # fresh noise on every call, reproducible from the seed
    again = gradient_of(x, tf.zeros(rows, tf.int64), tf.zeros(rows, tf.int64))[1].numpy()
    assert not np.array_equal(again, gradient)
    replay = compile_eot_loss_gradient(linear_binary_model(w, b), SHAPE, "cross_entropy", sigma=sigma, draws=draws,
                                       seed=4)(x, tf.zeros(rows, tf.int64), tf.zeros(rows, tf.int64))[1].numpy()
    np.testing.assert_array_equal(replay, gradient)


def test_apgd_runs_on_the_eot_gradient_and_stays_in_the_ball():
    model = small_cnn()
    rng = np.random.default_rng(5)
    images = rng.random((6, *SHAPE)).astype(np.float32)
    labels = np.argmax(model(images).numpy(), axis=1).astype(np.int64)
    eps = 0.05
    attack = APGD(compile_eot_loss_gradient(model, SHAPE, "cross_entropy", sigma=0.1, draws=4, seed=6), SHAPE,
                  steps=5, batch_size=4, device="/CPU:0")
    starts = rng.uniform(-eps, eps, images.shape).astype(np.float32)
    broken, adversarial, predictions = attack.attack(images, labels, np.zeros(6, np.int64), eps, starts)
    assert broken.shape == (6,) and adversarial.shape == images.shape
    assert np.abs(adversarial - images).max() <= eps + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    assert np.all(predictions[broken] != labels[broken]) and attack.counter.gradient_evaluations >= 6


TOY_SHAPE, TOY_STEPS, TOY_SIGMA = (10, 10, 1), 100, 0.25
TOY_Z = float(stats.norm.ppf(0.8))  # g's label probability 0.8 at the clean point ...
TOY_EPS = 2 * TOY_Z * TOY_SIGMA * 10 / TOY_STEPS  # ... and 0.2 once every one of the 100 pixels moved by eps


def falling_g(points: int):
    """A toy smoothed classifier and an attack on it along which g's label probability falls steadily from 0.8 to
    0.2 over the 100 steps: a linear f (class 1 where b - sum(x) > 0, so g's class-1 probability is
    Phi((b - sum(x)) / (sigma * 10)) on 100 pixels) and a loss gradient whose votes are f's 20 noisy draws but whose
    gradient points at one new pixel per call, with a loss that rises every call (so APGD keeps its step size and
    every step moves one more pixel to the ball's edge)."""
    dimension = int(np.prod(TOY_SHAPE))
    w = -np.ones(dimension)
    b = 0.5 * dimension + TOY_Z * TOY_SIGMA * 10
    model = certify_tests.linear_binary_model(w, b, shape=TOY_SHAPE)

    def loss_gradient_factory(seed):
        clock = tf.Variable(0, dtype=tf.int64)
        generator = tf.random.Generator.from_seed(seed)

        @tf.function(input_signature=[tf.TensorSpec((None, *TOY_SHAPE), tf.float32),
                                      tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.int64)])
        def loss_gradient(x, labels, targets):
            call = clock.assign_add(1) - 1
            votes = tf.zeros((tf.shape(x)[0], 2), tf.float32)
            for _ in tf.range(20):
                logits = model(x + TOY_SIGMA * generator.normal(tf.shape(x)), training=False)
                votes += tf.one_hot(tf.argmax(logits, axis=-1), 2)
            pixel = tf.reshape(tf.one_hot(call % dimension, dimension), (1, *TOY_SHAPE))
            loss = tf.fill(tf.shape(x)[:1], tf.cast(call, tf.float32))
            return loss, tf.broadcast_to(pixel, tf.shape(x)), votes / 20.0

        return loss_gradient

    images = np.full((points, *TOY_SHAPE), 0.5, dtype=np.float32)
    labels = np.ones(points, dtype=np.int64)

    def label_probability(x):
        return stats.norm.cdf((b + x.reshape(len(x), -1) @ w) / (TOY_SIGMA * 10))

    def predict(rows, inputs, candidate):
        return predict_smoothed(model, inputs, sigma=TOY_SIGMA, n=1000, alpha=0.001, batch_size=1000,
                                seed=17 + candidate, point_ids=rows).prediction

    return model, loss_gradient_factory, images, labels, label_probability, predict


def test_eot_keeps_attacking_after_a_decisive_looking_vote_and_breaks_a_steadily_falling_g():
    """g's label probability falls 0.8 -> 0.2 along the attack: the attack run to its budget, its best and last
    iterates confirmed by PREDICT, breaks >= 90 % of 64 points; retiring each point at its first vote that looks
    decisive (the label's share 0.2 below another's, as before) and confirming only that iterate breaks far fewer."""
    points = 64
    _, loss_gradient, images, labels, label_probability, predict = falling_g(points)
    zeros, targets = np.zeros_like(images), np.zeros(points, np.int64)
    assert label_probability(images)[0] == pytest.approx(0.8, abs=1e-3)
    attack = APGD(loss_gradient(1), TOY_SHAPE, steps=TOY_STEPS, batch_size=points, device="/CPU:0")
    candidates = attack.attack_to_budget(images, labels, targets, TOY_EPS, zeros)
    assert np.abs(candidates["last"] - images).max() <= TOY_EPS + 1e-6
    assert np.all(label_probability(candidates["last"]) < 0.25)  # the toy falls as designed
    broken, predictions, adversarial = confirmed_breaks(predict, labels, candidates, vote_margin=0.2)
    assert broken.mean() >= 0.9, broken.mean()
    assert np.all(predictions[broken] == 0) and np.all(label_probability(adversarial[broken]) < 0.5)

    def decisive(x, labels_, targets_, inner=loss_gradient(2)):  # the retired rule: label share raised by 0.2
        loss, gradient, shares = inner(x, labels_, targets_)
        return loss, gradient, shares + 0.2 * tf.one_hot(labels_, 2)

    early = APGD(decisive, TOY_SHAPE, steps=TOY_STEPS, batch_size=points, device="/CPU:0")
    hit, early_adversarial, _ = early.attack(images, labels, targets, TOY_EPS, zeros)
    confirmed = np.zeros(points, dtype=bool)
    if hit.any():
        prediction = predict(np.flatnonzero(hit), early_adversarial[hit], 0)
        confirmed[hit] = (prediction >= 0) & (prediction != 1)
    assert confirmed.mean() < 0.5 and np.median(label_probability(early_adversarial[hit])) > 0.35
