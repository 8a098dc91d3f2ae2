"""Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): CERTIFY and PREDICT for a [0, 1]-image classifier.

The smoothed classifier g(x) = argmax_c P(f(x + e) = c), e ~ N(0, sigma^2 I) added in the model's [0, 1] input space
and not clipped. CERTIFY picks c_A from n0 selection draws, counts c_A in n fresh estimation draws, takes the one-sided
(1 - alpha) Clopper-Pearson lower bound pA_lower = Beta.ppf(alpha, k, n - k + 1) and abstains when pA_lower <= 1/2;
otherwise the certified L2 radius is sigma * Phi^-1(pA_lower). PREDICT abstains when the two-sided binomial test of
the top two counts has p > alpha. The certificate is about g, never about the base model f.

Streaming: the (point, draw) pairs of a stream are laid end to end and cut into batches of `batch_size` rows; each
batch reads only its points from `images` (an array or a lazy source indexable by row arrays, such as
trainables.data.UnitFloatView), and the noise, the forward pass and the vote are one compiled call. Memory is set by
the batch, never by n, by the number of points or by how many batches there are; votes are accumulated in a
(points, classes) count table.

Noise is counter-based: the draw d of point p in noise stream s (selection, estimation, prediction) is
stateless_normal(image_shape, key=(point_key(seed, s, p), d)), TensorFlow's Philox keyed per draw, so a draw does not
depend on the batch size, on which points share a batch or on the order points are visited. `point_ids` names each
point (default: its row); certifying a subset or a permutation with its ids gives the same per-point result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import tensorflow as tf
from scipy import stats

from ...spec.rules import positive_int
from ...spec.smoothing import validate_smoothing
from ..evaluate.inputs import output_width, validate_images, validate_labels
from ..evaluate.progress import EvaluationProgress


class NoiseStream(IntEnum):
    """Independent noise streams: CERTIFY's estimation draws must be independent of its selection draws."""

    SELECTION = 0
    ESTIMATION = 1
    PREDICTION = 2


ABSTAIN = -1


@dataclass(frozen=True)
class CertificationResult:
    """Per point (N,): prediction (class, -1 = abstain), radius (certified L2 radius in [0, 1] pixel units, NaN on
    abstain), correct (prediction == label, False on abstain), p_lower (the Clopper-Pearson bound on pA); counts of
    the selection and estimation draws (N, K)."""

    prediction: np.ndarray
    radius: np.ndarray
    correct: np.ndarray
    p_lower: np.ndarray
    selection_counts: np.ndarray
    estimation_counts: np.ndarray
    sigma: float
    n0: int
    n: int
    alpha: float
    seed: int

    @property
    def abstain_rate(self) -> float:
        return float(np.mean(self.prediction == ABSTAIN))


@dataclass(frozen=True)
class SmoothedPrediction:
    """Per point (N,): prediction (class, -1 = abstain) and the two-sided binomial p-value; counts (N, K)."""

    prediction: np.ndarray
    p_value: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class CertifiedAccuracy:
    """Fraction of points certified correct: at each L2 radius, and at each L-inf epsilon (radius >= eps sqrt(D))."""

    l2: dict[float, float]
    linf: dict[float, float]


# --- the noise and the votes ---------------------------------------------------------------------------------------

def point_keys(seed: int, stream: NoiseStream, point_ids: np.ndarray) -> np.ndarray:
    """One 63-bit Philox key per point and stream, (seed, stream, point id) hashed by SeedSequence. (P,) int64."""
    return np.array([np.random.SeedSequence([seed, int(stream), int(point)]).generate_state(1, np.uint64)[0] >> 1
                     for point in point_ids], dtype=np.int64)


def compile_votes(model, image_shape: Sequence[int], sigma: float):
    """tf.function (points (U, H, W, C), rows (B,) int32 into points, keys (B, 2) int64) -> class votes (B,) int32.

    Row b is points[rows[b]] + sigma * stateless_normal(image_shape, keys[b]): every noisy copy has its own key."""
    shape = tuple(int(size) for size in image_shape)

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.int32),
                                  tf.TensorSpec((None, 2), tf.int64)])
    def votes(points, rows, keys):
        noise = tf.map_fn(lambda key: tf.random.stateless_normal(shape, key), keys,
                          fn_output_signature=tf.TensorSpec(shape, tf.float32))
        logits = model(tf.gather(points, rows) + sigma * noise, training=False)
        return tf.argmax(tf.cast(logits, tf.float32), axis=-1, output_type=tf.int32)

    return votes


