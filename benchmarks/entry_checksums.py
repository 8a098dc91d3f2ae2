"""What the prepared entries' checksums cost (trainables/data/checksums.py), against reading the same bytes.

Writes an entry-sized image file (default 2,000 RGB images at 299 px: 0.54 GB, a mid-size task of the paper's
data at InceptionResNetV2's size) and measures, in one run:
  1. reading its bytes in 64 MB chunks, no checksum (the baseline: what any full pass costs);
  2. computing its checksums (what the build adds, once per entry);
  3. a trial start's verification on a node that has not verified it (a full pass) and on one that has (the
     marker: a few stat calls);
and prints a table with seconds, GB/s and the extrapolation to a 10 GB entry. The file is in the page cache after
it was written (this machine gives no way to drop it without root): the first verification of an entry on a node
whose disk is cold runs at that disk's read speed instead, bounded by the baseline's disk.

    python benchmarks/entry_checksums.py [--images 2000] [--size 299]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from trainables.data import cache, checksums


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def read_all(path: Path) -> None:
    with open(path, "rb") as stream:
        while stream.read(checksums.CHUNK_BYTES):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=299)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        entry = Path(folder) / "entry"
        entry.mkdir()
        rows = np.random.default_rng(0).integers(0, 256, (64, args.size, args.size, 3), dtype=np.uint8)
        images = cache.ArrayFile(entry / "images.npy", (args.images, args.size, args.size, 3))
        images.allocate()
        for start in range(0, args.images, len(rows)):
            images.write_rows(start, rows[:min(len(rows), args.images - start)])
        cache.write_manifest(entry)
        gigabytes = images.nbytes / 1e9
        manifest = (entry / cache.MANIFEST).read_bytes()
        arrays = json.loads(manifest)["arrays"]
        marker_dir = Path(tempfile.gettempdir())
        for marker in marker_dir.glob(f"ars-verified-*/{entry.name}-*"):
            marker.unlink()
        measured = {
            "read, no checksum (baseline)": timed(lambda: read_all(entry / "images.npy")),
            "compute checksums (build)": timed(lambda: checksums.file_checksums(entry / "images.npy")),
            "verify, first trial on a node": timed(lambda: checksums.verify_once(entry, manifest, arrays)),
            "verify, later trials (marker)": timed(lambda: checksums.verify_once(entry, manifest, arrays)),
        }
    print(f"entry: {args.images} x {args.size}x{args.size}x3 uint8 = {gigabytes:.2f} GB "
          f"({len(arrays['images']['checksums'])} chunks of {arrays['images']['chunk_rows']} rows)")
    print(f"{'step':32s} {'seconds':>8s} {'GB/s':>6s} {'10 GB entry, s':>15s}")
    for step, seconds in measured.items():
        if "marker" in step:  # reads no data: its cost does not grow with the entry
            print(f"{step:32s} {seconds:8.4f} {'-':>6s} {seconds:15.4f}")
        else:
            print(f"{step:32s} {seconds:8.3f} {gigabytes / seconds:6.2f} {seconds * 10 / gigabytes:15.3f}")


if __name__ == "__main__":
    main()
