"""A trial's readable name (its TrialConfig.run_name) from what Ray Tune holds of it."""

from __future__ import annotations

from typing import Any

from trainables.spec import TrialConfig
from trainables.spec.keys import RUN_SETTINGS


def trial_label_from_config(config: dict[str, Any]) -> str:
    try:
        return TrialConfig.from_dict({**config.get("trial", {}), **{k: v for k, v in config.items()
                                                                    if k not in (*RUN_SETTINGS, "trial")}}).run_name
    except (ValueError, TypeError):
        return "?"


def trial_label(trial) -> str:
    return trial_label_from_config(trial.config)
