"""Loaders of the tasks' images, one file per data set's published layout (ham10000, kaggle_dr, chestxray14), the
MedMNIST+ npz files (medmnist) and the procedural stand-ins (synthetic). Each loader returns a Catalog of the task's
records; which loader serves (source, task) is the task's spec (trainables.spec.tasks), looked up by `get_source`.
A loader that needs files names the environment variable that points at its folder; `load_task(data_root=...)`
overrides it.
"""

from __future__ import annotations

from .registry import SourceEntry, SourceRequest, get_source  # noqa: F401
