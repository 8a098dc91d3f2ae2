"""The attacked model compiled once per evaluation: its forward pass, its cross-entropy with the input gradient, and
a batch's whole PGD loop as one graph (see attacks/pgd.py for why this is fast).

Every function here takes and returns float32 images in [0, 1] (NHWC) with a free batch dimension (no retracing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ...spec.enums import AttackTarget
from ...spec.registry import Registry

ATTACK_OUTPUTS: Registry[Callable] = Registry("attack_on")
register_attack_output = ATTACK_OUTPUTS.decorator


@register_attack_output(AttackTarget.LOGITS.value)
def _logits(outputs):
    return outputs


@register_attack_output(AttackTarget.PROBABILITIES.value)
def _probabilities(outputs):
    # the paper's heads end in softmax: Foolbox then takes cross-entropy of probabilities treated as logits
    return tf.nn.softmax(outputs, axis=-1)


def default_device() -> str:
    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def compile_forward(model, image_shape: Sequence[int], output: str = "logits"):
    """One tf.function for the whole evaluation: (B, H, W, C) float32 -> (B, K) float32, B free (no retracing)."""
    transform = ATTACK_OUTPUTS.lookup(output)

    @tf.function(input_signature=[tf.TensorSpec((None, *image_shape), tf.float32)])
    def forward(x):
        return transform(tf.cast(model(x, training=False), tf.float32))

    return forward


def compile_loss_and_gradient(model, image_shape: Sequence[int], output: str = "logits"):
    """tf.function (x (B, H, W, C), labels (B,) int64) -> (summed cross-entropy, d loss / d x (B, H, W, C)).

    The loss Foolbox's PGD uses (cross-entropy of the outputs treated as logits, summed over the batch), with
    forward and backward compiled together: about 2.5x faster on CPU than Foolbox's eager tape around a compiled
    forward. A model without a gradient path (stop_gradient, rounding) gets zero gradients, which the checks flag.
    """
    transform = ATTACK_OUTPUTS.lookup(output)

    @tf.function(
        input_signature=[tf.TensorSpec((None, *image_shape), tf.float32), tf.TensorSpec((None,), tf.int64)]
    )
    def loss_and_gradient(x, labels):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = transform(tf.cast(model(x, training=False), tf.float32))
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, outputs))
        return loss, tape.gradient(loss, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    return loss_and_gradient


def compile_pgd_loop(loss_and_gradient, image_shape: Sequence[int]) -> Callable:
    """pgd(x, x0, labels, step_sizes, radii, steps) -> x after `steps` L-inf PGD steps, in one compiled call.

    Each step is Foolbox LinfPGD's, in its order and float32 arithmetic: x + step_size * sign(d loss / d x), then
    clipped to the radius around x0, then to the [0, 1] box. Shapes: x (the start), x0 (B, H, W, C); labels (B,);
    step_sizes, radii (B, 1, 1, 1), one per example; steps a scalar (a tensor: no retracing for a new count).
    The loop runs in the graph, so nothing returns to Python between steps.
    """
    images = tf.TensorSpec((None, *image_shape), tf.float32)
    per_example = tf.TensorSpec((None, 1, 1, 1), tf.float32)

    @tf.function(
        input_signature=[images, images, tf.TensorSpec((None,), tf.int64), per_example, per_example,
                         tf.TensorSpec((), tf.int32)]
    )
    def pgd(x, x0, labels, step_sizes, radii, steps):
        def step(index, x):
            _, gradient = loss_and_gradient(x, labels)
            x = x + step_sizes * tf.sign(gradient)
            return index + 1, tf.clip_by_value(x0 + tf.clip_by_value(x - x0, -radii, radii), 0.0, 1.0)

        return tf.while_loop(lambda index, _: index < steps, step, (tf.constant(0), x))[1]

    return pgd


@dataclass(frozen=True)
class CompiledModel:
    """The attacked model, compiled once: `forward` for predictions, `loss_and_gradient` for gradients, and `pgd`
    for a batch's whole PGD loop (see `compile_pgd_loop`)."""

    forward: Callable
    loss_and_gradient: Callable
    pgd: Callable

    @classmethod
    def build(cls, model, image_shape: Sequence[int], output: str = "logits", forward=None) -> "CompiledModel":
        """forward: an already compiled forward of the same output, reused instead of compiling another."""
        loss_and_gradient = compile_loss_and_gradient(model, image_shape, output)
        return cls(
            forward or compile_forward(model, image_shape, output),
            loss_and_gradient,
            compile_pgd_loop(loss_and_gradient, image_shape),
        )


def batches(indices: np.ndarray, batch_size: int):
    """Consecutive slices of at most batch_size indices."""
    for start in range(0, len(indices), batch_size):
        yield indices[start : start + batch_size]
