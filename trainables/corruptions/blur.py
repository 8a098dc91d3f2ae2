"""Optical blur as a convolution on the whole batch at once (FFT, reflect-padded): a disk (defocus) or a line at a
random angle per point (motion). Kernel sizes are fractions of the image side."""

from __future__ import annotations

import math

import numpy as np

from .draws import PointDraws


def convolve(images: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """images (N, H, W, C) * kernels (1 or N, k, k), k odd, reflect padding -> (N, H, W, C) float32."""
    size = kernels.shape[-1]
    radius = size // 2
    if radius == 0:
        return images * kernels[:, :1, :1, None].astype(np.float32)
    height, width = images.shape[1:3]
    mode = "reflect" if radius < min(height, width) else "edge"  # reflect needs the image wider than the pad
    padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode=mode)
    full = np.zeros((len(kernels), *padded.shape[1:3]), np.float64)
    full[:, :size, :size] = kernels
    full = np.roll(full, (-radius, -radius), axis=(1, 2))  # the kernel's centre at the origin
    shape = padded.shape[1:3]
    spectrum = np.fft.rfft2(padded, axes=(1, 2)) * np.fft.rfft2(full, axes=(1, 2))[..., None]
    out = np.fft.irfft2(spectrum, s=shape, axes=(1, 2))
    return out[:, radius: radius + height, radius: radius + width].astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """(1, k, k): an antialiased disk of `radius` px, summing to 1 (radius 0: the identity)."""
    half = math.ceil(radius)
    grid = np.arange(-half, half + 1, dtype=np.float64)
    distance = np.hypot(grid[:, None], grid[None, :])
    weights = np.clip(radius + 0.5 - distance, 0, 1)
    return (weights / weights.sum())[None]


def line_kernels(length: float, angles: np.ndarray) -> np.ndarray:
    """(N, k, k): antialiased segments of `length` px through the centre at `angles` (radians), each summing to 1."""
    half = math.ceil(length / 2)
    grid = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(grid, grid, indexing="ij")
    dy, dx = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    along = np.clip(x * dx + y * dy, -length / 2, length / 2)
    distance = np.hypot(x - along * dx, y - along * dy)
    weights = np.clip(1 - distance, 0, 1)
    return weights / weights.sum(axis=(1, 2), keepdims=True)


def defocus_blur(images: np.ndarray, draws: PointDraws, radius: float) -> np.ndarray:
    return convolve(images, disk_kernel(radius * max(images.shape[1:3])))


def motion_blur(images: np.ndarray, draws: PointDraws, length: float) -> np.ndarray:
    angles = draws.uniform(0, (), 0.0, math.pi)
    return convolve(images, line_kernels(length * max(images.shape[1:3]), angles))
