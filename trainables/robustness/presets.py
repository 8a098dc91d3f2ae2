"""Named attack presets, as AutoAttack names its versions: whole evaluations a profile or a user picks by name.

A preset is the worst case's attacks, the radius attack and the budgets that differ from each attack's defaults
(the defaults are AutoAttack's standard budgets and Foolbox's LinfPGD). `TrialConfig.attack_preset` names one and
`TrialConfig.attack` overrides it: {"square": {"queries": 500}, "attacks": ["pgd", "square"], "radius_attack": None}.
The budgets of eot_attacks.RAND_ATTACKS size the attack on a certified trial's smoothed classifier (smoothed.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..registry import Registry
from .attack_spec import ATTACKS
from .settings import WORST_CASE_ATTACKS, AttackSettings, merge_budgets

SELECTION_KEYS = ("attacks", "radius_attack")  # override keys that are not attack names


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    attacks: tuple[str, ...]
    radius_attack: str | None = None
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def settings(self, overrides: Mapping[str, Any] | None = None, **evaluation: Any) -> AttackSettings:
        """This preset with `overrides` applied; `evaluation`: ensemble_points, attack_on, batch_size."""
        overrides = dict(overrides or {})
        for key in overrides:
            if key not in SELECTION_KEYS and key not in ATTACKS:
                raise ValueError(f"attack.{key}: unknown attack or key; expected an attack "
                                 f"({', '.join(ATTACKS)}) or one of: {', '.join(SELECTION_KEYS)}")
        budgets = merge_budgets(self.budgets, {k: v for k, v in overrides.items() if k not in SELECTION_KEYS})
        return AttackSettings(attacks=overrides.get("attacks", self.attacks),
                              radius_attack=overrides.get("radius_attack", self.radius_attack),
                              budgets=budgets, **evaluation)


PRESETS: Registry[Preset] = Registry("attack preset")


def register_preset(preset: Preset, *, replace: bool = False) -> Preset:
    preset.settings()  # every name and budget checked when registered
    return PRESETS.register(preset.name, preset, replace=replace)


def _ensemble(pgd_steps: int, rel_stepsize: float, apgd_steps: int, targets: int, queries: int, fmn_steps: int,
              eot_draws: int, predict_n: int):
    eot = {"steps": apgd_steps, "draws": eot_draws, "predict_n": predict_n}
    return {"pgd": {"steps": pgd_steps, "rel_stepsize": rel_stepsize}, "apgd_ce": {"steps": apgd_steps},
            "apgd_margin": {"steps": apgd_steps, "targets": targets}, "apgd_dlr": {"steps": apgd_steps},
            "square": {"queries": queries}, "fmn": {"steps": fmn_steps},
            "apgd_ce_eot": eot, "apgd_margin_eot": {**eot, "targets": targets}}


register_preset(Preset("paper", "the paper's attack alone: Foolbox L-inf PGD, 40 steps of eps/30, a random start",
                       ("pgd",)))
register_preset(Preset("standard", "the paper's PGD, then AutoAttack's standard budgets: APGD-CE 100, APGD on the "
                       "margin loss 100 (9 DLR targets, capped at K-1), Square 5000; FMN 100 estimates radii",
                       WORST_CASE_ATTACKS, "fmn"))
register_preset(Preset("smoke", "minutes on 2 CPUs: PGD 10 x eps/4, APGD 10, 2 targets, Square 50, FMN 10 (smoothed "
                       "classifiers: APGD 10 x 20 EoT draws, PREDICT 200)",
                       WORST_CASE_ATTACKS, "fmn", _ensemble(10, 0.25, 10, 2, 50, 10, 20, 200)))
register_preset(Preset("tiny", "seconds, for tests and CI: PGD 3 x eps/2, APGD 3, 1 target, Square 20, FMN 5 "
                       "(smoothed: APGD 3 x 4 EoT draws, PREDICT 50)", WORST_CASE_ATTACKS, "fmn",
                       _ensemble(3, 0.5, 3, 1, 20, 5, 4, 50)))
register_preset(Preset("rehearsal", "every attack of the paper's path at token budgets: PGD 2 x eps/2, APGD 2, "
                       "1 target, Square 4, FMN 2 (smoothed: APGD 2 x 2 EoT draws, PREDICT 20)", WORST_CASE_ATTACKS,
                       "fmn",
                       _ensemble(2, 0.5, 2, 1, 4, 2, 2, 20)))
