"""What one trial leaves behind in its worker process: nothing that grows, so a worker can run trial after trial.

Keras' TensorFlow optimizer sums gradients with the replica context's `all_reduce`, a `tf.custom_gradient`, which
registers its gradient function in TensorFlow's global gradient registry under a fresh "CustomGradient-<uid>" name
every time the train step is traced. The function's closure holds the whole train-step graph (~4600 ops for a mini
ResNet-50, plus the functions it calls), so no trained model's graph was ever freed: a worker grew by ~65 MB per
smoke trial. `trial_scope` removes the registrations a trial added once it ends; their graphs died with its model.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _gradient_registry() -> dict | None:
    """TensorFlow's private name -> gradient function table (None where a TF version lacks it: nothing is cleaned)."""
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return None
    table = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return table if isinstance(table, dict) else None


def custom_gradient_count() -> int:
    table = _gradient_registry()
    return 0 if table is None else sum(name.startswith(CUSTOM_GRADIENT_PREFIX) for name in table)


@contextlib.contextmanager
def trial_scope() -> Iterator[None]:
    """Start from a clear Keras session; on exit, drop the custom gradients registered inside and collect garbage."""
    import keras

    keras.backend.clear_session()
    table = _gradient_registry()
    before = set(table) if table is not None else set()
    try:
        yield
    finally:
        if table is not None:
            for name in [name for name in table if name.startswith(CUSTOM_GRADIENT_PREFIX) and name not in before]:
                del table[name]
        keras.backend.clear_session()
        gc.collect()
