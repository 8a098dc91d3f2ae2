"""Per-trial compute hygiene: TensorFlow thread pools and GPUs sized to the trial's Ray allotment."""

from __future__ import annotations

import os


def configure_tensorflow(cpus: int, gpus: int) -> None:
    """Call before any TensorFlow op runs in the process (TF fixes its pools on first use)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cpus))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, cpus)))
    except RuntimeError:
        pass  # already initialised in this process (e.g. a reused worker): keep its pools
    devices = tf.config.list_physical_devices("GPU")
    if gpus > 0 and not devices:
        raise RuntimeError(
            f"this trial asks for {gpus} GPU(s) but TensorFlow sees none on this node; "
            "install the GPU extra (pip install -e '.[gpu]') or run with --set gpus_per_trial=0"
        )
    for device in devices:
        try:
            tf.config.experimental.set_memory_growth(device, True)
        except RuntimeError:
            pass


def tune_resources(cpus: int, gpus: int, memory_gb: float) -> dict[str, float]:
    """Ray resource request; a GPU trial still asks for its CPUs (Ray would otherwise give it 0)."""
    return {"cpu": max(1, cpus), "gpu": gpus, "memory": int(memory_gb * 1024**3)}
