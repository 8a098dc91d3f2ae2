"""Tests of trainables.models: toy-size mini nets, plus one build of each full-size model (no forward passes)."""

from __future__ import annotations

import math

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainables.models import (BackbonePreprocessing, CorrectedSoftAttention, FaithfulSoftAttention, attention_maps,
                               build_model, describe_model, load_model)
from trainables.spec.models import default_input_shape, list_attentions, list_backbones, list_placements

BACKBONES = ["resnet50", "inception_resnet_v2"]
# Keras' own numpy conversion of variables warns under numpy 2; not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def mini(backbone, attention="none", num_classes=3, size=32, **kwargs):
    return build_model(backbone, attention, num_classes, input_shape=(size, size, 3), scale="mini", **kwargs)


def images(rng, n=4, size=32):
    return rng.random((n, size, size, 3), dtype=np.float32)


# ---------------------------------------------------------------- registries and bad input


def test_registries_list_the_contract_names():
    assert list_backbones() == BACKBONES
    assert list_attentions()[:3] == ["none", "soft_faithful", "soft_corrected"]  # more: test_attention_variants
    for backbone in BACKBONES:
        assert list_placements(backbone) == ["head", "conv3", "conv4", "conv5"]
        assert list_placements(backbone, "mini") == list_placements(backbone)
    assert default_input_shape("resnet50") == (224, 224, 3)
    assert default_input_shape("inception_resnet_v2") == (299, 299, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(backbone="vgg16"), "unknown backbone 'vgg16'; expected one of: resnet50, inception_resnet_v2"),
        (dict(attention="hard"), "unknown attention 'hard'; expected one of: none, soft_faithful, soft_corrected"),
        (dict(placement="conv2"), "unknown placement 'conv2' for resnet50; expected one of: head, conv3"),
        (dict(scale="tiny"), "unknown scale 'tiny'; expected one of: full, mini"),
        (dict(num_classes=1), "num_classes must be an int >= 2; received 1"),
        (dict(input_shape=(31, 32, 3)), r"too small for resnet50 \(scale='mini'\); expected height and width >= 32"),
        (dict(input_shape=(32, 32)), r"input_shape must be \(height, width, 3\)"),
        (dict(heads=0), "heads must be a positive int; received heads=0"),
        (dict(dropout=1.0), r"dropout must be a float in \[0, 1\); received 1.0"),
        (dict(weights="imagenet"), "weights='imagenet' is not available for resnet50 at scale='mini'"),
        (dict(weights="/nonexistent/w.weights.h5"), "weights file '/nonexistent/w.weights.h5' not found"),
    ],
)
def test_bad_input_names_received_and_allowed(kwargs, message):
    arguments = dict(backbone="resnet50", attention="soft_faithful", num_classes=2, input_shape=(32, 32, 3))
    arguments["scale"] = "mini"
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_model(**arguments)


def test_full_inception_resnet_v2_refuses_inputs_below_75_px():
    with pytest.raises(ValueError, match=r"input_shape \(74, 74, 3\) is too small .* >= 75"):
        build_model("inception_resnet_v2", input_shape=(74, 74, 3))


# ---------------------------------------------------------------- preprocessing


def test_caffe_preprocessing_equals_keras_resnet50_preprocess_input(rng):
    x = images(rng)
    ours = BackbonePreprocessing("caffe")(x)
    theirs = keras.applications.resnet50.preprocess_input(x * 255.0)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_tf_preprocessing_maps_unit_interval_to_minus_one_one(rng):
    x = images(rng)
    ours = keras.ops.convert_to_numpy(BackbonePreprocessing("tf")(x))
    np.testing.assert_allclose(ours, 2 * x - 1, atol=1e-6)
    np.testing.assert_allclose(ours, keras.applications.inception_resnet_v2.preprocess_input(x * 255.0), atol=1e-5)
    ends = keras.ops.convert_to_numpy(BackbonePreprocessing("tf")(np.array([[[[0.0, 1.0, 0.5]]]], "float32")))
    np.testing.assert_allclose(ends.ravel(), [-1.0, 1.0, 0.0])


