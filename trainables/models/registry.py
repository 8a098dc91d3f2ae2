"""The backbone registry: one BackboneSpec per (backbone, scale), filled by decorated builder functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import keras

SCALES = ("full", "mini")


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


_BACKBONES: dict[tuple[str, str], BackboneSpec] = {}


def register_backbone(name: str, scale: str, **spec_fields) -> Callable:
    """Decorator registering ``build(input_tensor) -> keras.Model`` under (name, scale)."""

    def decorate(build):
        _BACKBONES[(name, scale)] = BackboneSpec(name=name, scale=scale, build=build, **spec_fields)
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
