"""Expectation over transformation (EoT) of an attack loss's input gradient, for attacking a smoothed classifier.

The gradient attacks see the smoothed classifier g through the base model f under Gaussian noise: each call averages
the loss and its input gradient over `draws` noisy copies x + e, e ~ N(0, sigma^2 I) in [0, 1] pixel space, not
clipped (AutoAttack's `version='rand'`: 20 draws). The returned scores are the draws' vote shares, so their argmax is
the draws' majority vote, an estimate of g's prediction (APGD retires a point when that argmax leaves its label).
The noise comes from a tf.random.Generator seeded once: every call draws fresh noise, the sequence is reproducible.
The function has the signature of losses.compile_loss_gradient and drops into apgd.APGD unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from .losses import LOSSES

EOT_DRAWS = 20


def compile_eot_loss_gradient(model, image_shape: Sequence[int], loss: str, *, sigma: float,
                              draws: int = EOT_DRAWS, seed: int = 0):
    """tf.function (x (B, H, W, C), labels (B,), targets (B,)) -> (mean loss (B,), mean d loss_i / d x_i (B, H, W, C),
    vote shares (B, K)). Memory: one batch of noisy copies at a time (the draws run in a graph loop)."""
    import tensorflow as tf

    function = LOSSES.lookup(loss).function
    generator = tf.random.Generator.from_seed(seed)
    shape = tuple(int(size) for size in image_shape)
    num_classes = int(model(tf.zeros((1, *shape)), training=False).shape[-1])

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32),
                                  tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.int64)])
    def loss_gradient(x, labels, targets):
        loss_sum = tf.zeros(tf.shape(x)[:1], tf.float32)
        gradient_sum = tf.zeros_like(x)
        votes = tf.zeros((tf.shape(x)[0], num_classes), tf.float32)
        for _ in tf.range(draws):
            noisy = x + sigma * generator.normal(tf.shape(x), dtype=tf.float32)
            with tf.GradientTape() as tape:
                tape.watch(noisy)
                logits = tf.cast(model(noisy, training=False), tf.float32)
                values = function(logits, labels, targets)
                total = tf.reduce_sum(values)
            loss_sum += values
            gradient_sum += tape.gradient(total, noisy, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            votes += tf.one_hot(tf.argmax(logits, axis=-1), num_classes)
        scale = 1.0 / float(draws)
        return loss_sum * scale, gradient_sum * scale, votes * scale

    return loss_gradient
