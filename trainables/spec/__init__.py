"""The ground floor: what a trial is, before anything runs. The frozen trial configuration grouped by concern
(config), the values' rules (rules), the closed sets (enums), the registries of names with their facts and budgets
(tasks, models, attacks, evaluation: presets and check thresholds, smoothing), `--set` parsing (assignments), every
MLflow name (keys) and the one lazy-import mechanism that points from names to code (lazy).

It imports the standard library and numpy only: data, models, robustness, training and tracking import it, it
imports none of them, so naming and checking a trial (the sweep driver, `--dry-run`) loads no ML library.

    from trainables.spec import TrialConfig
    trial = TrialConfig(task="pneumothorax", scale="mini", attack_preset="smoke").resolved()
"""

from .assignments import parse_assignments
from .config import TrialConfig
from .keys import experiment_name, format_epsilon

__all__ = ["TrialConfig", "experiment_name", "format_epsilon", "parse_assignments"]
