"""EoT loss gradients for the smoothed classifier: the plain gradient at sigma 0, the Gaussian expectation on a linear
model, and APGD running on them unchanged."""

from functools import partial

import numpy as np
import pytest
from scipy import stats

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import test_certify as certify_tests  # noqa: E402

from trainables.robustness.attacks.apgd import APGD  # noqa: E402
from trainables.robustness.attacks.eot import compile_eot_loss_gradient  # noqa: E402
from trainables.robustness.attacks.losses import compile_loss_gradient  # noqa: E402

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
