"""Fundus artefacts: uneven illumination, haze (media opacity), lens dust and flare. images (N, H, W, C) in [0, 1]."""

from __future__ import annotations

import numpy as np

from .blur import convolve
from .draws import PointDraws
from .shapes import blobs

VEIL = (0.92, 0.86, 0.74)  # a warm, bright veil over the retina
WAVES = 3


def smooth_field(draws: PointDraws, stream: int, height: int, width: int) -> np.ndarray:
    """(N, H, W) in about [-1, 1]: a sum of WAVES plane waves of 0.3-1.2 cycles per image at random angles and
    phases, plus a linear ramp (a low-frequency gain)."""
    y = np.linspace(0, 1, height)[None, :, None, None]
    x = np.linspace(0, 1, width)[None, None, :, None]
    angle = draws.uniform(stream, (WAVES,), 0, 2 * np.pi)[:, None, None]
    frequency = draws.uniform(stream + 1, (WAVES,), 0.3, 1.2)[:, None, None]
    phase = draws.uniform(stream + 2, (WAVES,), 0, 2 * np.pi)[:, None, None]
    waves = np.cos(2 * np.pi * frequency * (np.cos(angle) * x + np.sin(angle) * y) + phase).sum(axis=-1)
    ramp_angle = draws.uniform(stream + 3, (), 0, 2 * np.pi)[:, None, None]
    ramp = np.cos(ramp_angle) * (x[..., 0] - 0.5) + np.sin(ramp_angle) * (y[..., 0] - 0.5)
    return ((waves + 2 * ramp) / (WAVES + 1)).astype(np.float32)


def uneven_illumination(images: np.ndarray, draws: PointDraws, amplitude: float) -> np.ndarray:
    field = smooth_field(draws, 0, *images.shape[1:3])
    return np.clip(images * (1 + np.float32(amplitude) * 2 * field)[..., None], 0, 1)


def gaussian_kernel(sigma: float) -> np.ndarray:
    half = max(1, int(np.ceil(3 * sigma)))
    axis = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma ** 2))
    return (kernel / kernel.sum())[None]


def haze(images: np.ndarray, draws: PointDraws, weight: float) -> np.ndarray:
    """(1 - w) x + w veil, the veil a bright colour over the image blurred (light scattered in the media)."""
    if weight == 0:
        return images.copy()
    glow = convolve(images, gaussian_kernel(0.04 * max(images.shape[1:3])))
    colour = np.asarray(VEIL, np.float32)
    colour = colour if images.shape[-1] == len(colour) else colour.mean(keepdims=True)
    veil = 0.4 * glow + 0.6 * colour
    return np.clip((1 - np.float32(weight)) * images + np.float32(weight) * veil, 0, 1)


def lens_artefacts(images: np.ndarray, draws: PointDraws, amplitude: float) -> np.ndarray:
    """Four dark dust specks (sigma 1.5-3.5 % of the side) and one bright flare (sigma 10-16 %)."""
    height, width = images.shape[1:3]
    side = max(height, width)
    specks = blobs(draws.uniform(0, (4, 2)) * [height, width], draws.uniform(1, (4,), 0.015, 0.035) * side,
                   np.ones((len(draws), 4)), height, width)
    flare = blobs(draws.uniform(2, (1, 2), 0.1, 0.9) * [height, width], draws.uniform(3, (1,), 0.10, 0.16) * side,
                  np.ones((len(draws), 1)), height, width)
    dark = np.clip(np.float32(amplitude) * 1.4 * specks, 0, 0.95)[..., None]
    bright = (np.float32(amplitude) * 0.8 * flare)[..., None]
    return np.clip(images * (1 - dark) + bright, 0, 1)
