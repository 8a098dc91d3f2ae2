"""Data layer throughput: building a task's arrays cold vs from the cache, and the tf.data input rate vs a training step.

Writes a tiny HAM10000-layout data set (JPEGs at the real 450x600) to a temporary folder, then measures
  1. load_task cold (decode + resize + cache write), cold with full-size JPEG decoding (the baseline without the
     reduced DCT decode), and warm (cache hit), in images/s, at each --sizes;
  2. the training_dataset rate (images/s, float32 batches out) against the training step rate of
     trainables.models.build_model("resnet50", "none", 7, scale="mini", input_shape=(64, 64, 3)) (a small Keras CNN
     if that module is missing), fed from memory, and `fit` fed by the pipeline. The pipeline should be several times
     faster than the step, so it is never the bottleneck.

    python benchmarks/data_pipeline.py [--images 300] [--sizes 64 224] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pandas as pd

from trainables import data
from trainables.data import preprocess
from trainables.data.sources.synthetic import render_skin

HAM_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
HAM_PRIORS = (0.033, 0.051, 0.11, 0.011, 0.111, 0.67, 0.014)


def write_ham10000(root: Path, count: int, seed: int = 0) -> None:
    """HAM10000 layout with `count` 450x600 JPEGs (a drawn lesion, upscaled, with sensor noise)."""
    rng = np.random.default_rng(seed)
    for part in ("HAM10000_images_part_1", "HAM10000_images_part_2"):
        (root / part).mkdir(parents=True)
    rows = []
    labels = rng.choice(len(HAM_CLASSES), size=count, p=np.array(HAM_PRIORS) / sum(HAM_PRIORS))
    for index, label in enumerate(labels):
        image = cv2.resize(render_skin(int(label), 150, rng), (600, 450), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
        image_id = f"ISIC_{index:07d}"
        part = "HAM10000_images_part_1" if index % 2 else "HAM10000_images_part_2"
        cv2.imwrite(str(root / part / f"{image_id}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append({"lesion_id": f"HAM_{index // 2:07d}", "image_id": image_id, "dx": HAM_CLASSES[label]})
    pd.DataFrame(rows).to_csv(root / "HAM10000_metadata.csv", index=False)


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def load_rates(root: Path, size: int, work: Path) -> list[tuple[str, float, float]]:
    """(case, seconds, images/s) for cold full decode, cold reduced decode, warm cache."""
    def load(cache: Path):
        return data.load_task("skin_lesion", "original", image_size=size, data_root=root, cache_dir=cache)

    real_scale = preprocess._jpeg_decode_scale
    preprocess._jpeg_decode_scale = lambda path, min_side: 1
    try:
        task_data, full_s = timed(lambda: load(work / f"full-{size}"))
    finally:
        preprocess._jpeg_decode_scale = real_scale
    _, cold_s = timed(lambda: load(work / f"cold-{size}"))
    warm, warm_s = timed(lambda: load(work / f"cold-{size}"))
    assert warm.info["cache"] == "hit"
    count = sum(len(task_data.split(split)[1]) for split in ("train", "val", "test"))
    return [(f"load {size}px cold, full JPEG decode (baseline)", full_s, count / full_s),
            (f"load {size}px cold, reduced JPEG decode", cold_s, count / cold_s),
            (f"load {size}px warm (cache hit)", warm_s, count / warm_s)]


def small_model(num_classes: int, input_shape: tuple[int, int, int]):
    try:
        from trainables.models import build_model

        return build_model("resnet50", "none", num_classes, scale="mini", input_shape=input_shape), "resnet50 mini"
    except ImportError:
        import keras

        model = keras.Sequential([keras.Input(input_shape), keras.layers.Conv2D(32, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(), keras.layers.Conv2D(64, 3, activation="relu"),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(num_classes)])
        return model, "small keras CNN (trainables.models missing)"


def pipeline_rates(x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int) -> list[tuple[str, float, float]]:
    import keras
    import tensorflow as tf

    rows = []
    for fraction in (None, 0.1):
        dataset = data.training_dataset(x, y, num_classes=7, batch_size=batch_size, seed=0, epoch_fraction=fraction)
        for _ in dataset:  # warm-up: trace the map function
            break
        seen = 0

        def run():
            nonlocal seen
            for _ in range(epochs if fraction is None else epochs * 10):
                for images, _labels in dataset:
                    seen += int(images.shape[0])

        _, seconds = timed(run)
        label = "tf.data training_dataset" + ("" if fraction is None else " (epoch_fraction 0.1)")
        rows.append((label, seconds, seen / seconds))

    model, name = small_model(7, x.shape[1:])
    model.compile(keras.optimizers.Adam(0.01, epsilon=0.1), keras.losses.CategoricalCrossentropy(from_logits=True))
    images = tf.convert_to_tensor(data.to_unit_float(x[:batch_size]))
    labels = tf.one_hot(y[:batch_size], 7)
    model.train_on_batch(images, labels)  # warm-up: build the train function
    steps = max(4, len(x) // batch_size)
    _, seconds = timed(lambda: [model.train_on_batch(images, labels) for _ in range(steps)])
    rows.append((f"train step, {name}, batch from memory", seconds, steps * batch_size / seconds))
    dataset = data.training_dataset(x, y, num_classes=7, batch_size=batch_size, seed=0)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # warm-up
    _, seconds = timed(lambda: model.fit(dataset, epochs=epochs, verbose=0, shuffle=False))
    rows.append((f"fit, {name}, fed by training_dataset", seconds, epochs * len(x) / seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        _, write_s = timed(lambda: write_ham10000(work / "ham", args.images))
        print(f"wrote {args.images} HAM10000-layout JPEGs (450x600) in {write_s:.1f} s")
        for size in args.sizes:
            rows += load_rates(work / "ham", size, work)
        task_data = data.load_task("skin_lesion", "original", image_size=64, data_root=work / "ham",
                                   cache_dir=work / "cold-64")
        x = np.concatenate([task_data.x_train, task_data.x_val, task_data.x_test])
        y = np.concatenate([task_data.y_train, task_data.y_val, task_data.y_test])
        pipeline = pipeline_rates(x, y, args.batch_size, args.epochs)
        rows += pipeline

    width = max(len(case) for case, _, _ in rows)
    print(f"\n{'case':<{width}}  {'seconds':>8}  {'images/s':>9}")
    for case, seconds, rate in rows:
        print(f"{case:<{width}}  {seconds:8.3f}  {rate:9.0f}")
    for size in args.sizes:
        full, cold, warm = (rate for case, _, rate in rows if case.startswith(f"load {size}px"))
        print(f"{size}px: reduced decode {cold / full:.1f}x the full-decode baseline; "
              f"cache hit {warm / cold:.0f}x cold")
    pipeline_rate, step_rate = pipeline[0][2], pipeline[2][2]
    print(f"input pipeline / training step = {pipeline_rate / step_rate:.1f}x "
          f"({'not the bottleneck' if pipeline_rate > step_rate else 'THE PIPELINE IS THE BOTTLENECK'})")


if __name__ == "__main__":
    main()
