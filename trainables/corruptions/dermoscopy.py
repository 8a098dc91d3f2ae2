"""Dermoscopy artefacts: hair strands, a ruler and ink marks, vignetting. images (N, H, W, C) in [0, 1]."""

from __future__ import annotations

import numpy as np

from .draws import PointDraws
from .shapes import blend, curves, rings, side_distance

HAIR_COLOUR = (0.10, 0.07, 0.05)
RULER_COLOUR = (0.88, 0.88, 0.85)
TICK_COLOUR = (0.15, 0.15, 0.15)
INK_COLOUR = (0.45, 0.20, 0.62)  # gentian violet skin marker


def hair(images: np.ndarray, draws: PointDraws, strands: float) -> np.ndarray:
    height, width = images.shape[1:3]
    thickness = max(1, round(max(height, width) / 90))
    mask = curves(draws, 0, int(round(strands)), height, width, bend=0.35, length=(0.35, 0.9), width_px=thickness)
    return blend(images, mask, HAIR_COLOUR, 0.9)


def ruler_ink(images: np.ndarray, draws: PointDraws, opacity: float) -> np.ndarray:
    """A ruler along a random edge (band 9 % of the side, ticks every 4 %) and two violet ink circles."""
    height, width = images.shape[1:3]
    side = max(height, width)
    distance, along = side_distance(height, width, draws.integers(0, 4))
    band = distance < 0.09 * side
    period = max(3.0, 0.04 * side)
    ticks = band & (distance < 0.05 * side) & (np.mod(along, period) < max(1.0, period / 4))
    centres = draws.uniform(1, (2, 2), 0.15, 0.85) * [height, width]
    radii = draws.uniform(2, (2,), 0.05, 0.12) * side
    ink = rings(centres, radii, max(1.0, 0.02 * side), height, width)
    out = blend(images, band.astype(np.float32), RULER_COLOUR, opacity)
    out = blend(out, ticks.astype(np.float32), TICK_COLOUR, opacity)
    return blend(out, ink, INK_COLOUR, opacity)


def vignetting(images: np.ndarray, draws: PointDraws, strength: float) -> np.ndarray:
    """Multiplied by 1 - strength * r^2, r the distance from a slightly off-centre point over the half-diagonal."""
    height, width = images.shape[1:3]
    centre = (0.5 + draws.uniform(0, (2,), -0.06, 0.06)) * [height, width]
    y = np.arange(height, dtype=np.float32)[None, :, None] - centre[:, 0, None, None]
    x = np.arange(width, dtype=np.float32)[None, None, :] - centre[:, 1, None, None]
    r2 = (y ** 2 + x ** 2) / ((height / 2) ** 2 + (width / 2) ** 2)
    gain = np.clip(1 - strength * r2, 0, 1).astype(np.float32)
    return images * gain[..., None]
