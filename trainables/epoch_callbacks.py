"""Epoch callbacks named in a TrialConfig ("module:function" or "/path/file.py:function"), resolved to functions
(called after every epoch by trainables.training with an EpochEvent)."""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable


@lru_cache(maxsize=None)
def resolve_epoch_callback(spec: str) -> Callable[..., Any]:
    """"module:function" or "/path/file.py:function" -> the function; ValueError saying what is wrong."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise ValueError(f"epoch callback {spec!r} must be 'module:function' or '/path/to/file.py:function'")
    try:
        if target.endswith(".py"):
            path = Path(target)
            module_spec = importlib.util.spec_from_file_location(f"epoch_callbacks_{path.stem}", path)
            if module_spec is None or not path.is_file():
                raise ValueError(f"epoch callback {spec!r}: no file {target}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as error:
        raise ValueError(f"epoch callback {spec!r}: cannot import {target} ({error})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"epoch callback {spec!r}: {target} has no function {name!r}")
    return function
