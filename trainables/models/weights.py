"""Weights: ImageNet files from the Keras cache (no download), Keras application .h5 files, .weights.h5 files."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import h5py
import keras

from ..spec.models import BackboneSpec



def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights: $KERAS_HOME/models (read at call time), else ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def imagenet_weights_path(spec: BackboneSpec) -> Path:
    """The cached include_top=True ImageNet weights of a backbone; ValueError telling how to get them."""
    if spec.imagenet_file is None:
        raise ValueError(
            f"weights='imagenet' is not available for {spec.name} at scale={spec.scale!r}; "
            "use weights=None or a .weights.h5 path (ImageNet weights exist for scale='full')"
        )
    target = keras_cache_dir()
    if (target / spec.imagenet_file).is_file():
        return target / spec.imagenet_file
    raise ValueError(
        f"ImageNet weights for {spec.name} not found at {target / spec.imagenet_file} and this machine cannot "
        f"download them: on a machine with internet download {spec.imagenet_url} (or run keras.applications "
        f"with weights='imagenet' once), copy the file into {target} (or set KERAS_HOME), "
        "or pass weights=<path to the .h5 file>"
    )


def load_application_weights(app: keras.Model, path: Path) -> None:
    """Loads a Keras-application weights file (.h5, include_top=True layout) into the uncut network."""
    try:
        app.load_weights(str(path))
    except Exception as error:  # noqa: BLE001 - any failure here means the file does not fit
        raise ValueError(
            f"weights file {str(path)!r} does not match the include_top=True {app.name}: {_first_line(error)}"
        ) from error


def load_model_weights(model: keras.Model, path: Path) -> None:
    """Loads a .weights.h5 file saved by model.save_weights of the same architecture; ValueError if it differs."""
    expected = Counter(tuple(v.shape) for v in model.weights)
    found = _weight_shapes(path)
    if found != expected:
        raise ValueError(
            f"weights file {str(path)!r} does not match model {model.name!r}: expected {sum(expected.values())} "
            f"arrays ({_size(expected)} values), file has {sum(found.values())} arrays ({_size(found)} values)"
        )
    try:
        model.load_weights(str(path))
    except Exception as error:  # noqa: BLE001
        message = f"weights file {str(path)!r} does not match model {model.name!r}: {_first_line(error)}"
        raise ValueError(message) from error


def _weight_shapes(path: Path) -> Counter:
    shapes: Counter = Counter()

    def visit(_name, item):
        if isinstance(item, h5py.Dataset):
            shapes[tuple(item.shape)] += 1

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError as error:
        raise ValueError(f"weights file {str(path)!r} is not a readable HDF5 file: {error}") from error
    return shapes


def _size(shapes: Counter) -> int:
    total = 0
    for shape, count in shapes.items():
        size = 1
        for dim in shape:
            size *= dim
        total += size * count
    return total


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
