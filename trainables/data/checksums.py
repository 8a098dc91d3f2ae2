"""Checksums of a prepared entry's arrays (per chunk of rows, in its manifest), and the manifest's expected shape.

A chunk is CHUNK_BYTES of whole rows; its CRC-32 (zlib, ~4 GB/s on one core here; it catches zeroed, truncated or
overwritten bytes, not a forger) is stored in the manifest as `arrays[name]["checksums"]` with its `chunk_rows`.

Verification reads the whole entry once per entry per node: a marker in this node's temporary folder, keyed by
the entry's path, the manifest's bytes and every array file's size and modification time, says it was verified; any later write
to a file (zeroing bytes in place changes its mtime) makes a new key, so the entry is read again. Measured cost:
benchmarks/entry_checksums.py (disk read speed bounds it; the marker check is a few stat calls).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

CHUNK_BYTES = 64 << 20
ARRAY_KEYS = {"shape": list, "dtype": str, "bytes": int, "chunk_rows": int, "checksums": list}


def manifest_problem(manifest: Any, format_version: int) -> str | None:
    """What makes this parsed manifest unusable (its shape, not its data), or None."""
    if not isinstance(manifest, dict):
        return f"manifest is a JSON {type(manifest).__name__}, expected an object"
    if manifest.get("format") != format_version:
        return f"format version {manifest.get('format')!r}, this code reads {format_version}"
    if not isinstance(manifest.get("fingerprint"), str) or not isinstance(manifest.get("arrays"), dict):
        return "manifest lacks a fingerprint string or an arrays object"
    for name, entry in manifest["arrays"].items():
        if not isinstance(entry, dict):
            return f"manifest entry of {name} is not an object"
        wrong = [key for key, kind in ARRAY_KEYS.items() if not isinstance(entry.get(key), kind)]
        if wrong:
            return f"manifest entry of {name} lacks or mistypes {', '.join(wrong)}"
    return None


def _data_offset(path: Path) -> tuple[int, int]:
    """(offset of the first row, bytes per row) of a .npy file."""
    with open(path, "rb") as stream:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
        return stream.tell(), int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize


def chunk_rows(row_bytes: int) -> int:
    return max(1, CHUNK_BYTES // max(row_bytes, 1))


def file_checksums(path: Path) -> dict[str, Any]:
    """{"chunk_rows": rows per chunk, "checksums": CRC-32 of each chunk of rows}, read in one pass."""
    offset, row_bytes = _data_offset(path)
    rows = chunk_rows(row_bytes)
    sums = []
    with open(path, "rb") as stream:
        stream.seek(offset)
        while block := stream.read(rows * row_bytes):
            sums.append(zlib.crc32(block))
    return {"chunk_rows": rows, "checksums": sums}


def first_bad_chunk(path: Path, expected: dict[str, Any]) -> str | None:
    found = file_checksums(path)
    if found["chunk_rows"] != expected["chunk_rows"] or len(found["checksums"]) != len(expected["checksums"]):
        return f"{path.name}: chunks differ from the manifest"
    for index, (got, want) in enumerate(zip(found["checksums"], expected["checksums"])):
        if got != want:
            start = index * found["chunk_rows"]
            return f"{path.name}: rows {start}..{start + found['chunk_rows'] - 1} fail their checksum"
    return None


def _marker(entry: Path, manifest_text: bytes, names) -> Path:
    key = hashlib.sha256(str(entry.resolve()).encode() + manifest_text)
    for name in sorted(names):
        stat = (entry / f"{name}.npy").stat()
        key.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    folder = Path(tempfile.gettempdir()) / f"ars-verified-{os.getuid()}"
    return folder / f"{entry.name}-{key.hexdigest()[:24]}"


def verify_once(entry: Path, manifest_text: bytes, arrays: dict[str, Any]) -> str | None:
    """The first array chunk that fails its checksum, or None; a verified entry is not read again on this node
    until a file of it changes."""
    marker = _marker(entry, manifest_text, arrays)
    if marker.exists():
        return None
    for name, expected in arrays.items():
        problem = first_bad_chunk(entry / f"{name}.npy", expected)
        if problem:
            return problem
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return None
