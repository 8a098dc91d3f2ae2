"""Expand a (sweep, profile) into resolved TrialConfigs, and select a part of a grid (--only)."""

from __future__ import annotations

import itertools
from typing import Any, Iterable

from trainables.spec import TrialConfig

from .profiles import get_profile
from .sweeps import Partial, Sweep, get_sweep


def grid_partials(sweep: Sweep) -> list[Partial]:
    partials: list[Partial] = [{}]
    for ax in sweep.axes:
        partials = [
            {**partial, **choice}
            for partial in partials
            for choice in (ax(partial) if callable(ax) else ax)
        ]
    return partials


def expand(sweep_name: str, profile_name: str, *, seeds: int = 1, overrides: dict[str, Any] | None = None) -> list[TrialConfig]:
    """Every trial of the sweep under the profile: defaults <- profile <- sweep <- grid point <- overrides <- seed,
    each resolved and validated by TrialConfig.resolved()."""
    sweep = get_sweep(sweep_name)
    profile = get_profile(profile_name)
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1; received {seeds}")
    partials = grid_partials(sweep)
    if not partials:
        raise ValueError(f"sweep {sweep_name!r} expands to an empty grid")
    trials = []
    for partial, seed in itertools.product(partials, range(seeds)):
        values: dict[str, Any] = {**profile.values}
        values.update({k: v for k, v in sweep.values.items() if not callable(v)})
        values.update(partial)
        values.update(overrides or {})
        with_defaults = {**TrialConfig().to_dict(), **values}
        values.update({k: v(with_defaults) for k, v in sweep.values.items() if callable(v)})
        values.update(sweep=sweep.name, profile=profile.name, seed=values.get("seed", 0) + seed)
        trials.append(TrialConfig.from_dict(values).resolved())
    names = [t.run_name for t in trials]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"sweep {sweep_name!r} has duplicated trials: {', '.join(duplicated)}"
                         + ("; to run part of a grid use --only KEY=VALUE" if overrides else ""))
    return trials


def parse_only(pairs: Iterable[str]) -> dict[str, set[str]]:
    """--only KEY=VALUE[,VALUE] (repeatable) -> {key: allowed values as text}; a key given twice must match both."""
    selection: dict[str, set[str]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        values = {value.strip() for value in text.split(",") if value.strip()}
        if not sep or key not in TrialConfig.field_names() or not values:
            raise ValueError(f"--only expects KEY=VALUE[,VALUE] with KEY one of: {', '.join(TrialConfig.field_names())}; "
                             f"received {pair!r}")
        selection[key] = selection[key] & values if key in selection else values
    return selection


def select_trials(trials: list[TrialConfig], selection: dict[str, set[str]], sweep_name: str) -> list[TrialConfig]:
    """The trials whose every selected value matches (compared as text, as they appear in --dry-run and MLflow)."""
    params = [trial.as_params() for trial in trials]
    for key, values in selection.items():
        present = sorted({p[key] for p in params})
        unknown = sorted(values - set(present))
        if unknown:
            raise ValueError(f"--only {key}={','.join(unknown)}: no trial of {sweep_name} has that; "
                             f"its trials have {key} in: {', '.join(present)}")
    chosen = [trial for trial, p in zip(trials, params) if all(p[k] in v for k, v in selection.items())]
    if not chosen:
        asked = " ".join(f"{key}={','.join(sorted(values))}" for key, values in selection.items())
        raise ValueError(f"--only {asked}: no trial of {sweep_name} matches all of these")
    return chosen
