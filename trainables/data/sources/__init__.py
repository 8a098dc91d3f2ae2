"""Registry of loaders keyed by (source, task); each returns a Catalog of that task's records.

Sources: "synthetic" (procedural stand-ins, no files), "original" (the published releases: HAM10000,
Kaggle DR 2015, ChestX-ray14) and "medmnist" (MedMNIST+ npz files). A loader that needs files names the
environment variable that points at its folder; `load_task(data_root=...)` overrides it.
"""

from __future__ import annotations

from .registry import (SOURCE_NAMES, SOURCES, Source, SourceEntry, SourceRequest, data_root_env,  # noqa: F401
                       get_source, list_sources, register_source)

# importing the loader modules fills the registry
from . import chestxray14, ham10000, kaggle_dr, medmnist, synthetic  # noqa: F401
