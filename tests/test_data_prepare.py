"""The prepare step: fault handling as before (skipped and counted; over 5 % fails, nothing kept), a changed data
folder rebuilt, two preparers building once, Ray tasks writing the same entry as one process, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_data_sources import write_chestxray14

from trainables.spec import keys
from trainables.data import DataError, open_task
from trainables.data.prepare import decode_here, prepare_task

SIZE = 32


def corrupt(root, count: int) -> list[str]:
    names = sorted(path.name for path in (root / "images").iterdir())[:count]
    for name in names:
        (root / "images" / name).write_bytes(b"\x89PNG truncated")
    return names


def entries(cache_dir) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock")) if cache_dir.exists() else []


def test_unreadable_images_are_skipped_and_counted_in_the_prepared_entry(tmp_path):
    table, _ = write_chestxray14(tmp_path / "cxr", patients=40)
    broken = corrupt(tmp_path / "cxr", 2)  # under 5 % of the records
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "cxr", cache_dir=tmp_path / "cache")
    outcome = prepare_task("pneumothorax", "original", **kwargs)
    assert outcome.state == "built" and outcome.skipped == 2 and outcome.images == len(table)
    opened = open_task("pneumothorax", "original", **kwargs)
    assert opened.info["cache"] == "hit" and sorted(opened.info["skipped"]) == broken
    kept = sum(len(opened.ids[split]) for split in ("train", "val", "test"))
    assert kept == len(table) - 2 and not set(broken) & {n for ids in opened.ids.values() for n in ids}
    assert prepare_task("pneumothorax", "original", **kwargs).state == "ready"


def test_skipped_images_reach_the_console_and_the_trial_s_mlflow_run(tmp_path):
    import mlflow

    from sweep.data_prep import describe
    from trainables.tracking import artifacts

    write_chestxray14(tmp_path / "cxr", patients=40)
    broken = corrupt(tmp_path / "cxr", 2)
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "cxr", cache_dir=tmp_path / "cache")
    for outcome in (prepare_task("pneumothorax", "original", **kwargs),  # built, then reused: both say it
                    prepare_task("pneumothorax", "original", **kwargs)):
        lines = describe(outcome)
        assert "skipped 2 of" in lines[1] and "skipped_images" in lines[1]
        assert [name for name in broken if any(name in line for line in lines[2:])] == broken  # the paths
    opened = open_task("pneumothorax", "original", **kwargs)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    with mlflow.start_run() as run:
        artifacts.log_skipped_images(opened.info)
    client = mlflow.MlflowClient()
    assert client.get_run(run.info.run_id).data.metrics[keys.SKIPPED_IMAGES] == 2
    listed = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{keys.SKIPPED_ARTIFACT}")
    assert all(str(tmp_path / "cxr" / "images" / name) in listed for name in broken)


def test_more_than_five_percent_unreadable_fails_and_keeps_nothing(tmp_path):
    table, _ = write_chestxray14(tmp_path / "cxr", patients=40)
    corrupt(tmp_path / "cxr", 10)
    with pytest.raises(DataError, match=r"original/pneumothorax 32px: \d+ of \d+ images could not be read "
                                        r"\(more than 5%\)"):
        prepare_task("pneumothorax", "original", image_size=SIZE, data_root=tmp_path / "cxr",
                     cache_dir=tmp_path / "cache", decoder=decode_here)
    assert entries(tmp_path / "cache") == []


def test_changed_data_folder_is_rebuilt(tmp_path, caplog):
    write_chestxray14(tmp_path / "cxr")
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "cxr", cache_dir=tmp_path / "cache")
    assert prepare_task("pneumothorax", "original", **kwargs).state == "built"
    entries_file = tmp_path / "cxr" / "Data_Entry_2017.csv"
    text = entries_file.read_text()
    time.sleep(0.01)
    entries_file.write_text(text.replace("No Finding", "Effusion", 1))  # a relabelled record, same ids
    with caplog.at_level("WARNING"):
        opened = open_task("pneumothorax", "original", **kwargs)
    assert opened.info["cache"] == "miss" and "data folder changed" in caplog.text
    assert len(entries(tmp_path / "cache")) == 1  # rebuilt in place, no orphan


PREPARER = textwrap.dedent("""
    import sys, time
    from trainables.data import prepare as p
    from trainables.data.prepare import prepare_task
    real = p.decode_chunk
    def slow(*args):
        time.sleep(0.3)  # the other process arrives while this one builds
        return real(*args)
    p.decode_chunk = slow
    root, cache, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    print(prepare_task("pneumothorax", "original", image_size=32, data_root=root, cache_dir=cache).state)
""")


@pytest.mark.slow  # two preparer processes, each importing Ray's task machinery
def test_two_preparers_of_the_same_data_build_it_once(tmp_path):
    write_chestxray14(tmp_path / "cxr")
    start = time.time() + 4  # both import first, then race
    processes = [subprocess.Popen([sys.executable, "-c", PREPARER, str(tmp_path / "cxr"), str(tmp_path / "cache"),
                                   str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["built", "ready"]
    assert len(entries(tmp_path / "cache")) == 1


@pytest.mark.slow
def test_prepare_cli_decodes_on_ray_into_the_entry_one_process_would_write(tmp_path):
    write_chestxray14(tmp_path / "cxr", patients=60)
    corrupt(tmp_path / "cxr", 1)
    env = {**os.environ, "ARS_CACHE_DIR": str(tmp_path / "ray-cache"), "RAY_USAGE_STATS_ENABLED": "0"}
    argv = [sys.executable, "-m", "sweep.prepare", "pneumothorax", "--profile", "paper",
            "--set", f"data_root={tmp_path / 'cxr'}", "--set", "image_size=32",
            "--set", "scale=mini"]  # the mini backbones accept 32 px (the full-size IRv2 needs >= 75)
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "prepare original/pneumothorax 32px:" in first.stderr and "images (" in first.stderr  # count and rate
    assert "/s, 1 unreadable" in first.stderr and "prepared" in first.stderr
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "ready" in again.stderr and "prepare original" not in again.stderr
    kwargs = dict(image_size=SIZE, data_root=tmp_path / "cxr")
    from_ray = open_task("pneumothorax", "original", cache_dir=tmp_path / "ray-cache", **kwargs)
    here = open_task("pneumothorax", "original", cache_dir=tmp_path / "here", **kwargs)
    assert from_ray.info["cache"] == "hit" and here.info["cache"] == "miss"
    np.testing.assert_array_equal(from_ray.x_train.images, here.x_train.images)
    assert from_ray.info["skipped"] == here.info["skipped"] and len(here.info["skipped"]) == 1
