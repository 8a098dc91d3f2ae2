"""The data layer: sources, preprocessing, cache and tf.data pipelines (the tasks themselves: trainables.spec.tasks).

    spec = trainables.spec.tasks.get_task("skin_lesion")
    data = open_task("skin_lesion", "original", image_size=224, seed=0)   # TaskData, views over prepared files
    # (load_task: the same, read into memory; prepare_task / python -m sweep.prepare: decode once, on Ray)
    train = training_dataset(data.x_train, data.y_train, num_classes=spec.num_classes, batch_size=32, seed=0,
                             epoch_fraction=spec.epoch_fraction)

Environment: ARS_HAM10000_DIR, ARS_KAGGLE_DR_DIR, ARS_CHESTXRAY14_DIR, ARS_MEDMNIST_DIR (data folders; see
loading.py) and ARS_CACHE_DIR (preprocessed cache, default ~/.cache/attentive-robustness/; see cache.py).
Outputs: uint8 RGB in TaskData (SplitImages views from open_task, arrays from load_task); float32 [0, 1] from
to_unit_float, UnitFloatView and the pipelines; model-specific normalisation lives in the model.
"""

from .cache import CACHE_ENV, default_cache_dir
from .errors import DataError
from .loading import load_task, open_task
from .pipeline import class_weights, eval_dataset, training_dataset
from .preprocess import PREPROCESS_VERSION, enhance_xray, gray_to_rgb, to_unit_float
from .task_data import TaskData
from .views import SplitImages, UnitFloatView

__all__ = [
    "CACHE_ENV", "DataError", "PREPROCESS_VERSION", "SplitImages", "TaskData", "UnitFloatView", "class_weights",
    "default_cache_dir", "enhance_xray", "eval_dataset", "gray_to_rgb", "load_task", "open_task", "to_unit_float",
    "training_dataset",
]
