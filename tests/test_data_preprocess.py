"""Preprocessing: the paper's X-ray enhancement against an independent numpy computation, resizing, channels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from trainables.data import DataError, enhance_xray, gray_to_rgb, to_unit_float
from trainables.data.preprocess import prepare_image, read_image, resize_square, xray_sigma


def numpy_enhance(image: np.ndarray, sigma: float = 20.0) -> np.ndarray:
    """Independent oracle: min-max to [0, 255] (rounded), separable Gaussian with OpenCV's 8-bit kernel size
    (round(6 sigma + 1) | 1) and reflect-101 borders, blur rounded to uint8, then 4x - 4 blur + 128 clipped."""
    x = image.astype(np.float64)
    normalized = np.rint((x - x.min()) * 255.0 / (x.max() - x.min()))
    size = int(round(sigma * 6 + 1)) | 1
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-offsets**2 / (2 * sigma**2))
    kernel /= kernel.sum()
    half = (size - 1) // 2
    padded = np.pad(normalized, half, mode="reflect")  # numpy's "reflect" is OpenCV's BORDER_REFLECT_101
    rows = np.apply_along_axis(np.convolve, 1, padded, kernel, mode="valid")
    blurred = np.rint(np.apply_along_axis(np.convolve, 0, rows, kernel, mode="valid"))
    return np.clip(np.rint(4 * normalized - 4 * blurred + 128), 0, 255).astype(np.uint8)


def test_enhance_xray_matches_independent_computation():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.uniform(0, 1, (180, 220)).astype(np.float32), (0, 0), 5)
    image = (40 + 150 * (smooth - smooth.min()) / (smooth.max() - smooth.min())
             + rng.normal(0, 3, smooth.shape)).clip(0, 255).astype(np.uint8)
    ours, oracle = enhance_xray(image), numpy_enhance(image)
    assert ours.dtype == np.uint8 and ours.shape == image.shape
    difference = np.abs(ours.astype(int) - oracle.astype(int))
    # OpenCV blurs 8-bit images in fixed point: one grey level of blur, times 4, is the largest allowed gap
    assert difference.max() <= 4 and (difference == 0).mean() > 0.9
    assert ours.min() == 0 and ours.max() == 255  # contrast x4 saturates


def test_enhance_xray_is_invariant_to_the_input_range_and_handles_constant_images():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    image[0, 0], image[0, 1] = 0, 255
    squeezed = (image.astype(np.float32) * 0.5 + 60).round().astype(np.uint8)  # same picture, range 60..188
    assert np.abs(enhance_xray(image).astype(int) - enhance_xray(squeezed).astype(int)).max() <= 8
    assert (enhance_xray(np.full((30, 30), 77, np.uint8)) == 128).all()


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.float32), np.zeros(8, np.uint8), "image"])
def test_enhance_xray_rejects_non_uint8_images(bad):
    with pytest.raises(DataError, match="expects a uint8"):
        enhance_xray(bad)


def test_xray_sigma_scales_with_native_size():
    assert xray_sigma((1024, 1024)) == 20.0
    assert xray_sigma((224, 300)) == pytest.approx(20 * 224 / 1024)


def test_resize_uses_area_when_shrinking_and_linear_when_enlarging():
    image = np.random.default_rng(2).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_square(image, 30), cv2.resize(image, (30, 30), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(resize_square(image, 100),
                                  cv2.resize(image, (100, 100), interpolation=cv2.INTER_LINEAR))
    assert resize_square(image[:64, :64], 64) is not None and resize_square(image, 64).shape == (64, 64, 3)


def test_prepare_image_enhances_before_resizing_and_converts_channels():
    rng = np.random.default_rng(3)
    gray = cv2.GaussianBlur(rng.integers(0, 256, (256, 256), dtype=np.uint8), (0, 0), 3)
    prepared = prepare_image(gray, size=64, grayscale=True, xray_enhancement=True)
    expected = cv2.resize(enhance_xray(gray, sigma=5.0), (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(prepared, expected)
    rgba = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    assert prepare_image(rgba, size=32, grayscale=False, xray_enhancement=False).shape == (32, 32, 3)
    assert prepare_image(rgba[..., 0], size=32, grayscale=False, xray_enhancement=False).shape == (32, 32, 3)
    assert prepare_image(rgba[..., :3], size=32, grayscale=True, xray_enhancement=False).shape == (32, 32)


def test_gray_to_rgb_and_to_unit_float():
    gray = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    rgb = gray_to_rgb(gray)
    assert rgb.shape == (2, 3, 4, 3) and all(np.array_equal(rgb[..., c], gray) for c in range(3))
    unit = to_unit_float(np.array([0, 51, 255], np.uint8))
    assert unit.dtype == np.float32 and unit.tolist() == pytest.approx([0.0, 0.2, 1.0])
    with pytest.raises(DataError, match="expects uint8 images; received dtype float64"):
        to_unit_float(np.zeros(3))


def test_read_image_decodes_rgb_and_reduces_large_jpegs(tmp_path):
    image = np.zeros((400, 600, 3), np.uint8)
    image[:, :300] = (200, 30, 10)  # RGB: red left half
    cv2.imwrite(str(tmp_path / "a.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    full = read_image(tmp_path / "a.jpg", grayscale=False)
    reduced = read_image(tmp_path / "a.jpg", grayscale=False, min_side=64)
    assert full.shape == (400, 600, 3) and reduced.shape == (100, 150, 3)  # 1/4: the coarsest with sides >= 64
    assert abs(int(full[10, 10, 0]) - 200) < 6 and abs(int(reduced[10, 10, 0]) - 200) < 6
    assert read_image(tmp_path / "a.jpg", grayscale=True, min_side=200).shape == (200, 300)
