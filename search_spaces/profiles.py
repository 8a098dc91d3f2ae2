"""Named profiles: data-only sets of TrialConfig values. The same code path runs every profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainables.spec.registry import Registry


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    values: dict[str, Any] = field(default_factory=dict)


PROFILES: Registry[Profile] = Registry("profile")


def register_profile(profile: Profile, *, replace: bool = False) -> Profile:
    return PROFILES.register(profile.name, profile, replace=replace)


def get_profile(name: str) -> Profile:
    return PROFILES.lookup(name)


# The paper's settings: TrialConfig's defaults already are the paper's recipe and attack.
register_profile(Profile(
    name="paper",
    description=("the paper: real data, 224/299 px, ImageNet weights, 300 epochs + early stopping, 40-step PGD, "
                 "AutoAttack-budget ensemble on 1,000 points (GPU cluster)"),
    values=dict(
        source="original", scale="full", weights="imagenet",
        # memory_gb: host memory, no longer set by the data set (trials stream it). Not measured on a GPU here: the
        # CPU rehearsal, which also holds the activations in host memory, peaked at 6.5 GB peak_private_mb with
        # 16-image batches (both backbones); 12 GB leaves room for 32-64-image batches and the CUDA runtime.
        cpus_per_trial=8, gpus_per_trial=1, memory_gb=12.0, eval_batch_size=64,
        # AutoAttack's budgets (the `standard` attack preset) on 1,000 seeded test points; PGD runs on all of them
        attack_preset="standard", ensemble_points=1000,
        # randomized smoothing (trials with certify=true): Cohen et al.'s budgets on 500 seeded test points
        certify_points=500, certify_n0=100, certify_n=100_000, certify_alpha=0.001, eval_checkpoint_s=300.0,
        # natural corruptions: every one of the task (common + modality) at 5 severities on 1,000 seeded points
        corruptions="all", corruption_points=1000,
    ),
))

register_profile(Profile(
    name="smoke",
    description=("CPU end to end: stand-in data at 48 px, mini backbones, 12 epochs, 10-step PGD, small ensemble "
                 "budgets (minutes on 2 cores)"),
    values=dict(
        source="synthetic", scale="mini", weights=None, image_size=48,
        max_train=600, max_test=200, max_eval=200,
        epochs=12, patience=5, batch_size=32, epoch_fraction=1.0,  # 10 % of 600 images is too few steps; 8 epochs left
        # 3 of 4 skin-lesion models below `learned` (measured: clean 0.61-0.72 at 8 epochs, 0.78-0.91 at 12)
        # the `smoke` attack preset: fewer PGD steps need larger steps to travel as far, 10 x 0.25 eps
        attack_preset="smoke", explain_samples=8, eval_batch_size=100, ensemble_points=64,
        certify_points=32, certify_n0=20, certify_n=500, certify_alpha=0.001, eval_checkpoint_s=10.0,
        cpus_per_trial=1, memory_gb=1.5,  # measured peak_private_mb 0.97-1.25 GB with the ensemble (RSS 1.46-1.73)
        corruptions="all", corruption_points=64,  # measured: ~7 % of a trial's time (docs/corruptions.md)
        adv_steps=3,  # adversarial training (adv_training=pgd|trades): 3 steps of 2.5 eps / 3, 4x a clean epoch
    ),
))

register_profile(Profile(
    name="tiny",
    description="seconds per trial, for tests and CI: 32 px stand-ins, 2 epochs, 3-step PGD",
    values=dict(
        source="synthetic", scale="mini", weights=None, image_size=32,
        max_train=128, max_test=48, max_eval=48,
        epochs=2, patience=2, batch_size=32,
        attack_preset="tiny", explain_samples=4, eval_batch_size=48,
        certify_points=8, certify_n0=10, certify_n=50, certify_alpha=0.01, eval_checkpoint_s=2.0,
        cpus_per_trial=1, memory_gb=1.5,  # measured peak_private_mb about 0.7 GB
        corruptions="all", corruption_points=None,
        adv_steps=2,
    ),
))

register_profile(Profile(
    name="rehearsal",
    description="the paper's code path on CPU: full-size ResNet-50 @224 / IRv2 @299, a few stand-in images per split, "
                "2 epochs, 2-step PGD and a token ensemble (no GPU, no data, no weights)",
    values=dict(
        source="synthetic", scale="full", weights=None,  # ImageNet files are not downloadable here
        max_train=16, max_test=8, max_eval=4, epochs=2,  # the paper's batch size (32) holds the 16 images
        attack_preset="rehearsal", explain_samples=2, eval_batch_size=8,  # every attack runs, at token budgets
        certify_points=2, certify_n0=4, certify_n=20, certify_alpha=0.01, eval_checkpoint_s=2.0,
        corruptions="all", corruption_points=None,
        # measured peak_private_mb 6.5 GB (RSS 7.0 GB), both backbones
        cpus_per_trial=2, gpus_per_trial=0, memory_gb=8.0,
    ),
))
