"""The prepared-entry store: one build under concurrent writers, atomic entries, nothing half-written, and every
kind of stale or broken entry rebuilt with a warning."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from trainables.data import DataError, cache

WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import numpy as np
    from trainables.data import cache

    entry, log = Path(sys.argv[1]), Path(sys.argv[2])
    def build(folder):
        with open(log, "a") as stream:
            stream.write(f"build {os.getpid()}\\n")
        time.sleep(0.5)  # long enough for the other process to arrive while this one holds the lock
        cache.save_array(folder, "images", np.arange(200_000, dtype=np.uint8).reshape(-1, 100))
    start = float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    arrays, hit = cache.load_or_build(entry, build)
    assert arrays["images"].sum() == np.arange(200_000, dtype=np.uint8).sum()
    print("hit" if hit else "built")
""")


def saving(**arrays):
    def build(folder):
        for name, array in arrays.items():
            cache.save_array(folder, name, array)
    return build


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_concurrent_writers_build_once_and_both_read_a_complete_entry(tmp_path):
    import time

    entry, log = tmp_path / "cache" / "entry", tmp_path / "builds.log"
    start = time.time() + 1.5  # both processes import first, then race for the entry
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(entry), str(log), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["built", "hit"]
    assert log.read_text().count("build") == 1
    arrays = cache.read_entry(entry)
    assert isinstance(arrays["images"], np.memmap)  # read lazily, not loaded
    np.testing.assert_array_equal(arrays["images"].ravel(), np.arange(200_000, dtype=np.uint8))
    assert leftovers(entry.parent) == ["entry"]


def test_failed_build_leaves_no_entry_and_no_temporary_folder(tmp_path):
    entry = tmp_path / "entry"

    def failing_build(folder):
        cache.save_array(folder, "images", np.ones((100, 100)))  # half the entry is on disk when it fails
        raise ValueError("decoding failed")

    with pytest.raises(ValueError, match="decoding failed"):
        cache.load_or_build(entry, failing_build)
    assert leftovers(tmp_path) == []
    arrays, hit = cache.load_or_build(entry, saving(images=np.ones(3)))
    assert not hit and cache.read_entry(entry)["images"].tolist() == [1.0, 1.0, 1.0]


def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    entry = tmp_path / "entry"

    def no_space(descriptor, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache.os, "posix_fallocate", no_space)

    def build(folder):
        cache.ArrayFile(folder / "images.npy", (1000, 64, 64, 3)).allocate()

    with pytest.raises(DataError, match=r"no space left in .* while preparing entry \(No space left on device: "
                                        r"images.npy needs 12.3 MB, .* free\); nothing was kept"):
        cache.load_or_build(entry, build)
    assert leftovers(tmp_path) == []


def test_array_file_rows_written_in_any_order_read_back_as_one_array(tmp_path):
    file = cache.ArrayFile(tmp_path / "images.npy", (5, 2, 3))
    file.allocate()
    rows = np.arange(30, dtype=np.uint8).reshape(5, 2, 3)
    file.write_rows(3, rows[3:])
    file.write_rows(0, rows[:3])
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy", mmap_mode="r"), rows)
    with pytest.raises(ValueError, match="do not fit"):
        file.write_rows(4, rows[:2])


@pytest.mark.parametrize("damage", ["truncate", "other_version", "no_manifest", "fingerprint"])
def test_truncated_other_version_or_changed_entry_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    entry = tmp_path / "entry"
    cache.load_or_build(entry, saving(x=np.arange(1000)), fingerprint="labels.csv:10:1")
    manifest = entry / cache.MANIFEST
    fingerprint = "labels.csv:10:1"
    if damage == "truncate":
        with open(entry / "x.npy", "r+b") as stream:
            stream.truncate(500)
    elif damage == "other_version":
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 1}))
    elif damage == "no_manifest":
        manifest.unlink()
    else:
        fingerprint = "labels.csv:12:2"  # the label file changed after the entry was prepared
    with caplog.at_level("WARNING"):
        arrays, hit = cache.load_or_build(entry, saving(x=np.arange(7)), fingerprint=fingerprint)
    assert not hit and arrays["x"].tolist() == list(range(7))
    assert "rebuilding it" in caplog.text
    arrays, hit = cache.load_or_build(entry, lambda folder: pytest.fail("must not rebuild"), fingerprint=fingerprint)
    assert hit and len(arrays["x"]) == 7
    assert leftovers(tmp_path) == ["entry"]


def test_entry_names_differ_by_every_key_field(tmp_path):
    base = {"source": "original", "task": "skin_lesion", "image_size": 64, "preprocess": 1, "root": "/d", "ids": "abc"}
    names = {cache.entry_path(tmp_path, source="original", task="skin_lesion", image_size=64,
                              key_fields={**base, field: "changed"}).name for field in base}
    names.add(cache.entry_path(tmp_path, source="original", task="skin_lesion", image_size=64, key_fields=base).name)
    assert len(names) == len(base) + 1
    assert all(name.startswith("original-skin_lesion-64px-") for name in names)


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARS_CACHE_DIR", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ARS_CACHE_DIR")
    assert str(cache.default_cache_dir()).endswith(".cache/attentive-robustness")