def test_preprocessing_is_inside_the_model():
    model = mini("resnet50")
    assert model.layers[1].name == "preprocessing" and model.layers[1].mode == "caffe"
    assert mini("inception_resnet_v2").get_layer("preprocessing").mode == "tf"


# ---------------------------------------------------------------- soft attention layers


def faithful_logits_oracle(x, kernel):
    """The reference's conv3d with TF's documented "same" padding, written out: (B,H,W,C), (C,3,3,1,m) -> (B,H,W,m)."""
    batch, height, width, channels = x.shape
    front = (channels - 1) // 2
    out = np.zeros((batch, height, width, kernel.shape[-1]))
    for h in range(height):
        for w in range(width):
            for i in range(channels):  # kernel depth C runs along H
                for j in range(3):  # along W
                    hh, ww = h + i - front, w + j - 1
                    if 0 <= hh < height and 0 <= ww < width:
                        # kernel axis 2 runs along channels, one stride-C step, no padding: channels 0-2.
                        out[:, h, w] += x[:, hh, ww, :3] @ kernel[i, j, :, 0, :]
    return out


@pytest.mark.parametrize("shape", [(2, 5, 7, 8), (1, 3, 4, 3), (2, 6, 3, 17)])
def test_faithful_logits_match_the_written_out_3d_convolution(rng, shape):
    layer = FaithfulSoftAttention(heads=3)
    x = rng.normal(size=shape).astype("float32")
    layer(x)
    expected = faithful_logits_oracle(x, keras.ops.convert_to_numpy(layer.kernel))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer._logits(x)), expected, atol=1e-4)


