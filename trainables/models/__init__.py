"""Models of the paper: Keras ResNet50 / InceptionResNetV2 (or CPU-scale "mini" copies) with soft attention.

Every model takes float32 RGB images in [0, 1] (NHWC) and returns logits; preprocessing is a layer inside.
"""

from . import backbones, mini  # noqa: F401 - fill the backbone registry
from .attention import CorrectedSoftAttention, FaithfulSoftAttention, SoftAttention, list_attentions
from .build import FEATURES_LAYER, build_model
from .describe import attention_maps, describe_model, load_model
from .preprocessing import BackbonePreprocessing
from .registry import SCALES, default_input_shape, list_backbones, list_placements

__all__ = [
    "FEATURES_LAYER",
    "SCALES",
    "BackbonePreprocessing",
    "CorrectedSoftAttention",
    "FaithfulSoftAttention",
    "SoftAttention",
    "attention_maps",
    "build_model",
    "default_input_shape",
    "describe_model",
    "list_attentions",
    "list_backbones",
    "list_placements",
    "load_model",
]
