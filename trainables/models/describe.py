"""Reading built models back: describe_model (MLflow params), attention_maps (figures), load_model."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

from ..spec.models import get_backbone

from .attention import AttentionBlock, CorrectedSoftAttention, FaithfulSoftAttention, SoftAttention
from .attention_variants import CBAM, ParamControl, SelfAttention2D, SqueezeExcitation
from .build import FEATURES_LAYER, NAME_SEPARATOR
from .preprocessing import BackbonePreprocessing, XrayEnhancement

CUSTOM_OBJECTS = {
    "BackbonePreprocessing": BackbonePreprocessing,
    "XrayEnhancement": XrayEnhancement,
    "FaithfulSoftAttention": FaithfulSoftAttention,
    "CorrectedSoftAttention": CorrectedSoftAttention,
    "SqueezeExcitation": SqueezeExcitation,
    "CBAM": CBAM,
    "SelfAttention2D": SelfAttention2D,
    "ParamControl": ParamControl,
    "CustomScaleLayer": CustomScaleLayer,  # InceptionResNetV2's residual scaling, not registered by Keras
}


def load_model(path: str | Path) -> keras.Model:
    """keras.models.load_model with safe_mode=True and this package's layers registered."""
    return keras.models.load_model(path, safe_mode=True, custom_objects=CUSTOM_OBJECTS)


def describe_model(model: keras.Model) -> dict[str, str | int | float]:
    """Plain values describing a model from build_model (or load_model of one), for MLflow params."""
    backbone, attention, placement, scale = _parse_name(model)
    spec = get_backbone(backbone, scale)
    layer = _attention_layer(model)
    attention_params = 0 if layer is None else layer.count_params()
    features_shape = tuple(model.get_layer(FEATURES_LAYER).output.shape[1:])
    num_classes = int(model.outputs[0].shape[-1])
    # The baseline's Dense sees C (GAP) or H*W*C (flatten) features.
    baseline_inputs = features_shape[-1] if spec.head == "gap" else math.prod(features_shape)
    baseline_params = (
        model.count_params() - attention_params - model.get_layer("logits").count_params()
        + (baseline_inputs + 1) * num_classes
    )
    return {
        "backbone": backbone,
        "attention": attention,
        "placement": placement,
        "placement_layer": _placement_layer(spec, placement, layer),
        "scale": scale,
        "heads": 0 if layer is None else layer.heads_used,
        "num_classes": num_classes,
        "input_shape": "x".join(str(d) for d in model.inputs[0].shape[1:]),
        "features_shape": "x".join(str(d) for d in features_shape),
        "total_params": int(model.count_params()),
        "trainable_params": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
        "attention_params": int(attention_params),
        "added_params": int(model.count_params() - baseline_params),
        "gradcam_layer": FEATURES_LAYER,
    }


def attention_maps(model: keras.Model, images, batch_size: int = 32) -> np.ndarray:
    """Per-head soft-attention maps, float32 (N, m, h, w); each map sums to 1 over its h*w positions.

    images: float32 RGB in [0, 1], (N, H, W, 3). Sum over axis 1 for the map the layer multiplies in.
    """
    layer = _attention_layer(model)
    if not isinstance(layer, SoftAttention):
        raise ValueError(f"model {model.name!r} has no soft-attention layer; expected attention soft_faithful or "
                         "soft_corrected")
    to_attention_input = keras.Model(model.inputs[0], layer.input)
    images = np.asarray(images, dtype="float32")
    maps = []
    for start in range(0, len(images), batch_size):
        features = to_attention_input(images[start : start + batch_size], training=False)
        maps.append(keras.ops.convert_to_numpy(layer.attention_maps(features)))
    return np.concatenate(maps).astype("float32")


def _attention_layer(model: keras.Model) -> AttentionBlock | None:
    found = [layer for layer in model.layers if isinstance(layer, AttentionBlock)]
    return found[0] if found else None


def _placement_layer(spec, placement: str, layer: AttentionBlock | None) -> str:
    """Name of the layer whose output the attention reads ("" without attention)."""
    if layer is None:
        return ""
    return FEATURES_LAYER if placement == "head" else spec.placements[placement]


def _parse_name(model: keras.Model) -> tuple[str, str, str, str]:
    parts = model.name.split(NAME_SEPARATOR)
    if len(parts) != 4:
        raise ValueError(
            f"model name {model.name!r} is not backbone-attention-placement-scale; expected a model from build_model"
        )
    return tuple(parts)
