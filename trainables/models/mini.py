"""CPU-scale backbones ("mini"): narrow, shallow copies keeping the Keras layer names the code relies on.

Both downsample by 16 (the full nets by 32: the mini ResNet has no pool1, the mini InceptionResNetV2 no second
stem pool), using "same" padding throughout, so the head sees 2x2, 3x3 and 4x4 feature maps at 32, 48 and
64 px. One block per stage or block group (block8 has two, since the head cut
sits inside the last one, as in the full InceptionResNetV2 where it sits inside block8_9). Their cuts, heads and
placements: their BackboneSpecs in trainables.spec.models.
"""

from __future__ import annotations

import keras
from keras import layers
from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

# BatchNorm moving averages must settle within the few hundred steps of a CPU run (Keras' 0.99 needs thousands;
# with it, validation accuracy lags far behind training accuracy in the smoke profile).
BN_MOMENTUM = 0.9



def _bottleneck(x, width: int, stride: int, name: str):
    """Keras ResNet50 v1 bottleneck (projection shortcut), names as keras.applications.resnet."""
    bn = dict(axis=-1, epsilon=1.001e-5)
    shortcut = layers.Conv2D(4 * width, 1, strides=stride, name=f"{name}_0_conv")(x)
    shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, **bn, name=f"{name}_0_bn")(shortcut)
    x = layers.Conv2D(width, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, **bn, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(width, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, **bn, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * width, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, **bn, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def mini_resnet50(input_tensor):
    """conv1 (3x3, stride 2; no pool1) + stages conv2..conv5 of one bottleneck each (widths 8, 16, 32, 64)."""
    x = layers.Conv2D(16, 3, strides=2, padding="same", name="conv1_conv")(input_tensor)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, axis=-1, epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    for stage, width, stride in ((2, 8, 1), (3, 16, 2), (4, 32, 2), (5, 64, 2)):
        x = _bottleneck(x, width, stride, name=f"conv{stage}_block1")
    return keras.Model(input_tensor, x, name="mini_resnet50")


def _conv_bn(x, filters: int, kernel_size, name: str, strides: int = 1, activation: str | None = "relu"):
    """keras.applications.inception_resnet_v2.conv2d_bn with "same" padding and explicit names."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, axis=-1, scale=False, name=f"{name}_bn")(x)
    return x if activation is None else layers.Activation(activation, name=f"{name}_ac")(x)


def _inception_resnet_block(x, block: str, branch_filters, scale: float, activation: str | None = "relu"):
    """Inception-ResNet block: branches -> concat -> 1x1 conv back to the input width -> x + scale * r."""
    branches = []
    for b, convs in enumerate(branch_filters):
        y = x
        for i, (filters, kernel_size) in enumerate(convs):
            y = _conv_bn(y, filters, kernel_size, name=f"{block}_b{b}_{i}")
        branches.append(y)
    mixed = layers.Concatenate(name=f"{block}_mixed")(branches)
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{block}_conv")(mixed)
    x = CustomScaleLayer(scale, name=f"{block}_scale")([x, up])
    return x if activation is None else layers.Activation(activation, name=f"{block}_ac")(x)


def mini_inception_resnet_v2(input_tensor):
    """Stem (without its second pool), mixed_5b, block35_1, mixed_6a, block17_1, mixed_7a, block8_1, block8_2,
    at about 1/8 of the Keras widths."""
    x = _conv_bn(input_tensor, 4, 3, strides=2, name="stem_1")
    x = _conv_bn(x, 4, 3, name="stem_2")
    x = _conv_bn(x, 8, 3, name="stem_3")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    x = _conv_bn(x, 10, 1, name="stem_4")
    x = _conv_bn(x, 24, 3, name="stem_5")

    pool = layers.AveragePooling2D(3, strides=1, padding="same", name="mixed_5b_pool")(x)
    x = layers.Concatenate(name="mixed_5b")([
        _conv_bn(x, 12, 1, name="mixed_5b_b0"),
        _conv_bn(_conv_bn(x, 6, 1, name="mixed_5b_b1_0"), 8, 5, name="mixed_5b_b1_1"),
        _conv_bn(
            _conv_bn(_conv_bn(x, 8, 1, name="mixed_5b_b2_0"), 12, 3, name="mixed_5b_b2_1"), 12, 3, name="mixed_5b_b2_2"
        ),
        _conv_bn(pool, 8, 1, name="mixed_5b_b3"),
    ])  # 40 channels
    x = _inception_resnet_block(x, "block35_1", [[(4, 1)], [(4, 1), (4, 3)], [(4, 1), (6, 3), (8, 3)]], 0.17)

    x = layers.Concatenate(name="mixed_6a")([
        _conv_bn(x, 48, 3, strides=2, name="mixed_6a_b0"),
        _conv_bn(
            _conv_bn(_conv_bn(x, 32, 1, name="mixed_6a_b1_0"), 32, 3, name="mixed_6a_b1_1"),
            48, 3, strides=2, name="mixed_6a_b1_2",
        ),
        layers.MaxPooling2D(3, strides=2, padding="same", name="mixed_6a_pool")(x),
    ])  # 136 channels
    x = _inception_resnet_block(x, "block17_1", [[(24, 1)], [(16, 1), (20, (1, 7)), (24, (7, 1))]], 0.1)

    x = layers.Concatenate(name="mixed_7a")([
        _conv_bn(_conv_bn(x, 32, 1, name="mixed_7a_b0_0"), 48, 3, strides=2, name="mixed_7a_b0_1"),
        _conv_bn(_conv_bn(x, 32, 1, name="mixed_7a_b1_0"), 36, 3, strides=2, name="mixed_7a_b1_1"),
        _conv_bn(
            _conv_bn(_conv_bn(x, 32, 1, name="mixed_7a_b2_0"), 36, 3, name="mixed_7a_b2_1"),
            40, 3, strides=2, name="mixed_7a_b2_2",
        ),
        layers.MaxPooling2D(3, strides=2, padding="same", name="mixed_7a_pool")(x),
    ])  # 260 channels
    block8 = [[(24, 1)], [(24, 1), (28, (1, 3)), (32, (3, 1))]]
    x = _inception_resnet_block(x, "block8_1", block8, 0.2)
    x = _inception_resnet_block(x, "block8_2", block8, 1.0, activation=None)
    return keras.Model(input_tensor, x, name="mini_inception_resnet_v2")
