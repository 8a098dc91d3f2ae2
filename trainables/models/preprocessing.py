"""Backbone input preprocessing as a serialisable layer: float RGB in [0, 1] in, backbone input out."""

from __future__ import annotations

import cv2
import keras
from keras import ops

# ImageNet channel means in BGR order, as keras.applications.imagenet_utils "caffe" mode.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def _caffe(images):
    # RGB in [0, 1] -> BGR in [0, 255] minus the ImageNet mean.
    bgr = ops.flip(images * 255.0, axis=-1)
    return bgr - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=bgr.dtype)


def _tf(images):
    # [0, 1] -> [-1, 1]; equals keras "tf" mode on [0, 255] inputs.
    return images * 2.0 - 1.0


PREPROCESSING_MODES = {"caffe": _caffe, "tf": _tf}


@keras.saving.register_keras_serializable(package="trainables")
class BackbonePreprocessing(keras.layers.Layer):
    """Maps float32 RGB images in [0, 1] (NHWC) to what a Keras application expects.

    mode "caffe": ResNet50 (RGB->BGR, x255, ImageNet mean subtracted); mode "tf": InceptionResNetV2 ([-1, 1]).
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"unknown preprocessing mode {mode!r}; expected one of: {', '.join(PREPROCESSING_MODES)}")
        self.mode = mode

    def call(self, images):
        return PREPROCESSING_MODES[self.mode](ops.cast(images, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


GRAY_MIDPOINT = 128.0 / 255.0  # the +128 of the uint8 filter, in [0, 1]


@keras.saving.register_keras_serializable(package="trainables")
class XrayEnhancement(keras.layers.Layer):
    """The paper's chest X-ray filter (trainables.data.preprocess.enhance_xray) as a differentiable layer, so that an
    attack perturbs the radiograph rather than the enhanced image: float RGB (gray repeated) in [0, 1] -> per image
    min-max to [0, 1], then 4 x - 4 GaussianBlur(x, sigma) + 128/255, clipped to [0, 1], as RGB.

    The blur is OpenCV's for uint8 images: kernel cv2.getGaussianKernel(round(6 sigma + 1) | 1, sigma) along rows
    and columns, border reflect-101. sigma is for the model's input size (the data path filters at the native size).
    """

    def __init__(self, sigma: float, **kwargs):
        super().__init__(**kwargs)
        if not sigma > 0:
            raise ValueError(f"XrayEnhancement needs sigma > 0; received sigma={sigma!r}")
        self.sigma = float(sigma)
        size = int(round(6 * self.sigma + 1)) | 1
        self.kernel = cv2.getGaussianKernel(size, self.sigma).astype("float32")[:, 0]  # (size,)

    def call(self, images):
        gray = ops.mean(ops.cast(images, "float32"), axis=-1, keepdims=True)  # (B, H, W, 1)
        low = ops.min(gray, axis=(1, 2, 3), keepdims=True)
        span = ops.max(gray, axis=(1, 2, 3), keepdims=True) - low
        normalized = ops.where(span > 0, (gray - low) / ops.maximum(span, 1e-12), ops.zeros_like(gray))
        half = len(self.kernel) // 2
        padded = ops.pad(normalized, [[0, 0], [half, half], [half, half], [0, 0]], mode="reflect")
        kernel = ops.convert_to_tensor(self.kernel)
        blurred = ops.conv(padded, ops.reshape(kernel, (-1, 1, 1, 1)), padding="valid")
        blurred = ops.conv(blurred, ops.reshape(kernel, (1, -1, 1, 1)), padding="valid")
        enhanced = ops.clip(4.0 * normalized - 4.0 * blurred + GRAY_MIDPOINT, 0.0, 1.0)
        return ops.cast(ops.repeat(enhanced, 3, axis=-1), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}
