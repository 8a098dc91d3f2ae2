"""Experiments declared as data: named profiles and sweeps, and their expansion into trial configs."""

from .expansion import expand, parse_overrides, validate_trial
from .profiles import PROFILES, Profile, get_profile
from .sweeps import SWEEPS, Sweep, axis, get_sweep, register_sweep

__all__ = ["PROFILES", "SWEEPS", "Profile", "Sweep", "expand", "get_profile", "axis", "get_sweep", "parse_overrides", "register_sweep", "validate_trial"]
