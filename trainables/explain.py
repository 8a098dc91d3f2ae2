"""Grad-CAM and perturbation maps for a fixed sample of images, clean and at each epsilon: arrays only (the
preview grids are drawn by analysis.figures, the artifacts written by trainables.tracking).

Grad-CAM follows the keras-io recipe: gradients of the class logit with respect to the target layer's output,
one weight per channel (spatial mean of its gradient), ReLU of the weighted channel sum, divided by the map's
maximum per image (a map whose maximum is 0 stays all zero).

Perturbation maps show |x_adv - x|: the maximum over colour channels, divided by that image's largest value and
scaled to 0-255, so every map uses its full range (the epsilon of each column says the absolute size).

File layout (`write_explanations` / `read_explanations`): one npz with the keys of `Explanations` (ARRAY_KEYS plus
the strings gradcam_layer and gradcam_target); in MLflow it is explanations/samples.npz.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .spec.registry import Registry

# which class Grad-CAM explains: the model's prediction on the shown image (keras-io default) or the true label
GRADCAM_TARGETS: Registry[Callable[[np.ndarray, np.ndarray], np.ndarray]] = Registry("Grad-CAM target")
GRADCAM_TARGETS.register("predicted", lambda predictions, labels: predictions)
GRADCAM_TARGETS.register("label", lambda predictions, labels: labels)


def gradcam_model(model, layer_name: str):
    """keras.Model(image) -> [target layer output (B, h, w, C), logits (B, K)]."""
    import keras

    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        spatial = [layer.name for layer in model.layers if len(getattr(layer, "output", np.zeros(0)).shape) == 4]
        raise ValueError(
            f"no layer named {layer_name!r} in model {model.name!r}; layers with 4-D outputs: {', '.join(spatial)}"
        ) from None
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"Grad-CAM needs a layer with (B, h, w, C) output; {layer_name!r} gives {tuple(layer.output.shape)}"
        )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # a list would warn on tensor calls
    return keras.Model(inputs, [layer.output, model.output])


def gradcam(
    model, images: np.ndarray, class_indices, *, layer_name: str = "backbone_features", batch_size: int = 32
) -> np.ndarray:
    """Grad-CAM maps float32 (N, h, w) in [0, 1] at the resolution of layer `layer_name`."""
    images = _validate_images(images)
    return GradCam(model, layer_name, images.shape[1:])(images, class_indices, batch_size)


class GradCam:
    """Grad-CAM of one model and layer, compiled once and reused for every batch of images."""

    def __init__(self, model, layer_name: str, image_shape) -> None:
        import tensorflow as tf

        explainer = gradcam_model(model, layer_name)
        self.num_classes = int(explainer.outputs[1].shape[-1])
        self.map_shape = tuple(int(size) for size in explainer.outputs[0].shape[1:3])

        @tf.function(
            input_signature=[tf.TensorSpec((None, *image_shape), tf.float32), tf.TensorSpec((None,), tf.int64)]
        )
        def maps(x, target):
            with tf.GradientTape() as tape:
                features, logits = explainer(x, training=False)  # (B, h, w, C), (B, K)
                score = tf.gather(logits, target, batch_dims=1)  # (B,)
            gradients = tape.gradient(score, features)  # (B, h, w, C); images do not interact
            weights = tf.reduce_mean(gradients, axis=(1, 2))  # (B, C)
            cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", features, weights))
            peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
            return tf.math.divide_no_nan(cam, peak)

        self._maps = maps

    def __call__(self, images: np.ndarray, class_indices, batch_size: int = 32) -> np.ndarray:
        import tensorflow as tf

        classes = np.asarray(class_indices)
        if not np.issubdtype(classes.dtype, np.integer) or classes.shape != (len(images),):
            raise ValueError(
                f"class_indices must be {len(images)} integers (one per image); received {classes.dtype} "
                f"{classes.shape}"
            )
        if len(classes) and (classes.min() < 0 or classes.max() >= self.num_classes):
            raise ValueError(f"class_indices must be in [0, {self.num_classes - 1}]; received {classes.tolist()!r}")
        maps = np.zeros((len(images), *self.map_shape), np.float32)
        for start in range(0, len(images), batch_size):
            batch = slice(start, start + batch_size)
            maps[batch] = self._maps(tf.constant(images[batch]), tf.constant(classes[batch], tf.int64)).numpy()
        return maps


def perturbation_map(x_adv: np.ndarray, x: np.ndarray, *, reduce_channels: bool = True) -> np.ndarray:
    """|x_adv - x| scaled per image so its largest value is 255 -> uint8 (N, H, W), or (N, H, W, C) when
    reduce_channels is False (then the per-image maximum is over all channels). Zero perturbation -> all zeros."""
    x_adv, x = np.asarray(x_adv, dtype=np.float32), np.asarray(x, dtype=np.float32)
    if x_adv.shape != x.shape or x.ndim != 4:
        raise ValueError(f"x_adv and x must be NHWC arrays of one shape; received {x_adv.shape} and {x.shape}")
    difference = np.abs(x_adv - x)
    if reduce_channels:
        difference = difference.max(axis=-1)
    if not len(difference):
        return difference.astype(np.uint8)
    peak = difference.reshape(len(difference), -1).max(axis=1).reshape((-1,) + (1,) * (difference.ndim - 1))
    scaled = np.divide(difference, peak, out=np.zeros_like(difference), where=peak > 0)
    return np.rint(scaled * 255.0).astype(np.uint8)


@dataclass
class Explanations:
    """Arrays of one model's sample explanations (S samples, E epsilons)."""

    epsilons: np.ndarray  # (E,) float64
    images: np.ndarray  # (S, H, W, C) float32
    labels: np.ndarray  # (S,) int64
    adversarial: np.ndarray  # (E, S, H, W, C) float32
    gradcam_clean: np.ndarray  # (S, h, w) float32
    gradcam_adversarial: np.ndarray  # (E, S, h, w) float32
    perturbation: np.ndarray  # (E, S, H, W) uint8
    predictions_clean: np.ndarray  # (S,) int64
    predictions_adversarial: np.ndarray  # (E, S) int64
    gradcam_layer: str = "backbone_features"
    gradcam_target: str = "predicted"


