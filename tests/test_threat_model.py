"""The chest X-ray enhancement as a layer of the model (enhancement="model"): the attacker perturbs the radiograph."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainables.spec import TrialConfig
from trainables.data import enhance_xray, open_task
from trainables.models import XrayEnhancement, build_model, load_model


def radiograph(size=64, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    image = 90 + 60 * np.exp(-((xx - size / 3) ** 2 + (yy - size / 2) ** 2) / (size ** 2 / 20)) + rng.normal(0, 8, (size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_the_layer_equals_opencvs_filter_on_the_same_image():
    image = radiograph()
    sigma = 20.0 * 64 / 1024
    expected = enhance_xray(image, sigma=sigma).astype(np.float32) / 255
    rgb = np.repeat(image[None, :, :, None], 3, axis=-1).astype(np.float32) / 255
    produced = np.asarray(XrayEnhancement(sigma)(rgb))
    assert produced.shape == (1, 64, 64, 3) and np.allclose(produced[..., 0], produced[..., 2])
    difference = np.abs(produced[0, :, :, 0] - expected)
    # the uint8 filter rounds the min-max, the blur and the sum; x4 amplifies each rounding to <= 2/255
    assert difference.max() <= 5 / 255 and difference.mean() <= 1.5 / 255


def test_gradients_reach_the_radiograph_through_the_layer():
    rgb = tf.constant(np.repeat(radiograph()[None, :, :, None], 3, axis=-1).astype(np.float32) / 255)
    with tf.GradientTape() as tape:
        tape.watch(rgb)
        out = tf.reduce_sum(XrayEnhancement(1.25)(rgb))
    gradient = tape.gradient(out, rgb).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_a_model_with_the_layer_saves_and_loads_with_the_same_logits(tmp_path):
    model = build_model("resnet50", "none", 2, input_shape=(32, 32, 3), scale="mini", weights=None, xray_sigma=0.625)
    assert model.get_layer("xray_enhancement").sigma == 0.625
    images = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    assert np.allclose(load_model(path)(images), model(images), atol=1e-5)


def test_enhancement_model_is_refused_for_a_task_without_the_filter_and_keeps_images_raw():
    with pytest.raises(ValueError, match="task 'skin_lesion' has none"):
        TrialConfig(task="skin_lesion", enhancement="model").resolved()
    with pytest.raises(ValueError, match="unknown enhancement 'inside'; expected one of: data, model"):
        TrialConfig(enhancement="inside")
    assert TrialConfig(task="pneumothorax", enhancement="model").resolved().enhancement == "model"
    enhanced = open_task("pneumothorax", image_size=32, max_train=8, max_test=8)
    raw = open_task("pneumothorax", image_size=32, max_train=8, max_test=8, enhancement="model")
    assert np.array_equal(enhanced.y_test, raw.y_test)
    assert not np.array_equal(enhanced.x_test[:4], raw.x_test[:4])
