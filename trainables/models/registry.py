"""The backbone and attention registries, free of Keras: naming and validating trials (the sweep driver) does not
pay Keras' and TensorFlow's ~5 s import. Builders and attention layers import Keras when a model is built.

Backbones: one BackboneSpec per (backbone, scale), filled by decorated builder functions (backbones.py, mini.py).
Attentions: name -> layer class, or "module:Class" imported on first use, or None for no attention block.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..registry import Registry

if TYPE_CHECKING:
    import keras


class Scale(str, Enum):
    """The closed set of model scales: the paper's networks, or CPU-scale copies with the same layer names."""

    FULL = "full"
    MINI = "mini"


SCALES = tuple(scale.value for scale in Scale)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a backbone and where its head and attention placements attach.

    build(input_tensor) returns the whole network (include_top=True for Keras applications) on the given
    (already preprocessed) tensor. ``cut`` is the layer feeding the head: an index into build(...).layers
    (auto-generated names depend on a global counter) or a layer name. ``placements`` maps placement names
    other than "head" to the layer after which an attention block is inserted.
    """

    name: str
    scale: str
    build: Callable[[keras.KerasTensor], keras.Model]
    preprocessing: str  # a BackbonePreprocessing mode
    default_size: int
    min_size: int
    cut: int | str
    head: str  # a baseline head in heads.BASELINE_HEADS
    placements: Mapping[str, str] = field(default_factory=dict)
    imagenet_file: str | None = None  # Keras cache file name of the include_top=True ImageNet weights
    imagenet_url: str | None = None
    # training compute per input pixel relative to ResNet-50 at the same scale; only orders a grid's trials
    # longest first (a long trial started last leaves the other workers idle)
    relative_cost: float = 1.0


_BACKBONES: Registry[BackboneSpec] = Registry("backbone (name, scale)")


def register_backbone(name: str, scale: str, **spec_fields) -> Callable:
    """Decorator registering ``build(input_tensor) -> keras.Model`` under (name, scale)."""

    def decorate(build):
        _BACKBONES.register((name, scale), BackboneSpec(name=name, scale=scale, build=build, **spec_fields))
        return build

    return decorate


def list_backbones() -> list[str]:
    return list(dict.fromkeys(name for name, _ in _BACKBONES))


def get_backbone(name: str, scale: str = "full") -> BackboneSpec:
    if name not in list_backbones():
        raise ValueError(f"unknown backbone {name!r}; expected one of: {', '.join(list_backbones())}")
    if (name, scale) not in _BACKBONES:
        raise ValueError(f"unknown scale {scale!r}; expected one of: {', '.join(SCALES)}")
    return _BACKBONES[(name, scale)]


def list_placements(backbone: str, scale: str = "full") -> list[str]:
    """Valid placements of an attention block, "head" first (names are the same at both scales)."""
    return ["head", *get_backbone(backbone, scale).placements]


def default_input_shape(backbone: str, scale: str = "full") -> tuple[int, int, int]:
    size = get_backbone(backbone, scale).default_size
    return (size, size, 3)


_ATTENTIONS: Registry[Any] = Registry("attention")


def register_attention(name: str, layer_class: type | str | None, *, replace: bool = False) -> None:
    """layer_class: a SoftAttention subclass, its "module:Class" path (imported when first built), or None."""
    _ATTENTIONS.register(name, layer_class, replace=replace)


register_attention("none", None)
register_attention("soft_faithful", "trainables.models.attention:FaithfulSoftAttention")
register_attention("soft_corrected", "trainables.models.attention:CorrectedSoftAttention")


def list_attentions() -> list[str]:
    return list(_ATTENTIONS)


def attention_class(name: str) -> type | None:
    layer_class = _ATTENTIONS.lookup(name)
    if isinstance(layer_class, str):
        module, _, attribute = layer_class.partition(":")
        layer_class = _ATTENTIONS.register(name, getattr(importlib.import_module(module), attribute), replace=True)
    return layer_class

