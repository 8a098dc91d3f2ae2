"""The paper's backbones: Keras applications built with include_top=True, then cut as the paper does."""

from __future__ import annotations

from .registry import register_backbone

_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"


@register_backbone(
    "resnet50",
    "full",
    preprocessing="caffe",
    default_size=224,
    min_size=32,
    cut="conv5_block3_out",  # 7x7x2048 at 224 px
    head="gap",
    placements={"conv3": "conv3_block4_out", "conv4": "conv4_block6_out", "conv5": "conv5_block3_out"},
    imagenet_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    imagenet_url=f"{_WEIGHTS_URL}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
)
def resnet50(input_tensor):
    import keras

    return keras.applications.ResNet50(include_top=True, weights=None, input_tensor=input_tensor)


@register_backbone(
    "inception_resnet_v2",
    "full",
    preprocessing="tf",
    default_size=299,
    min_size=75,
    # layers[-28]: the BatchNormalization (8x8x192) of branch 0 of block8_9, fed by block8_8_ac.
    cut=-28,
    head="flatten",
    # conv5 is block8_8_ac: the last whole block8 upstream of the cut (block8_9_ac lies beyond it).
    placements={"conv3": "block35_10_ac", "conv4": "block17_20_ac", "conv5": "block8_8_ac"},
    imagenet_file="inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
    imagenet_url=f"{_WEIGHTS_URL}/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
    relative_cost=1.9,  # per pixel, from published FLOPs: 13.2 G at 299 px against ResNet-50's 3.9 G at 224 px
)
def inception_resnet_v2(input_tensor):
    import keras

    return keras.applications.InceptionResNetV2(include_top=True, weights=None, input_tensor=input_tensor)