def count_votes(votes, images, point_ids: np.ndarray, draws: int, num_classes: int, *, stream: NoiseStream, seed: int,
                batch_size: int) -> np.ndarray:
    """Votes of `draws` noisy copies of every point, streamed in batches of batch_size rows. -> counts (N, K) int64."""
    keys = point_keys(seed, stream, point_ids)
    counts = np.zeros((len(point_ids), num_classes), dtype=np.int64)
    total = len(point_ids) * draws
    for start in range(0, total, batch_size):
        flat = np.arange(start, min(start + batch_size, total), dtype=np.int64)
        points, draw = np.divmod(flat, draws)
        batch_points, rows = np.unique(points, return_inverse=True)
        pixels = np.asarray(images[batch_points], dtype=np.float32)
        predicted = votes(tf.constant(pixels), tf.constant(rows.astype(np.int32)),
                          tf.constant(np.stack([keys[points], draw], axis=1))).numpy()
        np.add.at(counts, (points, predicted), 1)
    return counts


class _Rows:
    """Rows `rows` of an indexable image source, indexable by row arrays itself (a unit's points, read lazily)."""

    def __init__(self, images, rows: np.ndarray):
        self.images, self.rows = images, rows

    def __getitem__(self, index):
        return self.images[self.rows[index]]

    def __len__(self) -> int:
        return len(self.rows)


# --- CERTIFY and PREDICT -------------------------------------------------------------------------------------------

