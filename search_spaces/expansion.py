"""Expand a (sweep, profile) into validated TrialConfigs."""

from __future__ import annotations

import itertools
from typing import Any, Iterable

from trainables.config import TrialConfig

from .profiles import get_profile
from .sweeps import Partial, Sweep, get_sweep


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """`key=value` strings (values parsed as JSON where possible) into a dict of TrialConfig values."""
    import dataclasses
    import json

    nullable = {f.name for f in dataclasses.fields(TrialConfig) if "None" in str(f.type)}
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in TrialConfig.field_names():
            raise ValueError(f"--set expects key=value with key one of: {', '.join(TrialConfig.field_names())}; received {pair!r}")
        try:  # "none" is also a name (attention=none): it means None only where a field can be None
            value = None if text in ("None", "none") and key in nullable else json.loads(text)
        except json.JSONDecodeError:
            value = text
        overrides[key] = tuple(value) if isinstance(value, list) else value
    return overrides


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
    """Every trial of the sweep under the profile: defaults <- profile <- sweep <- grid point <- overrides <- seed."""
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
        trials.append(resolve_task_defaults(TrialConfig.from_dict(values)))
    for trial in trials:
        validate_trial(trial)
    names = [t.run_name for t in trials]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"sweep {sweep_name!r} has duplicated trials: {', '.join(duplicated)}")
    return trials


def resolve_task_defaults(trial: TrialConfig) -> TrialConfig:
    """Fill what the task decides (epsilon ladder, reference epsilon, per-epoch fraction) and the image size."""
    from trainables.data import get_task
    from trainables.models import default_input_shape, list_backbones

    task = get_task(trial.task)
    changes: dict[str, Any] = {}
    if not trial.epsilons:
        changes["epsilons"] = task.epsilons
    if trial.reference_epsilon is None:
        changes["reference_epsilon"] = task.reference_epsilon
    if trial.epoch_fraction is None and task.epoch_fraction is not None:
        changes["epoch_fraction"] = task.epoch_fraction
    if trial.image_size is None and trial.backbone in list_backbones():
        changes["image_size"] = default_input_shape(trial.backbone, trial.scale)[0]
    return trial.replace(**changes)


def validate_trial(trial: TrialConfig) -> None:
    """Raise ValueError naming the bad value and what is allowed, before any trial starts."""
    from trainables.data import list_sources, list_tasks
    from trainables.models import list_attentions, list_backbones, list_placements

    allowed = {
        "task": list_tasks(),
        "source": list_sources(),
        "backbone": list_backbones(),
        "attention": list_attentions(),
        "scale": ["full", "mini"],
    }
    for key, options in allowed.items():
        if getattr(trial, key) not in options:
            raise ValueError(f"{trial.run_name}: unknown {key} {getattr(trial, key)!r}; expected one of: {', '.join(options)}")
    placements = list_placements(trial.backbone)
    if trial.placement not in placements:
        raise ValueError(f"{trial.run_name}: unknown placement {trial.placement!r} for {trial.backbone}; expected one of: {', '.join(placements)}")
    bad_eps = [e for e in trial.epsilons if not 0.0 < e <= 1.0]
    if bad_eps:
        raise ValueError(f"{trial.run_name}: epsilons must be in (0, 1] (pixel space [0,1]); received {bad_eps}")
