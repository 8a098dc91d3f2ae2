"""Models of the paper: Keras ResNet50 / InceptionResNetV2 (or CPU-scale "mini" copies) with soft attention.

Every model takes float32 RGB images in [0, 1] (NHWC) and returns logits; preprocessing is a layer inside.
The names, placements and sizes are specs (trainables.spec.models); this package's names import Keras on first use
(trainables.spec.lazy), so importing it costs nothing until a model is built.
"""

from ..spec.lazy import lazy_exports

_EXPORTS = {
    "AttentionBlock": "attention",
    "SoftAttention": "attention",
    "FaithfulSoftAttention": "attention",
    "CorrectedSoftAttention": "attention",
    "SqueezeExcitation": "attention_variants",
    "CBAM": "attention_variants",
    "SelfAttention2D": "attention_variants",
    "ParamControl": "attention_variants",
    "FEATURES_LAYER": "build",
    "build_model": "build",
    "attention_maps": "describe",
    "describe_model": "describe",
    "load_model": "describe",
    "BackbonePreprocessing": "preprocessing",
    "XrayEnhancement": "preprocessing",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
