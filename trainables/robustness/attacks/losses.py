"""Per-example attack losses on logits (to be maximised), each compiled with its input gradient.

A loss is `f(logits (B, K), labels (B,), targets (B,)) -> (B,)`; targets matter only to targeted losses. DLR
(Croce & Hein 2020) divides the margin by a logit spread so the step schedule does not depend on the logits' scale;
its untargeted form needs a third-largest logit (K >= 3), its targeted form a fourth (K >= 4). For K = 2 there is
no spread to divide by: the plain logit margin is the loss, whose sign gradient equals cross-entropy's there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from ...spec.attacks import LOSSES
from ...spec.registry import Registry

DLR_EPSILON = 1e-12

LOSS_FUNCTIONS: Registry[Callable] = Registry("attack loss")  # the code of each loss spec.attacks.LOSSES names


def _register(name: str):
    if name not in LOSSES:
        raise ValueError(f"attack loss {name!r} has no spec; spec.attacks.LOSSES: {', '.join(LOSSES)}")
    return LOSS_FUNCTIONS.decorator(name)


def _others_max(logits, labels):
    mask = tf.one_hot(labels, tf.shape(logits)[-1]) > 0.5
    return tf.reduce_max(tf.where(mask, tf.float32.min, logits), axis=-1)


def _true_logit(logits, labels):
    return tf.gather(logits, labels, axis=-1, batch_dims=1)


@_register("cross_entropy")
def cross_entropy(logits, labels, targets):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


@_register("margin")
def margin(logits, labels, targets):
    """max_{j != y} z_j - z_y: positive exactly when the point is misclassified."""
    return _others_max(logits, labels) - _true_logit(logits, labels)


@_register("dlr")
def dlr(logits, labels, targets):
    """-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3), pi the logits sorted in decreasing order."""
    top = tf.math.top_k(logits, k=3).values
    return margin(logits, labels, targets) / (top[:, 0] - top[:, 2] + DLR_EPSILON)


@_register("dlr_targeted")
def dlr_targeted(logits, labels, targets):
    """-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2): pushes towards class t."""
    top = tf.math.top_k(logits, k=4).values
    spread = top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + DLR_EPSILON
    return (_true_logit(logits, targets) - _true_logit(logits, labels)) / spread


def compile_loss_gradient(model, image_shape: Sequence[int], loss: str):
    """tf.function (x (B, H, W, C), labels (B,), targets (B,)) -> (loss (B,), d loss_i / d x_i, logits (B, K))."""
    function = LOSS_FUNCTIONS.lookup(loss)

    @tf.function(input_signature=[tf.TensorSpec((None, *image_shape), tf.float32),
                                  tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.int64)])
    def loss_gradient(x, labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = tf.cast(model(x, training=False), tf.float32)
            values = function(logits, labels, targets)
            total = tf.reduce_sum(values)
        gradient = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return values, gradient, logits

    return loss_gradient
