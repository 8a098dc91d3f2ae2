"""Procedural stand-ins for the three tasks: no files, deterministic from the seed, any size >= 24 px.

Each image is drawn with OpenCV at the requested size from its own random stream (seed, task, split, row), so any
subset renders identically. Class evidence is small and local (so attention has something to find) and sits on
nuisance variation (position, size, brightness, tone, noise, hairs / vessels / ribs):

- skin_lesion (dermoscopy-like): a soft-edged lesion on skin tone inside a dark dermoscope vignette. The class sets
  the lesion's colour and a local pattern: akiec red-brown with white scale dots; bcc pearly pink with red branching
  vessels; bkl tan with dark crack lines; df brown ring around a white centre; mel very dark with a blue-grey
  blotch and an irregular, bumpy border; nv plain medium brown; vasc red-purple round lacunae.
  Proportions 4/5/9/3/9/67/3 % (nv dominant, every class >= 3 %).
- diabetic_retinopathy (fundus-like): orange disc on black with optic disc, vessels and macula. Positive (30 %):
  4-9 haemorrhages (dark red blots) and exudates (yellow spots) inside the disc; a third of the negatives ("mild")
  carry 1-2 tiny microaneurysms.
- pneumothorax (chest-like, grayscale): torso, two dark lungs with branching markings and fine texture, ribs,
  spine and heart. Positive (22 %): at one lung's lateral or apical edge a dark crescent of air without markings
  (12-18 % of the image wide, so it survives `enhance_xray`'s high-pass at 48 px), bounded by a bright pleural line. Like every pneumothorax source, it then goes through `enhance_xray`.

Split sizes: 600 / 100 / 200 (train / val / test); max_train and max_test set train and test, and val becomes
ceil(max_test / 2). Labels are allocated exactly (largest remainder, every class present), then shuffled. Each
task's renderer, class proportions and stream code are its StandIn (trainables.spec.tasks); any task with one is
drawn by `load_synthetic`.
Synthetic data is not cached: drawing is faster than reading a cache file.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass

import cv2
import numpy as np

from ...spec.lazy import resolve
from ...spec.tasks import MIN_IMAGE_SIZE, standin_split_sizes
from ..catalog import Catalog, ReadResult
from ..errors import DataError
from ..preprocess import prepare_image
from ..splits import SPLITS, allocate_counts
from .registry import SourceRequest

SHIFT = 4  # fractional bits for OpenCV's sub-pixel drawing
AA = cv2.LINE_AA


def load_synthetic(request: SourceRequest) -> Catalog:
    """The stand-in of any task with a StandIn: its renderer, class priors and stream code from the TaskSpec."""
    task, size, seed = request.task, request.image_size, request.seed
    if size < MIN_IMAGE_SIZE:
        raise DataError(f"synthetic images need image_size >= {MIN_IMAGE_SIZE}; received {size}")
    if task.standin is None:
        raise DataError(f"task {task.name!r} has no stand-in (its TaskSpec gives no standin)")
    standin = task.standin
    render = resolve(standin.render, f"stand-in renderer of task {task.name!r}")
    sizes = standin_split_sizes(request.max_train, request.max_test)
    labels, splits, rows = [], [], []
    for split_code, split in enumerate(SPLITS):
        counts = allocate_counts(sizes[split], np.array(standin.priors), at_least_one=True)
        rng = np.random.default_rng([seed, standin.code, split_code])
        labels.append(rng.permutation(np.repeat(np.arange(task.num_classes), counts)))
        splits.append(np.full(sizes[split], split))
        rows.append(np.arange(sizes[split]))
    labels, splits, rows = np.concatenate(labels), np.concatenate(splits), np.concatenate(rows)
    split_codes = {split: code for code, split in enumerate(SPLITS)}

    def read(indices) -> ReadResult:
        indices = np.asarray(indices)
        shape = (len(indices), size, size) if task.grayscale else (len(indices), size, size, 3)
        images = np.empty(shape, dtype=np.uint8)
        for position, index in enumerate(indices):
            rng = np.random.default_rng([seed, standin.code, split_codes[splits[index]], rows[index]])
            native = render(int(labels[index]), size, rng)
            images[position] = prepare_image(native, size=size, grayscale=task.grayscale,
                                              xray_enhancement=task.xray_enhancement)
        return ReadResult(images=images, ok=np.ones(len(indices), dtype=bool))

    return Catalog(
        ids=[f"{split}/{row}" for split, row in zip(splits, rows)],
        labels=labels,
        official_split=splits,
        read=read,
        fingerprint="synthetic-v2",
        cacheable=False,
        info={"dataset": f"synthetic {task.name}", "split_method": "generated splits", "split_sizes": sizes},
    )


# ---------------------------------------------------------------- drawing helpers (unit coordinates -> pixels)

def _fixed(value: float) -> int:
    return math.floor(value * (1 << SHIFT) + 0.5)


def _point(x: float, y: float, size: int) -> tuple[int, int]:
    return _fixed(x * size - 0.5), _fixed(y * size - 0.5)


def _circles(canvas, centres: np.ndarray, radii: np.ndarray, size: int, value) -> None:
    """Filled anti-aliased circles; centres (K, 2) and radii (K,) in unit coordinates."""
    for (x, y), radius in zip(centres.tolist(), radii.tolist()):
        cv2.circle(canvas, _point(x, y, size), max(_fixed(radius * size), 1 << (SHIFT - 1)), value, -1, AA, SHIFT)


def _ellipse(canvas, x, y, ax, ay, angle, size, value, thickness=-1, start=0, end=360):
    axes = (max(_fixed(ax * size), 1), max(_fixed(ay * size), 1))
    cv2.ellipse(canvas, _point(x, y, size), axes, float(angle), start, end, value, thickness, AA, SHIFT)


def _paths(rng, starts: np.ndarray, headings: np.ndarray, *, step: float, count: int, turn: float) -> np.ndarray:
    """Random smooth paths (K, count + 1, 2): from each start, `count` steps of length `step` (unit coordinates),
    the heading changing by N(0, turn) per step."""
    angles = headings[:, np.newaxis] + np.cumsum(rng.normal(0, turn, (len(starts), count)), axis=1)
    steps = step * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return np.concatenate([starts[:, np.newaxis, :], starts[:, np.newaxis, :] + np.cumsum(steps, axis=1)], axis=1)


def _polylines(canvas, paths: np.ndarray, size: int, value, thickness: int) -> None:
    pixels = np.floor((paths * size - 0.5) * (1 << SHIFT) + 0.5).astype(np.int32)
    cv2.polylines(canvas, list(pixels), False, value, thickness, AA, SHIFT)


def _in_ellipse(rng, count: int, cx, cy, ax, ay, spread: float) -> np.ndarray:
    """`count` uniform points (K, 2) inside the axis-aligned ellipse scaled by `spread`."""
    r, theta = spread * np.sqrt(rng.random(count)), rng.uniform(0, 2 * np.pi, count)
    return np.stack([cx + r * ax * np.cos(theta), cy + r * ay * np.sin(theta)], axis=1)


def _line_width(size: int, fraction: float) -> int:
    return max(1, int(round(size * fraction)))


@lru_cache(maxsize=16)
def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    return coords[np.newaxis, :], coords[:, np.newaxis]  # x (1, S), y (S, 1)


@lru_cache(maxsize=16)
def _dermoscope_frame(size: int) -> np.ndarray:
    """(S, S, 1): 1 inside the dermoscope's round field of view, fading to 0.15 at the corners."""
    x, y = _unit_grid(size)
    radius = np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2)
    return (0.15 + 0.85 * np.clip((0.72 - radius) / 0.08, 0.0, 1.0))[..., np.newaxis].astype(np.float32)


