"""Chest X-ray artefacts: burnt-in text and side markers, wires and pins, gamma and window shifts, anti-scatter grid
lines. Drawn on one gray channel (trainables.corruptions.apply repeats it). images (N, H, W, C) in [0, 1]."""

from __future__ import annotations

import numpy as np

from .draws import PointDraws
from .shapes import blend, curves, grid

GLYPH_ROWS, GLYPH_COLUMNS = 5, 3  # each character: a random 5 x 3 bitmap, like a small bitmap font
CHARACTERS = 7  # per line of text
MARKER = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 1]], np.float32)  # "L"


def text_mask(draws: PointDraws, lines: int, height: int, width: int) -> np.ndarray:
    """(N, H, W): `lines` lines of random glyphs in a random corner, and an "L" marker in the opposite one."""
    n = len(draws)
    cell = max(1, round(max(height, width) / 90))  # px per glyph bit
    pitch_x, pitch_y = (GLYPH_COLUMNS + 1) * cell, (GLYPH_ROWS + 2) * cell
    bits = draws.uniform(0, (lines, CHARACTERS, GLYPH_ROWS, GLYPH_COLUMNS)) < 0.5
    corner = draws.integers(1, 4)
    block_h, block_w = lines * pitch_y, CHARACTERS * pitch_x
    margin = max(1, round(0.03 * max(height, width)))
    top = np.where(corner < 2, margin, height - margin - block_h)
    left = np.where(corner % 2 == 0, margin, width - margin - block_w)
    y, x = grid(height, width)
    dy, dx = y[None].astype(np.int64) - top[:, None, None], x[None].astype(np.int64) - left[:, None, None]
    line, row = dy // pitch_y, (dy % pitch_y) // cell
    char, column = dx // pitch_x, (dx % pitch_x) // cell
    inside = (dy >= 0) & (line < lines) & (row < GLYPH_ROWS) & (dx >= 0) & (char < CHARACTERS) & (column < GLYPH_COLUMNS)
    image = np.broadcast_to(np.arange(n)[:, None, None], inside.shape)
    clip = lambda values, high: np.clip(values, 0, high - 1)  # noqa: E731 (indices outside are masked anyway)
    text = bits[image, clip(line, lines), clip(char, CHARACTERS), clip(row, GLYPH_ROWS), clip(column, GLYPH_COLUMNS)]
    mask = (inside & text).astype(np.float32)
    marker_cell = 2 * cell
    m_top = np.where(corner < 2, height - margin - GLYPH_ROWS * marker_cell, margin)
    m_left = np.where(corner % 2 == 0, width - margin - GLYPH_COLUMNS * marker_cell, margin)
    my, mx = (y[None].astype(np.int64) - m_top[:, None, None]) // marker_cell, \
        (x[None].astype(np.int64) - m_left[:, None, None]) // marker_cell
    in_marker = (my >= 0) & (my < GLYPH_ROWS) & (mx >= 0) & (mx < GLYPH_COLUMNS)
    marker = MARKER[np.clip(my, 0, GLYPH_ROWS - 1), np.clip(mx, 0, GLYPH_COLUMNS - 1)] * in_marker
    return np.maximum(mask, marker)


def burn_in(images: np.ndarray, draws: PointDraws, lines: float) -> np.ndarray:
    lines = int(round(lines))
    if lines <= 0:
        return images.copy()
    mask = text_mask(draws, lines, *images.shape[1:3])
    return np.maximum(images, mask[..., None])


def wires_pins(images: np.ndarray, draws: PointDraws, count: float) -> np.ndarray:
    """`count` bright curved wires (ECG leads, lines) and ceil(count / 2) short straight pins, radio-opaque."""
    count = int(round(count))
    height, width = images.shape[1:3]
    side = max(height, width)
    wires = curves(draws, 0, count, height, width, bend=0.5, length=(0.5, 1.2), width_px=max(1, round(side / 110)))
    pins = curves(draws, 10, -(-count // 2), height, width, bend=0.0, length=(0.1, 0.22),
                  width_px=max(2, round(side / 40)))
    out = blend(images, wires, (0.95,), 0.85)
    return blend(out, pins, (1.0,), 1.0)


def gamma_window(images: np.ndarray, draws: PointDraws, strength: float) -> np.ndarray:
    """x^gamma, then windowed to [low, high]: log(gamma) = +-strength * U(0.5, 1), low and high moved in by up to
    strength / 4 (another display or detector's lookup table)."""
    sign = np.where(draws.uniform(0, ()) < 0.5, -1.0, 1.0)
    gamma = np.exp(sign * strength * draws.uniform(1, (), 0.5, 1.0)).astype(np.float32)
    low = (strength / 4 * draws.uniform(2, ())).astype(np.float32)
    high = (1 - strength / 4 * draws.uniform(3, ())).astype(np.float32)
    shape = (-1, 1, 1, 1)
    curved = np.power(images, gamma.reshape(shape))
    return np.clip((curved - low.reshape(shape)) / (high - low).reshape(shape), 0, 1)


def grid_lines(images: np.ndarray, draws: PointDraws, depth: float) -> np.ndarray:
    """A stationary anti-scatter grid's shadow: x * (1 - depth * (1 + cos(2 pi u / period + phase)) / 2), u along a
    random axis, period 1/16 of the side (at least 3 px)."""
    height, width = images.shape[1:3]
    period = max(3.0, max(height, width) / 16)
    y, x = grid(height, width)
    vertical = (draws.uniform(0, ()) < 0.5)[:, None, None]
    phase = draws.uniform(1, (), 0, 2 * np.pi)[:, None, None]
    u = np.where(vertical, x[None], y[None])
    shadow = (1 + np.cos(2 * np.pi * u / period + phase)) / 2
    return images * (1 - np.float32(depth) * shadow.astype(np.float32))[..., None]
