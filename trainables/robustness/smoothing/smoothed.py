"""The empirical side of randomized smoothing: the smoothed classifier g attacked by spec.attacks.RAND_ATTACKS on the
certification's points, beside its certificates, and the checks that the two bounds bracket g (bracket.py).

certified accuracy (a lower bound on g's robust accuracy, up to alpha) <= g's true robust accuracy <= smoothed
accuracy (the attacks' upper bound). Both bounds are about g, never about the base model f.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...spec.attacks import RAND_ATTACKS, validate_attacks
from ...spec.evaluation import AttackSettings
from ..attacks.compiled import default_device
from ..attacks.context import AttackContext
from ..attacks.eot import predict_seed
from ..evaluate.ensemble import standalone, worst_case
from ..evaluate.inputs import default_batch_size, validate_epsilons, validate_images
from ..evaluate.result import CheckResult
from .bracket import run_smoothing_checks
from .certify import CertificationResult, certify, predict_smoothed


@dataclass(frozen=True)
class SmoothedAttackResult:
    """g under the EoT attacks. epsilons: 0 first. clean_prediction (N,): PREDICT at the clean point (-1 abstain).
    robust (N, E): g correct at the clean point and no attack found an input within eps that g (PREDICT) puts in
    another class; nested. broken_by (N,): index into attacks (-1: never broken); broken_prediction (N,): g's class
    at the breaking input (-1: never). predict_n, predict_alpha: the PREDICT budget of the clean points."""

    epsilons: tuple[float, ...]
    attacks: tuple[str, ...]
    clean_prediction: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray
    broken_prediction: np.ndarray
    sigma: float
    predict_n: int
    predict_alpha: float

    @property
    def accuracy(self) -> dict[float, float]:
        return {eps: float(self.robust[:, k].mean()) for k, eps in enumerate(self.epsilons)}


def attack_smoothed(model, images, labels, epsilons: Sequence[float], *, sigma: float, settings: AttackSettings,
                    seed: int, batch_size: int | None = None, attacks: Sequence[str] = RAND_ATTACKS
                    ) -> SmoothedAttackResult:
    """The worst case of `attacks` (EoT attacks, budgets from `settings`) against g at noise sigma, nested over the
    ladder as ensemble.py runs every worst case. images (N, H, W, C) float32 in [0, 1] (array or lazy source);
    labels (N,). The clean point's class is PREDICT's with the first attack's predict_n and predict_alpha; targets
    of the targeted margin runs are ranked by the clean PREDICT's vote counts."""
    epsilons = validate_epsilons(epsilons)
    images = validate_images(images)
    labels = np.asarray(labels, dtype=np.int64)
    device = default_device()
    batch_size = batch_size or settings.batch_size or default_batch_size(tuple(images.shape[1:]),
                                                                         gpu=device.startswith("/GPU"))
    first = settings.budget(tuple(attacks)[0])
    clean = predict_smoothed(model, images, sigma=sigma, n=first.predict_n, alpha=first.predict_alpha,
                             batch_size=batch_size, seed=predict_seed(seed, tuple(attacks)[0], 0.0))
    num_classes = clean.counts.shape[1]
    attacks = validate_attacks(attacks, num_classes)
    context = AttackContext(model=model, images=images, labels=labels, clean_logits=clean.counts.astype(np.float32),
                            num_classes=num_classes, settings=settings, seed=seed, batch_size=batch_size,
                            device=device, forward=None, pgd_runner=None, noise_sigma=float(sigma))
    correct = clean.prediction == labels
    first_mask, first_predictions = standalone(context, attacks[0], epsilons, correct, np.zeros(0, np.int64))
    worst = worst_case(context, attacks, epsilons, np.arange(len(labels)), correct, first_mask, first_predictions)
    return SmoothedAttackResult(epsilons=epsilons, attacks=attacks, clean_prediction=clean.prediction,
                                robust=worst.mask, broken_by=worst.broken_by,
                                broken_prediction=worst.broken_predictions, sigma=float(sigma),
                                predict_n=first.predict_n, predict_alpha=first.predict_alpha)


@dataclass(frozen=True)
class SmoothedEvaluation:
    """A certified trial's smoothed classifier: its certificates, the EoT attacks on the same points, the checks."""

    certification: CertificationResult
    attack: SmoothedAttackResult
    checks: dict[str, CheckResult]

    def failed_checks(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.passed]


def evaluate_smoothed(model, images, labels, epsilons: Sequence[float], *, sigma: float, n0: int, n: int,
                      alpha: float, settings: AttackSettings, batch_size: int, seed: int,
                      point_ids: Sequence[int] | None = None, progress=None) -> SmoothedEvaluation:
    """CERTIFY every point (point_ids: their identity in the noise keys), attack g there with RAND_ATTACKS at every
    epsilon of the ladder, and check that the certified lower bound lies under the empirical upper bound. progress:
    the certification's resumable store (certify); the EoT attack on g is not cut into units yet."""
    certification = certify(model, images, labels, sigma=sigma, n0=n0, n=n, alpha=alpha, batch_size=batch_size,
                            seed=seed, point_ids=point_ids, progress=progress)
    attack = attack_smoothed(model, images, labels, epsilons, sigma=sigma, settings=settings, seed=seed,
                             batch_size=settings.batch_size)
    return SmoothedEvaluation(certification, attack, run_smoothing_checks(certification, attack, labels,
                                                                          tuple(images.shape[1:])))
