"""Soft attention (Datta et al. 2021) in two variants (registered by name in trainables.spec.models).

Both variants compute m attention logit maps from x (B, H, W, C), apply ReLU, take a softmax over the H*W
positions of each map, sum the m maps and multiply the sum into x. They differ only in how the logits are made:

- ``soft_faithful``: the reference layer's 3-D convolution of x expanded to (B, H, W, C, 1) with a kernel
  (C, 3, 3, 1, m), strides (1, 1, C) and "same" padding. Its kernel depth C slides along H and its stride C runs
  along the channel axis, so the logits depend only on channels 0, 1 and 2 (the reference's quirk, kept;
  see FaithfulSoftAttention for how it is computed).
- ``soft_corrected``: the intended 3x3 convolution over all C channels to m maps.

Both have 9*C*m + m weights (kernel he_uniform, bias zeros). With ``residual=True`` the output is
x * (1 + summed map) instead of x * summed map, so a block inserted inside a backbone starts close to the
identity and the pretrained layers after it keep their meaning.

The other variants (Hu et al. 2018's squeeze-and-excitation, Woo et al. 2018's CBAM, Wang et al. 2018's non-local
multi-head self-attention, and a parameter-matched control without attention) live in
trainables.models.attention_variants; every variant is an AttentionBlock: (B, H, W, C) -> (B, H, W, C), built
under its own layer name (LAYER_NAME), so that describe_model and the tests find it by name.
"""

from __future__ import annotations

from numbers import Integral

import keras
from keras import ops

from ..spec.lazy import resolve
from ..spec.models import ATTENTIONS


class AttentionBlock(keras.layers.Layer):
    """Base of every attention variant: (B, H, W, C) -> (B, H, W, C).

    residual=True (a block inserted inside a backbone): x + block(x), so it starts near the identity.
    LAYER_NAME: the name build_model gives the layer; uses_heads: whether `heads` shapes the block.
    """

    LAYER_NAME = "attention"
    uses_heads = True

    def __init__(self, heads: int = 16, residual: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(heads, bool) or not isinstance(heads, Integral) or heads < 1:
            raise ValueError(f"heads must be a positive int; received heads={heads!r}")
        self.heads = int(heads)
        self.residual = bool(residual)

    @property
    def heads_used(self) -> int:
        """The heads this block has (0 for a block without heads, e.g. squeeze-and-excitation)."""
        return self.heads if self.uses_heads else 0

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "residual": self.residual}


class SoftAttention(AttentionBlock):
    """Base soft-attention layer; subclasses define the logits. Output has the input's shape."""

    LAYER_NAME = "soft_attention"

    def _kernel_shape(self, channels: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _logits(self, x):
        """(B, H, W, C) -> (B, H, W, m) before bias."""
        raise NotImplementedError

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=self._kernel_shape(int(input_shape[-1])), initializer="he_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.heads,), initializer="zeros")

    def attention_maps(self, x):
        """(B, H, W, C) -> (B, m, H, W); each map sums to 1 over its H*W positions."""
        _, height, width, _ = ops.shape(x)
        logits = ops.relu(self._logits(x) + self.bias)
        per_head = ops.reshape(ops.transpose(logits, (0, 3, 1, 2)), (-1, self.heads, height * width))
        return ops.reshape(ops.softmax(per_head, axis=-1), (-1, self.heads, height, width))

    def call(self, x):
        # (B, m, H, W) -> (B, H, W, 1): the m maps summed, broadcast over channels.
        weight = ops.expand_dims(ops.sum(self.attention_maps(x), axis=1), axis=-1)
        return x + x * weight if self.residual else x * weight


@keras.saving.register_keras_serializable(package="trainables")
class FaithfulSoftAttention(SoftAttention):
    """The reference layer's 3-D convolution (logits see input channels 0-2 only).

    The kernel keeps the reference shape (C, 3, 3, 1, m); the 3-D convolution of x as (B, H, W, C, 1) with
    strides (1, 1, C) and "same" padding is computed as the 2-D convolution it equals. Along the channel axis
    (kernel 3, stride C) "same" pads nothing and makes one step, so it reads channels 0-2 with the kernel's
    third axis; along H the depth-C kernel is padded by (C-1)//2 in front, so only its rows within H-1 of that
    offset meet x. Why not tf.nn.conv3d itself: on CPU (TF 2.21) its forward reads the centred channels
    (C-3)//2 .. (C-3)//2+2 while its gradients use channels 0-2 (the documented "same" semantics, matched here
    in value and gradient), and its gradient takes about a minute even for a 32x3x3x256 batch.
    """

    def build(self, input_shape):
        check_faithful_input("soft_faithful", input_shape)
        super().build(input_shape)

    def _kernel_shape(self, channels):
        return (channels, 3, 3, 1, self.heads)

    def _logits(self, x):
        return faithful_logits(x, self.kernel)


def check_faithful_input(name: str, input_shape) -> None:
    if int(input_shape[-1]) < 3 or input_shape[1] is None:
        raise ValueError(
            f"{name} needs a static height and >= 3 channels; received input_shape={tuple(input_shape)}"
        )


def faithful_logits(x, kernel):
    """The reference layer's 3-D convolution of x (B, H, W, C) with kernel (C, 3, 3, 1, m) -> (B, H, W, m), no bias."""
    height, channels = x.shape[1], x.shape[-1]
    front = (channels - 1) // 2  # "same" padding before the first row of the depth-C kernel
    first, stop = front - (height - 1), front + height  # kernel rows that can meet a row of x
    # (C, 3, 3, 1, m) -> rows [first, stop) as a (2H-1, 3, 3, m) 2-D kernel over channels 0-2, zero outside C.
    rows = kernel[max(first, 0) : min(stop, channels), :, :, 0, :]
    rows = ops.pad(rows, ((max(-first, 0), max(stop - channels, 0)), (0, 0), (0, 0), (0, 0)))
    padded = ops.pad(x[..., :3], ((0, 0), (height - 1, height - 1), (1, 1), (0, 0)))
    return ops.conv(padded, rows, strides=1, padding="valid")  # (B, H, W, m)


@keras.saving.register_keras_serializable(package="trainables")
class CorrectedSoftAttention(SoftAttention):
    """A 3x3 convolution over all C channels to m logit maps."""

    def _kernel_shape(self, channels):
        return (3, 3, channels, self.heads)

    def _logits(self, x):
        return ops.conv(x, self.kernel, strides=1, padding="same")


def make_attention(name: str, *, heads: int, residual: bool) -> AttentionBlock | None:
    """The attention layer of a registered variant, named by its class's LAYER_NAME ("soft_attention" for soft
    attention); None for "none"."""
    layer_class = ATTENTIONS.lookup(name)
    if isinstance(layer_class, str):
        layer_class = resolve(layer_class, f"attention {name!r} layer")
    if layer_class is None:
        return None
    return layer_class(heads=heads, residual=residual, name=layer_class.LAYER_NAME)
