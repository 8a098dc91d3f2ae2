"""Resumable evaluation: finished units of work and their per-point outcomes, checkpointed to one file.

A unit is one attack at one epsilon on one batch of points (or one batch of anything else that streams in batches,
e.g. certification's points with their per-point counts): its key names it, its record is a dict of arrays (the
per-point outcomes plus the cost counters it added). `EvaluationProgress.run(key, compute)` returns the stored
record of a finished unit without running it, else runs `compute()` and stores the result. The store is written
after a unit when `interval_s` seconds have passed since the last save, or sooner when saves are cheap: as soon as
the time since the last save is SAVE_COST_SHARE^-1 (33) times what that save took, so saving costs at most ~3 % of the
evaluation and units longer than that (a GPU batch of a paper trial: seconds; a save: tens of milliseconds) are each
saved (a kill then redoes one unit); and on `flush()` (the end of each attack), atomically (temp file + rename, the
previous good file kept as `<name>.prev` until the new one is in place), with the evaluation's digest and a
SHA-256 of its payload: a file of another digest is refused (ValueError, one line); a truncated or corrupt one is
discarded with a warning and the previous good file is used instead. Units are pure functions of (seed, attack,
epsilon, point index) and of the earlier units' outcomes, so a resumed evaluation gives the same outcomes as an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAGIC = b"ARS-EVAL-PROGRESS-1\n"
SAVE_COST_SHARE = 0.03  # the most of the evaluation's time that saving may take
FILE_NAME = "evaluation_progress.bin"
PREVIOUS_SUFFIX = ".prev"

Record = dict[str, np.ndarray]


class CorruptProgress(ValueError):
    """The file is truncated or does not match its checksum."""


def encode(digest: str, units: dict[str, Record]) -> bytes:
    arrays = {f"{index}/{field}": value for index, record in enumerate(units.values())
              for field, value in record.items()}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(json.dumps({"digest": digest, "keys": list(units)}).encode(), np.uint8),
             **arrays)
    payload = buffer.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode(blob: bytes) -> tuple[str, dict[str, Record]]:
    header_end = len(MAGIC) + 65
    if not blob.startswith(MAGIC) or len(blob) < header_end:
        raise CorruptProgress("not an evaluation progress file or truncated header")
    checksum, payload = blob[len(MAGIC): header_end - 1].decode(errors="replace"), blob[header_end:]
    if hashlib.sha256(payload).hexdigest() != checksum:
        raise CorruptProgress("checksum mismatch (truncated or corrupt)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as stored:
        meta = json.loads(stored["__meta__"].tobytes())
        units: dict[str, Record] = {key: {} for key in meta["keys"]}
        keys = meta["keys"]
        for name in stored.files:
            if name != "__meta__":
                index, field = name.split("/", 1)
                units[keys[int(index)]][field] = stored[name]
    return meta["digest"], units


class EvaluationProgress:
    """Finished units of one evaluation, loaded from and saved to `folder` (None: kept in memory only).

    after_unit(key, ran): called after each unit, `ran` False for a unit replayed from the store (tests and the
    benchmark kill the evaluation through it). on_save(self): called after each write (progress reporting).
    """

    def __init__(self, folder: str | Path | None, digest: str, *, interval_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 after_unit: Callable[[str, bool], None] | None = None,
                 on_save: Callable[["EvaluationProgress"], None] | None = None):
        if interval_s <= 0:
            raise ValueError(f"eval_checkpoint_s must be > 0 seconds; received {interval_s}")
        self.path = None if folder is None else Path(folder) / FILE_NAME
        self.digest, self.interval_s, self.clock = digest, float(interval_s), clock
        self.after_unit, self.on_save = after_unit, on_save
        self.units: dict[str, Record] = {}
        self.units_run = self.units_replayed = self.saves = self._run_at_save = 0
        self.bytes_written: list[int] = []
        self.last_save = clock()
        self.last_save_seconds = self.seconds_saving = 0.0
        self.status: dict[str, float | str] = {}
        if self.path is not None:
            self.units = self._load()

    def _load(self) -> dict[str, Record]:
        for path in (self.path, self.path.with_name(self.path.name + PREVIOUS_SUFFIX)):
            if not path.exists():
                continue
            try:
                digest, units = decode(path.read_bytes())
            except (CorruptProgress, ValueError, KeyError, OSError, EOFError) as error:
                warnings.warn(f"evaluation progress {path} discarded: {error}", RuntimeWarning, stacklevel=3)
                continue
            if digest != self.digest:
                raise ValueError(f"evaluation progress {path} belongs to config digest {digest}, not {self.digest}: "
                                 "refused (remove it or use that trial's config)")
            return units
        return {}

    def run(self, key: str, compute: Callable[[], Record]) -> Record:
        """The record of unit `key`: stored, or computed now (and stored)."""
        ran = key not in self.units
        if ran:
            self.units[key] = {field: np.asarray(value) for field, value in compute().items()}
            self.units_run += 1
        else:
            self.units_replayed += 1
        if self.after_unit is not None:
            self.after_unit(key, ran)
        if ran and self.clock() - self.last_save >= min(self.interval_s, self.last_save_seconds / SAVE_COST_SHARE):
            self.save()
        return self.units[key]

    def report(self, attack: str, epsilon: float, done: int, total: int) -> None:
        """Where the evaluation is: `status` (attack, epsilon, points done / total, rate in points/s of this run,
        seconds left at that rate), what each save hands to `on_save`."""
        segment = (attack, epsilon)
        if self.status.get("segment") != segment:
            self._segment_start, self._segment_done = self.clock(), done
        elapsed = self.clock() - self._segment_start
        rate = (done - self._segment_done) / elapsed if elapsed > 0 else 0.0
        self.status = {"segment": segment, "attack": attack, "epsilon": float(epsilon), "done": int(done),
                       "total": int(total), "rate": rate,
                       "eta_s": (total - done) / rate if rate > 0 else float("nan")}

    _segment_start, _segment_done = 0.0, 0

    def line(self) -> str:
        """The status as one line: "apgd_ce eps 0.00392: 96/128 points, 12.3 points/s, ~3 s left; 14 units (5 from
        the checkpoint)"."""
        status = self.status
        units = f"{len(self.units)} units ({self.units_replayed} from the checkpoint)"
        if not status:
            return units
        epsilon = status["epsilon"]
        where = status["attack"] if epsilon != epsilon or epsilon == float("inf") else f"{status['attack']} eps {epsilon:g}"
        left = f", ~{status['eta_s']:.0f} s left" if status["eta_s"] == status["eta_s"] else ""
        return (f"{where}: {status['done']}/{status['total']} points, {status['rate']:.3g} points/s{left}; {units}")

    def flush(self) -> None:
        """Save now when a unit ran since the last save (the end of an attack)."""
        if self.units_run != self._run_at_save:
            self.save()

    def save(self) -> None:
        """Write the store and hand it to on_save; what both took sets how soon the next save may come."""
        start = self.clock()
        self._run_at_save = self.units_run
        self.last_save = start
        if self.path is None:
            return
        blob = encode(self.digest, self.units)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        with open(temporary, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        if self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + PREVIOUS_SUFFIX))
        os.replace(temporary, self.path)
        self.saves += 1
        self.bytes_written.append(len(blob))
        if self.on_save is not None:
            self.on_save(self)
        self.last_save = self.clock()
        self.last_save_seconds = self.last_save - start
        self.seconds_saving += self.last_save_seconds


