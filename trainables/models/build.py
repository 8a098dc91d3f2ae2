"""build_model: preprocessing layer -> backbone (cut as the paper) -> optional inserted attention -> head."""

from __future__ import annotations

from numbers import Integral
from pathlib import Path

import keras

from ..spec.lazy import resolve
from ..spec.models import BackboneSpec, get_backbone, list_placements

from .attention import make_attention
from .heads import attention_head, baseline_head
from .preprocessing import BackbonePreprocessing, XrayEnhancement
from .weights import imagenet_weights_path, load_application_weights, load_model_weights

FEATURES_LAYER = "backbone_features"
NAME_SEPARATOR = "-"  # model name = backbone-attention-placement-scale (registry names use "_" only)


def build_model(
    backbone: str,
    attention: str = "none",
    num_classes: int = 2,
    *,
    input_shape: tuple[int, int, int] | None = None,
    placement: str = "head",
    weights: str | Path | None = None,
    scale: str = "full",
    heads: int = 16,
    dropout: float = 0.5,
    xray_sigma: float | None = None,
) -> keras.Model:
    """A flat keras.Model: float32 RGB images in [0, 1] (NHWC) -> logits (num_classes).

    placement "head" puts the attention in the paper's head; any other placement inserts a residual
    attention block (x * (1 + map)) after that backbone layer and keeps the baseline head. attention "none"
    gives the paper's baseline at every (valid) placement. weights: None (random), "imagenet" (Keras cache file),
    a Keras-application ".h5" file (loaded into the backbone before the cut) or a ".weights.h5" file saved
    by model.save_weights of the same architecture. The layer "backbone_features" is the Grad-CAM target.
    xray_sigma: put the chest X-ray enhancement inside the model (layer "xray_enhancement", this blur sigma at the
    input size), before the preprocessing, so that attacks perturb the radiograph.
    """
    spec = get_backbone(backbone, scale)
    inserted = placement != "head"
    layer = make_attention(attention, heads=heads, residual=inserted)
    _check_num_classes(num_classes)
    _check_dropout(dropout)
    input_shape = _check_input_shape(spec, input_shape)
    if placement not in list_placements(backbone, scale):
        allowed = ", ".join(list_placements(backbone, scale))
        raise ValueError(f"unknown placement {placement!r} for {backbone}; expected one of: {allowed}")
    application_weights, model_weights = _resolve_weights(spec, weights)

    inputs = keras.Input(input_shape, name="image")
    images = XrayEnhancement(xray_sigma, name="xray_enhancement")(inputs) if xray_sigma else inputs
    app = resolve(spec.builder, f"backbone {spec.name!r} builder")(BackbonePreprocessing(spec.preprocessing, name="preprocessing")(images))
    if application_weights is not None:
        load_application_weights(app, application_weights)
    cut = app.layers[spec.cut] if isinstance(spec.cut, int) else app.get_layer(spec.cut)
    trunk = keras.Model(inputs, cut.output)
    if inserted and layer is not None:
        trunk = _insert_after(trunk, spec.placements[placement], layer)

    features = keras.layers.Identity(name=FEATURES_LAYER)(trunk.output)
    head = dict(kind=spec.head, num_classes=int(num_classes), dropout=dropout)
    if inserted or layer is None:
        logits = baseline_head(features, **head)
    else:
        logits = attention_head(features, layer, **head)

    name = NAME_SEPARATOR.join((backbone, attention, placement, scale))
    model = keras.Model(trunk.inputs[0], logits, name=name)
    if model_weights is not None:
        load_model_weights(model, model_weights)
    return model


def _insert_after(trunk: keras.Model, layer_name: str, block: keras.layers.Layer) -> keras.Model:
    """The trunk re-wired so that ``block`` follows ``layer_name``; layers (and weights) are shared.

    The backbone layers now also keep a node of the discarded graph: use layers created after this call
    (backbone_features, soft_attention, the head) or the model's own graph, not backbone_layer.output.
    """

    def call(layer, *args, **kwargs):
        output = layer(*args, **kwargs)
        return block(output) if layer.name == layer_name else output

    return keras.models.clone_model(trunk, clone_function=lambda layer: layer, call_function=call)


def _resolve_weights(spec: BackboneSpec, weights) -> tuple[Path | None, Path | None]:
    """(application weights for the uncut backbone, weights for the whole model); at most one is set."""
    if weights is None:
        return None, None
    if isinstance(weights, str) and weights == "imagenet":
        return imagenet_weights_path(spec), None
    if not isinstance(weights, (str, Path)):
        raise ValueError(f"weights must be None, 'imagenet' or a path; received {weights!r}")
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"weights file {str(path)!r} not found; expected None, 'imagenet' or an existing file")
    if path.name.endswith(".weights.h5"):
        return None, path
    if path.suffix in (".h5", ".hdf5"):
        return path, None
    raise ValueError(
        f"weights file {str(path)!r} has an unknown type; expected a .weights.h5 file (model.save_weights) "
        "or a Keras-application .h5 file"
    )


def _check_num_classes(num_classes) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2; received {num_classes!r}")


def _check_dropout(dropout) -> None:
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1); received {dropout!r}")


def _check_input_shape(spec: BackboneSpec, input_shape) -> tuple[int, int, int]:
    if input_shape is None:
        return (spec.default_size, spec.default_size, 3)
    shape = tuple(input_shape)
    integers = all(isinstance(d, Integral) and not isinstance(d, bool) for d in shape)
    if len(shape) != 3 or shape[2] != 3 or not integers:
        raise ValueError(f"input_shape must be (height, width, 3) ints; received {input_shape!r}")
    shape = tuple(int(d) for d in shape)
    if min(shape[:2]) < spec.min_size:
        raise ValueError(
            f"input_shape {shape} is too small for {spec.name} (scale={spec.scale!r}); "
            f"expected height and width >= {spec.min_size}"
        )
    return shape
