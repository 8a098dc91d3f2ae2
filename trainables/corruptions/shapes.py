"""Masks drawn on the whole batch at once (no per-image loop): curved strands, segments, rings, blobs, glyphs.
Every size is in pixels of an (H, W) image; every mask is (N, H, W) float32 in [0, 1]."""

from __future__ import annotations

import numpy as np

from .draws import PointDraws


def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (H, 1) and (1, W)."""
    return np.arange(height, dtype=np.float32)[:, None], np.arange(width, dtype=np.float32)[None, :]


def thicken(mask: np.ndarray, radius: int) -> np.ndarray:
    """Max over a (2r+1)^2 square neighbourhood (a dilation), r >= 0."""
    if radius <= 0:
        return mask
    padded = np.pad(mask, ((0, 0), (radius, radius), (radius, radius)))
    height, width = mask.shape[1:]
    out = mask.copy()
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            np.maximum(out, padded[:, dy: dy + height, dx: dx + width], out=out)
    return out


def curves(draws: PointDraws, stream: int, count: int, height: int, width: int, *, bend: float,
           length: tuple[float, float] = (0.3, 1.0), width_px: int = 1) -> np.ndarray:
    """`count` quadratic Bezier strands per point: a random start, direction and length (fractions of the side),
    the control point pushed sideways by up to `bend` of the length; drawn densely (< 1 px between samples)."""
    n, side = len(draws), max(height, width)
    if count <= 0:
        return np.zeros((n, height, width), np.float32)
    start = draws.uniform(stream, (count, 2)) * [height, width]
    angle = draws.uniform(stream + 1, (count,), 0, 2 * np.pi)
    span = draws.uniform(stream + 2, (count,), *length) * side
    sideways = draws.uniform(stream + 3, (count,), -bend, bend) * span
    direction = np.stack([np.sin(angle), np.cos(angle)], axis=-1)
    normal = np.stack([direction[..., 1], -direction[..., 0]], axis=-1)
    end = start + direction * span[..., None]
    control = (start + end) / 2 + normal * sideways[..., None]
    t = np.linspace(0.0, 1.0, 3 * side)[None, None, :, None]
    points = ((1 - t) ** 2 * start[:, :, None] + 2 * (1 - t) * t * control[:, :, None] + t ** 2 * end[:, :, None])
    rows, columns = np.rint(points[..., 0]).astype(np.int64), np.rint(points[..., 1]).astype(np.int64)
    inside = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
    images = np.broadcast_to(np.arange(n)[:, None, None], rows.shape)
    mask = np.zeros((n, height, width), np.float32)
    mask[images[inside], rows[inside], columns[inside]] = 1.0
    return thicken(mask, width_px // 2)


def rings(centres: np.ndarray, radii: np.ndarray, thickness: float, height: int, width: int) -> np.ndarray:
    """centres (N, K, 2) and radii (N, K) px -> (N, H, W): antialiased circles of `thickness` px."""
    y, x = grid(height, width)
    distance = np.hypot(y[None, None] - centres[..., 0, None, None], x[None, None] - centres[..., 1, None, None])
    ring = np.clip(thickness / 2 + 0.5 - np.abs(distance - radii[..., None, None]), 0, 1)
    return ring.max(axis=1).astype(np.float32)


def blobs(centres: np.ndarray, sigmas: np.ndarray, weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """sum_k weights * exp(-|p - c_k|^2 / 2 sigma_k^2): centres (N, K, 2), sigmas and weights (N, K) -> (N, H, W),
    separable (an outer product per blob)."""
    y, x = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    along_y = np.exp(-((y[None, None] - centres[..., 0, None]) ** 2) / (2 * sigmas[..., None] ** 2))
    along_x = np.exp(-((x[None, None] - centres[..., 1, None]) ** 2) / (2 * sigmas[..., None] ** 2))
    return np.einsum("nk,nky,nkx->nyx", weights, along_y, along_x).astype(np.float32)


def blend(images: np.ndarray, mask: np.ndarray, colour, opacity: float) -> np.ndarray:
    """images (N, H, W, C) with `colour` (C,) or a per-pixel colour painted where mask (N, H, W) is, at opacity."""
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 1 and colour.shape[0] != images.shape[-1]:
        colour = colour.mean(keepdims=True)  # a gray image gets the colour's gray
    alpha = (np.float32(opacity) * mask)[..., None]
    return images * (1 - alpha) + alpha * colour


def side_distance(height: int, width: int, sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point, for its side (0 top, 1 bottom, 2 left, 3 right): distance of each pixel to that edge and its
    position along it, both (N, H, W)."""
    y, x = grid(height, width)
    y, x = np.broadcast_to(y, (height, width)), np.broadcast_to(x, (height, width))
    distance = np.stack([y, height - 1 - y, x, width - 1 - x])[sides]
    along = np.stack([x, x, y, y])[sides]
    return distance, along
