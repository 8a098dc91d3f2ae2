"""What identifies a trial and a sweep: what they compute, not where Ray keeps its files.

A trial's digest covers every TrialConfig value except the resources it runs on (more CPUs compute the same model);
a sweep's digest covers its trials' digests and the tracking store they log to. The driver skips a trial whose
finished run with the same digest is already in the store, and keys a sweep's Ray folder by the sweep's digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

RESOURCE_FIELDS = ("cpus_per_trial", "gpus_per_trial", "memory_gb")
DIGEST_CHARS = 16


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


ATTACK_FIELDS = ("attack_preset", "attack")  # stand in for the evaluation they resolve to


def trial_digest(config) -> str:
    """Digest of a resolved TrialConfig (the same before Ray and inside the trial: tuples and lists hash alike).
    The attack counts as the evaluation it resolves to (attacks and every budget), not as the preset's name plus
    overrides: the same evaluation reached two ways is one trial."""
    values = {k: v for k, v in config.to_dict().items() if k not in RESOURCE_FIELDS + ATTACK_FIELDS}
    values["attack"] = config.attack_settings.to_dict()
    if config.smoothed_attack_budgets:  # certifying trials: the EoT attacks on the smoothed classifier too
        values["smoothed_attack"] = config.smoothed_attack_budgets
    return _digest(values)


def sweep_digest(trials: Iterable, tracking_uri: str) -> str:
    return _digest({"trials": sorted(trial_digest(t) for t in trials), "tracking_uri": tracking_uri})


def trial_digests(trials: Iterable) -> dict[str, str]:
    """run name -> trial_digest, for a grid's trials."""
    return {t.run_name: trial_digest(t) for t in trials}
