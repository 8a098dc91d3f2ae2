"""Attention variants beside soft attention, and its parameter-matched control (registered in trainables.spec.models).

Every block maps x (B, H, W, C) to the same shape; with residual=True (inserted inside a backbone) the output is
x + block(x), as for soft attention. Parameter counts (C channels, m heads, r = REDUCTION):

- ``se`` (Hu et al. 2018): GAP -> Dense(C/r) ReLU -> Dense(C) sigmoid, the channel gate multiplied into x.
  2*C*h + h + C parameters, h = max(1, C // r). `heads` is not used.
- ``cbam`` (Woo et al. 2018): the channel gate from the shared MLP of average- and max-pooled x, then a spatial gate
  from a 7x7 convolution of the channel mean and max of the gated x. 2*C*h + h + C + 7*7*2 + 1 parameters.
- ``self_attention`` (Wang et al. 2018's non-local block, multi-head): 1x1 query, key and value projections to
  w = m*d channels (d = max(1, (C // 2) // m): the non-local bottleneck C/2 split over m heads), softmax over the
  H*W positions per head, a 1x1 output projection back to C initialised to zero, always added to x (the block is
  its own residual: x + out, the identity at initialisation). 3*(C*w + w) + w*C + C parameters.
- ``param_control``: soft_faithful's convolution (the same kernel (C, 3, 3, 1, m) and bias, so the same 9*C*m + m
  parameters and the same logits, which read input channels 0-2 only) with the attention removed: no softmax, no
  multiplicative gate; the mean of the m ReLU maps is added to every channel, x + mean_m relu(logits). Whatever
  soft attention gains over it comes from the gating, not from the parameters or the placement.
"""

from __future__ import annotations

import keras
from keras import ops

from .attention import AttentionBlock, check_faithful_input, faithful_logits

REDUCTION = 16  # Hu et al.'s and Woo et al.'s reduction ratio r
SPATIAL_KERNEL = 7  # CBAM's spatial-gate kernel


def hidden_width(channels: int) -> int:
    return max(1, channels // REDUCTION)


class _ChannelMLP(AttentionBlock):
    """The shared two-layer MLP of squeeze-and-excitation and CBAM: (B, C) -> (B, C) logits of the channel gate."""

    uses_heads = False

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = hidden_width(channels)
        self.squeeze_kernel = self.add_weight(name="squeeze_kernel", shape=(channels, hidden),
                                              initializer="he_uniform")
        self.squeeze_bias = self.add_weight(name="squeeze_bias", shape=(hidden,), initializer="zeros")
        self.excite_kernel = self.add_weight(name="excite_kernel", shape=(hidden, channels),
                                             initializer="glorot_uniform")
        self.excite_bias = self.add_weight(name="excite_bias", shape=(channels,), initializer="zeros")

    def channel_logits(self, pooled):
        hidden = ops.relu(ops.matmul(pooled, self.squeeze_kernel) + self.squeeze_bias)
        return ops.matmul(hidden, self.excite_kernel) + self.excite_bias

    def gated(self, x):
        raise NotImplementedError

    def call(self, x):
        gated = self.gated(x)
        return x + gated if self.residual else gated


@keras.saving.register_keras_serializable(package="trainables")
class SqueezeExcitation(_ChannelMLP):
    """Squeeze-and-excitation: x * sigmoid(MLP(GAP(x))) per channel."""

    LAYER_NAME = "se_attention"

    def gated(self, x):
        gate = ops.sigmoid(self.channel_logits(ops.mean(x, axis=(1, 2))))  # (B, C)
        return x * gate[:, None, None, :]


@keras.saving.register_keras_serializable(package="trainables")
class CBAM(_ChannelMLP):
    """Convolutional block attention module: the channel gate, then the spatial gate."""

    LAYER_NAME = "cbam_attention"

    def build(self, input_shape):
        super().build(input_shape)
        self.spatial_kernel = self.add_weight(name="spatial_kernel", shape=(SPATIAL_KERNEL, SPATIAL_KERNEL, 2, 1),
                                              initializer="glorot_uniform")
        self.spatial_bias = self.add_weight(name="spatial_bias", shape=(1,), initializer="zeros")

    def gated(self, x):
        channel = ops.sigmoid(self.channel_logits(ops.mean(x, axis=(1, 2))) + self.channel_logits(ops.max(x, axis=(1, 2))))
        x = x * channel[:, None, None, :]
        # (B, H, W, 2): mean and max over channels -> (B, H, W, 1) spatial gate
        pooled = ops.concatenate([ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)
        spatial = ops.sigmoid(ops.conv(pooled, self.spatial_kernel, strides=1, padding="same") + self.spatial_bias)
        return x * spatial


def self_attention_width(channels: int, heads: int) -> tuple[int, int]:
    """(per-head width d, projection width w = heads * d) of the non-local bottleneck C // 2 over `heads` heads."""
    per_head = max(1, (channels // 2) // heads)
    return per_head, per_head * heads


@keras.saving.register_keras_serializable(package="trainables")
class SelfAttention2D(AttentionBlock):
    """Multi-head self-attention over the H*W positions with a residual (non-local block)."""

    LAYER_NAME = "self_attention"

    def build(self, input_shape):
        if input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"self_attention needs a static height and width; received {tuple(input_shape)}")
        channels = int(input_shape[-1])
        self.per_head, width = self_attention_width(channels, self.heads)
        for name in ("query", "key", "value"):
            setattr(self, f"{name}_kernel", self.add_weight(name=f"{name}_kernel", shape=(channels, width),
                                                            initializer="glorot_uniform"))
            setattr(self, f"{name}_bias", self.add_weight(name=f"{name}_bias", shape=(width,), initializer="zeros"))
        # zero: the block starts as the identity (Wang et al. zero the last BatchNorm's scale for the same reason)
        self.output_kernel = self.add_weight(name="output_kernel", shape=(width, channels), initializer="zeros")
        self.output_bias = self.add_weight(name="output_bias", shape=(channels,), initializer="zeros")

    def _heads_of(self, flat, name: str):
        """(B, N, C) -> (B, m, N, d) projection."""
        projected = ops.matmul(flat, getattr(self, f"{name}_kernel")) + getattr(self, f"{name}_bias")
        return ops.transpose(ops.reshape(projected, (-1, flat.shape[1], self.heads, self.per_head)), (0, 2, 1, 3))

    def call(self, x):
        _, height, width, channels = x.shape
        flat = ops.reshape(x, (-1, height * width, channels))
        query, key, value = (self._heads_of(flat, name) for name in ("query", "key", "value"))
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) / float(self.per_head) ** 0.5  # (B, m, N, N)
        attended = ops.matmul(ops.softmax(scores, axis=-1), value)  # (B, m, N, d)
        merged = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, height * width, self.heads * self.per_head))
        out = ops.matmul(merged, self.output_kernel) + self.output_bias
        return x + ops.reshape(out, (-1, height, width, channels))


@keras.saving.register_keras_serializable(package="trainables")
class ParamControl(AttentionBlock):
    """soft_faithful's convolution without the attention: x + mean over the m maps of relu(logits + bias)."""

    LAYER_NAME = "param_control"

    def build(self, input_shape):
        check_faithful_input("param_control", input_shape)
        channels = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(channels, 3, 3, 1, self.heads), initializer="he_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.heads,), initializer="zeros")

    def call(self, x):
        maps = ops.relu(faithful_logits(x, self.kernel) + self.bias)  # (B, H, W, m)
        return x + ops.mean(maps, axis=-1, keepdims=True)
