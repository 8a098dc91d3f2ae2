"""The backbones and attention blocks by name, with the facts a trial is checked against before any model is built.

Backbones: one BackboneSpec per (backbone, scale); its builder ("module:function", (input tensor) -> keras.Model,
imported when a model is built) lives in trainables/models/. Attentions: name -> the layer class, its
"module:Class" path (imported when first built) or None for no attention block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .enums import SCALES
from .registry import Registry


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a backbone and where its head and attention placements attach.

    `builder(input_tensor)` returns the whole network (include_top=True for Keras applications) on the given
    (already preprocessed) tensor. ``cut`` is the layer feeding the head: an index into builder(...).layers
    (auto-generated names depend on a global counter) or a layer name. ``placements`` maps placement names
    other than "head" to the layer after which an attention block is inserted.
    """

    name: str
    scale: str
    builder: str  # "module:function"
    preprocessing: str  # a BackbonePreprocessing mode
    default_size: int
    min_size: int
    cut: int | str
    head: str  # a baseline head in models.heads.BASELINE_HEADS
    placements: Mapping[str, str] = field(default_factory=dict)
    imagenet_file: str | None = None  # Keras cache file name of the include_top=True ImageNet weights
    imagenet_url: str | None = None
    # training compute per input pixel relative to ResNet-50 at the same scale; only orders a grid's trials
    # longest first (a long trial started last leaves the other workers idle)
    relative_cost: float = 1.0


BACKBONES: Registry[BackboneSpec] = Registry("backbone (name, scale)")


def register_backbone(spec: BackboneSpec, *, replace: bool = False) -> BackboneSpec:
    return BACKBONES.register((spec.name, spec.scale), spec, replace=replace)


def list_backbones() -> list[str]:
    return list(dict.fromkeys(name for name, _ in BACKBONES))


def get_backbone(name: str, scale: str = "full") -> BackboneSpec:
    if name not in list_backbones():
        raise ValueError(f"unknown backbone {name!r}; expected one of: {', '.join(list_backbones())}")
    if (name, scale) not in BACKBONES:
        raise ValueError(f"unknown scale {scale!r}; expected one of: {', '.join(SCALES)}")
    return BACKBONES[(name, scale)]


def list_placements(backbone: str, scale: str = "full") -> list[str]:
    """Valid placements of an attention block, "head" first (names are the same at both scales)."""
    return ["head", *get_backbone(backbone, scale).placements]


def default_input_shape(backbone: str, scale: str = "full") -> tuple[int, int, int]:
    size = get_backbone(backbone, scale).default_size
    return (size, size, 3)


ATTENTIONS: Registry[Any] = Registry("attention")


def register_attention(name: str, layer_class: type | str | None, *, replace: bool = False) -> None:
    """layer_class: an AttentionBlock subclass (trainables.models.attention), its "module:Class" path (imported when
    first built), or None."""
    ATTENTIONS.register(name, layer_class, replace=replace)


def list_attentions() -> list[str]:
    return list(ATTENTIONS)


_MODELS = "trainables.models"
_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"

register_attention("none", None)
register_attention("soft_faithful", f"{_MODELS}.attention:FaithfulSoftAttention")
register_attention("soft_corrected", f"{_MODELS}.attention:CorrectedSoftAttention")
register_attention("se", f"{_MODELS}.attention_variants:SqueezeExcitation")
register_attention("cbam", f"{_MODELS}.attention_variants:CBAM")
register_attention("self_attention", f"{_MODELS}.attention_variants:SelfAttention2D")
# soft_faithful's convolution and parameters without the softmax gating: is it the attention or the parameters?
register_attention("param_control", f"{_MODELS}.attention_variants:ParamControl")

# the paper's backbones: Keras applications built with include_top=True, then cut as the paper does
register_backbone(BackboneSpec(
    "resnet50", "full", f"{_MODELS}.backbones:resnet50", preprocessing="caffe", default_size=224, min_size=32,
    cut="conv5_block3_out",  # 7x7x2048 at 224 px
    head="gap",
    placements={"conv3": "conv3_block4_out", "conv4": "conv4_block6_out", "conv5": "conv5_block3_out"},
    imagenet_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    imagenet_url=f"{_WEIGHTS_URL}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
))
register_backbone(BackboneSpec(
    "inception_resnet_v2", "full", f"{_MODELS}.backbones:inception_resnet_v2", preprocessing="tf", default_size=299,
    min_size=75,
    # layers[-28]: the BatchNormalization (8x8x192) of branch 0 of block8_9, fed by block8_8_ac.
    cut=-28,
    head="flatten",
    # conv5 is block8_8_ac: the last whole block8 upstream of the cut (block8_9_ac lies beyond it).
    placements={"conv3": "block35_10_ac", "conv4": "block17_20_ac", "conv5": "block8_8_ac"},
    imagenet_file="inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
    imagenet_url=f"{_WEIGHTS_URL}/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
    relative_cost=1.9,  # per pixel, from published FLOPs: 13.2 G at 299 px against ResNet-50's 3.9 G at 224 px
))
# CPU-scale copies (trainables/models/mini.py): one block per stage, the layer names the code relies on
register_backbone(BackboneSpec(
    "resnet50", "mini", f"{_MODELS}.mini:mini_resnet50", preprocessing="caffe", default_size=48, min_size=32,
    cut="conv5_block1_out", head="gap",
    placements={"conv3": "conv3_block1_out", "conv4": "conv4_block1_out", "conv5": "conv5_block1_out"},
))
register_backbone(BackboneSpec(
    "inception_resnet_v2", "mini", f"{_MODELS}.mini:mini_inception_resnet_v2", preprocessing="tf", default_size=48,
    min_size=32,
    cut="block8_2_b0_0_bn",  # the BatchNormalization of branch 0 of the last block8, fed by block8_1_ac
    head="flatten",
    placements={"conv3": "block35_1_ac", "conv4": "block17_1_ac", "conv5": "block8_1_ac"},
    relative_cost=1.5,  # smoke trials (2 CPUs, one each): 54 s on average against 37 s for the mini ResNet-50
))
