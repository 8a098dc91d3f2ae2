"""`--set key=value` as a user types it, into TrialConfig values: each value checked by its field's Rule, attack
overrides by the attack's budget, before a sweep computes with them."""

from __future__ import annotations

import json
from typing import Any

from .attacks import ATTACKS
from .config import RULES, TrialConfig
from .evaluation import SELECTION_KEYS

NULLABLE = {name for name, rule in RULES.items() if rule.nullable} | {"attack.radius_attack"}


def parse_assignments(pairs) -> dict[str, Any]:
    """`key=value` strings (values parsed as JSON where possible) into a dict of TrialConfig values.
    `attack.<attack>.<field>=V`, `attack.attacks=a,b` and `attack.radius_attack=V` set one override of the preset."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or (key not in RULES and not key.startswith("attack.")):
            keys = "; ".join(f"{concern}: {', '.join(names)}" for concern, names in TrialConfig.concerns().items())
            raise ValueError(f"--set expects key=value with key one of ({keys}), or attack.<attack>.<field>; "
                             f"received {pair!r}")
        try:  # "none" is also a name (attention=none): it means None only where a field can be None
            value = None if text in ("None", "none") and key in NULLABLE else json.loads(text)
        except json.JSONDecodeError:
            value = text
        if key.startswith("attack."):
            set_attack_override(values.setdefault("attack", {}), key, value)
        elif key == "attack":  # a JSON object of overrides, merged with the dotted ones
            values["attack"] = {**values.get("attack", {}), **RULES[key].check(key, value)}
        else:  # before a sweep computes with it (seed + offset)
            values[key] = RULES[key].check(key, value)
    return values


def set_attack_override(overrides: dict[str, Any], key: str, value: Any) -> None:
    """One `attack.` assignment into the overrides, its attack, field and value checked by the attack's budget."""
    path = key.split(".")[1:]
    if len(path) == 1 and path[0] in SELECTION_KEYS:
        overrides[path[0]] = value
        return
    if len(path) != 2:
        raise ValueError(f"--set takes attack.<attack>.<field>=V, attack.attacks=a,b or attack.radius_attack=V; "
                         f"received {key!r}")
    name, field_name = path
    ATTACKS.lookup(name).budget.build(name, {field_name: value})
    overrides.setdefault(name, {})[field_name] = value
