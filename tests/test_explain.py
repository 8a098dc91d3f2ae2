"""trainables.explain: Grad-CAM against an analytic oracle, perturbation-map scaling, artifact round trip."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from trainables.explain import (  # noqa: E402
    ARRAY_KEYS,
    explain_samples,
    gradcam,
    perturbation_map,
    read_explanations,
    write_explanations,
)
from analysis.figures import gradcam_preview, perturbation_preview, write_png  # noqa: E402
from trainables.previews import CELL, TITLE  # noqa: E402
from trainables.robustness import evaluate_robustness  # noqa: E402

SIZE, CLASSES, CHANNELS = 10, 3, 4


def two_conv_cnn(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    hidden = keras.layers.Conv2D(6, 3, activation="relu", name="conv_1")(inputs)
    hidden = keras.layers.Conv2D(CHANNELS, 3, activation="relu", name="backbone_features")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(hidden)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(pooled))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((6, SIZE, SIZE, 3)).astype(np.float32)


def test_gradcam_shape_and_range(images):
    maps = gradcam(two_conv_cnn(), images, np.array([0, 1, 2, 0, 1, 2]))
    assert maps.shape == (6, SIZE - 4, SIZE - 4) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    peaks = maps.reshape(6, -1).max(axis=1)
    assert np.all((peaks == 0.0) | np.isclose(peaks, 1.0))  # normalised per image (all-zero maps stay zero)
    assert np.any(peaks == 1.0)


def test_gradcam_equals_analytic_map_for_gap_dense_head(images):
    # logit_k = sum_c W[c, k] * mean_hw A[h, w, c] + b_k, so dlogit_k/dA = W[:, k] / (h w) everywhere and
    # Grad-CAM = ReLU(A @ W[:, k]) up to the positive factor 1 / (h w), which the normalisation removes
    model = two_conv_cnn(seed=1)
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(CHANNELS, CLASSES)).astype(np.float32)
    model.get_layer("logits").set_weights([weights, np.array([0.3, -0.2, 0.1], np.float32)])
    features = keras.Model(model.inputs[0], model.get_layer("backbone_features").output)(images).numpy()
    classes = np.array([2, 0, 1, 1, 0, 2])
    expected = np.maximum(np.einsum("nhwc,nc->nhw", features, weights[:, classes].T), 0.0)
    peaks = expected.reshape(len(images), -1).max(axis=1)[:, None, None]
    expected = np.divide(expected, peaks, out=np.zeros_like(expected), where=peaks > 0)
    assert np.count_nonzero(peaks) >= 4  # the oracle is not trivially all zero
    np.testing.assert_allclose(gradcam(model, images, classes, batch_size=4), expected, atol=1e-5)


def test_gradcam_rejects_unknown_or_flat_layers(images):
    model = two_conv_cnn()
    with pytest.raises(ValueError, match="no layer named 'missing'.*backbone_features"):
        gradcam(model, images, np.zeros(6, np.int64), layer_name="missing")
    with pytest.raises(ValueError, match="needs a layer with"):
        gradcam(model, images, np.zeros(6, np.int64), layer_name="pool")
    with pytest.raises(ValueError, match="class_indices must be in"):
        gradcam(model, images, np.full(6, CLASSES, np.int64))


def test_perturbation_map_scales_each_image_to_255():
    clean = np.full((2, 3, 3, 3), 0.5, np.float32)
    adversarial = clean.copy()
    adversarial[0, 0, 0, 1] += 0.02  # the image's largest change -> 255
    adversarial[0, 1, 1, 2] -= 0.01  # half of it -> 128 (127.5 rounded to even)
    adversarial[0, 1, 1, 0] += 0.005  # smaller change in another channel of that pixel: max over channels wins
    maps = perturbation_map(adversarial, clean)
    assert maps.shape == (2, 3, 3) and maps.dtype == np.uint8
    assert maps[0, 0, 0] == 255 and maps[0, 1, 1] == 128 and maps[0].sum() == 255 + 128
    assert not maps[1].any()  # no perturbation -> all zero, no division by zero
    per_channel = perturbation_map(adversarial, clean, reduce_channels=False)
    assert per_channel.shape == (2, 3, 3, 3) and per_channel[0, 1, 1, 0] == 64
    with pytest.raises(ValueError, match="one shape"):
        perturbation_map(adversarial[:1], clean)


def test_explanations_round_trip_through_artifacts(tmp_path):
    model = two_conv_cnn()
    rng = np.random.default_rng(2)
    images = rng.random((12, SIZE, SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, CLASSES, 12)
    result = evaluate_robustness(
        model, images, labels, (0.01, 0.05), budgets={"pgd": {"steps": 3}}, seed=0, sample_indices=[1, 4, 7, 9], run_checks=False
    )
    samples = images[result.sample_indices]
    explanations = explain_samples(model, samples, labels[result.sample_indices], result.adversarial_samples)
    stored_path = write_explanations(explanations, tmp_path / "explanations" / "samples.npz")
    for draw in (perturbation_preview, gradcam_preview):  # the previews a trial logs beside the arrays
        preview = draw(explanations)
        assert preview.shape == (4 * (CELL + TITLE), 3 * CELL, 3) and preview.dtype == np.uint8
        png = write_png(preview, tmp_path / f"{draw.__name__}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(stored_path) as stored:
        assert set(ARRAY_KEYS) <= set(stored.files)
    loaded = read_explanations(stored_path)
    expected_shapes = {
        "epsilons": (2,),
        "images": (4, SIZE, SIZE, 3),
        "labels": (4,),
        "adversarial": (2, 4, SIZE, SIZE, 3),
        "gradcam_clean": (4, SIZE - 4, SIZE - 4),
        "gradcam_adversarial": (2, 4, SIZE - 4, SIZE - 4),
        "perturbation": (2, 4, SIZE, SIZE),
        "predictions_clean": (4,),
        "predictions_adversarial": (2, 4),
    }
    for key, shape in expected_shapes.items():
        assert getattr(loaded, key).shape == shape, key
        np.testing.assert_array_equal(getattr(loaded, key), getattr(explanations, key))
    assert loaded.perturbation.dtype == np.uint8 and loaded.gradcam_layer == "backbone_features"
    np.testing.assert_array_equal(loaded.epsilons, [0.01, 0.05])
    predicted = np.argmax(model(loaded.adversarial[1]).numpy(), axis=1)
    np.testing.assert_array_equal(loaded.predictions_adversarial[1], predicted)
    np.testing.assert_array_equal(loaded.perturbation[1], perturbation_map(loaded.adversarial[1], samples))
    # the evaluation's outcome and the explanation agree on which sample points the attack broke
    broken = ~result.robust_mask[result.sample_indices, 2]
    np.testing.assert_array_equal(predicted != loaded.labels, broken)


def test_gradcam_target_label_explains_the_true_class(images):
    model = two_conv_cnn()
    labels = np.array([0, 1, 2, 2, 1, 0])
    explanations = explain_samples(model, images, labels, {}, target="label")
    np.testing.assert_array_equal(explanations.gradcam_clean, gradcam(model, images, labels))
    assert explanations.adversarial.shape == (0, *images.shape)
    with pytest.raises(ValueError, match="unknown Grad-CAM target"):
        explain_samples(model, images, labels, {}, target="logit")
