"""Data at scale: the prepare step's throughput on Ray, and a trial's memory and time to first batch vs data set size.

Writes ChestX-ray14-layout folders of N and 5N 1024x1024 PNGs (stand-in chest X-rays, upscaled, with noise; the N
folder hard-links the first N files of the 5N one), then measures
  1. prepare throughput (images/s) of the 5N folder on a local Ray with 1 and with 2 CPUs (one decode task per
     CPU, OpenCV on one thread each), workers started before the clock starts; target: 2 CPUs >= 1.8x 1 CPU;
  2. one pneumothorax trial (tiny profile: mini ResNet-50, 2 epochs, 3-step PGD on --max-eval test points) on each
     folder, each in a fresh process: peak private memory (peak_private_mb, RssAnon) and peak RSS (peak_rss_mb);
     target: 5N's private memory at most 5 % above N's;
  3. time to first training batch (open_task on the ready entry + the first batch out of training_dataset), in a
     fresh process per folder; target: independent of N.

    python benchmarks/data_scale.py [--images 300] [--size 160] [--max-eval 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import cv2
import numpy as np
import pandas as pd

NATIVE = 1024
TEST_EVERY = 5  # one patient in 5 is on the official test list (ChestX-ray14: 25,596 of 112,120)


def write_chestxray14(root: Path, count: int, seed: int = 0) -> None:
    """ChestX-ray14 layout: Data_Entry_2017.csv, the two official lists, `count` 1024 px gray PNGs in images/."""
    from trainables.data.sources.synthetic import render_chest

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows, test_names, train_val_names = [], [], []
    for index in range(count):
        patient, label = index // 2 + 1, int(rng.random() < 0.22)
        name = f"{patient:08d}_{index % 2:03d}.png"
        small = render_chest(label, 256, rng)
        image = cv2.resize(small if small.ndim == 2 else small[..., 0], (NATIVE, NATIVE), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "images" / name), image)
        rows.append({"Image Index": name, "Finding Labels": "Pneumothorax" if label else "No Finding",
                     "Patient ID": patient})
        (test_names if patient % TEST_EVERY == 0 else train_val_names).append(name)
    write_tables(root, rows, test_names, train_val_names)


def write_tables(root: Path, rows: list[dict], test_names: list[str], train_val_names: list[str]) -> None:
    pd.DataFrame(rows).to_csv(root / "Data_Entry_2017.csv", index=False)
    (root / "test_list.txt").write_text("\n".join(test_names) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(train_val_names) + "\n")


def link_subset(source: Path, target: Path, count: int) -> None:
    """The first `count` records of `source` as their own data set (hard links, no copies)."""
    table = pd.read_csv(source / "Data_Entry_2017.csv").head(count)
    (target / "images").mkdir(parents=True)
    for name in table["Image Index"]:
        os.link(source / "images" / name, target / "images" / name)
    names = set(table["Image Index"])
    lists = {file: [n for n in (source / file).read_text().split() if n in names]
             for file in ("test_list.txt", "train_val_list.txt")}
    write_tables(target, table.to_dict("records"), lists["test_list.txt"], lists["train_val_list.txt"])


def prepare_rate(root: Path, cache: Path, size: int, cpus: int) -> dict:
    """Prepare `root` on a fresh local Ray of `cpus` CPUs; workers are started (and import) before timing."""
    import ray

    from trainables.data.prepare import prepare_task
    from trainables.data.ray_decode import decode_on_ray

    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        @ray.remote(num_cpus=1)
        def warm_up() -> int:
            import trainables.data.ray_decode  # noqa: F401
            time.sleep(1.0)  # hold the CPU so that every warm-up lands on its own worker
            return os.getpid()

        workers = set(ray.get([warm_up.remote() for _ in range(cpus)]))
        lines: list[str] = []
        outcome = prepare_task("pneumothorax", "original", image_size=size, data_root=root, cache_dir=cache,
                               decoder=decode_on_ray, report=lines.append)
    finally:
        ray.shutdown()
    return {"cpus": cpus, "workers": len(workers), "images": outcome.images, "seconds": outcome.seconds,
            "rate": outcome.images / outcome.seconds, "last_progress": lines[-1] if lines else ""}


def trial_config(root: Path, size: int, max_eval: int):
    from search_spaces import expand

    trials = expand("paper_grid", "tiny", overrides=dict(source="original", data_root=str(root), image_size=size,
                                                         max_train=None, max_test=None, max_eval=max_eval,
                                                         explain_samples=4, eval_batch_size=32))
    return next(t for t in trials if t.task == "pneumothorax" and t.backbone == "resnet50" and t.attention == "none")


def run_trial(root: Path, size: int, max_eval: int) -> dict:
    """One trial in this process (called in a fresh one): its logged memory metrics and split sizes."""
    from trainables import tracking
    from trainables.trial import execute

    config = trial_config(root, size, max_eval)
    with tempfile.TemporaryDirectory() as folder:
        uri = tracking.default_tracking_uri(folder)
        experiment = tracking.ensure_experiment(uri, config.experiment_name)
        start = time.perf_counter()
        metrics = execute(config, tracking_uri=uri, experiment_id=experiment, trial_id="bench",
                          report=lambda *args, **kwargs: None)
    from trainables.spec import keys
    return {"peak_private_mb": metrics[keys.PEAK_PRIVATE_MB], "peak_rss_mb": metrics[keys.PEAK_RSS_MB],
            "seconds": time.perf_counter() - start, "data_s": metrics[keys.TIME + "data"]}


def first_batch(root: Path, size: int) -> dict:
    """Seconds from open_task (entry ready) to the first training batch, in this (fresh) process."""
    import tensorflow as tf  # imported before the clock: the trial has TensorFlow loaded already

    from trainables import data

    tf.constant(0)
    start = time.perf_counter()
    opened = data.open_task("pneumothorax", "original", image_size=size, data_root=root)
    dataset = data.training_dataset(opened.x_train, opened.y_train, num_classes=2, batch_size=32, seed=0)
    next(iter(dataset))
    return {"seconds": time.perf_counter() - start, "train": len(opened.y_train), "test": len(opened.y_test),
            "cache": opened.info["cache"]}


def in_fresh_process(mode: str, root: Path, size: int, max_eval: int, cache: Path) -> dict:
    env = {**os.environ, "ARS_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, __file__, f"--{mode}", str(root), "--size", str(size),
                           "--max-eval", str(max_eval)], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# (data set, native width x height, file type, images, channels kept) for the extrapolation
PAPER_DATA = (("HAM10000", (600, 450), ".jpg", 10_015, 3), ("Kaggle DR 2015", (3500, 2300), ".jpeg", 35_126, 3),
              ("ChestX-ray14", (1024, 1024), ".png", 112_120, 1))


def per_image_costs(work: Path, repeats: int = 8) -> list[dict]:
    """One core's cost to prepare one image of each paper data set (its native size and format) at 224 and 299 px."""
    from trainables.data import preprocess
    from trainables.data.sources.synthetic import (
        render_chest,
        render_fundus,
        render_skin,
    )

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    rows = []
    for (name, (width, height), suffix, count, channels), render in zip(PAPER_DATA,
                                                                        (render_skin, render_fundus, render_chest)):
        image = cv2.resize(render(1, 256, rng), (width, height), interpolation=cv2.INTER_CUBIC)
        path = work / f"sample{suffix}"
        cv2.imwrite(str(path), image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        gray = channels == 1
        for size in (224, 299):
            start = time.perf_counter()
            for _ in range(repeats):
                native = preprocess.read_image(path, grayscale=gray, min_side=None if gray else size)
                preprocess.prepare_image(native, size=size, grayscale=gray, xray_enhancement=gray)
            rows.append({"data": name, "size": size, "images": count, "channels": channels,
                         "ms": 1000 * (time.perf_counter() - start) / repeats})
    return rows


def extrapolate(costs: list[dict], efficiency: float, private_mb: float, cores: int = 32) -> None:
    print(f"\nextrapolation to one cluster node of {cores} cores (per-image cost of this machine's cores, the measured "
          f"parallel efficiency {efficiency:.2f} held up to {cores} cores, local disk fast enough):")
    print("| data set | px | images | one core ms/image | prepare on the node (s) | prepared entry (GB) | "
          "per-trial data memory before (GB: uint8 split + float32 test) | after (private, data part) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    test_share = {"HAM10000": 0.2, "Kaggle DR 2015": 0.2, "ChestX-ray14": 25_596 / 112_120}
    for row in costs:
        pixels = row["size"] ** 2
        entry_gb = row["images"] * pixels * row["channels"] / 1e9
        before_gb = row["images"] * pixels * 3 / 1e9 + test_share[row["data"]] * row["images"] * pixels * 3 * 4 / 1e9
        seconds = row["images"] * row["ms"] / 1000 / (cores * efficiency)
        print(f"| {row['data']} | {row['size']} | {row['images']:,} | {row['ms']:.1f} | {seconds:.0f} | "
              f"{entry_gb:.1f} | {before_gb:.1f} | constant (here {private_mb:.0f} MB in all, for N and 5N) |")


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GB RAM, load average {os.getloadavg()[0]:.2f} at start"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="N (the second folder has 5N)")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--max-eval", type=int, default=32)
    parser.add_argument("--costs-only", action="store_true", help="only the per-image costs and the extrapolation")
    parser.add_argument("--trial", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--first-batch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trial:
        print(json.dumps(run_trial(args.trial, args.size, args.max_eval)))
        return
    if args.first_batch:
        print(json.dumps(first_batch(args.first_batch, args.size)))
        return

    print(f"machine: {machine()}")
    if args.costs_only:
        with tempfile.TemporaryDirectory() as folder:
            extrapolate(per_image_costs(Path(folder)), efficiency=0.97, private_mb=float("nan"))
        return
    n, big = args.images, 5 * args.images
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        start = time.perf_counter()
        write_chestxray14(work / f"cxr-{big}", big)
        link_subset(work / f"cxr-{big}", work / f"cxr-{n}", n)
        print(f"wrote {big} ChestX-ray14-layout PNGs ({NATIVE} px) in {time.perf_counter() - start:.0f} s; "
              f"the {n}-image folder links the first {n}")

        rates = [prepare_rate(work / f"cxr-{big}", work / f"cache-{cpus}cpu", args.size, cpus) for cpus in (1, 2)]
        for rate in rates:
            print(f"prepare {rate['images']} images on {rate['cpus']} CPU(s) ({rate['workers']} workers): "
                  f"{rate['seconds']:.1f} s, {rate['rate']:.1f} images/s  [{rate['last_progress']}]")
        cache = work / "cache-2cpu"
        small = prepare_rate(work / f"cxr-{n}", cache, args.size, 2)
        print(f"prepare {n} images on 2 CPUs: {small['seconds']:.1f} s, {small['rate']:.1f} images/s")

        results = {}
        for count in (n, big):
            root = work / f"cxr-{count}"
            batch = in_fresh_process("first-batch", root, args.size, args.max_eval, cache)
            trial = in_fresh_process("trial", root, args.size, args.max_eval, cache)
            results[count] = {**trial, "first_batch_s": batch["seconds"], "train": batch["train"],
                              "test": batch["test"]}
            print(f"{count} images (train {batch['train']}, test {batch['test']}): first batch "
                  f"{batch['seconds']:.2f} s ({batch['cache']}); trial peak private {trial['peak_private_mb']:.0f} MB, "
                  f"peak RSS {trial['peak_rss_mb']:.0f} MB, {trial['seconds']:.0f} s")

    speedup = rates[1]["rate"] / rates[0]["rate"]
    private = results[big]["peak_private_mb"] / results[n]["peak_private_mb"] - 1
    rss = results[big]["peak_rss_mb"] / results[n]["peak_rss_mb"] - 1
    batch_ratio = results[big]["first_batch_s"] / results[n]["first_batch_s"]
    print("\n| quantity | N = %d | 5N = %d | target | met |" % (n, big))
    print("|---|---:|---:|---|---|")
    print(f"| prepare throughput, 1 CPU / 2 CPUs (images/s, 5N) | {rates[0]['rate']:.1f} | {rates[1]['rate']:.1f} "
          f"| 2 CPUs >= 1.8x | {speedup:.2f}x {'yes' if speedup >= 1.8 else 'NO'} |")
    print(f"| trial peak private memory (MB) | {results[n]['peak_private_mb']:.0f} | "
          f"{results[big]['peak_private_mb']:.0f} | 5N <= N + 5 % | {private:+.1%} {'yes' if private <= 0.05 else 'NO'} |")
    print(f"| trial peak RSS (MB, includes page cache of the mapped file) | {results[n]['peak_rss_mb']:.0f} | "
          f"{results[big]['peak_rss_mb']:.0f} | - | {rss:+.1%} |")
    print(f"| time to first training batch (s) | {results[n]['first_batch_s']:.2f} | "
          f"{results[big]['first_batch_s']:.2f} | independent of N | {batch_ratio:.2f}x |")
    print(f"| trial wall time (s) | {results[n]['seconds']:.0f} | {results[big]['seconds']:.0f} | - | - |")
    per_image_ms = 1000 / rates[0]["rate"]
    print(f"\nper image on one CPU (decode 1024 px PNG, enhancement at native size, resize): {per_image_ms:.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        extrapolate(per_image_costs(Path(folder)), efficiency=speedup / 2, private_mb=results[big]["peak_private_mb"])


if __name__ == "__main__":
    main()