def _finish(canvas: np.ndarray, rng, brightness: float, noise: float) -> np.ndarray:
    canvas *= brightness
    canvas += noise * rng.standard_normal(canvas.shape, dtype=np.float32)
    return np.clip(canvas, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- skin lesion (dermoscopy-like)

AKIEC, BCC, BKL, DF, MEL, NV, VASC = range(7)
LESION_COLOURS = np.array([  # RGB per class, in the task's index order
    (205, 85, 70), (230, 150, 175), (190, 155, 70), (150, 100, 70), (60, 40, 40), (140, 90, 60), (130, 40, 115),
], dtype=np.float32)


@dataclass(frozen=True)
class Lesion:
    """Where the lesion is, in unit coordinates: centre, semi-axes and rotation (degrees)."""

    cx: float
    cy: float
    ax: float
    ay: float
    angle: float

    def points(self, rng, count: int, spread: float) -> np.ndarray:
        return _in_ellipse(rng, count, self.cx, self.cy, self.ax, self.ay, spread)


def _scale(canvas, lesion: Lesion, size: int, rng) -> None:  # akiec: white scale
    count = rng.integers(5, 9)
    _circles(canvas, lesion.points(rng, count, 0.8), rng.uniform(0.02, 0.03, count), size, (250, 245, 235))


def _branching_vessels(canvas, lesion: Lesion, size: int, rng) -> None:  # bcc: arborizing vessels
    count = rng.integers(3, 5)
    paths = _paths(rng, lesion.points(rng, count, 0.5), rng.uniform(0, 2 * np.pi, count), step=lesion.ax * 0.25,
                   count=4, turn=0.6)
    _polylines(canvas, paths, size, (200, 30, 40), _line_width(size, 1 / 64))


def _cracks(canvas, lesion: Lesion, size: int, rng) -> None:  # bkl: fissures
    count = rng.integers(4, 7)
    paths = _paths(rng, lesion.points(rng, count, 0.7), rng.uniform(0, 2 * np.pi, count), step=lesion.ax * 0.2,
                   count=3, turn=0.8)
    _polylines(canvas, paths, size, (80, 55, 35), _line_width(size, 1 / 64))


def _white_centre(canvas, lesion: Lesion, size: int, rng) -> None:  # df: white centre inside a brown ring
    _ellipse(canvas, lesion.cx, lesion.cy, lesion.ax * 0.5, lesion.ay * 0.5, lesion.angle, size, (245, 235, 225))


def _veil_and_dots(canvas, lesion: Lesion, size: int, rng) -> None:  # mel: blue-grey veil and dark dots
    (vx, vy), = lesion.points(rng, 1, 0.4)
    _ellipse(canvas, vx, vy, lesion.ax * 0.45, lesion.ay * 0.35, rng.uniform(0, 180), size, (100, 115, 150))
    count = rng.integers(2, 5)
    _circles(canvas, lesion.points(rng, count, 0.9), np.full(count, 0.015), size, (20, 15, 15))


def _lacunae(canvas, lesion: Lesion, size: int, rng) -> None:  # vasc: red-purple lacunae
    count = rng.integers(3, 6)
    _circles(canvas, lesion.points(rng, count, 0.6), rng.uniform(0.035, 0.055, count), size, (170, 20, 70))


def _no_pattern(canvas, lesion: Lesion, size: int, rng) -> None:  # nv: plain
    pass


SKIN_PATTERNS = {AKIEC: _scale, BCC: _branching_vessels, BKL: _cracks, DF: _white_centre, MEL: _veil_and_dots,
                 VASC: _lacunae}


def render_skin(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _unit_grid(size)
    tone = np.array([225, 180, 150], dtype=np.float32) + rng.normal(0, 12, 3).astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    light = 1 + 0.1 * ((x - 0.5) * np.cos(direction) + (y - 0.5) * np.sin(direction))
    canvas = light[..., np.newaxis] * tone

    cx, cy = 0.5 + rng.uniform(-0.15, 0.15, 2)
    ax = rng.uniform(0.16, 0.25)
    ay = ax * rng.uniform(0.75, 1.0)
    angle = rng.uniform(0, 180)
    mask = np.zeros((size, size), np.float32)
    _ellipse(mask, cx, cy, ax, ay, angle, size, 1.0)
    if label == MEL:  # irregular border: bumps on the rim
        theta = rng.uniform(0, 2 * np.pi, rng.integers(3, 6))
        rim = np.stack([cx + ax * np.cos(theta), cy + ay * np.sin(theta)], axis=1)
        _circles(mask, rim, ax * rng.uniform(0.3, 0.45, len(theta)), size, 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.015 * size))[..., np.newaxis]
    colour = LESION_COLOURS[label] + rng.normal(0, 8, 3).astype(np.float32)
    canvas = canvas * (1 - mask) + colour * mask

    SKIN_PATTERNS.get(label, _no_pattern)(canvas, Lesion(cx, cy, ax, ay, angle), size, rng)

    hairs = rng.integers(0, 3)  # any class
    if hairs:
        _polylines(canvas, _paths(rng, rng.random((hairs, 2)), rng.uniform(0, 2 * np.pi, hairs), step=0.15, count=6,
                                  turn=0.25), size, (40, 30, 25), 1)
    canvas *= _dermoscope_frame(size)
    return _finish(canvas, rng, rng.uniform(0.75, 1.1), 5.0)


# ---------------------------------------------------------------- diabetic retinopathy (fundus-like)

def render_fundus(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _unit_grid(size)
    cx, cy = 0.5 + rng.uniform(-0.04, 0.04, 2)
    disc_radius = rng.uniform(0.42, 0.48)
    squared = ((x - cx) ** 2 + (y - cy) ** 2)
    shading = np.clip(1 - 0.35 * squared / disc_radius**2, 0, 1) * (1 - 0.25 * np.exp(-squared / (2 * 0.06**2)))
    base = np.array([205, 95, 45], dtype=np.float32) + rng.normal(0, 10, 3).astype(np.float32)
    canvas = shading[..., np.newaxis] * base  # shaded disc with a darker macula at the centre

    side = 1.0 if rng.random() < 0.5 else -1.0
    ox, oy = cx + side * rng.uniform(0.22, 0.28), cy + rng.uniform(-0.05, 0.05)
    _circles(canvas, np.array([[ox, oy]]), rng.uniform(0.06, 0.08, 1), size, (250, 220, 150))  # optic disc
    vessels = rng.integers(4, 7)
    headings = np.pi * (0.0 if side < 0 else 1.0) + rng.uniform(-1.3, 1.3, vessels)
    _polylines(canvas, _paths(rng, np.tile([ox, oy], (vessels, 1)), headings, step=0.07, count=6, turn=0.25), size,
               (130, 30, 20), _line_width(size, 1 / 64))

    reach = 0.75 * disc_radius
    if label == 1:  # moderate or worse: haemorrhages and exudates
        count = rng.integers(5, 11)
        haemorrhage = rng.random(count) < 0.5
        spots = _in_ellipse(rng, count, cx, cy, reach, reach, 1.0)
        _circles(canvas, spots[haemorrhage], rng.uniform(0.03, 0.05, count)[haemorrhage], size, (90, 10, 10))
        _circles(canvas, spots[~haemorrhage], rng.uniform(0.025, 0.04, count)[~haemorrhage], size, (255, 245, 140))
    elif rng.random() < 1 / 3:  # mild (grade 1): a microaneurysm or two
        count = rng.integers(1, 3)
        _circles(canvas, _in_ellipse(rng, count, cx, cy, reach, reach, 1.0), np.full(count, 0.012), size, (120, 25, 20))

    inside = np.zeros((size, size), np.float32)
    _circles(inside, np.array([[cx, cy]]), np.array([disc_radius]), size, 1.0)
    canvas *= inside[..., np.newaxis]
    return _finish(canvas, rng, rng.uniform(0.7, 1.15), 4.0)


# ---------------------------------------------------------------- pneumothorax (chest X-ray-like, grayscale)

def render_chest(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    body, lung_level = rng.uniform(140, 180), rng.uniform(55, 75)
    canvas = np.full((size, size), 15.0, np.float32)
    _ellipse(canvas, 0.5, 0.56, rng.uniform(0.42, 0.46), 0.52, 0, size, body)
    dx, dy = rng.uniform(-0.03, 0.03, 2)
    sides = (-1.0, 1.0)
    # lung ellipses (x, y, ax, ay) per side
    lungs = [(0.5 + dx + side * rng.uniform(0.17, 0.2), 0.46 + dy, rng.uniform(0.13, 0.16), rng.uniform(0.27, 0.32))
             for side in sides]
    for lx, ly, ax, ay in lungs:
        _ellipse(canvas, lx, ly, ax, ay, 0, size, lung_level)

    lung_mask = np.zeros((size, size), np.float32)
    markings = np.zeros((size, size), np.float32)
    air = np.zeros((size, size), np.float32)
    pleura = np.zeros((size, size), np.float32)
    collapsed_side, apical = (1.0 if rng.random() < 0.5 else -1.0), rng.random() < 0.3
    for side, (lx, ly, ax, ay) in zip(sides, lungs):
        if label == 1 and side == collapsed_side:
            gap = rng.uniform(0.12, 0.18)  # >= 5 px of air at 48 px: narrower did not survive enhance_xray's high-pass
            _ellipse(air, lx, ly, ax, ay, 0, size, 1.0)
            if apical:  # the lung pulled down from the apex ...
                ly, ay = ly + gap / 2, ay - gap / 2
            else:  # ... or away from the lateral chest wall
                lx, ax = lx - side * gap / 2, ax - gap / 2
            _ellipse(pleura, lx, ly, ax, ay, 0, size, 1.0, thickness=_line_width(size, 1 / 24))
        _ellipse(lung_mask, lx, ly, ax, ay, 0, size, 1.0)
        count = rng.integers(12, 18)  # vessel markings fanning out from the hilum
        headings = np.pi * (0.0 if side > 0 else 1.0) + rng.uniform(-1.2, 1.2, count)
        _polylines(markings, _paths(rng, np.tile([lx - side * ax * 0.6, ly], (count, 1)), headings, step=ax * 0.35,
                                    count=4, turn=0.35), size, 1.0, 1)
    texture = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), 0.8)
    canvas += lung_mask * (35 * markings + 14 * texture)
    if label == 1:
        air_only = np.clip(air - lung_mask, 0, 1)  # the pneumothorax: air between collapsed lung and chest wall
        canvas += air_only * (lung_level - 35 - canvas)
        canvas += 90 * pleura * cv2.dilate(air_only, np.ones((3, 3), np.uint8))  # the pleural line facing the air

    ribs = np.zeros((size, size), np.float32)
    rib_width = _line_width(size, 1 / 48)
    for side, (lx, ly, ax, ay) in zip(sides, lungs):
        for k in range(rng.integers(6, 9)):
            _ellipse(ribs, lx, ly - ay * 0.85 + k * ay * 0.26, ax * 1.1, ay * 0.12, side * 10, size, 1.0, rib_width,
                     180, 360)
    canvas += 30 * ribs
    _ellipse(canvas, 0.5 + dx, 0.5, 0.05, 0.45, 0, size, body + 20)  # spine and mediastinum
    _ellipse(canvas, 0.55 + dx, 0.64 + dy, rng.uniform(0.1, 0.14), 0.1, 0, size, body + 10)  # heart
    return _finish(canvas, rng, rng.uniform(0.8, 1.15), 4.0)