def clopper_pearson_lower(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """One-sided (1 - alpha) lower confidence bound on a binomial proportion; 0 where there is no success."""
    successes = np.asarray(successes)
    bound = stats.beta.ppf(alpha, np.maximum(successes, 1), trials - successes + 1)
    return np.where(successes > 0, bound, 0.0)


def _prepare(model, images, point_ids, batch_size: int, seed: int, sigma: float):
    images = validate_images(images)
    batch_size = positive_int("batch_size", batch_size)
    seed = positive_int("seed", seed, minimum=0)
    ids = np.arange(len(images), dtype=np.int64) if point_ids is None else np.asarray(point_ids, dtype=np.int64)
    if ids.shape != (len(images),) or len(np.unique(ids)) != len(ids) or (len(ids) and ids.min() < 0):
        raise ValueError(f"point_ids must be {len(images)} distinct non-negative integers, one per image; "
                         f"received shape {ids.shape}")
    votes = compile_votes(model, images.shape[1:], sigma)
    num_classes = output_width(lambda x: model(x, training=False), np.asarray(images[:1], dtype=np.float32))
    return images, ids, batch_size, seed, votes, num_classes


# A resumable certification unit: a group of points holding about this many batches of noisy copies (one point
# when a point alone needs more: at n = 100,000 and batch 64, one point is 1,564 batches)
UNIT_BATCHES = 64


def unit_points(draws_per_point: int, batch_size: int) -> int:
    """Points per resumable unit: as many as fill UNIT_BATCHES batches, at least one."""
    return max(1, (UNIT_BATCHES * batch_size) // draws_per_point)


def certify(model, images, labels, *, sigma: float, n0: int, n: int, alpha: float, batch_size: int, seed: int,
            point_ids: Sequence[int] | None = None, progress: EvaluationProgress | None = None) -> CertificationResult:
    """Cohen et al.'s CERTIFY on every point of `images` (N, H, W, C) float32 in [0, 1] (array or lazy source).

    model: [0, 1] images -> logits (N, K). labels (N,) int. Forward passes: N * (n0 + n), batch_size rows at a time.
    point_ids: each point's identity in the noise keys (default its row); see the module docstring.
    progress: a resumable store (evaluate/progress.py); a unit is a group of points (`unit_points`) with both their
    vote tables. The noise is keyed per point and draw, so a resumed certification gives the same counts.
    """
    sigma, n0, n, alpha = validate_smoothing(sigma=sigma, n0=n0, n=n, alpha=alpha)
    images, ids, batch_size, seed, votes, num_classes = _prepare(model, images, point_ids, batch_size, seed, sigma)
    labels = validate_labels(labels, len(images), num_classes)
    common = dict(num_classes=num_classes, seed=seed, batch_size=batch_size)

    def count(rows: np.ndarray) -> dict[str, np.ndarray]:
        view = _Rows(images, rows)
        return {"selection": count_votes(votes, view, ids[rows], n0, stream=NoiseStream.SELECTION, **common),
                "estimation": count_votes(votes, view, ids[rows], n, stream=NoiseStream.ESTIMATION, **common)}

    if progress is None:
        counts = count(np.arange(len(ids)))
    else:
        step = unit_points(n0 + n, batch_size)
        parts = []
        for offset in range(0, len(ids), step):
            rows = np.arange(offset, min(offset + step, len(ids)))
            parts.append(progress.run(f"certify/{int(ids[rows[0]])}-{int(ids[rows[-1]])}/{len(rows)}",
                                      lambda rows=rows: count(rows)))
            progress.report("certify", float("nan"), int(rows[-1]) + 1, len(ids))
        progress.flush()
        counts = {table: np.concatenate([part[table] for part in parts]) for table in ("selection", "estimation")}
    selection, estimation = counts["selection"], counts["estimation"]
    candidate = np.argmax(selection, axis=1)
    p_lower = clopper_pearson_lower(estimation[np.arange(len(ids)), candidate], n, alpha)
    certified = p_lower > 0.5
    prediction = np.where(certified, candidate, ABSTAIN).astype(np.int64)
    radius = np.where(certified, sigma * stats.norm.ppf(np.where(certified, p_lower, 0.5)), np.nan)
    return CertificationResult(prediction=prediction, radius=radius, correct=certified & (prediction == labels),
                               p_lower=p_lower, selection_counts=selection, estimation_counts=estimation,
                               sigma=sigma, n0=n0, n=n, alpha=alpha, seed=seed)


def predict_smoothed(model, images, *, sigma: float, n: int, alpha: float, batch_size: int, seed: int,
                     point_ids: Sequence[int] | None = None) -> SmoothedPrediction:
    """Cohen et al.'s PREDICT: the top class of n noisy draws, or -1 when the two-sided binomial test of the top two
    counts has p > alpha (g's prediction is then wrong with probability at most alpha when it does not abstain)."""
    sigma, _, n, alpha = validate_smoothing(sigma=sigma, n0=1, n=n, alpha=alpha)
    images, ids, batch_size, seed, votes, num_classes = _prepare(model, images, point_ids, batch_size, seed, sigma)
    counts = count_votes(votes, images, ids, n, num_classes, stream=NoiseStream.PREDICTION, seed=seed,
                         batch_size=batch_size)
    order = np.argsort(-counts, axis=1, kind="stable")
    top, second = (counts[np.arange(len(ids)), order[:, rank]] for rank in (0, 1))
    p_value = np.array([stats.binomtest(int(a), int(a + b), 0.5).pvalue if a + b else 1.0
                        for a, b in zip(top, second)])
    prediction = np.where(p_value <= alpha, order[:, 0], ABSTAIN).astype(np.int64)
    return SmoothedPrediction(prediction=prediction, p_value=p_value, counts=counts)


def certified_accuracy(result: CertificationResult, labels, *, l2_radii: Sequence[float] = (0.0,),
                       linf_epsilons: Sequence[float] = (), image_shape: Sequence[int] | None = None
                       ) -> CertifiedAccuracy:
    """Fraction of points whose prediction is correct with certified radius >= r, for each L2 radius r, and
    >= eps * sqrt(D) (D = H * W * C, as ||d||_2 <= sqrt(D) ||d||_inf) for each L-inf epsilon. Abstains count wrong."""
    labels = np.asarray(labels)
    if labels.shape != result.prediction.shape:
        raise ValueError(f"labels must have shape {result.prediction.shape}; received {labels.shape}")
    if len(linf_epsilons) and image_shape is None:
        raise ValueError("linf_epsilons need image_shape (H, W, C) to convert them to L2 radii")
    correct = (result.prediction == labels) & (result.prediction != ABSTAIN)
    radius = np.where(correct, result.radius, -np.inf)

    def fraction(threshold: float) -> float:
        return float(np.mean(radius >= threshold))

    root = math.sqrt(math.prod(int(size) for size in image_shape)) if image_shape is not None else 0.0
    return CertifiedAccuracy(l2={float(r): fraction(float(r)) for r in l2_radii},
                             linf={float(eps): fraction(float(eps) * root) for eps in linf_epsilons})
