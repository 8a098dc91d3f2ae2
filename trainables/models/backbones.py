"""The paper's backbones: Keras applications built with include_top=True, then cut as the paper does (where:
their BackboneSpec in trainables.spec.models)."""

from __future__ import annotations

import keras


def resnet50(input_tensor):
    return keras.applications.ResNet50(include_top=True, weights=None, input_tensor=input_tensor)


def inception_resnet_v2(input_tensor):
    return keras.applications.InceptionResNetV2(include_top=True, weights=None, input_tensor=input_tensor)
