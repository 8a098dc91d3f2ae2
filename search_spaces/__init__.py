"""Experiments declared as data: named profiles and sweeps, and their expansion into trial configs."""

from .expansion import expand, parse_only, select_trials
from .profiles import PROFILES, Profile, get_profile
from .sweeps import SWEEPS, Sweep, axis, get_sweep, register_sweep

__all__ = ["PROFILES", "SWEEPS", "Profile", "Sweep", "axis", "expand", "get_profile", "get_sweep", "parse_only",
           "register_sweep", "select_trials"]
