"""Per-example attack losses on logits (to be maximised), each compiled with its input gradient.

A loss is `f(logits (B, K), labels (B,), targets (B,)) -> (B,)`; targets matter only to targeted losses. DLR
(Croce & Hein 2020) divides the margin by a logit spread so the step schedule does not depend on the logits' scale;
its untargeted form needs a third-largest logit (K >= 3), its targeted form a fourth (K >= 4). For K = 2 there is
no spread to divide by: the plain logit margin is the loss, whose sign gradient equals cross-entropy's there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..registry import Registry

DLR_EPSILON = 1e-12


@dataclass(frozen=True)
class AttackLoss:
    function: Callable
    min_classes: int
    targeted: bool = False


LOSSES: Registry[AttackLoss] = Registry("attack loss")


def _register(name: str, min_classes: int, targeted: bool = False):
    def decorate(function):
        LOSSES.register(name, AttackLoss(function, min_classes, targeted))
        return function

    return decorate


def _others_max(logits, labels):
    import tensorflow as tf

    mask = tf.one_hot(labels, tf.shape(logits)[-1]) > 0.5
    return tf.reduce_max(tf.where(mask, tf.float32.min, logits), axis=-1)


def _true_logit(logits, labels):
    import tensorflow as tf

    return tf.gather(logits, labels, axis=-1, batch_dims=1)


@_register("cross_entropy", min_classes=2)
def cross_entropy(logits, labels, targets):
    import tensorflow as tf

    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


@_register("margin", min_classes=2)
def margin(logits, labels, targets):
    """max_{j != y} z_j - z_y: positive exactly when the point is misclassified."""
    return _others_max(logits, labels) - _true_logit(logits, labels)


@_register("dlr", min_classes=3)
def dlr(logits, labels, targets):
    """-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3), pi the logits sorted in decreasing order."""
    import tensorflow as tf

    top = tf.math.top_k(logits, k=3).values
    return margin(logits, labels, targets) / (top[:, 0] - top[:, 2] + DLR_EPSILON)


@_register("dlr_targeted", min_classes=4, targeted=True)
def dlr_targeted(logits, labels, targets):
    """-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2): pushes towards class t."""
    import tensorflow as tf

    top = tf.math.top_k(logits, k=4).values
    spread = top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + DLR_EPSILON
    return (_true_logit(logits, targets) - _true_logit(logits, labels)) / spread


def margin_loss_for(num_classes: int) -> str:
    """The margin-type loss that exists for this class count (see the module docstring)."""
    if num_classes >= LOSSES.lookup("dlr_targeted").min_classes:
        return "dlr_targeted"
    if num_classes >= LOSSES.lookup("dlr").min_classes:
        return "dlr"
    return "margin"


def compile_loss_gradient(model, image_shape: Sequence[int], loss: str):
    """tf.function (x (B, H, W, C), labels (B,), targets (B,)) -> (loss (B,), d loss_i / d x_i, logits (B, K))."""
    import tensorflow as tf

    function = LOSSES.lookup(loss).function

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
