"""Attention variants (issue #34): SE, CBAM, non-local self-attention and soft attention's parameter-matched control.

Parameter counts against hand counts at every placement of both mini backbones (fast) and of both full-size ones
(each block at the full-size shapes, and one full build per backbone, slow); each block's output against a numpy oracle; every variant trains, saves and loads.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainables.models import (CBAM, FaithfulSoftAttention, ParamControl, SelfAttention2D, SqueezeExcitation,
                               build_model, describe_model, load_model)
from trainables.models.attention import make_attention
from trainables.models.attention_variants import REDUCTION
from trainables.spec.models import list_attentions, list_placements

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

BACKBONES = ["resnet50", "inception_resnet_v2"]
NEW = ["se", "cbam", "self_attention", "param_control"]
LAYER_NAMES = {"soft_faithful": "soft_attention", "se": "se_attention", "cbam": "cbam_attention",
               "self_attention": "self_attention", "param_control": "param_control"}


def hand_count(attention: str, channels: int, heads: int = 16) -> int:
    """Parameters of one block on C channels, written out from the papers' definitions."""
    hidden = max(1, channels // 16)
    per_head = max(1, (channels // 2) // heads)
    width = per_head * heads
    return {
        "soft_faithful": 9 * channels * heads + heads,
        "param_control": 9 * channels * heads + heads,
        "se": channels * hidden + hidden + hidden * channels + channels,
        "cbam": channels * hidden + hidden + hidden * channels + channels + 7 * 7 * 2 + 1,
        "self_attention": 3 * (channels * width + width) + width * channels + channels,
    }[attention]


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_every_variant_is_registered():
    assert list_attentions() == ["none", "soft_faithful", "soft_corrected", *NEW]
    assert REDUCTION == 16


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("attention", NEW)
def test_mini_counts_equal_the_hand_count_at_every_placement(backbone, attention):
    counts = {}
    for placement in list_placements(backbone, "mini"):
        model = build_model(backbone, attention, 7, input_shape=(48, 48, 3), placement=placement, scale="mini")
        layer = model.get_layer(LAYER_NAMES[attention])  # the deterministic name
        channels = int(layer.input.shape[-1])
        description = describe_model(model)
        assert description["attention_params"] == hand_count(attention, channels), placement
        assert (description["attention"], description["placement"]) == (attention, placement)
        assert description["heads"] == (16 if attention in ("self_attention", "param_control") else 0)
        counts[placement] = description["added_params"]
    if attention == "param_control":  # the control: soft_faithful's added parameters, within 1 % (here exactly)
        for placement, added in counts.items():
            soft = build_model(backbone, "soft_faithful", 7, input_shape=(48, 48, 3), placement=placement,
                               scale="mini")
            reference = describe_model(soft)["added_params"]
            assert abs(added - reference) <= 0.01 * abs(reference) and added == reference


def test_hand_count_check_can_fail():
    """The count test would catch a block with one weight too many (e.g. CBAM's spatial conv without its bias)."""
    assert hand_count("cbam", 256) != hand_count("se", 256) + 7 * 7 * 2
    assert hand_count("param_control", 256) != hand_count("se", 256)


def test_squeeze_excitation_matches_its_numpy_oracle(rng):
    x = rng.normal(size=(2, 3, 4, 32)).astype("float32")
    plain, residual = SqueezeExcitation(), SqueezeExcitation(residual=True)
    plain(x), residual(x)
    residual.set_weights(plain.get_weights())
    w1, b1, w2, b2 = plain.get_weights()
    gate = 1 / (1 + np.exp(-(np.maximum(x.mean(axis=(1, 2)) @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(numpy(plain(x)), x * gate[:, None, None, :], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(numpy(residual(x)), x + x * gate[:, None, None, :], rtol=1e-5, atol=1e-5)


def test_cbam_matches_its_numpy_oracle(rng):
    x = rng.normal(size=(2, 5, 6, 32)).astype("float32")
    layer = CBAM()
    layer(x)
    w1, b1, w2, b2, spatial, spatial_bias = layer.get_weights()

    def mlp(v):
        return np.maximum(v @ w1 + b1, 0) @ w2 + b2

    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    gated = x * sigmoid(mlp(x.mean(axis=(1, 2))) + mlp(x.max(axis=(1, 2))))[:, None, None, :]
    pooled = np.pad(np.stack([gated.mean(-1), gated.max(-1)], -1), ((0, 0), (3, 3), (3, 3), (0, 0)))
    logits = np.zeros(x.shape[:3])
    for i in range(7):
        for j in range(7):
            logits += pooled[:, i:i + 5, j:j + 6, :] @ spatial[i, j, :, 0]
    expected = gated * sigmoid(logits + spatial_bias)[..., None]
    np.testing.assert_allclose(numpy(layer(x)), expected, rtol=1e-4, atol=1e-5)


def test_self_attention_matches_its_numpy_oracle_and_starts_as_the_identity(rng):
    x = rng.normal(size=(2, 3, 4, 16)).astype("float32")
    layer = SelfAttention2D(heads=4)
    layer(x)
    np.testing.assert_array_equal(numpy(layer(x)), x)  # zero output projection: the identity at initialisation
    weights = [rng.normal(size=w.shape).astype("float32") * 0.3 for w in layer.get_weights()]
    layer.set_weights(weights)
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    flat = x.reshape(2, 12, 16)
    split = lambda v: v.reshape(2, 12, 4, 2).transpose(0, 2, 1, 3)  # noqa: E731  (B, m, N, d), d = (16 // 2) // 4
    q, k, v = split(flat @ wq + bq), split(flat @ wk + bk), split(flat @ wv + bv)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(2)
    weights_ = np.exp(scores - scores.max(-1, keepdims=True))
    weights_ /= weights_.sum(-1, keepdims=True)
    merged = (weights_ @ v).transpose(0, 2, 1, 3).reshape(2, 12, 8)
    expected = x + (merged @ wo + bo).reshape(x.shape)
    np.testing.assert_allclose(numpy(layer(x)), expected, rtol=1e-4, atol=1e-4)


def test_param_control_is_soft_attention_without_the_gate(rng):
    """Same kernel, same logits as soft_faithful; no softmax: x + mean_m relu(logits) instead of x * sum_m softmax."""
    x = rng.random((2, 5, 5, 8), dtype=np.float32)
    soft, control = FaithfulSoftAttention(heads=4), ParamControl(heads=4)
    soft(x), control(x)
    control.set_weights(soft.get_weights())  # the same shapes: the same weights fit both
    soft.bias.assign(np.full(4, 0.5, "float32")), control.bias.assign(np.full(4, 0.5, "float32"))
    logits = np.maximum(numpy(soft._logits(x)) + 0.5, 0)  # (B, H, W, m)
    np.testing.assert_allclose(numpy(control(x)), x + logits.mean(-1, keepdims=True), rtol=1e-5, atol=1e-5)
    # the gate is gone: doubling the logits' scale doubles the control's added term (a softmax gate would not)
    control.kernel.assign(2 * control.kernel), control.bias.assign(np.full(4, 1.0, "float32"))
    np.testing.assert_allclose(numpy(control(x)) - x, np.broadcast_to(2 * logits.mean(-1, keepdims=True), x.shape),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(numpy(soft(x)), numpy(control(x)))
    assert control.count_params() == soft.count_params()


@pytest.mark.parametrize("backbone, attention, placement", [
    ("resnet50", "se", "head"), ("inception_resnet_v2", "cbam", "conv3"), ("resnet50", "self_attention", "conv5"),
    ("inception_resnet_v2", "param_control", "head"), ("inception_resnet_v2", "self_attention", "head")])
def test_each_variant_trains_one_step_and_survives_a_save(rng, tmp_path, backbone, attention, placement):
    model = build_model(backbone, attention, 3, input_shape=(32, 32, 3), placement=placement, scale="mini")
    layer = model.get_layer(LAYER_NAMES[attention])
    assert layer.residual == (placement != "head")
    before = {w.path: numpy(w).copy() for w in model.trainable_weights}
    model.compile(keras.optimizers.Adam(0.01), keras.losses.CategoricalCrossentropy(from_logits=True), run_eagerly=True)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    assert np.isfinite(model.train_on_batch(x, keras.utils.to_categorical(rng.integers(0, 3, 8), 3)))
    changed = {w.path for w in model.trainable_weights if not np.allclose(before[w.path], numpy(w))}
    assert any(path.startswith(f"{layer.name}/") for path in changed), changed
    path = tmp_path / "model.keras"
    model.save(path)
    np.testing.assert_array_equal(numpy(model(x, training=False)), numpy(load_model(path)(x, training=False)))


# ---------------------------------------------------------------- full size: the hand count at every placement

# the shape each placement hands the block at the default input size; test_models.test_full_size_placements_build
# checks these on the built applications, so the blocks are counted here on their own (a full build takes seconds)
FULL_SHAPES = {("resnet50", "head"): (7, 7, 2048), ("resnet50", "conv3"): (28, 28, 512),
               ("resnet50", "conv4"): (14, 14, 1024), ("resnet50", "conv5"): (7, 7, 2048),
               ("inception_resnet_v2", "head"): (8, 8, 192), ("inception_resnet_v2", "conv3"): (35, 35, 320),
               ("inception_resnet_v2", "conv4"): (17, 17, 1088), ("inception_resnet_v2", "conv5"): (8, 8, 2080)}


@pytest.mark.parametrize("key", list(FULL_SHAPES))
def test_full_size_block_counts_equal_the_hand_count(key):
    shape = FULL_SHAPES[key]
    counts = {}
    for attention in ["soft_faithful", *NEW]:
        block = make_attention(attention, heads=16, residual=key[1] != "head")
        block.build((None, *shape))
        counts[attention] = block.count_params()
        assert counts[attention] == hand_count(attention, shape[-1]), attention
    assert counts["param_control"] == counts["soft_faithful"]


@pytest.mark.slow  # builds the full Keras applications: seconds each
@pytest.mark.parametrize("backbone, attention, placement", [
    ("resnet50", "cbam", "conv5"), ("inception_resnet_v2", "param_control", "conv4")])
def test_full_size_models_count_the_block_where_the_placement_puts_it(backbone, attention, placement):
    model = build_model(backbone, attention, 7, placement=placement)
    layer = model.get_layer(LAYER_NAMES[attention])
    shape = FULL_SHAPES[(backbone, placement)]
    assert tuple(layer.input.shape[1:]) == shape
    assert describe_model(model)["attention_params"] == hand_count(attention, shape[-1])