def test_faithful_gradients_equal_tf_conv3d_gradients(rng):
    layer = FaithfulSoftAttention(heads=2)
    x = tf.constant(rng.normal(size=(2, 4, 5, 6)).astype("float32"))
    layer(x)
    cotangent = tf.constant(rng.normal(size=(2, 4, 5, 2)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(layer._logits(x) * cotangent)
        literal = tf.nn.conv3d(x[..., None], layer.kernel, strides=(1, 1, 1, 6, 1), padding="SAME")
        reference = tf.reduce_sum(tf.squeeze(literal, -2) * cotangent)
    for a, b in zip(tape.gradient(ours, [x, layer.kernel]), tape.gradient(reference, [x, layer.kernel])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


@pytest.mark.parametrize("layer_class", [FaithfulSoftAttention, CorrectedSoftAttention])
@pytest.mark.parametrize("channels, heads", [(8, 4), (2048, 16), (192, 16)])
def test_soft_attention_adds_9cm_plus_m_parameters(layer_class, channels, heads):
    layer = layer_class(heads=heads)
    layer.build((None, 7, 7, channels))
    assert layer.count_params() == 9 * channels * heads + heads


def test_faithful_maps_ignore_channels_from_3_on_and_corrected_maps_do_not(rng):
    x = rng.random((2, 6, 6, 16), dtype=np.float32)
    perturbed = x.copy()
    perturbed[..., 3:] += rng.normal(size=perturbed[..., 3:].shape).astype("float32")
    faithful, corrected = FaithfulSoftAttention(heads=4), CorrectedSoftAttention(heads=4)
    for layer in (faithful, corrected):
        layer(x)
        layer.bias.assign(np.full(4, 0.5, "float32"))  # keep the ReLU open so the maps are not flat
    maps = {name: (layer.attention_maps(x), layer.attention_maps(perturbed)) for name, layer in
            [("faithful", faithful), ("corrected", corrected)]}
    np.testing.assert_allclose(*maps["faithful"], atol=1e-6)
    assert np.abs(np.asarray(maps["corrected"][0]) - np.asarray(maps["corrected"][1])).max() > 1e-3
    changed = x.copy()
    changed[..., 1] += 1.0
    assert np.abs(np.asarray(faithful.attention_maps(changed)) - np.asarray(maps["faithful"][0])).max() > 1e-3


@pytest.mark.parametrize("layer_class", [FaithfulSoftAttention, CorrectedSoftAttention])
def test_maps_sum_to_one_per_head_and_weight_the_features(rng, layer_class):
    x = rng.random((3, 5, 4, 6), dtype=np.float32)
    plain, residual = layer_class(heads=4), layer_class(heads=4, residual=True)
    plain(x)
    residual(x)
    residual.set_weights(plain.get_weights())
    maps = keras.ops.convert_to_numpy(plain.attention_maps(x))
    assert maps.shape == (3, 4, 5, 4)
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, atol=1e-5)
    summed = maps.sum(axis=1)[..., None]
    np.testing.assert_allclose(plain(x), x * summed, atol=1e-5)
    np.testing.assert_allclose(residual(x), x * (1 + summed), atol=1e-5)


# ---------------------------------------------------------------- mini models


@pytest.mark.parametrize("backbone", BACKBONES)
def test_mini_head_feature_maps_are_2_3_4_at_32_48_64_px(backbone):
    for size, side in ((32, 2), (48, 3), (64, 4)):
        model = mini(backbone, size=size)
        assert tuple(model.get_layer("backbone_features").output.shape[1:3]) == (side, side)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_outputs_are_logits(rng, backbone):
    keras.utils.set_random_seed(0)  # the initial weights, not whatever the tests before left in the global seed
    model = mini(backbone, "soft_faithful", num_classes=5)
    logits = keras.ops.convert_to_numpy(model(images(rng, 6), training=False))
    assert logits.shape == (6, 5) and logits.dtype == np.float32
    assert model.get_layer("logits").activation is keras.activations.linear
    assert not np.allclose(logits.sum(axis=1), 1.0)
    assert (logits < 0).any()


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(
    "attention, placement",
    [
        ("none", "head"),
        ("soft_faithful", "head"),
        ("soft_faithful", "conv3"),
        ("soft_corrected", "conv4"),
        ("soft_corrected", "conv5"),
    ],
)
def test_every_variant_and_placement_trains_one_step(rng, backbone, attention, placement):
    model = mini(backbone, attention, placement=placement)
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # flat: layers reachable by name
    before = {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights}
    model.compile(keras.optimizers.Adam(0.01), keras.losses.CategoricalCrossentropy(from_logits=True), run_eagerly=True)
    labels = keras.utils.to_categorical(rng.integers(0, 3, 8), 3)
    loss = model.train_on_batch(images(rng, 8), labels)
    assert np.isfinite(loss)
    after = {w.path: keras.ops.convert_to_numpy(w) for w in model.trainable_weights}
    changed = {path for path in after if not np.allclose(before[path], after[path])}
    assert any(path.startswith("logits/") for path in changed)
    if attention != "none":
        assert "soft_attention/kernel" in changed
    description = describe_model(model)
    assert (description["attention"], description["placement"]) == (attention, placement)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_placement_inserts_a_residual_block_after_the_named_layer(rng, backbone):
    model = mini(backbone, "soft_faithful", placement="conv4")
    layer = model.get_layer("soft_attention")
    assert layer.residual and describe_model(model)["placement_layer"].startswith(("conv4_block", "block17_"))
    # Rebuilt from its config every layer has one node, so get_layer(...).output is this graph's tensor.
    rebuilt = keras.Model.from_config(model.get_config())
    placed = rebuilt.get_layer(describe_model(model)["placement_layer"]).output
    probe = keras.Model(rebuilt.inputs[0], [placed, rebuilt.get_layer("soft_attention").input])
    a, b = probe(images(rng, 2))
    np.testing.assert_array_equal(a, b)
    baseline = mini(backbone)
    assert model.count_params() - baseline.count_params() == layer.count_params()


def test_attention_none_at_any_placement_is_the_baseline():
    baseline, placed = mini("resnet50"), mini("resnet50", placement="conv3")
    assert placed.count_params() == baseline.count_params()
    assert describe_model(placed)["attention_params"] == 0


def test_gradcam_layer_feeds_the_head(rng):
    model = mini("resnet50", "soft_corrected", placement="conv3")
    grad_model = keras.Model(model.inputs[0], [model.get_layer("backbone_features").output, model.outputs[0]])
    features, logits = (keras.ops.convert_to_numpy(t) for t in grad_model(images(rng, 3)))
    kernel, bias = model.get_layer("logits").get_weights()
    np.testing.assert_allclose(logits, features.mean(axis=(1, 2)) @ kernel + bias, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backbone, placement", [("resnet50", "head"), ("inception_resnet_v2", "conv5")])
def test_attention_maps_helper(rng, backbone, placement):
    model = mini(backbone, "soft_faithful", placement=placement, size=48)
    maps = attention_maps(model, images(rng, 5, 48), batch_size=2)
    assert maps.shape == (5, 16, 3, 3) and maps.dtype == np.float32
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="has no soft-attention layer"):
        attention_maps(mini(backbone), images(rng, 1, 32))


def test_describe_model_returns_plain_values():
    model = mini("inception_resnet_v2", "soft_corrected", num_classes=4, size=48, heads=8)
    description = describe_model(model)
    assert all(isinstance(v, (str, int, float)) for v in description.values())
    assert description["gradcam_layer"] == "backbone_features"
    assert description["input_shape"] == "48x48x3" and description["features_shape"] == "3x3x24"
    assert description["attention_params"] == 9 * 24 * 8 + 8 and description["heads"] == 8
    baseline = mini("inception_resnet_v2", num_classes=4, size=48)
    assert description["added_params"] == model.count_params() - baseline.count_params()
    assert describe_model(baseline)["added_params"] == 0
    with pytest.raises(ValueError, match="expected a model from build_model"):
        describe_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)], name="other"))


