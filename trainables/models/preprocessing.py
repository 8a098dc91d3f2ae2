"""Backbone input preprocessing as a serialisable layer: float RGB in [0, 1] in, backbone input out."""

from __future__ import annotations

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
