"""Digital corruptions: JPEG compression (its DCT quantisation, written out so it runs on the whole batch),
pixelation, brightness and contrast. images (N, H, W, C) in [0, 1]."""

from __future__ import annotations

import numpy as np

from .draws import PointDraws

BLOCK = 8
# the JPEG standard's (Annex K) luminance and chrominance quantisation tables, libjpeg's quality 50
LUMINANCE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float64)
CHROMINANCE = np.full((8, 8), 99.0)
CHROMINANCE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def dct_matrix(size: int = BLOCK) -> np.ndarray:
    """The orthonormal DCT-II matrix D: coefficients = D @ block @ D.T."""
    k, n = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    matrix = np.sqrt(2 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    matrix[0] /= np.sqrt(2)
    return matrix


DCT = dct_matrix()


def quantise_blocks(plane: np.ndarray, table: np.ndarray) -> np.ndarray:
    """plane (N, H, W) in [0, 255], H and W multiples of 8 -> DCT, quantised by `table` (8, 8), inverse DCT."""
    n, height, width = plane.shape
    blocks = (plane - 128.0).reshape(n, height // BLOCK, BLOCK, width // BLOCK, BLOCK)
    coefficients = np.einsum("ij,nbjck,lk->nbicl", DCT, blocks, DCT)
    coefficients = np.round(coefficients / table[None, None, :, None, :]) * table[None, None, :, None, :]
    restored = np.einsum("ji,nbjck,kl->nbicl", DCT, coefficients, DCT)
    return restored.reshape(n, height, width) + 128.0


def scaled_table(table: np.ndarray, scale: float) -> np.ndarray:
    """libjpeg's quality scaling (scale = 50 / quality below quality 50), entries in [1, 255]."""
    return np.clip(np.floor(table * scale + 0.5), 1, 255)


def jpeg(images: np.ndarray, draws: PointDraws, scale: float) -> np.ndarray:
    """Encode and decode as baseline JPEG would: YCbCr, chroma averaged over 2x2 (4:2:0), 8x8 DCT blocks quantised
    by the standard tables times `scale`, back to 8-bit RGB. Scale 0: no compression (the identity)."""
    if scale == 0:
        return images.copy()
    n, height, width, channels = images.shape
    tall, wide = -(-height // 16) * 16, -(-width // 16) * 16  # whole 4:2:0 macroblocks
    pixels = np.pad(images.astype(np.float64) * 255.0, ((0, 0), (0, tall - height), (0, wide - width), (0, 0)),
                    mode="edge")
    if channels == 1:
        out = quantise_blocks(pixels[..., 0], scaled_table(LUMINANCE, scale))[..., None]
    else:
        ycc = pixels @ RGB_TO_YCBCR.T
        ycc[..., 1:] += 128.0
        planes = [quantise_blocks(ycc[..., 0], scaled_table(LUMINANCE, scale))]
        for index in (1, 2):
            half = ycc[..., index].reshape(n, tall // 2, 2, wide // 2, 2).mean(axis=(2, 4))
            small = quantise_blocks(half, scaled_table(CHROMINANCE, scale))
            planes.append(np.repeat(np.repeat(small, 2, axis=1), 2, axis=2) - 128.0)
        out = np.stack(planes, axis=-1) @ np.linalg.inv(RGB_TO_YCBCR).T
    out = np.clip(np.round(out), 0, 255)[:, :height, :width] / 255.0
    return out.astype(np.float32)


def area_matrix(size: int, target: int) -> np.ndarray:
    """(target, size): averages consecutive runs of pixels into `target` cells (the identity when equal)."""
    cells = np.arange(size) * target // size
    matrix = np.zeros((target, size))
    matrix[cells, np.arange(size)] = 1.0
    return matrix / matrix.sum(axis=1, keepdims=True), cells


def pixelate(images: np.ndarray, draws: PointDraws, reduction: float) -> np.ndarray:
    """Area-average down to (1 - reduction) of the size, nearest-neighbour back up."""
    height, width = images.shape[1:3]
    rows, row_cells = area_matrix(height, max(1, round(height * (1 - reduction))))
    columns, column_cells = area_matrix(width, max(1, round(width * (1 - reduction))))
    small = np.einsum("ah,nhwc->nawc", rows.astype(np.float32), images)
    small = np.einsum("bw,nawc->nabc", columns.astype(np.float32), small)
    return small[:, row_cells][:, :, column_cells]


def brightness(images: np.ndarray, draws: PointDraws, shift: float) -> np.ndarray:
    return np.clip(images + np.float32(shift), 0, 1)


def contrast(images: np.ndarray, draws: PointDraws, reduction: float) -> np.ndarray:
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) * np.float32(1 - reduction) + mean, 0, 1)
