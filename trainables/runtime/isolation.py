"""What one trial leaves behind in its worker process: nothing that grows, so a worker can run trial after trial.

Keras' TensorFlow optimizer sums gradients with the replica context's `all_reduce`, a `tf.custom_gradient`, which
registers its gradient function in TensorFlow's global gradient registry under a fresh "CustomGradient-<uid>" name
every time the train step is traced. The function's closure holds the whole train-step graph (~4600 ops for a mini
ResNet-50, plus the functions it calls), so no trained model's graph was ever freed: a worker grew by ~65 MB per
smoke trial. `trial_scope` removes the registrations a trial added once it ends; their graphs died with its model.

Garbage collection is the other cost between trials: a full collection walks every object of TensorFlow, Keras, Ray
and MLflow (~0.8 M objects, ~0.5 s on 2 CPUs), and `clear_session` runs one each time. `trial_scope` runs exactly one,
on exit, and `freeze_survivors` moves what outlives a worker's first trial (the imported libraries) out of the
collector's view, so later collections walk only what trials create (~0.1-0.2 s).
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

    keras.backend.clear_session(free_memory=False)
    table = _gradient_registry()
    before = set(table) if table is not None else set()
    try:
        yield
    finally:
        if table is not None:
            for name in [name for name in table if name.startswith(CUSTOM_GRADIENT_PREFIX) and name not in before]:
                del table[name]
        keras.backend.clear_session(free_memory=False)
        gc.collect()


_frozen = False


def freeze_survivors() -> None:
    """Once per process, after a trial: what is still alive (libraries, caches) is never collected again.

    For worker processes only: objects frozen here that later become cyclic garbage are not freed. A worker's
    long-lived state has settled after its first trial; doing this before (or in a test process) could pin garbage.
    """
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
