"""Image decoding and preprocessing with OpenCV: native image -> task channels -> (X-ray enhancement) -> resize.

Order for chest X-rays: `enhance_xray` runs at the image's native resolution, before resizing, as the paper
implies (its sigma of 20 px refers to ChestX-ray14's 1024 px images). For sources whose native images are
smaller (MedMNIST, synthetic) sigma is scaled with the image side, sigma = 20 * side / 1024, so the filter removes
the same anatomical scale everywhere. Resizing squashes to a square (as the paper's "resized to 224x224"), with
cv2.INTER_AREA when shrinking and cv2.INTER_LINEAR otherwise. JPEGs that are much larger than the target are
decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT scaling, still at least the target size) before INTER_AREA.

Bump PREPROCESS_VERSION whenever the output of `prepare_image` changes: it is part of the cache key.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import DataError

PREPROCESS_VERSION = 1
XRAY_SIGMA = 20.0
XRAY_NATIVE_SIDE = 1024  # ChestX-ray14's image side, the resolution the paper's sigma refers to
JPEG_SUFFIXES = (".jpg", ".jpeg")
REDUCED_READ_FLAGS = {  # decode scale -> OpenCV flag, (colour, grayscale)
    2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
}


class UnreadableImage(Exception):
    """An image file that is missing or cannot be decoded; loaders count and report these."""


def read_image(path: str | Path, *, grayscale: bool, min_side: int | None = None) -> np.ndarray:
    """Decode one image file to uint8 (H, W) gray or (H, W, 3) RGB.

    With `min_side`, a JPEG is decoded at the coarsest 1/2^k scale whose sides stay >= min_side.
    Raises UnreadableImage if the file is missing or OpenCV cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableImage(f"{path}: file not found")
    scale = _jpeg_decode_scale(path, min_side) if min_side else 1
    if scale == 1:
        flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    else:
        flag = REDUCED_READ_FLAGS[scale][1 if grayscale else 0]
    image = cv2.imread(str(path), flag)
    if image is None or image.size == 0:
        raise UnreadableImage(f"{path}: OpenCV could not decode it")
    return image if grayscale else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _jpeg_decode_scale(path: Path, min_side: int) -> int:
    if path.suffix.lower() not in JPEG_SUFFIXES:
        return 1
    try:
        from PIL import Image  # header only: reads the size without decoding

        with Image.open(path) as header:
            width, height = header.size
    except Exception:  # a corrupt header: let the full decode fail and report it
        return 1
    scale = 1
    while scale < 8 and min(width, height) // (scale * 2) >= min_side:
        scale *= 2
    return scale


def _check_uint8_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        received = (f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray)
                    else type(image).__name__)
        raise DataError(f"{name} expects a uint8 (H, W) or (H, W, C) image; received {received}")


def enhance_xray(image_uint8: np.ndarray, *, sigma: float = XRAY_SIGMA) -> np.ndarray:
    """The paper's chest X-ray filter: min-max to [0, 255], then 4x - 4 GaussianBlur(x) + 128, saturated to uint8.

    The blur is cv2.GaussianBlur(x, ksize=(0, 0), sigmaX=sigma, sigmaY=0) (kernel size from sigma, sigmaY = sigmaX,
    border BORDER_REFLECT_101) on the min-maxed uint8 image. A constant image maps to 128 everywhere.
    """
    _check_uint8_image(image_uint8, "enhance_xray")
    low, high = int(image_uint8.min()), int(image_uint8.max())
    if high == low:
        normalized = np.zeros_like(image_uint8)
    else:
        scaled = (image_uint8.astype(np.float32) - low) * np.float32(255.0 / (high - low))
        normalized = np.rint(scaled).astype(np.uint8)
    blurred = cv2.GaussianBlur(normalized, ksize=(0, 0), sigmaX=sigma, sigmaY=0)
    return cv2.addWeighted(normalized, 4.0, blurred, -4.0, 128.0)


def xray_sigma(image_shape: tuple[int, ...]) -> float:
    """The enhancement sigma for an X-ray at this native resolution (20 at ChestX-ray14's 1024 px)."""
    return XRAY_SIGMA * min(image_shape[:2]) / XRAY_NATIVE_SIDE


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize (squash) to size x size: INTER_AREA when shrinking both sides, INTER_LINEAR otherwise."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    interpolation = cv2.INTER_AREA if height >= size and width >= size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def gray_to_rgb(images: np.ndarray) -> np.ndarray:
    """(..., H, W) gray -> (..., H, W, 3) with the channel repeated."""
    return np.repeat(images[..., np.newaxis], 3, axis=-1)


def to_channels(image: np.ndarray, *, grayscale: bool) -> np.ndarray:
    """A decoded image as (H, W) gray or (H, W, 3) RGB, whatever channels it came with (1, 3 or 4)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] != 3:
        raise DataError(f"expected an image with 1, 3 or 4 channels; received shape {image.shape}")
    if grayscale:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    return gray_to_rgb(image) if image.ndim == 2 else image


def prepare_image(image: np.ndarray, *, size: int, grayscale: bool, xray_enhancement: bool) -> np.ndarray:
    """Native decoded image -> the cached form: uint8 (size, size) for gray tasks, (size, size, 3) RGB otherwise."""
    _check_uint8_image(image, "prepare_image")
    image = to_channels(image, grayscale=grayscale)
    if xray_enhancement:
        image = enhance_xray(image, sigma=xray_sigma(image.shape))
    return resize_square(image, size)


def to_unit_float(x_uint8: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (x / 255); model-specific normalisation lives in the model."""
    x_uint8 = np.asarray(x_uint8)
    if x_uint8.dtype != np.uint8:
        raise DataError(f"to_unit_float expects uint8 images; received dtype {x_uint8.dtype}")
    unit = x_uint8.astype(np.float32)
    unit /= 255.0
    return unit
