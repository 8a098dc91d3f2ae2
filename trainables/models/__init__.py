"""Models of the paper: Keras ResNet50 / InceptionResNetV2 (or CPU-scale "mini" copies) with soft attention.

Every model takes float32 RGB images in [0, 1] (NHWC) and returns logits; preprocessing is a layer inside.
The registries (names, placements, sizes) load without Keras; the names in _KERAS_EXPORTS import it on first use,
so the sweep driver validates trials without Keras' and TensorFlow's ~5 s import.
"""

import importlib

from . import backbones, mini  # noqa: F401 - fill the backbone registry
from .registry import SCALES, default_input_shape, list_attentions, list_backbones, list_placements, register_attention

_KERAS_EXPORTS = {
    "SoftAttention": "attention",
    "FaithfulSoftAttention": "attention",
    "CorrectedSoftAttention": "attention",
    "FEATURES_LAYER": "build",
    "build_model": "build",
    "attention_maps": "describe",
    "describe_model": "describe",
    "load_model": "describe",
    "BackbonePreprocessing": "preprocessing",
    "XrayEnhancement": "preprocessing",
}


def __getattr__(name: str):
    if name not in _KERAS_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_KERAS_EXPORTS[name]}", __name__), name)


__all__ = [
    "SCALES",
    "default_input_shape",
    "list_attentions",
    "list_backbones",
    "list_placements",
    "register_attention",
    *_KERAS_EXPORTS,
]