# ---------------------------------------------------------------- saving and weights


@pytest.mark.parametrize(
    "backbone, attention, placement",
    [("resnet50", "soft_corrected", "head"), ("inception_resnet_v2", "soft_faithful", "conv4")],
)
def test_save_and_load_round_trip_gives_identical_outputs(rng, tmp_path, backbone, attention, placement):
    model = mini(backbone, attention, placement=placement)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    x = images(rng)
    np.testing.assert_array_equal(model(x, training=False), loaded(x, training=False))
    np.testing.assert_array_equal(attention_maps(model, x), attention_maps(loaded, x))
    assert describe_model(loaded) == describe_model(model)


def test_weights_file_round_trip(tmp_path):
    saved = mini("inception_resnet_v2", "soft_faithful", placement="conv3")
    path = tmp_path / "m.weights.h5"
    saved.save_weights(path)
    loaded = mini("inception_resnet_v2", "soft_faithful", placement="conv3", weights=path)
    assert len(saved.weights) == len(loaded.weights)
    for a, b in zip(saved.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize(
    "other",
    [dict(num_classes=4), dict(attention="none"), dict(attention="soft_faithful", placement="conv3")],
)
def test_mismatching_weights_file_names_the_file(tmp_path, other):
    path = tmp_path / "head.weights.h5"
    mini("resnet50", "soft_faithful").save_weights(path)
    arguments = dict(attention="soft_faithful", num_classes=3) | other
    with pytest.raises(ValueError, match=f"weights file '{path}' does not match model"):
        mini("resnet50", weights=path, **arguments)


def test_unknown_or_mismatching_application_weights_file(tmp_path):
    text = tmp_path / "w.txt"
    text.write_text("x")
    with pytest.raises(ValueError, match="has an unknown type; expected a .weights.h5 file"):
        mini("resnet50", weights=text)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    legacy = tmp_path / "other.h5"
    with h5py.File(legacy, "w") as handle:
        keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group(handle, other)
    with pytest.raises(ValueError, match=f"weights file '{legacy}' does not match the include_top=True"):
        mini("resnet50", weights=legacy)


def test_missing_imagenet_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    expected = tmp_path / "models" / "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"
    with pytest.raises(ValueError, match=f"not found at {expected} .* download https://.* copy the file into"):
        build_model("inception_resnet_v2", weights="imagenet")


# ---------------------------------------------------------------- full size: one build per model (slow-ish)
# These build the real Keras applications (weights=None) to check the paper's exact parameter counts.

PAPER_COUNTS = {  # REFERENCE.md, Keras 3.15, 7 classes
    ("resnet50", "none"): 23_587_712 + 2048 * 7 + 7,
    ("resnet50", "soft_faithful"): 23_911_319,
    ("inception_resnet_v2", "none"): 47_550_631,
    ("inception_resnet_v2", "soft_faithful"): 47_535_287,
}


@pytest.fixture(scope="module")
def full_models():
    return {key: build_model(*key, num_classes=7) for key in PAPER_COUNTS}


@pytest.mark.slow  # full-size Keras backbones: seconds each
@pytest.mark.parametrize("key", list(PAPER_COUNTS))
def test_full_size_paper_parameter_counts(full_models, key):
    model = full_models[key]
    assert model.count_params() == PAPER_COUNTS[key]
    assert tuple(model.inputs[0].shape[1:]) == default_input_shape(key[0])
    assert tuple(model.outputs[0].shape) == (None, 7)


@pytest.mark.slow
def test_full_size_heads_attach_where_the_paper_cuts(full_models):
    resnet, irv2 = full_models[("resnet50", "soft_faithful")], full_models[("inception_resnet_v2", "soft_faithful")]
    assert tuple(resnet.get_layer("backbone_features").output.shape[1:]) == (7, 7, 2048)
    assert tuple(irv2.get_layer("backbone_features").output.shape[1:]) == (8, 8, 192)
    names = {layer.name for layer in irv2.layers}
    assert "block8_8_ac" in names and "block8_9_ac" not in names  # cut inside block8_9, at layers[-28]
    feeding = irv2.layers[irv2.layers.index(irv2.get_layer("backbone_features")) - 1]
    assert isinstance(feeding, keras.layers.BatchNormalization)
    assert tuple(irv2.get_layer("attention_concat").output.shape[1:]) == (4, 4, 384)
    assert describe_model(resnet)["attention_params"] == 294_928
    assert describe_model(irv2)["attention_params"] == 9 * 192 * 16 + 16
    assert describe_model(irv2)["added_params"] == 47_535_287 - 47_550_631


FULL_PLACEMENTS = {  # (backbone, placement): shape the attention block sees at the default size
    ("resnet50", "conv3"): (28, 28, 512),
    ("resnet50", "conv4"): (14, 14, 1024),
    ("resnet50", "conv5"): (7, 7, 2048),
    ("inception_resnet_v2", "conv3"): (35, 35, 320),
    ("inception_resnet_v2", "conv4"): (17, 17, 1088),
    ("inception_resnet_v2", "conv5"): (8, 8, 2080),
}


@pytest.mark.slow
@pytest.mark.parametrize("key", list(FULL_PLACEMENTS))
def test_full_size_placements_build(full_models, key):
    backbone, placement = key
    model = build_model(backbone, "soft_faithful", 7, placement=placement)
    layer = model.get_layer("soft_attention")
    assert tuple(layer.input.shape[1:]) == FULL_PLACEMENTS[key]
    channels = FULL_PLACEMENTS[key][-1]
    assert model.count_params() == PAPER_COUNTS[(backbone, "none")] + 9 * channels * 16 + 16


@pytest.mark.slow
def test_full_size_imagenet_transfer_keeps_every_backbone_weight(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    source = keras.applications.ResNet50(weights=None)  # stands in for the downloaded ImageNet file
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "w") as handle:
        keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group(handle, source)
    model = build_model("resnet50", "soft_faithful", 7, placement="conv4", weights="imagenet")
    compared = 0
    for layer in model.layers:
        if layer.weights and layer.name not in ("soft_attention", "logits"):
            for a, b in zip(layer.get_weights(), source.get_layer(layer.name).get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
            compared += 1
    assert compared == sum(1 for layer in source.layers if layer.weights) - 1  # all but "predictions"
    assert math.isclose(sum(w.size for w in source.get_layer("predictions").get_weights()), 2048 * 1000 + 1000)
