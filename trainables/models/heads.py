"""Classification heads of the paper; every head ends in a Dense layer named "logits" (no softmax)."""

from __future__ import annotations

from keras import layers

from .attention import AttentionBlock


def _gap_head(features, *, num_classes: int, dropout: float):
    """ResNet50 baseline: GAP -> Dense."""
    x = layers.GlobalAveragePooling2D(name="head_pool")(features)
    return layers.Dense(num_classes, name="logits")(x)


def _flatten_head(features, *, num_classes: int, dropout: float):
    """InceptionResNetV2 baseline: ReLU -> Dropout -> Flatten -> Dense."""
    x = layers.Activation("relu", name="head_relu")(features)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Flatten(name="head_flatten")(x)
    return layers.Dense(num_classes, name="logits")(x)


BASELINE_HEADS = {"gap": _gap_head, "flatten": _flatten_head}
_POOLINGS = {
    "gap": lambda: layers.GlobalAveragePooling2D(name="head_pool"),
    "flatten": lambda: layers.Flatten(name="head_flatten"),
}


def baseline_head(features, *, kind: str, num_classes: int, dropout: float):
    return BASELINE_HEADS[kind](features, num_classes=num_classes, dropout=dropout)


def attention_head(features, attention: AttentionBlock, *, kind: str, num_classes: int, dropout: float):
    """The paper's attention head: [maxpool(attention(x)), maxpool(x)] -> ReLU -> Dropout -> GAP|Flatten -> Dense.

    (B, H, W, C) -> concat (B, ceil(H/2), ceil(W/2), 2C) -> (B, num_classes).
    """
    attended = layers.MaxPooling2D(2, padding="same", name="attention_pool")(attention(features))
    pooled = layers.MaxPooling2D(2, padding="same", name="features_pool")(features)
    x = layers.Concatenate(name="attention_concat")([pooled, attended])
    x = layers.Activation("relu", name="head_relu")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = _POOLINGS[kind]()(x)
    return layers.Dense(num_classes, name="logits")(x)