ARRAY_KEYS = (
    "epsilons",
    "images",
    "labels",
    "adversarial",
    "gradcam_clean",
    "gradcam_adversarial",
    "perturbation",
    "predictions_clean",
    "predictions_adversarial",
)


def predict_classes(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    import tensorflow as tf

    chunks = [
        np.argmax(np.asarray(model(tf.convert_to_tensor(images[start : start + batch_size]), training=False)), axis=1)
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)


def explain_samples(
    model,
    images: np.ndarray,
    labels,
    adversarial_samples: Mapping[float, np.ndarray],
    *,
    layer_name: str = "backbone_features",
    target: str = "predicted",
    batch_size: int = 32,
) -> Explanations:
    """Grad-CAM (clean and per epsilon) and perturbation maps for sample images and their adversarial versions.

    adversarial_samples: epsilon -> (S, H, W, C) adversarial inputs for `images`, e.g.
    RobustnessResult.adversarial_samples with images = x_test[result.sample_indices]. target: the class Grad-CAM
    explains, "predicted" (on the image shown) or "label".
    """
    choose = GRADCAM_TARGETS.lookup(target)
    images = _validate_images(images)
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},); received {labels.shape}")
    epsilons = sorted(float(eps) for eps in adversarial_samples)
    adversarial = np.zeros((len(epsilons), *images.shape), np.float32)
    for k, eps in enumerate(epsilons):
        batch = np.asarray(adversarial_samples[eps], dtype=np.float32)
        if batch.shape != images.shape:
            raise ValueError(
                f"adversarial samples at eps {eps:g} must have shape {images.shape}; received {batch.shape}"
            )
        adversarial[k] = batch
    explainer = GradCam(model, layer_name, images.shape[1:])

    def explain(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        predictions = predict_classes(model, batch, batch_size)
        return predictions, explainer(batch, choose(predictions, labels), batch_size)

    predictions_clean, gradcam_clean = explain(images)
    per_epsilon = [explain(batch) for batch in adversarial]
    return Explanations(
        epsilons=np.asarray(epsilons, dtype=np.float64),
        images=images,
        labels=labels,
        adversarial=adversarial,
        gradcam_clean=gradcam_clean,
        gradcam_adversarial=np.asarray([cams for _, cams in per_epsilon], np.float32).reshape(
            len(epsilons), *gradcam_clean.shape
        ),
        perturbation=np.asarray([perturbation_map(batch, images) for batch in adversarial], np.uint8).reshape(
            len(epsilons), *images.shape[:3]
        ),
        predictions_clean=predictions_clean,
        predictions_adversarial=np.asarray([p for p, _ in per_epsilon], np.int64).reshape(len(epsilons), len(images)),
        gradcam_layer=layer_name,
        gradcam_target=target,
    )


def encode_explanations(explanations: Explanations) -> bytes:
    """The arrays as one compressed npz (read back by read_explanations)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{key: getattr(explanations, key) for key in ARRAY_KEYS},
                        gradcam_layer=np.array(explanations.gradcam_layer),
                        gradcam_target=np.array(explanations.gradcam_target))
    return buffer.getvalue()


def write_explanations(explanations: Explanations, path) -> Path:
    """The arrays as one compressed npz at `path` (read back by read_explanations)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_explanations(explanations))
    return path


def read_explanations(path) -> Explanations:
    """Load an npz written by write_explanations."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no explanation arrays at {path}")
    with np.load(path, allow_pickle=False) as data:
        values = {key: data[key] for key in ARRAY_KEYS}
        layer, target = str(data["gradcam_layer"]), str(data["gradcam_target"])
    return Explanations(**values, gradcam_layer=layer, gradcam_target=target)


def _validate_images(images) -> np.ndarray:
    array = np.asarray(images)
    if array.dtype != np.float32 or array.ndim != 4:
        raise ValueError(f"images must be float32 NHWC in [0, 1]; received dtype {array.dtype}, shape {array.shape}")
    return array
