"""The preprocessed-image cache: one build under concurrent writers, atomic entries, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from trainables.data import cache

WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import numpy as np
    from trainables.data import cache

    entry, log = Path(sys.argv[1]), Path(sys.argv[2])
    def build():
        with open(log, "a") as stream:
            stream.write(f"build {os.getpid()}\\n")
        time.sleep(0.5)  # long enough for the other process to arrive while this one holds the lock
        return {"images": np.arange(200_000, dtype=np.uint8).reshape(-1, 100), "ids": np.array(["a", "b"])}
    start = float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    arrays, hit = cache.load_or_build(entry, build)
    assert arrays["images"].sum() == np.arange(200_000, dtype=np.uint8).sum()
    print("hit" if hit else "built")
""")


def test_concurrent_writers_build_once_and_both_read_a_complete_entry(tmp_path):
    import time

    entry, log = tmp_path / "cache" / "entry.npz", tmp_path / "builds.log"
    start = time.time() + 1.5  # both processes import first, then race for the entry
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(entry), str(log), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["built", "hit"]
    assert log.read_text().count("build") == 1
    arrays = cache.read_entry(entry)
    np.testing.assert_array_equal(arrays["images"].ravel(), np.arange(200_000, dtype=np.uint8))
    assert [p.name for p in entry.parent.iterdir() if p.suffix == ".tmp"] == []


class ExplodingArray:
    """Fails when np.savez reaches it, after the arrays before it were already written to the file."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("crash mid-write")


def test_failed_build_or_write_leaves_no_entry_and_no_temporary_file(tmp_path):
    entry = tmp_path / "entry.npz"

    def failing_build():
        raise ValueError("decoding failed")

    with pytest.raises(ValueError, match="decoding failed"):
        cache.load_or_build(entry, failing_build)
    with pytest.raises(RuntimeError, match="crash mid-write"):
        cache.load_or_build(entry, lambda: {"images": np.ones((100, 100)), "later": ExplodingArray()})
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == []
    arrays, hit = cache.load_or_build(entry, lambda: {"images": np.ones(3)})
    assert not hit and cache.read_entry(entry)["images"].tolist() == [1.0, 1.0, 1.0]


def test_unreadable_entry_is_rebuilt(tmp_path):
    entry = tmp_path / "entry.npz"
    entry.write_bytes(b"PK\x03\x04 truncated")
    arrays, hit = cache.load_or_build(entry, lambda: {"x": np.arange(5)})
    assert not hit
    np.testing.assert_array_equal(cache.read_entry(entry)["x"], np.arange(5))
    arrays, hit = cache.load_or_build(entry, lambda: pytest.fail("must not rebuild"))
    assert hit and arrays["x"].tolist() == [0, 1, 2, 3, 4]


def test_entry_names_differ_by_every_key_field(tmp_path):
    base = {"source": "original", "task": "skin_lesion", "image_size": 64, "preprocess": 1, "root": "/d",
            "fingerprint": "meta.csv:10:1", "ids": "abc"}
    names = {cache.entry_path(tmp_path, source="original", task="skin_lesion", image_size=64,
                              key_fields={**base, field: "changed"}).name for field in base}
    names.add(cache.entry_path(tmp_path, source="original", task="skin_lesion", image_size=64, key_fields=base).name)
    assert len(names) == len(base) + 1
    assert all(name.startswith("original-skin_lesion-64px-") and name.endswith(".npz") for name in names)


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARS_CACHE_DIR", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ARS_CACHE_DIR")
    assert str(cache.default_cache_dir()).endswith(".cache/attentive-robustness")