def counted_unit(progress: EvaluationProgress | None, context, key: str, attack: str,
                 compute: Callable[[], Record]) -> Record:
    """Run one attack unit through `progress`, storing the cost it added to `context` (the attack's counter, the
    ball-violation stats) and adding that cost back when the unit is replayed, so cost metrics match too."""
    if progress is None:
        return compute()
    counter = context.counter(attack)
    checkers = (context, context.pgd_runner)  # each keeps its own ball statistics (PGD's runner, the other attacks)

    def measured() -> Record:
        before = (counter.gradient_evaluations, counter.queries, sum(c.points_checked for c in checkers))
        previous = [c.max_ball_violation for c in checkers]
        for checker in checkers:
            checker.max_ball_violation = 0.0
        record = compute()
        record["cost"] = np.array([counter.gradient_evaluations - before[0], counter.queries - before[1],
                                   sum(c.points_checked for c in checkers) - before[2]], np.int64)
        record["ball_violation"] = np.array(max(c.max_ball_violation for c in checkers))
        for checker, earlier in zip(checkers, previous):
            checker.max_ball_violation = max(earlier, checker.max_ball_violation)
        return record

    replay = key in progress.units
    record = progress.run(key, measured)
    if replay:
        gradients, queries, points = (int(value) for value in record["cost"])
        counter.gradient_evaluations += gradients
        counter.queries += queries
        context.points_checked += points
        context.max_ball_violation = max(context.max_ball_violation, float(record["ball_violation"]))
    return record
