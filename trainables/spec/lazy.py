"""The project's one lazy-import mechanism: names in the specs point at code ("module:attribute"), imported when
first used, so that naming and checking a trial never imports the libraries that code needs.

`resolve(path)` turns "package.module:attribute" or "/path/file.py:attribute" into the attribute (epoch and
evaluation callbacks, backbone builders, attention layers, data loaders, stand-in renderers, attack kernels).
`lazy_exports(package, exports)` gives a package an `__getattr__` that imports each exported name's module on first
access, so `import trainables.robustness` costs nothing until an attack runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any


def resolve(path: str, what: str = "code path", noun: str = "attribute") -> Any:
    """"module:attribute" or "/path/file.py:attribute" -> the attribute; ValueError naming `what` and the path."""
    target, sep, name = path.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise ValueError(f"{what} {path!r} must be 'module:{noun}' or '/path/to/file.py:{noun}'")
    if target.endswith(".py") and not Path(target).is_file():
        raise ValueError(f"{what} {path!r}: no file {target}")
    try:
        module = _module(target)
    except ImportError as error:
        raise ValueError(f"{what} {path!r}: cannot import {target} ({error})") from None
    attribute = getattr(module, name, None)
    if attribute is None:
        raise ValueError(f"{what} {path!r}: {target} has no {noun} {name!r}")
    return attribute


@lru_cache(maxsize=None)
def _module(target: str):
    """The module, imported once, or the file, executed once (as module "loaded_<stem>") whatever is asked of it."""
    if not target.endswith(".py"):
        return importlib.import_module(target)
    file = Path(target)
    module_spec = importlib.util.spec_from_file_location(f"loaded_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def resolve_callback(path: str) -> Callable[..., Any]:
    """An epoch or evaluation callback named in a TrialConfig: a function, called as function(event, **arguments)."""
    function = resolve(path, "epoch callback", "function")
    if not callable(function):
        target, _, name = path.rpartition(":")
        raise ValueError(f"epoch callback {path!r}: {target} has no function {name!r}")
    return function


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's `__getattr__`: exports maps a public name to the submodule (relative to `package`) defining it."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{exports[name]}", package), name)

    return __getattr__
